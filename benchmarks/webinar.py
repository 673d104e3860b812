"""Benchmark: a webinar — N clinics start the guide within a minute and click at human pace to a verified key.

Run with ``.venv/bin/python -m benchmarks.webinar [--clinics 50] [--pace-scale 1.0] [--seed 16]``. Each clinic has
its own shared channel and one admin. Staff have kicked every channel off beforehand; in the webinar each admin
clicks Start at a random moment within the first minute, then Done on every step, opens the key form and submits
a key Dentally verifies, waiting a random 5–20 s (fixed seed) before each action, as a person reading the step
would. Two ``aldense-guide run`` replicas share Redis; requests go to either at random. The Slack stand-in (and
the Dentally sandbox) run in this process; with ``rate_limits`` on, the stand-in enforces Slack's limits
(``bot.slack.limits``) and answers 429 with ``Retry-After`` as Slack does.

The same webinar runs twice, with Slack's limits and then without them (the baseline: what our own CPU costs).
Figures, per clinic:

- click → next step: a Start or Done click sent, to the next step's ``chat.postMessage`` reaching Slack;
- modal → result: the key form submitted, to the result reaching the clinic (thread post or modal update);
- card lag: how long after the clinic finished support's status card showed the verified key;
- 429s per method, calls per completed guide (Web API calls, refused ones included), clinics completed.

Goals (issue 16), at 50 clinics: p95 click → next step <= 2 s and p99 <= 5 s; no 429 on a call a clinic waits
for (its next step, its key result, its modal); every card correct within 60 s of the last click.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import json
import random
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks import processes
from benchmarks.load import percentile
from benchmarks.report import machine, shown, write_results
from benchmarks.slack_server import clinic_channel, person
from bot.fakes.slack import SlackApiSandbox, SlackDriver, Workspace
from bot.fakes.slack.records import ApiCall, Message
from bot.fakes.slack.workspace import STAFF, Team, User
from bot.serving import serve
from bot.slack import blocks, modals
from conversations.guide import Guide, load_guide
from dentally.sandbox import Sandbox, SandboxKey, sample_keys

GUIDE: Guide = load_guide()
GOAL_P95_S = 2.0
GOAL_P99_S = 5.0
GOAL_CARD_S = 60.0
THINK_S = (5.0, 20.0)
START_WITHIN_S = 60.0
RESULT_HEADLINE = "Dentally is connected"
# The calls a clinic is waiting for: its next step and key result (posts to its channel) and its modal.
MODAL_METHODS = frozenset({"views.open", "views.update", "views.push"})
# A person gives up on a step that has not arrived after this long (the clinic then counts as not completed).
PATIENCE_S = 180.0


def clinic_key(clinic: int) -> SandboxKey:
    """A Dentally key of its own for each clinic (all scopes, UK), so no two clinics share one."""
    template = sample_keys()["all_scopes"]
    digest = hashlib.sha256(f"webinar clinic {clinic}".encode()).digest()
    value = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return dataclasses.replace(template, name=f"webinar_{clinic}", key=value)


def webinar_workspace(clinics: int) -> Workspace:
    """Aldense's workspace with ``clinics`` Slack Connect channels, one admin in each."""
    workspace = Workspace()
    for clinic in range(clinics):
        team = Team(f"T0BC{clinic:03d}", f"Webinar clinic {clinic}", f"webinar-{clinic}")
        admin = User(person(clinic, 0), team.id, f"admin{clinic}", f"Admin {clinic}", is_admin=True)
        workspace.add_clinic(team, clinic_channel(clinic), f"webinar-clinic-{clinic}", [admin])
    return workspace


@dataclass
class ClinicRun:
    """What one clinic's admin did and when (``time.time()``, the stand-in's clock)."""

    clinic: int
    channel: str
    admin: str
    thread_ts: str = ""
    clicks: list[tuple[int, float]] = field(default_factory=list)  # (step index expected next, sent at)
    modal_clicked: float = 0.0
    submitted: float = 0.0
    finished: float = 0.0
    problem: str = ""


@dataclass(frozen=True)
class Figures:
    """One webinar's figures."""

    rate_limits: bool
    clinics: int
    pace_scale: float
    completed: int
    click_p50_s: float
    click_p95_s: float
    click_p99_s: float
    click_max_s: float
    modal_open_p95_s: float
    modal_to_result_p50_s: float
    modal_to_result_p95_s: float
    modal_to_result_p99_s: float
    card_lag_p50_s: float
    card_lag_max_s: float
    cards_wrong: int
    steps_missing: int
    steps_duplicated: int
    clinic_facing_429: int
    ratelimited: dict[str, int]
    calls_per_guide: float
    calls_by_method: dict[str, int]
    minutes: float
    problems: list[str]


