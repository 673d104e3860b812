"""The scope checker: proves which scopes Aldense needs a Dentally key holds, without changing or reading clinic data.

How a check runs (DESIGN.md section 4; the requests are in :mod:`dentally.probes`, the rules in
:mod:`dentally.proof`):

1. **Reads first.** ``GET /v1/user`` (identity, and ``X-OAuth-Scopes`` if Dentally sends it), ``GET
   /oauth/token/info``, ``GET /v1/users?per_page=1``, an empty-window ``GET /v1/appointments`` and ``GET
   /v1/practice``, all at once. When introspection settles the five scopes, no write is ever sent.
2. **Otherwise calibrated write probes**, all at once: ``POST``/``PATCH``/``PUT``/``DELETE`` on appointments with
   ``{}`` and id 0, and the same shapes on patients as controls. So a check with the region known costs two round
   trips at most (one when Dentally introspects).
3. Rate-limited (any of Dentally's shapes), 5xx, timed-out and failed requests are retried once after one shared
   wait (never longer than ``max_rate_limit_wait``); a rate limit is never taken for a missing scope.
4. 401 on ``/v1/user`` with the region given: the other regions are asked before the key is called invalid.
   "Detect" asks every allowed region at once.

Budgets: 16 requests with the region known, 20 with "detect" or when the other regions are tried, retries
included. The verdict is "verified" only when all five scopes are proven granted, "missing scopes" only when one is
proven missing, "could not check" when Dentally or the network got in the way, and "could not prove" when every
answer arrived but proves nothing either way, or when introspection and probes disagree (support is alerted).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final, TypeAlias

from pydantic import SecretStr

from dentally.client import ClientFactory, DentallyClient, DentallyUser
from dentally.errors import MalformedKey, Timeout, TransportError
from dentally.outcome import (
    REQUIRED_SCOPES,
    SCOPE_LABELS,
    CheckResult,
    Evidence,
    Incident,
    Problem,
    Scope,
    ScopeCheck,
    ScopeStatus,
    Verdict,
)
from dentally.probes import PROBES, READS, WRITES, Probe, Role
from dentally.proof import Kind, Proof, Seen, classify, prove
from dentally.regions import DETECT, RegionChoice, RegionId, region_label

__all__ = [
    "MAX_REQUESTS",
    "MAX_REQUESTS_WIDE",
    "REQUIRED_SCOPES",
    "SCOPE_LABELS",
    "CheckResult",
    "Evidence",
    "Incident",
    "Problem",
    "Scope",
    "ScopeCheck",
    "ScopeChecker",
    "ScopeStatus",
    "Verdict",
    "exchange",
]

logger = logging.getLogger(__name__)

MAX_REQUESTS: Final = 16
"""Most requests of a check with the region known."""
MAX_REQUESTS_WIDE: Final = 20
"""Most requests of a check that asks several regions ("detect", or a refused key tried elsewhere)."""
DEFAULT_MAX_RATE_LIMIT_WAIT: Final = 2.0
FAILURE_PAUSE: Final = 0.5
"""Seconds to wait before retrying requests that met a server error, a timeout or a network failure."""
EXCERPT: Final = 300

# When several requests failed differently, the first of these found explains "could not check".
_PROBLEM_ORDER: Final = (
    Problem.RATE_LIMITED,
    Problem.TIMEOUT,
    Problem.SERVER_ERROR,
    Problem.NETWORK,
    Problem.BUDGET_EXHAUSTED,
)
# Retries go to what decides the verdict first; the clinic name only gets what is left.
_RETRY_ORDER: Final = ("user", "token_info", "users", "read", *WRITES, "practice", "sites")


class _Run:
    """One check's request budget and the last answer of each request."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.seen: dict[str, Seen] = {}
        self.regions: dict[str, RegionId] = {}
        self.retried: set[str] = set()

    def room(self) -> int:
        return max(0, self.limit - self.used)

    async def send(self, client: DentallyClient, region: RegionId, probe: Probe, key: str | None = None) -> Seen:
        name = key or probe.name
        if self.used >= self.limit:
            seen = Seen(probe, Kind.NOT_SENT, problem=Problem.BUDGET_EXHAUSTED, detail="not sent: budget spent")
        else:
            self.used += 1
            seen = await exchange(client, probe)
        self.seen[name] = seen
        self.regions[name] = region
        return seen

    async def round(self, client: DentallyClient, region: RegionId, names: Sequence[str]) -> None:
        await asyncio.gather(*(self.send(client, region, PROBES[name]) for name in names))


