"""Servers under test as child processes: the Slack sandbox, baselines, and the real ``aldense-guide run``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"  # noqa: S105 - a benchmark's own secret
ONBOARDING = "C0ONBOARD"
# A fixed Fernet key so the bot accepts keys during benchmarks (never a real one).
ENCRYPTION_KEY = "qDzrhP0OVVTQlNfQWY3pkBK2ab8WnmAHV6RLwcuY6QM="


class Child:
    """A child process whose output goes to a log file, stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.log = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")[1])
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, env=dict(env or os.environ), stdout=out, stderr=subprocess.STDOUT
            )
        self.url = ""

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def wait_for_line(self, prefix: str, timeout: float = 30.0) -> str:
        """Wait until the log has a line starting with ``prefix`` and return the rest of it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log.read_text(errors="replace").splitlines():
                if line.startswith(prefix):
                    return line[len(prefix) :].strip()
            self._check_alive()
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not print {prefix!r}: {self.tail()}")

    def wait_ready(self, url: str, timeout: float = 30.0) -> None:
        """Wait until ``url`` answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer {url}: {self.tail()}")

    def _check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {self.tail()}")

    def tail(self, characters: int = 3000) -> str:
        """The end of the child's output."""
        return self.log.read_text(errors="replace")[-characters:]

    def rss_kib(self) -> int:
        """Resident set size in KiB (Linux ``/proc``)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def profile(self, seconds: float, out: Path) -> subprocess.Popen[bytes]:
        """Start sampling the child with py-spy for ``seconds`` into ``out`` (collapsed stacks); wait on the result.

        Raises:
            RuntimeError: py-spy is not on PATH (``pip install py-spy``; it is not a project dependency).
        """
        spy = shutil.which("py-spy")
        if spy is None:
            raise RuntimeError("py-spy is not on PATH")
        argv = [spy, "record", "--pid", str(self.pid), "--duration", str(int(seconds)), "--rate", "250"]
        argv += ["--format", "raw", "--nonblocking", "--output", str(out)]
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s; removes the log unless the child failed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.returncode in (0, -signal.SIGTERM):
            self.log.unlink(missing_ok=True)


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


@contextmanager
def slack_sandbox(clinics: int = 0, people: int = 0) -> Iterator[Child]:
    """The Slack sandbox in its own process; ``child.url`` is its base URL."""
    child = Child("slack", _python("-m", "benchmarks.slack_server", "--clinics", str(clinics), "--people", str(people)))
    try:
        child.url = child.wait_for_line("listening on ")
        yield child
    finally:
        child.stop()


@contextmanager
def slow_clients(url: str, count: int) -> Iterator[Child]:
    """``count`` slow connections to the server at ``url`` (see ``benchmarks.slow_clients``), in their own process."""
    child = Child("slow-clients", _python("-m", "benchmarks.slow_clients", url, "--count", str(count)))
    try:
        child.wait_for_line("open")
        yield child
    finally:
        child.stop()


@contextmanager
def baseline(kind: str, api_url: str) -> Iterator[Child]:
    """A baseline server (see ``benchmarks.baselines``) in its own process."""
    argv = _python("-m", "benchmarks.baselines", kind, "--secret", SIGNING_SECRET, "--api-url", api_url)
    child = Child(kind, argv)
    try:
        child.url = child.wait_for_line("listening on ")
        yield child
    finally:
        child.stop()


def free_port() -> int:
    """A loopback port that was free a moment ago (``aldense-guide run`` takes a port number, not 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bot_env(api_url: str, state_url: str, **extra: str) -> dict[str, str]:
    """The environment of ``aldense-guide run`` against the sandbox at ``api_url`` with state at ``state_url``."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SLACK_", "ALDENSE_", "DENTALLY_", "TEAMS_", "STATE_", "LOG_", "PUBLIC_"))
    }
    return inherited | {
        "SLACK_BOT_TOKEN": "xoxb-sandbox-aldense-guide",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api_url,
        "ALDENSE_ONBOARDING_CHANNEL": ONBOARDING,
        "STATE_URL": state_url,
        "KEY_ENCRYPTION_KEYS": ENCRYPTION_KEY,
        "KICKOFF_ON_JOIN": "false",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


@contextmanager
def bot(api_url: str, state_url: str, name: str = "bot", **extra: str) -> Iterator[Child]:
    """The real bot, ``aldense-guide run``, in its own process."""
    port = free_port()
    argv = _python("-m", "bot.cli", "run", "--host", "127.0.0.1", "--port", str(port))
    child = Child(name, argv, bot_env(api_url, state_url, **extra))
    try:
        child.url = f"http://127.0.0.1:{port}"
        child.wait_ready(f"{child.url}/readyz")
        yield child
    finally:
        child.stop()


def flush_redis(url: str) -> None:
    """Empty the spare Redis database a benchmark uses (before and after its run)."""
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
