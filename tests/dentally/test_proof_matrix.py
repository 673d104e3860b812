"""Every sandbox mode, alone and in the listed combinations, times every sample key, through the real checker.

Over loopback HTTP against :class:`dentally.sandbox.Sandbox`: zero false "verified", zero false "missing", zero
records created, changed or deleted, zero answers carrying a real appointment or patient, the request budgets, and
the exact verdict wherever Dentally is cooperative or tells the scopes itself.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dentally.outcome import REQUIRED_SCOPES, listed_grants
from dentally.regions import RegionChoice
from dentally.sandbox import MODES, Sandbox, SandboxKey, switches_for
from dentally.scopes import MAX_REQUESTS, MAX_REQUESTS_WIDE, CheckResult, ScopeChecker, ScopeStatus, Verdict
from tests.dentally.conftest import secret

MakeChecker = Callable[..., ScopeChecker]

COMBINATIONS: tuple[tuple[str, ...], ...] = (
    ("lookup-first", "real-ids"),
    ("validate-first", "bare-403"),
    ("lax-create", "real-ids"),
    ("bare-403", "lookup-first", "validate-first", "real-ids", "lax-create"),
    ("lookup-first", "404-for-forbidden", "scopes-header"),
    ("lookup-first", "validate-first", "token-info"),
)
CONFIGS: tuple[tuple[str, ...], ...] = ((), *((mode,) for mode in MODES), *COMBINATIONS)

# Modes under which Dentally still checks scopes first and refuses with a 403: the probes alone must be exact.
COOPERATIVE = frozenset(
    {
        "bare-403",
        "lax-create",
        "real-ids",
        "ungated-user",
        "text-rate-limits",
        "unwindowed-index",
        "patch-unrouted",
    }
)
INTROSPECTION = frozenset({"scopes-header", "token-info"})


def truth(key: SandboxKey) -> dict[str, bool]:
    return {scope: listed_grants(frozenset(key.scopes), scope) for scope in REQUIRED_SCOPES}


def expected_verdict(key: SandboxKey, modes: tuple[str, ...]) -> Verdict | None:
    """The exact verdict when the configuration promises one, else None (then only soundness is asserted)."""
    if key.expired:
        return Verdict.INVALID_KEY
    complete = all(truth(key).values())
    if INTROSPECTION & set(modes):
        return Verdict.VERIFIED if complete else Verdict.MISSING_SCOPES
    if set(modes) <= COOPERATIVE:
        if any(s.startswith("patient:") for s in key.scopes):
            return Verdict.COULD_NOT_PROVE  # the controls are not refused: nothing calibrates the probes
        return Verdict.VERIFIED if complete else Verdict.MISSING_SCOPES
    return None


def assert_sound(result: CheckResult, key: SandboxKey, sandbox: Sandbox, limit: int) -> None:
    granted = truth(key)
    for check in result.scopes:
        if check.status is ScopeStatus.GRANTED:
            assert granted[check.scope], f"false granted: {check.scope} ({check.proof})"
        if check.status is ScopeStatus.MISSING:
            assert not granted[check.scope], f"false missing: {check.scope} ({check.proof})"
    if result.verdict is Verdict.VERIFIED:
        assert all(granted.values())
    if result.verdict is Verdict.MISSING_SCOPES:
        assert not all(granted.values())
    assert sandbox.counts.writes == 0, sandbox.counts
    assert sandbox.counts.records_served == 0, sandbox.counts
    assert result.requests_made == len(sandbox.requests) <= limit
    assert key.key not in result.model_dump_json()


@pytest.mark.parametrize("modes", CONFIGS, ids=lambda modes: "+".join(modes) or "cooperative")
async def test_every_sample_key_with_the_region_known(
    modes: tuple[str, ...], make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    checker = make_checker()
    for key in keys.values():
        await check_one(checker, sandbox, key, modes, key.region, MAX_REQUESTS)


@pytest.mark.parametrize("modes", CONFIGS, ids=lambda modes: "+".join(modes) or "cooperative")
async def test_detect_with_keys_of_every_region(
    modes: tuple[str, ...], make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    checker = make_checker()
    for name in ("all_scopes", "missing_appointment_update", "au_all_scopes", "ca_all_scopes", "over_granted"):
        await check_one(checker, sandbox, keys[name], modes, "detect", MAX_REQUESTS_WIDE)


async def check_one(
    checker: ScopeChecker,
    sandbox: Sandbox,
    key: SandboxKey,
    modes: tuple[str, ...],
    region: RegionChoice,
    limit: int,
) -> None:
    sandbox.reset(switches_for(modes))
    if "text-rate-limits" in modes:
        # Make the mode bite: Dentally's throttle refuses the first request, text/plain and without headers.
        sandbox.switches.rate_limit_blips = 1
    result = await checker.check(secret(key), region)
    context = f"{key.name} with {modes or 'no mode'} ({region}): {result.verdict} {result.reason}"
    assert_sound(result, key, sandbox, limit)
    expected = expected_verdict(key, modes)
    if expected is not None:
        assert result.verdict is expected, context
    else:
        assert result.verdict in (Verdict.COULD_NOT_PROVE, Verdict.MISSING_SCOPES, Verdict.VERIFIED), context
    if result.verdict is not Verdict.INVALID_KEY:
        assert result.region == key.region, context


async def test_a_key_given_the_wrong_region_is_found_in_its_own(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    result = await make_checker().check(secret(keys["au_all_scopes"]), "uk")
    assert (result.verdict, result.region, result.region_detected) == (Verdict.VERIFIED, "au", True)
    assert result.requests_made == len(sandbox.requests) <= MAX_REQUESTS_WIDE
    assert sandbox.counts.writes == 0


async def test_with_introspection_no_write_is_sent_and_it_takes_one_round(
    make_checker: MakeChecker, sandbox: Sandbox, keys: dict[str, SandboxKey]
) -> None:
    sandbox.reset(switches_for(["token-info"]))
    result = await make_checker().check(secret(keys["all_scopes"]), "uk")
    assert result.verdict is Verdict.VERIFIED
    assert {r.method for r in sandbox.requests} == {"GET"}
    assert all("token info lists it" in (c.proof or "") for c in result.scopes)