async def exchange(client: DentallyClient, probe: Probe) -> Seen:
    """Send one probe and sort its answer; a transport failure becomes a ``TROUBLE`` observation, never raised."""
    try:
        if probe.role is Role.INTROSPECTION:
            response = await client.token_info()
        else:
            response = await client.request(probe.method, probe.path, params=probe.params, json=probe.body)
    except Timeout as exc:
        return Seen(probe, Kind.TROUBLE, problem=Problem.TIMEOUT, detail=f"Dentally did not answer in time ({exc}).")
    except TransportError as exc:
        return Seen(probe, Kind.TROUBLE, problem=Problem.NETWORK, detail=f"Could not reach Dentally ({exc}).")
    return classify(probe, response)


def _retryable(seen: Seen) -> bool:
    return seen.kind in (Kind.RATE_LIMITED, Kind.TROUBLE)


Clock: TypeAlias = Callable[[], datetime]
Sleep: TypeAlias = Callable[[float], Awaitable[None]]


def _system_clock() -> datetime:
    return datetime.now(UTC)


class ScopeChecker:
    """Runs scope checks for the bot; one instance serves every check of a deployment."""

    def __init__(
        self,
        clients: ClientFactory,
        *,
        max_requests: int = MAX_REQUESTS,
        max_requests_wide: int = MAX_REQUESTS_WIDE,
        max_rate_limit_wait: float = DEFAULT_MAX_RATE_LIMIT_WAIT,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        """Configure the checker.

        Args:
            clients: Builds region clients; its endpoints decide hosts and the detect order.
            max_requests: Most HTTP requests a check with the region known may send (at least 14: both rounds).
            max_requests_wide: Most a check that asks several regions may send (at least ``max_requests``).
            max_rate_limit_wait: Longest pause, in seconds, before retrying a rate-limited request.
            clock: Returns the current aware time; the system clock by default.
            sleep: Waits a number of seconds; ``asyncio.sleep`` by default (tests pass a fake).
        """
        needed = len(READS) + len(WRITES)
        if max_requests < needed:
            raise ValueError(f"a check needs at least {needed} requests: the reads and the calibrated probes")
        if max_requests_wide < max_requests:
            raise ValueError("max_requests_wide cannot be below max_requests")
        if max_rate_limit_wait < 0:
            raise ValueError("max_rate_limit_wait cannot be negative")
        self._clients = clients
        self._max_requests = max_requests
        self._max_wide = max_requests_wide
        self._max_wait = max_rate_limit_wait
        self._clock = clock or _system_clock
        self._sleep = sleep or asyncio.sleep

    def __repr__(self) -> str:
        return f"ScopeChecker(clients={self._clients!r}, max_requests={self._max_requests})"

    async def check(self, token: SecretStr, region: RegionChoice) -> CheckResult:
        """Prove which required scopes ``token`` holds.

        Args:
            token: The pasted Dentally key.
            region: A region id, or ``"detect"`` to ask the deployment's allowed regions at once.

        Returns:
            The result; Dentally or network trouble gives ``could_not_check`` rather than an exception.
        """
        started = self._clock()
        order = self._clients.endpoints.detect_order
        given: RegionId | None = None if region == DETECT else region
        detect = given is None
        run = _Run(self._max_wide if detect else self._max_requests)
        try:
            wanted: list[RegionId] = [*order, given] if given is not None else list(order)
            clients = {r: self._clients.for_region(r, token) for r in dict.fromkeys(wanted)}
        except MalformedKey as exc:
            return _bare(started, run, Verdict.INVALID_KEY, Problem.MALFORMED_KEY, str(exc))
        found: RegionId | None
        if given is None:
            found = await self._find_region(run, clients, order)
        else:
            found = given
            await run.round(clients[given], given, READS)
            if run.seen["user"].kind is Kind.REJECTED:
                # Another region's key is unknown here: ask the others before telling the clinic it is invalid.
                others = [r for r in order if r != given]
                run.limit = self._max_wide
                found = await self._find_region(run, clients, others) if others else None
                if found is None:
                    return self._unfound(started, run, [given, *others], detect=False)
                detect = True
        if found is None:
            return self._unfound(started, run, order, detect=True)
        client = clients[found]
        await run.round(client, found, [n for n in READS if n not in run.seen or run.regions[n] != found])
        await self._finish(run, client, found)
        result = self._decide(started, run, found, detect)
        logger.info("Dentally key check: %s in %s after %d requests", result.verdict, found, run.used)
        return result

    async def _find_region(
        self, run: _Run, clients: Mapping[RegionId, DentallyClient], regions: Sequence[RegionId]
    ) -> RegionId | None:
        """Ask each region's ``/v1/user`` at once; the first region (in order) that does not refuse the key wins."""
        answers = dict(
            zip(
                regions,
                await asyncio.gather(*(run.send(clients[r], r, PROBES["user"], f"detect:{r}") for r in regions)),
                strict=True,
            )
        )
        troubled = [r for r in regions if _retryable(answers[r])]
        if troubled and not any(_accepts(answers[r]) for r in regions):
            await self._wait([answers[r] for r in troubled])
            again = await asyncio.gather(*(run.send(clients[r], r, PROBES["user"], f"detect:{r}") for r in troubled))
            answers.update(zip(troubled, again, strict=True))
        for r in regions:
            if _accepts(answers[r]):
                run.seen["user"] = run.seen.pop(f"detect:{r}")
                run.regions["user"] = r
                return r
        return None

    def _unfound(self, started: datetime, run: _Run, tried: Sequence[RegionId], *, detect: bool) -> CheckResult:
        failures = [s for s in run.seen.values() if _retryable(s) or s.kind is Kind.NOT_SENT]
        labels = ", ".join(region_label(r) for r in dict.fromkeys(tried))
        if not failures:
            reason = f"No Dentally region accepted this key (tried {labels}); it may be mistyped, expired or revoked."
            return _bare(started, run, Verdict.INVALID_KEY, Problem.KEY_REJECTED, reason, detected=detect)
        problem, reason, retry_at = _explain(failures, self._clock())
        return _bare(
            started,
            run,
            Verdict.COULD_NOT_CHECK,
            problem,
            f"Could not find this key's region: {reason}",
            retry_at=retry_at,
            detected=detect,
        )

    async def _finish(self, run: _Run, client: DentallyClient, region: RegionId) -> None:
        """The calibrated writes (unless introspection settled everything), the clinic-name fallback and retries.

        Normally one more round trip; only retries after a rate limit or a failure add another.
        """
        if _rejected(run):
            return
        retries = [n for n in READS if _retryable(run.seen[n])]
        # Writes wait for an API that answered at all: if every read failed, they would only fail too.
        answered = _api_answered(run)
        fresh = list(WRITES) if answered and not prove(run.seen).introspected else []
        # The clinic name never decides anything, so its fallback only gets what the verdict leaves of the budget.
        extra = ["sites"] if run.seen["practice"].status != 200 and not _retryable(run.seen["practice"]) else []
        await self._round(run, client, region, fresh, retries, extra)
        if _rejected(run):
            return
        retries = [n for n in (*fresh, *extra) if _retryable(run.seen[n])]
        late = [] if not _api_answered(run) or WRITES[0] in run.seen or prove(run.seen).introspected else list(WRITES)
        if retries or late:
            await self._round(run, client, region, late, retries)

    async def _round(
        self,
        run: _Run,
        client: DentallyClient,
        region: RegionId,
        fresh: Sequence[str],
        retries: Sequence[str],
        extra: Sequence[str] = (),
    ) -> None:
        if not fresh and not retries and not extra:
            return
        if retries:
            await self._wait([run.seen[n] for n in retries])
            run.retried.update(retries)
        # Everything goes out at once; what does not fit the budget is marked as not sent.
        await run.round(client, region, _by_priority(fresh, retries, run, extra))

    async def _wait(self, limited: Iterable[Seen]) -> None:
        waits: list[float] = []
        rate_limited = False
        now = self._clock()
        for seen in limited:
            if seen.kind is Kind.RATE_LIMITED:
                rate_limited = True
                wait = seen.response.rate_limit.seconds_until_reset(now) if seen.response is not None else None
                if wait is not None:
                    waits.append(wait)
        if not rate_limited:
            await self._sleep(FAILURE_PAUSE)
            return
        # Without a reset time, wait the cap: Dentally has been seen to refuse briefly with budget left.
        wait = min(self._max_wait, max(waits) if waits else self._max_wait)
        if wait > 0:
            await self._sleep(wait)

    def _decide(self, started: datetime, run: _Run, region: RegionId, detected: bool) -> CheckResult:
        proof = prove(run.seen)
        user = _user_from(run.seen.get("user"))
        clinic = _practice_name(run.seen.get("practice")) or _site_names(run.seen.get("sites"))
        base = _result(started, run, proof, region, detected, user, clinic)
        if _rejected(run):
            rejected_all = all(s.kind is Kind.REJECTED for n, s in run.seen.items() if not n.startswith("detect:"))
            reason = (
                "Dentally does not accept this key here; it may be mistyped, expired, revoked or made in another "
                "region."
                if rejected_all
                else "Dentally rejected this key part-way through the check; it may have been revoked or expired."
            )
            return base.model_copy(
                update={"verdict": Verdict.INVALID_KEY, "problem": Problem.KEY_REJECTED, "reason": reason}
            )
        if proof.incidents:
            first = proof.incidents[0]
            reason = (
                f"Dentally answered a write probe with success ({first.shown}) instead of refusing it. Probes carry "
                "no appointment fields and target id 0, so nothing should have changed, but support must look."
            )
            incident = Incident(method=first.probe.method, path=first.probe.path, http_status=first.status or 0)
            return base.model_copy(
                update={
                    "verdict": Verdict.COULD_NOT_PROVE,
                    "problem": Problem.INCIDENT,
                    "reason": reason,
                    "incident": incident,
                }
            )
        if proof.disagreements:
            reason = "Dentally's own scope list and its answers disagree: " + "; ".join(proof.disagreements) + "."
            return base.model_copy(
                update={"verdict": Verdict.COULD_NOT_PROVE, "problem": Problem.DISAGREEMENT, "reason": reason}
            )
        statuses = [p.status for p in proof.scopes.values()]
        if ScopeStatus.MISSING in statuses:
            return base.model_copy(update={"verdict": Verdict.MISSING_SCOPES})
        if all(status is ScopeStatus.GRANTED for status in statuses):
            return base.model_copy(update={"verdict": Verdict.VERIFIED})
        if proof.troubled:
            problem, reason, retry_at = _explain(proof.troubled, self._clock())
            return base.model_copy(
                update={
                    "verdict": Verdict.COULD_NOT_CHECK,
                    "problem": problem,
                    "reason": reason,
                    "retry_at": retry_at,
                }
            )
        if all(s.kind is Kind.REFUSED for n, s in run.seen.items() if s.probe.role is not Role.INTROSPECTION):
            reason = (
                "Dentally refused every request of the check (403) without saying why, so nothing is proven; the "
                "evidence shows what it answered."
            )
            return base.model_copy(
                update={
                    "verdict": Verdict.COULD_NOT_PROVE,
                    "problem": Problem.FORBIDDEN_UNEXPLAINED,
                    "reason": reason,
                }
            )
        unproven = [s for s, p in proof.scopes.items() if p.status is ScopeStatus.UNKNOWN]
        labels = ", ".join(SCOPE_LABELS[s] for s in unproven)
        reason = (
            f"Dentally's answers neither prove nor refute {labels}: its controls were not refused the way a "
            "missing permission is, so this Dentally may look records up or check bodies before permissions, "
            "or the key also holds Patient permissions."
        )
        return base.model_copy(
            update={"verdict": Verdict.COULD_NOT_PROVE, "problem": Problem.UNPROVEN, "reason": reason}
        )


def _accepts(seen: Seen) -> bool:
    return seen.kind not in (Kind.REJECTED, Kind.RATE_LIMITED, Kind.TROUBLE, Kind.NOT_SENT)


def _api_answered(run: _Run) -> bool:
    # Token info is the OAuth server's (it may be a plain 404), so only the API's own reads count here.
    return any(n in run.seen and not _retryable(run.seen[n]) for n in ("user", "users", "read"))


def _rejected(run: _Run) -> bool:
    # Token info belongs to the OAuth server, which may guard it differently: its 401 alone never condemns a key.
    return any(
        s.kind is Kind.REJECTED and s.probe.role is not Role.INTROSPECTION
        for n, s in run.seen.items()
        if not n.startswith("detect:")
    )


def _by_priority(fresh: Sequence[str], retries: Sequence[str], run: _Run, extra: Sequence[str] = ()) -> list[str]:
    """Fresh requests, then retries in order of importance, then extras; anything past the budget is left out."""
    ordered = list(fresh) + sorted(retries, key=_RETRY_ORDER.index) + list(extra)
    room = run.room()
    for name in ordered[room:]:
        run.seen[name] = Seen(PROBES[name], Kind.NOT_SENT, problem=Problem.BUDGET_EXHAUSTED, detail="budget spent")
    return ordered[:room]


def _explain(failures: Sequence[Seen], now: datetime) -> tuple[Problem, str, datetime | None]:
    problems = {s.problem for s in failures}
    problem = next((p for p in _PROBLEM_ORDER if p in problems), Problem.UNEXPECTED_STATUS)
    first = next((s for s in failures if s.problem is problem), failures[0])
    if problem is Problem.RATE_LIMITED:
        resets = [
            t for s in failures if s.response is not None and (t := s.response.rate_limit.reset_time(now)) is not None
        ]
        retry_at = max(resets) if resets else None
        when = f" after {retry_at:%H:%M} UTC" if retry_at else " in a few minutes"
        return problem, f"Dentally is rate-limiting this key just now; try again{when}.", retry_at
    if problem is Problem.BUDGET_EXHAUSTED:
        return problem, "The check used up its request budget before it could finish.", None
    return problem, first.detail or "Dentally gave an answer the check could not use.", None


def _evidence(run: _Run) -> tuple[Evidence, ...]:
    rows = []
    for name, seen in run.seen.items():
        r = seen.response
        error = r is not None and not r.is_success
        rows.append(
            Evidence(
                name=name,
                role=seen.probe.role.value,
                method=seen.probe.method,
                path=seen.probe.path,
                region=run.regions.get(name),
                status=seen.status,
                www_authenticate=r.www_authenticate[:EXCERPT] if r is not None else "",
                content_type=r.content_type if r is not None else "",
                # Only error answers are kept: a success body could hold clinic data.
                excerpt=" ".join(r.excerpt.split())[:EXCERPT] if error and r is not None else "",
                note=seen.detail if r is None else "",
            )
        )
    return tuple(rows)


def _result(
    started: datetime,
    run: _Run,
    proof: Proof,
    region: RegionId,
    detected: bool,
    user: DentallyUser | None,
    clinic: str | None,
) -> CheckResult:
    checks = tuple(
        ScopeCheck(
            scope=s, status=proof.scopes[s].status, http_status=proof.scopes[s].http_status, proof=proof.scopes[s].proof
        )
        for s in REQUIRED_SCOPES
    )
    return CheckResult(
        verdict=Verdict.COULD_NOT_PROVE,
        scopes=checks,
        region=region,
        region_detected=detected,
        user=user,
        clinic_name=clinic,
        requests_made=run.used,
        oauth_scopes=proof.oauth_scopes,
        token_info_scopes=proof.token_info_scopes,
        evidence=_evidence(run),
        checked_at=started,
    )


def _bare(
    started: datetime,
    run: _Run,
    verdict: Verdict,
    problem: Problem,
    reason: str,
    *,
    retry_at: datetime | None = None,
    detected: bool = False,
) -> CheckResult:
    return CheckResult(
        verdict=verdict,
        scopes=tuple(ScopeCheck(scope=s, status=ScopeStatus.UNKNOWN) for s in REQUIRED_SCOPES),
        region=None,
        region_detected=detected,
        user=None,
        clinic_name=None,
        requests_made=run.used,
        problem=problem,
        reason=reason,
        retry_at=retry_at,
        evidence=_evidence(run),
        checked_at=started,
    )


def _user_from(seen: Seen | None) -> DentallyUser | None:
    if seen is None or seen.kind is not Kind.OK or seen.response is None:
        return None
    body = seen.response.body
    data = body.get("user") if isinstance(body, Mapping) else None
    if not isinstance(data, Mapping):
        return None
    try:
        return DentallyUser.model_validate(data)
    except ValueError:
        return None


def _practice_name(seen: Seen | None) -> str | None:
    body = seen.response.body if seen is not None and seen.response is not None and seen.status == 200 else None
    practice = body.get("practice") if isinstance(body, Mapping) else None
    name = practice.get("name") if isinstance(practice, Mapping) else None
    return name.strip() or None if isinstance(name, str) else None


def _site_names(seen: Seen | None) -> str | None:
    body = seen.response.body if seen is not None and seen.response is not None and seen.status == 200 else None
    sites = body.get("sites") if isinstance(body, Mapping) else None
    if not isinstance(sites, list):
        return None
    names = list(
        dict.fromkeys(s["name"].strip() for s in sites if isinstance(s, Mapping) and isinstance(s.get("name"), str))
    )
    names = [n for n in names if n]
    if not names:
        return None
    shown = ", ".join(names[:3])
    return f"{shown} and {len(names) - 3} more" if len(names) > 3 else shown
