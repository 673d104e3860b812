"""The SDK is held to our settings: it loads no .env, reads no credentials from the environment, logs no bodies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from microsoft_teams.api.auth.cloud_environment import PUBLIC, with_overrides
from pydantic import SecretStr
from starlette.applications import Starlette

from bot.teams.sdk import MESSAGING_ENDPOINT, Credentials, MessagingEndpoint, StarletteAdapter, build_app
from tests.bot.teams import recorded

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


SERVICE_URL = "https://smba.trafficmanager.net/amer/5d0b7c1e-0000-4000-8000-a1de05e00000/"
CLIENT_ID = "0a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"


def recorded_channel_message() -> dict[str, object]:
    """Microsoft's recorded channel-thread message (``recorded/``), every id re-pointed to made-up ones."""
    real = recorded.load("channel_thread_message")
    return recorded.repoint(
        real,
        {
            real["serviceUrl"]: SERVICE_URL,
            real["channelData"]["channel"]["id"]: "19:aldense-onboarding@thread.tacv2",
            real["channelData"]["team"]["id"]: "19:team-aldense-clinics@thread.tacv2",
            real["channelData"]["tenant"]["id"]: "5d0b7c1e-0000-4000-8000-a1de05e00000",
            real["from"]["id"]: "29:1staff",
            real["from"]["aadObjectId"]: "7c0f2a6e-0000-4000-8000-00000057aff0",
            real["recipient"]["id"]: f"28:{CLIENT_ID}",
        },
    )


class _SigningKeys:
    """Microsoft's token-signing key endpoint (``login.botframework.com/v1/.well-known/keys``) on loopback.

    A thread of its own: the SDK fetches keys with a blocking client from inside the event loop.
    """

    def __init__(self, key: rsa.RSAPrivateKey, kid: str) -> None:
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        body = json.dumps({"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "RS256"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/v1/.well-known/keys" else 404)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _SigningKeys:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _token(key: rsa.RSAPrivateKey, kid: str, **claims: object) -> str:
    now = int(time.time())
    payload = {
        "iss": "https://api.botframework.com",
        "aud": "0a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d",
        "serviceurl": SERVICE_URL,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


async def test_a_well_formed_activity_reaches_the_sdk_token_validation_and_only_a_genuine_token_passes() -> None:
    microsoft = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with _SigningKeys(microsoft, "microsoft-key") as keys:
        cloud = with_overrides(PUBLIC, openid_metadata_url=f"{keys.url}/v1/.well-known/openidconfiguration")
        adapter = StarletteAdapter()
        credentials = Credentials("0a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d", SecretStr("s"), "t")
        app = build_app(credentials, "https://smba.trafficmanager.net/teams/", adapter, cloud=cloud)
        await app.initialize()
        server = Starlette()
        server.router.add_route(MESSAGING_ENDPOINT, MessagingEndpoint(adapter).handle, methods=["POST"])
        transport = httpx.ASGITransport(app=server)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
            activity = recorded_channel_message()

            async def send(token: str | None) -> int:
                headers = {"authorization": f"Bearer {token}"} if token else {}
                response = await client.post(MESSAGING_ENDPOINT, json=activity, headers=headers)
                return response.status_code

            unsigned = await send(None)
            forged = await send(_token(forger, "microsoft-key"))
            wrong_audience = await send(_token(microsoft, "microsoft-key", aud="another-bot"))
            wrong_service = await send(_token(microsoft, "microsoft-key", serviceurl="https://evil.example/"))
            expired = await send(_token(microsoft, "microsoft-key", exp=int(time.time()) - 3600))
            genuine = await send(_token(microsoft, "microsoft-key"))
    assert (unsigned, forged, wrong_audience, wrong_service, expired) == (401, 401, 401, 401, 401)
    assert genuine == 200  # so the refusals above came from the token check, not from the activity's shape
