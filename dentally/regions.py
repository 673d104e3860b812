"""Dentally's regional API hosts, their human labels, and which base URL a deployment really uses for each."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal, TypeAlias, get_args

RegionId: TypeAlias = Literal["uk", "au", "ca", "sandbox"]
"""Short, stable identifier of a Dentally region; stored with a verified key."""

DETECT: Final = "detect"
"""The region choice meaning "not sure": try each allowed region in turn."""

RegionChoice: TypeAlias = RegionId | Literal["detect"]

REGION_PLACEHOLDER: Final = "{region}"
"""Written inside an override URL, this is replaced by the region id (one sandbox serving every region)."""


@dataclass(frozen=True, slots=True)
class Region:
    """One Dentally region: its id, the label people see, and its production base URL."""

    id: RegionId
    label: str
    base_url: str


REGIONS: Final[Mapping[RegionId, Region]] = MappingProxyType(
    {
        "uk": Region("uk", "UK & Ireland", "https://api.dentally.co"),
        "au": Region("au", "Australia & New Zealand", "https://api.apac.dentally.com"),
        "ca": Region("ca", "Canada", "https://api.ca.dentally.com"),
        "sandbox": Region("sandbox", "Dentally sandbox", "https://api.sandbox.dentally.co"),
    }
)

# The sandbox needs its own credentials, so guessing it for a clinic's key would only waste a request.
DEFAULT_DETECT_ORDER: Final[tuple[RegionId, ...]] = ("uk", "au", "ca")


def parse_region(value: str) -> RegionId:
    """Turn a setting or form value into a region id.

    Args:
        value: A region id such as ``"uk"``; surrounding space and case are ignored.

    Returns:
        The matching region id.

    Raises:
        ValueError: If ``value`` names no known region.
    """
    cleaned = value.strip().lower()
    for region_id in get_args(RegionId):
        if cleaned == region_id:
            return region_id  # type: ignore[no-any-return]
    raise ValueError(f"unknown Dentally region {value!r}; expected one of {', '.join(REGIONS)}")


def region_label(region: RegionId) -> str:
    """The human label of a region, e.g. ``"UK & Ireland"``."""
    return REGIONS[region].label


class Endpoints:
    """Where requests for each region go in this deployment, and which regions "detect" may try.

    Without an override every region uses its production host. An override (the bot's ``DENTALLY_API_URL``)
    replaces the host of every region: a plain URL sends all regions to one server, while a URL containing
    ``{region}`` gets the region id written in, e.g. ``http://127.0.0.1:8765/{region}`` makes UK requests go to
    ``http://127.0.0.1:8765/uk/v1/...``. That second form lets one sandbox process play every region.
    """

    __slots__ = ("_detect_order", "_override")

    def __init__(self, override_url: str | None = None, detect_order: Iterable[RegionId] | None = None) -> None:
        """Validate and keep the deployment's region settings.

        Args:
            override_url: Base URL replacing every region's host, optionally containing ``{region}``.
                Empty or None means the real Dentally hosts.
            detect_order: Regions "detect" tries, in order. Defaults to UK, Australia, Canada; the sandbox is
                only tried when listed here.

        Raises:
            ValueError: If the override is not an http(s) URL or the detect list is empty or repeats a region.
        """
        self._override = _clean_override(override_url)
        order = tuple(DEFAULT_DETECT_ORDER if detect_order is None else detect_order)
        if not order:
            raise ValueError("the detect order must name at least one region")
        if len(set(order)) != len(order):
            raise ValueError("the detect order names a region twice")
        for region_id in order:
            parse_region(region_id)
        self._detect_order = order

    @property
    def detect_order(self) -> tuple[RegionId, ...]:
        """The regions "detect" tries, first to last."""
        return self._detect_order

    @property
    def overridden(self) -> bool:
        """Whether requests go somewhere other than Dentally's production hosts."""
        return self._override is not None

    def base_url(self, region: RegionId) -> str:
        """The base URL (no trailing slash, no ``/v1``) that requests for ``region`` use."""
        if self._override is None:
            return REGIONS[region].base_url
        return self._override.replace(REGION_PLACEHOLDER, region)

    def __repr__(self) -> str:
        return f"Endpoints(override_url={self._override!r}, detect_order={self._detect_order!r})"


def _clean_override(override_url: str | None) -> str | None:
    if override_url is None:
        return None
    url = override_url.strip().rstrip("/")
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise ValueError("the Dentally API override must be an http:// or https:// URL")
    # Any other brace would be an unfinished template; failing here beats a confusing 404 on the first check.
    rest = url.replace(REGION_PLACEHOLDER, "")
    if "{" in rest or "}" in rest:
        raise ValueError("the Dentally API override may contain no placeholder other than {region}")
    if url.endswith("/v1"):
        raise ValueError("the Dentally API override is a base URL; leave /v1 off, the client adds it")
    return url
