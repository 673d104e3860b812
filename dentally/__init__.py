"""Dentally API: regions, async client, scope checker and a local sandbox server."""

from dentally.client import ClientFactory, DentallyClient, DentallyUser, PingResult, PingStatus, RateLimit
from dentally.errors import DentallyError
from dentally.regions import DETECT, REGIONS, Endpoints, Region, RegionChoice, RegionId, parse_region
from dentally.scopes import REQUIRED_SCOPES, CheckResult, Evidence, Problem, ScopeChecker, ScopeStatus, Verdict

# The sandbox (Starlette), the CLI report and calibration are imported from their modules when wanted.
__all__ = [
    "DETECT",
    "REGIONS",
    "REQUIRED_SCOPES",
    "CheckResult",
    "ClientFactory",
    "DentallyClient",
    "DentallyError",
    "DentallyUser",
    "Endpoints",
    "Evidence",
    "PingResult",
    "PingStatus",
    "Problem",
    "RateLimit",
    "Region",
    "RegionChoice",
    "RegionId",
    "ScopeChecker",
    "ScopeStatus",
    "Verdict",
    "parse_region",
]