class Webinar:
    """The stand-ins, two replicas on Redis, and a driver per replica."""

    def __init__(self, api: SlackApiSandbox, drivers: list[SlackDriver], seed: int) -> None:
        self.api = api
        self.drivers = drivers
        self.rng = random.Random(seed)

    def driver(self) -> SlackDriver:
        """A replica's driver, picked at random (a load balancer's choice)."""
        return self.rng.choice(self.drivers)


@contextlib.asynccontextmanager
async def running(
    clinics: int, redis_url: str, seed: int, log_level: str = "WARNING", budgets: bool = True
) -> AsyncIterator[Webinar]:
    """Serve the stand-ins here and start two replicas on ``redis_url`` (flushed before and after).

    With ``budgets`` each replica spends half of every Slack budget (there are two); without, none (the baseline).
    """
    processes.flush_redis(redis_url)
    api = SlackApiSandbox(webinar_workspace(clinics), max_changes=200_000)
    dentally = Sandbox({key.name: key for key in map(clinic_key, range(clinics))})
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(processes.flush_redis, redis_url)
        await stack.enter_async_context(api.serve())
        dentally_url = await stack.enter_async_context(serve(dentally))
        env = processes.bot_env(
            api.api_url,
            redis_url,
            DENTALLY_API_URL=f"{dentally_url}/{{region}}",
            LOG_LEVEL=log_level,
            ALDENSE_OUTBOUND_SHARE="0.5",
            ALDENSE_OUTBOUND_BUDGETS="true" if budgets else "false",
        )
        replicas = []
        for name in ("replica-a", "replica-b"):
            port = processes.free_port()
            argv = [sys.executable, "-m", "bot.cli", "run", "--host", "127.0.0.1", "--port", str(port)]
            child = processes.Child(name, argv, env)
            child.url = f"http://127.0.0.1:{port}"
            stack.callback(child.stop)
            replicas.append(child)
        for child in replicas:
            # The stand-in answers from this event loop (the replica calls auth.test first), so wait off it.
            await asyncio.to_thread(child.wait_ready, f"{child.url}/readyz", 60.0)
        # The replicas close a connection idle for 5 s (HTTP_KEEPALIVE_SECONDS), httpx's own default: a request
        # on a connection the server is closing that moment fails with ReadError, so the clients let go first.
        limits = httpx.Limits(keepalive_expiry=2.0)
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=60, limits=limits))
        drivers = [SlackDriver(child.url, processes.SIGNING_SECRET, api, http) for child in replicas]
        yield Webinar(api, drivers, seed)


async def kick_off(webinar: Webinar, clinics: int) -> dict[str, Message]:
    """Staff kick off every clinic channel before the webinar (no limits then: it happened days before)."""
    api = webinar.api
    kickoffs: dict[str, Message] = {}
    for clinic in range(clinics):
        channel = clinic_channel(clinic)
        command = f"onboard <#{channel}|webinar-clinic-{clinic}>"
        await webinar.driver().run_command(STAFF, processes.ONBOARDING, "/aldense", command, escape=False)
        kickoffs[channel] = await webinar.drivers[0].wait_for(
            lambda c=channel: next((m for m in api.messages(c) if _has_action(m, blocks.ACTION_START)), None), 30
        )
    return kickoffs


def _has_action(message: Message, action_id: str) -> bool:
    return any(
        element.get("action_id") == action_id
        for block in message.blocks
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    )


def _step(api: SlackApiSandbox, run: ClinicRun, index: int) -> Message | None:
    """The clinic's message of step ``index`` with its buttons, once it is there."""
    if not run.thread_ts:
        return None
    prefix = f"Step {index + 1} of {GUIDE.step_count}:"
    for message in reversed(api.thread(run.channel, run.thread_ts)):
        if message.text.startswith(prefix) and any(b.get("type") == "actions" for b in message.blocks):
            return message
    return None


def _thread_of(api: SlackApiSandbox, run: ClinicRun) -> str:
    bot = api.workspace.bot_user_id
    parents = [m for m in api.messages(run.channel) if m.user == bot and f"<@{run.admin}>" in m.text]
    return parents[-1].ts if parents else ""


