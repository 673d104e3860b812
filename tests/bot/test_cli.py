"""The command line: one clear line for every configuration mistake, and the key read only from standard input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.fakes.slack import SlackApiSandbox
from bot.serving import serve
from dentally.sandbox import Sandbox, sample_keys
from tests.quick_stop import QUICK_STOP

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ALDENSE_", "DENTALLY_", "TEAMS_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**clean, **(env or {})},
        timeout=60,
        check=False,
    )


@pytest.fixture
def state(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/state.sqlite3"


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({}, "SLACK_BOT_TOKEN is required"),
        ({"SLACK_BOT_TOKEN": "not-a-token"}, "SLACK_BOT_TOKEN: Value error, must be a bot token"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "ALDENSE_ONBOARDING_CHANNEL": "general"},
            "ALDENSE_ONBOARDING_CHANNEL",
        ),
        ({"PORT": "eighty"}, "PORT"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"HTTP_BODY_SECONDS": "0"}, "HTTP_BODY_SECONDS"),
        ({"STATE_URL": "postgres://x"}, "STATE_URL"),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_SIGNING_SECRET": "s",
                "ALDENSE_ONBOARDING_CHANNEL": "C123",
                "KEY_ENCRYPTION_KEYS": "not-fernet",
            },
            "KEY_ENCRYPTION_KEYS",
        ),
        (
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_SIGNING_SECRET": "s",
                "ALDENSE_ONBOARDING_CHANNEL": "C123",
                "SLACK_API_URL": "http://127.0.0.1:9/api/",
            },
            "SLACK_API_URL cannot be reached",
        ),
    ],
)
def test_run_stops_with_one_line_naming_the_setting(env: dict[str, str], line: str, state: str) -> None:
    result = run_cli("run", "--port", "0", env={"STATE_URL": state, **env})
    assert result.returncode == 2
    assert line in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("aldense-guide: configuration error:")


def test_guide_validate_passes_the_built_in_guide_and_names_a_broken_one(tmp_path: Path) -> None:
    ok = run_cli("guide", "validate")
    assert ok.returncode == 0
    assert "9 steps" in ok.stdout
    broken = tmp_path / "guide.yaml"
    broken.write_text("id: broken\nversion: 1\ntitle: T\nsummary: S\nsteps:\n  - id: one\n    title: One\n")
    bad = run_cli("guide", "validate", str(broken))
    assert bad.returncode == 2
    assert "guide broken" in bad.stderr
    assert "step 'one': has no picture" in bad.stderr


async def test_check_key_reads_the_key_from_stdin_and_exits_by_verdict() -> None:
    import asyncio

    keys = sample_keys()
    async with serve(Sandbox(), poll_seconds=QUICK_STOP) as url:
        env = {"DENTALLY_API_URL": f"{url}/{{region}}"}
        verified = await asyncio.to_thread(
            run_cli, "check-key", "--region", "uk", env=env, stdin=keys["all_scopes"].key
        )
        missing = await asyncio.to_thread(
            run_cli, "check-key", "--region", "detect", env=env, stdin=keys["missing_appointment_delete"].key
        )
        junk = await asyncio.to_thread(run_cli, "check-key", env=env, stdin="not a key\n")
    assert (verified.returncode, missing.returncode, junk.returncode) == (0, 1, 1)
    assert "VERIFIED" in verified.stdout
    assert "appointment : delete  appointment:delete  MISSING" in missing.stdout
    assert keys["all_scopes"].key not in verified.stdout + verified.stderr
    assert "spaces" in junk.stderr


def test_keys_new_secret_prints_a_fernet_key() -> None:
    from cryptography.fernet import Fernet

    result = run_cli("keys", "new-secret")
    assert result.returncode == 0
    Fernet(result.stdout.strip().encode())


async def test_dentally_calibrate_reads_two_keys_from_stdin_and_exits_0_when_both_come_out_as_expected() -> None:
    import asyncio

    keys = sample_keys()
    async with serve(Sandbox(), poll_seconds=QUICK_STOP) as url:
        env = {"DENTALLY_API_URL": f"{url}/{{region}}"}
        stdin = f"{keys['user_read_only'].key}\n{keys['all_scopes'].key}\n"
        run = await asyncio.to_thread(run_cli, "dentally-calibrate", "--region", "uk", env=env, stdin=stdin)
        short = await asyncio.to_thread(run_cli, "dentally-calibrate", env=env, stdin=f"{keys['all_scopes'].key}\n")
    assert run.returncode == 0, run.stderr
    assert "Dentally behaviour profile — UK & Ireland" in run.stdout
    assert "the scope is checked first" in run.stdout
    assert keys["all_scopes"].key not in run.stdout + run.stderr
    assert keys["user_read_only"].key not in run.stdout + run.stderr
    assert short.returncode == 1
    assert "the key with the five scopes" in short.stderr


def _guide_copy(tmp_path: Path, **changes: object) -> Path:
    """The built-in guide copied beside its pictures, with top-level or first-step fields changed."""
    import shutil

    import yaml

    from conversations.guide import DEFAULT_GUIDE

    shutil.copytree(DEFAULT_GUIDE.parent / "images", tmp_path / "images")
    raw = yaml.safe_load(DEFAULT_GUIDE.read_text(encoding="utf-8"))
    for name, value in changes.items():
        if name.startswith("step_"):
            raw["steps"][0][name.removeprefix("step_")] = value
        else:
            raw[name] = value
    path = tmp_path / "guide.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_guide_validate_refuses_texts_each_within_limits_that_slack_refuses_once_rendered(tmp_path: Path) -> None:
    # Title (≤150) and text (≤3000) are each allowed, but one section holds both, and Slack allows 3000 there.
    step = _guide_copy(tmp_path / "step", step_title="T" * 150, step_text="x" * 2900)
    bad = run_cli("guide", "validate", str(step))
    assert bad.returncode == 2
    assert "step sign-in: block 1 (step:sign-in:text): text attribute cannot exceed 3000 characters" in bad.stderr
    # The kick-off joins a greeting, the guide's title and its summary in one section too.
    kickoff = _guide_copy(tmp_path / "kickoff", summary="y" * 2950)
    bad = run_cli("guide", "validate", str(kickoff))
    assert bad.returncode == 2
    assert "kick-off greeting a newcomer: block 0" in bad.stderr
    # Exactly at the limit once rendered is fine ("*title*\ntext" is 3 characters more than the two texts).
    fits = _guide_copy(tmp_path / "fits", step_title="T" * 150, step_text="x" * (3000 - 150 - 3))
    assert run_cli("guide", "validate", str(fits)).returncode == 0


def test_guide_validate_refuses_a_step_slack_takes_but_whose_teams_message_is_too_big(tmp_path: Path) -> None:
    # 2,800 characters fit Slack's section; as a Teams message (JSON-escaped emoji) it is over 25,000 bytes.
    big = _guide_copy(tmp_path / "big", step_text="\N{TOOTH}" * 2800)
    bad = run_cli("guide", "validate", str(big))
    assert bad.returncode == 2
    assert "Slack" not in bad.stderr
    assert "step sign-in: Microsoft Teams message is " in bad.stderr
    assert "bytes; Teams takes at most 25,000" in bad.stderr
    good = run_cli("guide", "validate")
    assert good.returncode == 0, good.stderr
    assert "every rendered Slack and Teams message within that platform's limits — OK" in good.stdout
    assert "troubles (ids and jumps sound)" in good.stdout


def test_guide_validate_names_a_trouble_with_a_bad_jump_and_a_label_too_long_for_a_button(tmp_path: Path) -> None:
    troubles = [{"id": "lost", "label": "x" * 80, "answer": "Look again.", "go_to": "nowhere"}]
    bad = run_cli("guide", "validate", str(_guide_copy(tmp_path, step_troubles=troubles)))
    assert bad.returncode == 2
    assert "step 'sign-in' trouble 'lost': go_to names unknown step 'nowhere'" in bad.stderr
    assert "step 'sign-in' trouble 'lost': label is 80 characters; the limit is 75" in bad.stderr


async def test_run_with_json_logs_writes_one_object_per_line_with_the_request_id(
    api: SlackApiSandbox, tmp_path: Path
) -> None:
    import asyncio
    import json
    import signal
    import socket

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ALDENSE_", "DENTALLY_", "TEAMS_"))}
    env = clean | {
        "SLACK_BOT_TOKEN": api.workspace.bot_token,
        "SLACK_SIGNING_SECRET": "cli-signing-secret",
        "SLACK_API_URL": api.api_url,
        "ALDENSE_ONBOARDING_CHANNEL": "C0ONBOARD",
        "STATE_URL": f"sqlite:///{tmp_path}/state.sqlite3",
        "LOG_FORMAT": "JSON",
        "LOG_LEVEL": "INFO",
    }
    argv = [sys.executable, "-m", "bot.cli", "run", "--host", "127.0.0.1", "--port", str(port)]
    child = await asyncio.create_subprocess_exec(*argv, cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE)
    try:
        async with httpx.AsyncClient(timeout=10) as http, asyncio.timeout(60):
            while True:
                try:
                    ready = (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
                except httpx.TransportError:
                    ready = False  # not listening yet
                if ready:
                    break
                await asyncio.sleep(0.1)
            forged = await http.post(
                f"http://127.0.0.1:{port}/slack/events", content=b"{}", headers={"X-Request-Id": "cli-test-0123456789"}
            )
    finally:
        child.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(child.communicate(), 60)
    assert forged.status_code == 401
    assert forged.headers["x-request-id"] == "cli-test-0123456789"
    lines = [json.loads(line) for line in stderr.decode().splitlines()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert any("listening on http://127.0.0.1" in line["message"] for line in lines)
    [refused] = [line for line in lines if "forged or stale Slack signature" in line["message"]]
    assert (refused["level"], refused["request_id"]) == ("WARNING", "cli-test-0123456789")


# A distinctive key typed where it must not be: on the command line.
TYPED_KEY = "ArgvCanary9q_Wz3Xk-Pm7RtY2LbV5NcJ8HdF4GsQ1a"


@pytest.mark.parametrize(
    "args",
    [
        ("check-key", TYPED_KEY),
        ("check-key", "--region", TYPED_KEY),
        ("check-key", f"--region={TYPED_KEY}"),
        ("check-key", f"--verbose={TYPED_KEY}"),
        ("check-key", f"--{TYPED_KEY}"),
        (TYPED_KEY,),
        ("keys", TYPED_KEY),
        ("keys", "rotate", TYPED_KEY),
        ("run", "--port", TYPED_KEY),
        ("dentally-sandbox", "--mode", TYPED_KEY),
    ],
)
def test_usage_errors_exit_64_and_never_echo_what_was_typed(args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.returncode == 64
    assert TYPED_KEY[4:12] not in result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("aldense-guide: usage error:")
    assert "usage: aldense-guide" in result.stderr


def test_a_usage_error_still_says_what_was_wrong_without_the_value() -> None:
    wrong_choice = run_cli("check-key", "--region", "mars")
    assert wrong_choice.returncode == 64
    assert "--region" in wrong_choice.stderr
    assert "uk, au, ca, sandbox, detect" in wrong_choice.stderr
    assert "mars" not in wrong_choice.stderr
    missing = run_cli("keys")
    assert missing.returncode == 64
    assert "SUBCOMMAND" in missing.stderr
    assert run_cli("check-key", "--help").returncode == 0


def _seed_clinics(state: str, **credentials: str) -> None:
    """Clinic records whose verified key is ``ciphertext``, one per channel given."""
    import asyncio

    from conversations.clinic import StoredCredential
    from conversations.guide import load_guide
    from conversations.service import OnboardingService
    from conversations.stores import open_store

    async def seed() -> None:
        store = open_store(state)
        service = OnboardingService(store, load_guide())
        for channel, ciphertext in credentials.items():
            credential = StoredCredential(
                ciphertext=ciphertext,
                fingerprint="ABCD",
                region="uk",
                scopes=(),
                verified_at=1.0,
                verified_by="U1",
            )
            await service.update_clinic(
                "slack", channel, lambda c, k=credential: c.model_copy(update={"credential": k})
            )
        await store.aclose()

    asyncio.run(seed())


def test_keys_rotate_re_encrypts_under_the_newest_key_and_exits_1_while_a_key_cannot_be_decrypted(
    state: str,
) -> None:
    from pydantic import SecretStr

    from conversations.vault import KeyVault, new_secret

    old, new, lost = new_secret(), new_secret(), new_secret()
    key = SecretStr("RotateCliKey_Zq8Wm3Lx7Pv2Nc5Tb9Hk4Jd6Fs1Gr0E")
    _seed_clinics(state, C1=KeyVault([old]).encrypt(key), C2=KeyVault([lost]).encrypt(key))
    env = {"STATE_URL": state, "KEY_ENCRYPTION_KEYS": f"{new},{old}"}

    first = run_cli("keys", "rotate", env=env)
    assert first.returncode == 1
    assert "rotated: 1" in first.stdout
    assert "already current: 0" in first.stdout
    assert "undecryptable: 1" in first.stdout
    assert "slack C2 credential …ABCD" in first.stdout
    assert "cannot be decrypted" in first.stderr
    second = run_cli("keys", "rotate", env=env)
    assert "rotated: 0" in second.stdout
    assert "already current: 1" in second.stdout
    assert key.get_secret_value()[:8] not in first.stdout + first.stderr + second.stdout + second.stderr

    _seed_clinics(state, C2=KeyVault([new]).encrypt(key))  # the clinic entered a new key
    done = run_cli("keys", "rotate", env={**env, "KEY_ENCRYPTION_KEYS": new})
    assert done.returncode == 0
    assert "already current: 2" in done.stdout
    assert run_cli("keys", "rotate", env={"STATE_URL": state}).returncode == 2  # no encryption keys: configuration
