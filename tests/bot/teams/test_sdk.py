"""The SDK is held to our settings: it loads no .env, reads no credentials from the environment, logs no bodies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from bot.teams.sdk import MESSAGING_ENDPOINT, Credentials, MessagingEndpoint, StarletteAdapter, build_app

ROOT = Path(__file__).resolve().parents[3]


def test_importing_the_adapter_loads_no_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ALDENSE_DOTENV_CANARY=1\nCLIENT_SECRET=from-a-dotenv-file\n", encoding="utf-8")
    probe = (
        "import os, bot.teams.messenger; "
        "print(sorted(k for k in ('ALDENSE_DOTENV_CANARY', 'CLIENT_SECRET') if k in os.environ))"
    )
    env = {key: value for key, value in os.environ.items() if key not in ("CLIENT_SECRET", "CLIENT_ID")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


async def test_credentials_come_from_us_and_unsigned_requests_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS", "true")
    monkeypatch.setenv("CLIENT_ID", "11111111-1111-4111-8111-111111111111")
    adapter = StarletteAdapter()
    credentials = Credentials("0a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d", SecretStr("s"), "t")
    app = build_app(credentials, "https://smba.trafficmanager.net/teams/", adapter)
    await app.initialize()
    assert app.id == credentials.client_id
    assert "Credentials(client_id=" in repr(credentials)
    assert "'s'" not in repr(credentials)
    endpoint = MessagingEndpoint(adapter)
    server = Starlette()
    server.router.add_route(MESSAGING_ENDPOINT, endpoint.handle, methods=["POST"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server), base_url="http://bot") as client:
        response = await client.post(MESSAGING_ENDPOINT, json={"type": "message", "text": "hi"})
        not_json = await client.post(MESSAGING_ENDPOINT, content=b"{", headers={"content-type": "application/json"})
        huge = await client.post(MESSAGING_ENDPOINT, content=b"x" * 300_000)
    assert response.status_code in (400, 401)  # an incomplete activity, and in any case no JWT
    assert not_json.status_code == 400
    assert huge.status_code == 413