async def clinic(webinar: Webinar, run: ClinicRun, kickoff: Message, pace: float, rng: random.Random) -> None:
    """One admin's webinar: Start, Done on every step, the key form, a key; ``run.problem`` says what went wrong."""
    api = webinar.api

    def think() -> float:
        return rng.uniform(*THINK_S) * pace

    async def until(found: Any, what: str) -> Any:
        try:
            return await webinar.drivers[0].wait_for(found, PATIENCE_S)
        except TimeoutError:
            raise RuntimeError(f"{what} did not arrive within {PATIENCE_S:.0f} s") from None

    await asyncio.sleep(rng.uniform(0.0, START_WITHIN_S) * pace)
    try:
        run.clicks.append((0, time.time()))
        await webinar.driver().click(run.admin, kickoff, blocks.ACTION_START)
        run.thread_ts = await until(lambda: _thread_of(api, run), "the guide's thread")
        last = GUIDE.step_count - 1
        for index in range(last):
            message = await until(lambda i=index: _step(api, run, i), f"step {index + 1}")
            await asyncio.sleep(think())
            run.clicks.append((index + 1, time.time()))
            await webinar.driver().click(run.admin, message, blocks.ACTION_DONE)
        key_step = await until(lambda: _step(api, run, last), f"step {last + 1}")
        await asyncio.sleep(think())
        run.modal_clicked = time.time()
        await webinar.driver().click(run.admin, key_step, blocks.ACTION_ENTER_KEY)
        await until(lambda: (v := api.open_view(run.admin)) and v.callback_id == modals.KEY_VIEW, "the key form")
        await asyncio.sleep(think())
        run.submitted = time.time()
        values = {
            modals.BLOCK_KEY: {modals.ACTION_KEY: clinic_key(run.clinic).key},
            modals.BLOCK_REGION: {modals.ACTION_REGION: "uk"},
        }
        await webinar.driver().submit_view(run.admin, None, values)
        await until(lambda: _result_post(api, run) is not None, "the key result")
        run.finished = time.time()
    except Exception as exc:  # one clinic's failure is a figure, not the end of the benchmark
        run.problem = f"clinic {run.clinic}: {type(exc).__name__}: {exc}"[:300]


def _result_post(api: SlackApiSandbox, run: ClinicRun) -> Message | None:
    if not run.thread_ts:
        return None
    return next((m for m in api.thread(run.channel, run.thread_ts) if RESULT_HEADLINE in _all_text(m)), None)


def _all_text(message: Message) -> str:
    return message.text + json.dumps(message.blocks)


def card_of(api: SlackApiSandbox, channel: str) -> Message | None:
    """Support's status card for the clinic in ``channel`` (a top-level message in the onboarding channel)."""
    return next(
        (m for m in api.messages(processes.ONBOARDING) if not m.thread_ts and channel in _all_text(m)),
        None,
    )


def card_correct(card: Message | None, run: ClinicRun) -> bool:
    """Whether the card says the clinic's key is verified (its outcome line) and names its admin as finished."""
    return card is not None and blocks_correct(card.blocks, run)


def blocks_correct(shown: Any, run: ClinicRun) -> bool:
    """Whether a card's blocks (a list, or the JSON text a call sent) say the clinic's key is verified."""
    if isinstance(shown, str):
        try:
            shown = json.loads(shown)
        except ValueError:
            return False
    if not isinstance(shown, list):
        return False
    outcome = next((b for b in shown if isinstance(b, dict) and b.get("block_id") == "card:outcome"), None)
    text = json.dumps(outcome) if outcome else ""
    return ":white_check_mark:" in text and clinic_key(run.clinic).key[-4:] in text


def card_lag(calls: Sequence[ApiCall], card: Message, run: ClinicRun) -> float:
    """Seconds from the clinic's finish to the card's post or edit from which on it stayed correct."""
    drawn = [
        c
        for c in calls
        if c.ok
        and (
            (c.method == "chat.update" and c.params.get("ts") == card.ts)
            or (c.method == "chat.postMessage" and c.response.get("ts") == card.ts)
        )
    ]
    settled: float | None = None
    for call in drawn:
        if not blocks_correct(call.params.get("blocks"), run):
            settled = None
        elif settled is None:
            settled = call.at
    return max(0.0, (run.finished if settled is None else settled) - run.finished)


