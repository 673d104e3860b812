"""``aldense-guide check-key`` as a subprocess over the sandbox's modes: exit codes never claim more than is proven.

Every mode alone and every listed combination runs at least once. Each subprocess costs a second or two of CPU, so
each configuration checks one key (full and incomplete keys alternate) and the cooperative one checks four; the
in-process matrix (tests/dentally/test_proof_matrix.py) covers every key in every configuration. Exit codes: 0
verified, 1 missing permissions or an invalid key, 2 could not check or could not prove.
"""

from __future__ import annotations

import asyncio
import contextlib
from subprocess import CompletedProcess

from bot.serving import serve
from dentally.outcome import Verdict
from dentally.sandbox import Sandbox, SandboxKey, sample_keys, switches_for
from tests.bot.test_cli import run_cli
from tests.dentally.test_proof_matrix import CONFIGS, expected_verdict, truth
from tests.quick_stop import QUICK_STOP

KEYS = sample_keys()
EXIT = {Verdict.VERIFIED: 0, Verdict.MISSING_SCOPES: 1, Verdict.INVALID_KEY: 1, Verdict.COULD_NOT_PROVE: 2}
MISSING = [name for name in KEYS if name.startswith("missing_")]


def keys_for(index: int, modes: tuple[str, ...]) -> list[SandboxKey]:
    if not modes:
        return [KEYS["all_scopes"], KEYS["over_granted"], KEYS["missing_appointment_update"], KEYS["expired"]]
    # Full and incomplete keys alternate, and the incomplete one changes, so each kind meets many modes.
    return [KEYS["all_scopes"] if index % 2 else KEYS[MISSING[index % len(MISSING)]]]


async def test_check_key_exit_codes_over_every_mode() -> None:
    sandboxes = [Sandbox(switches=switches_for(modes)) for modes in CONFIGS]
    slots = asyncio.Semaphore(3)  # two cores: a few subprocesses at a time

    async def check(url: str, key: SandboxKey) -> tuple[SandboxKey, CompletedProcess[str]]:
        env = {"DENTALLY_API_URL": f"{url}/{{region}}"}
        async with slots:
            run = await asyncio.to_thread(
                run_cli, "check-key", "--region", key.region, "--verbose", env=env, stdin=key.key
            )
        return key, run

    async with contextlib.AsyncExitStack() as stack:
        urls = [await stack.enter_async_context(serve(sandbox, poll_seconds=QUICK_STOP)) for sandbox in sandboxes]
        jobs = [
            check(url, key)
            for index, (url, modes) in enumerate(zip(urls, CONFIGS, strict=True))
            for key in keys_for(index, modes)
        ]
        outcomes = await asyncio.gather(*jobs)
    configs = [modes for index, modes in enumerate(CONFIGS) for _ in keys_for(index, modes)]
    for modes, (key, run) in zip(configs, outcomes, strict=True):
        context = f"{key.name} with {modes or 'no mode'}: exit {run.returncode}\n{run.stdout}\n{run.stderr}"
        complete = all(truth(key).values()) and not key.expired
        assert run.returncode in (0, 1, 2), context
        # Never a false pass, never a false "make a new key".
        assert run.returncode != 0 or complete, context
        assert run.returncode != 1 or not complete or key.expired, context
        expected = expected_verdict(key, modes)
        if expected is not None:
            assert run.returncode == EXIT[expected], context
        assert key.key not in run.stdout + run.stderr
        if not key.expired:
            assert "Evidence (" in run.stdout, context
            assert "How each permission was decided:" in run.stdout, context
    for sandbox in sandboxes:
        assert (sandbox.counts.writes, sandbox.counts.records_served) == (0, 0)


async def test_could_not_prove_exits_2_and_says_it_is_not_a_pass() -> None:
    sandbox = Sandbox(switches=switches_for(["lookup-first"]))
    key = KEYS["all_scopes"]
    async with serve(sandbox, poll_seconds=QUICK_STOP) as url:
        run = await asyncio.to_thread(
            run_cli, "check-key", "--region", "uk", env={"DENTALLY_API_URL": f"{url}/{{region}}"}, stdin=key.key
        )
    assert run.returncode == 2
    assert "COULD NOT PROVE" in run.stdout
    assert "not a pass" in run.stdout
    assert "not proven" in run.stdout
