"""Keys are handed off only to a public https address, checked in the settings and again after each resolution."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.core.handoff import Handoff, private_address
from bot.serving import serve
from bot.settings import SettingsError, load_settings
from tests.quick_stop import QUICK_STOP

SECRET = "a-hand-off-secret-of-at-least-32-bytes"


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("localhost", "loopback"),
        ("[::1]", "loopback"),
        ("169.254.169.254", "link-local"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - a value under test, nothing binds
        ("203.0.113.7", "private"),  # TEST-NET-3 is documentation space: never a real receiver
        ("keys.aldense.example", None),  # a name: checked after resolution, at each send
        ("8.8.8.8", None),
    ],
)
def test_the_kind_of_address_is_named(host: str, kind: str | None) -> None:
    assert private_address(host) == kind


@pytest.mark.parametrize(
    ("url", "secret", "problem"),
    [
        ("http://keys.aldense.example/in", SECRET, "must be https"),
        ("https://169.254.169.254/latest", SECRET, "link-local address"),
        ("https://127.0.0.1:6379/", SECRET, "loopback address"),
        ("https://10.0.0.5/keys", SECRET, "private address"),
        ("https://keys.aldense.example/in", "x", "at least 32 bytes"),
    ],
)
def test_settings_refuse_unsafe_hand_off_destinations(url: str, secret: str, problem: str) -> None:
    with pytest.raises(SettingsError, match=problem):
        load_settings("check-key", support__handoff_url=url, support__handoff_secret=SecretStr(secret))


def test_settings_accept_a_public_https_url_and_private_ones_only_when_told() -> None:
    public = load_settings(
        "check-key", support__handoff_url="https://keys.aldense.example/in", support__handoff_secret=SecretStr(SECRET)
    )
    assert str(public.support.handoff_url) == "https://keys.aldense.example/in"
    local = load_settings(
        "check-key",
        support__handoff_url="http://127.0.0.1:8000/in",
        support__handoff_secret=SecretStr(SECRET),
        support__handoff_allow_private=True,
    )
    assert local.support.handoff_allow_private


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[bytes]]]:
    received: list[bytes] = []

    async def take(request: Request) -> Response:
        received.append(await request.body())
        return JSONResponse({})

    async with serve(Starlette(routes=[Route("/in", take, methods=["POST"])]), poll_seconds=QUICK_STOP) as url:
        yield url, received


async def test_a_name_that_resolves_to_loopback_is_refused_at_send_and_nothing_is_sent(
    receiver: tuple[str, list[bytes]],
) -> None:
    url, received = receiver
    port = httpx.URL(url).port
    async with httpx.AsyncClient() as http:
        # "localhost" passes no start-up check as an IP would, but it resolves to loopback: refused at each send.
        handoff = Handoff(http, f"https://localhost:{port}/in", SecretStr(SECRET), attempts=1)
        result = await handoff.deliver({"clinic": "Maple Leaf"}, SecretStr("k" * 43))
    assert not result.delivered
    assert "loopback" in result.detail
    assert received == []


async def test_with_private_allowed_the_key_reaches_a_loopback_receiver(receiver: tuple[str, list[bytes]]) -> None:
    url, received = receiver
    async with httpx.AsyncClient() as http:
        handoff = Handoff(http, f"{url}/in", SecretStr(SECRET), attempts=1, allow_private=True)
        result = await handoff.deliver({"clinic": "Maple Leaf"}, SecretStr("k" * 43))
    assert result.delivered
    assert json.loads(received[0])["key"] == "k" * 43