async def walk(webinar: Webinar, clinics: int, kickoffs: dict[str, Message], pace: float, seed: int) -> list[ClinicRun]:
    """Every clinic's admin walks the guide at once; returns what each did."""
    runs = [ClinicRun(n, clinic_channel(n), person(n, 0)) for n in range(clinics)]
    await asyncio.gather(
        *(clinic(webinar, run, kickoffs[run.channel], pace, random.Random(seed * 1000 + run.clinic)) for run in runs)
    )
    return runs


async def settle_cards(api: SlackApiSandbox, runs: Sequence[ClinicRun], within: float) -> None:
    """Wait until every finished clinic's card is correct, or ``within`` seconds pass."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if all(card_correct(card_of(api, r.channel), r) for r in runs if r.finished):
            return
        await api.wait_for_change(api.version, 0.2)


def figures(
    api: SlackApiSandbox, runs: Sequence[ClinicRun], calls: Sequence[ApiCall], limits: bool, pace: float, took: float
) -> Figures:
    """The figures of one webinar from what the clinics did and the stand-in's call log."""
    posts: dict[tuple[str, int], list[float]] = {}
    for call in calls:
        text = str(call.params.get("text", ""))
        if call.method == "chat.postMessage" and call.status == 200 and call.ok and text.startswith("Step "):
            index = int(text.split()[1]) - 1
            posts.setdefault((str(call.params.get("thread_ts")), index), []).append(call.at)
    turnarounds, missing, duplicated = [], 0, 0
    for run in runs:
        for index, sent in run.clicks:
            at = posts.get((run.thread_ts, index))
            if at:
                turnarounds.append(max(0.0, min(at) - sent))
        for index in range(GUIDE.step_count):
            count = len(posts.get((run.thread_ts, index), []))
            missing += count == 0 and bool(run.finished)
            duplicated += count > 1
    modal_open = [_first_open(calls, run.modal_clicked) - run.modal_clicked for run in runs if run.modal_clicked]
    results = [run.finished - run.submitted for run in runs if run.finished]
    lags, wrong, late = [], 0, []
    for run in runs:
        if not run.finished:
            continue
        card = card_of(api, run.channel)
        if not card_correct(card, run) or card is None:
            wrong += 1
            continue
        lags.append(card_lag(calls, card, run))
        if lags[-1] > GOAL_CARD_S:
            late.append(f"clinic {run.clinic}: card correct {lags[-1]:.1f} s after its key result")
    ratelimited = Counter(call.method for call in calls if call.status == 429)
    clinic_channels = {run.channel for run in runs}
    clinic_facing = sum(
        1
        for call in calls
        if call.status == 429
        and (
            call.method in MODAL_METHODS
            or (call.method == "chat.postMessage" and call.params.get("channel") in clinic_channels)
        )
    )
    completed = sum(1 for run in runs if run.finished)
    return Figures(
        rate_limits=limits,
        clinics=len(runs),
        pace_scale=pace,
        completed=completed,
        click_p50_s=_s(percentile(turnarounds, 0.50)),
        click_p95_s=_s(percentile(turnarounds, 0.95)),
        click_p99_s=_s(percentile(turnarounds, 0.99)),
        click_max_s=_s(max(turnarounds, default=0.0)),
        modal_open_p95_s=_s(percentile([m for m in modal_open if m >= 0], 0.95)),
        modal_to_result_p50_s=_s(percentile(results, 0.50)),
        modal_to_result_p95_s=_s(percentile(results, 0.95)),
        modal_to_result_p99_s=_s(percentile(results, 0.99)),
        card_lag_p50_s=_s(percentile(lags, 0.50)),
        card_lag_max_s=_s(max(lags, default=0.0)),
        cards_wrong=wrong,
        steps_missing=missing,
        steps_duplicated=duplicated,
        clinic_facing_429=clinic_facing,
        ratelimited=dict(sorted(ratelimited.items())),
        calls_per_guide=round(len(calls) / completed, 1) if completed else 0.0,
        calls_by_method=dict(Counter(call.method for call in calls).most_common()),
        minutes=round(took / 60, 2),
        problems=[run.problem for run in runs if run.problem] + late,
    )


def _first_open(calls: Sequence[ApiCall], after: float) -> float:
    """When a modal first opened at or after ``after`` (views.open names no user: the next one is taken)."""
    return next((c.at for c in calls if c.method == "views.open" and c.ok and c.at >= after), after - 1)


def _s(seconds: float) -> float:
    return round(seconds, 2)


async def measure(
    clinics: int, *, rate_limits: bool, pace: float = 1.0, seed: int = 16, redis_url: str, log_level: str = "WARNING"
) -> Figures:
    """Run one webinar of ``clinics`` clinics (with or without Slack's limits) and return its figures."""
    async with running(clinics, redis_url, seed, log_level, budgets=rate_limits) as webinar:
        api = webinar.api
        kickoffs = await kick_off(webinar, clinics)
        await asyncio.sleep(1.0)  # let the kick-offs' support cards settle
        api.rate_limits = rate_limits  # switching refills every bucket
        first = len(api.calls())
        began = time.monotonic()
        runs = await walk(webinar, clinics, kickoffs, pace, seed)
        took = time.monotonic() - began
        await settle_cards(api, runs, GOAL_CARD_S)
        return figures(api, runs, api.calls()[first:], rate_limits, pace, took)


def render(rows: Sequence[Figures]) -> str:
    """The table (limits on, then the baseline) and the goals' verdicts."""
    head = (
        f"{'limits':>7}{'clinics':>8}{'done':>6}{'p50 s':>7}{'p95 s':>7}{'p99 s':>7}{'max s':>7}{'modal p95':>10}"
        f"{'result p50':>11}{'p95':>6}{'card lag max':>13}{'wrong':>6}{'429 clinic':>11}{'calls/guide':>12}{'min':>6}"
    )
    lines = ["Webinar: clinics start within a minute and click every 5-20 s (x pace) to a verified key", head]
    for r in rows:
        lines.append(
            f"{'on' if r.rate_limits else 'off':>7}{r.clinics:>8}{r.completed:>6}{r.click_p50_s:>7.2f}"
            f"{r.click_p95_s:>7.2f}{r.click_p99_s:>7.2f}{r.click_max_s:>7.2f}{r.modal_open_p95_s:>10.2f}"
            f"{r.modal_to_result_p50_s:>11.2f}{r.modal_to_result_p95_s:>6.2f}{r.card_lag_max_s:>13.2f}"
            f"{r.cards_wrong:>6}{r.clinic_facing_429:>11}{r.calls_per_guide:>12.1f}{r.minutes:>6.1f}"
        )
    for r in rows:
        label = "with limits" if r.rate_limits else "baseline"
        lines.append(
            f"{label}: 429s by method {r.ratelimited or '{}'}; steps missing {r.steps_missing}, "
            f"duplicated {r.steps_duplicated}"
        )
        lines.append(f"  calls by method (refused included): {r.calls_by_method}")
        for problem in r.problems[:5]:
            lines.append(f"  {problem}")
    for r in rows:
        if not r.rate_limits:
            continue
        met = (
            r.click_p95_s <= GOAL_P95_S
            and r.click_p99_s <= GOAL_P99_S
            and r.clinic_facing_429 == 0
            and r.cards_wrong == 0
            and r.card_lag_max_s <= GOAL_CARD_S
            and r.completed == r.clinics
        )
        lines.append(
            f"goals at {r.clinics} clinics (p95 <= {GOAL_P95_S:.0f} s, p99 <= {GOAL_P99_S:.0f} s, no clinic-facing "
            f"429, every card correct within {GOAL_CARD_S:.0f} s): {'met' if met else 'NOT met'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the webinar with Slack's limits and without, print the table and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clinics", type=int, default=50, help="clinics in the webinar (default 50; try 20, 100)")
    parser.add_argument(
        "--pace-scale", type=float, default=1.0, help="multiply every wait by this (0.1: quick runs; default 1)"
    )
    parser.add_argument("--seed", type=int, default=16, help="seed of the clicking pace (default 16)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run without limits")
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/12", help="a spare Redis database, flushed before and after"
    )
    args = parser.parse_args(argv)
    choices = [True] if args.no_baseline else [True, False]
    rows = [
        asyncio.run(
            measure(args.clinics, rate_limits=limits, pace=args.pace_scale, seed=args.seed, redis_url=args.redis_url)
        )
        for limits in choices
    ]
    print(render(rows))
    settings = {"clinics": args.clinics, "pace_scale": args.pace_scale, "seed": args.seed, "replicas": 2}
    path = write_results(f"webinar_{args.clinics}", settings, rows, goals={"p95_s": GOAL_P95_S, "p99_s": GOAL_P99_S})
    print(machine())
    print(f"wrote {shown(path)}")


if __name__ == "__main__":
    main()
