"""Baseline servers the bot is measured against, each ``python -m benchmarks.baselines KIND`` on a free port.

Kinds:
    bolt-default   bare Bolt ``AsyncApp`` (default settings), one listener that only acks Done, Starlette + uvicorn
    bolt-pbr       the same with ``process_before_response=True``
    starlette      Starlette + uvicorn that only verifies the signature (the bot's own HTTP stack, no Bolt)
    aiohttp        a plain aiohttp handler that only verifies the signature (the floor)

Each prints ``listening on http://127.0.0.1:PORT`` when ready and serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

from aiohttp import web
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.serving import serve
from bot.slack import blocks

KINDS = ("bolt-default", "bolt-pbr", "starlette", "aiohttp")


def bolt_app(secret: str, token: str, api_url: str, process_before_response: bool) -> Starlette:
    """A bare Bolt app whose only listener acks the Done button, behind Bolt's Starlette adapter."""
    client = AsyncWebClient(token=token, base_url=api_url)
    app = AsyncApp(client=client, signing_secret=secret, process_before_response=process_before_response)

    @app.action(blocks.ACTION_DONE)
    async def acknowledge(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(app)

    async def endpoint(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", endpoint, methods=["POST"])])


def verifying_starlette(secret: str) -> Starlette:
    """Starlette that answers 200 to a correctly signed POST and 401 otherwise."""
    verifier = SignatureVerifier(secret)

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        headers = request.headers
        ok = verifier.is_valid(body, headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature"))
        return Response(status_code=200 if ok else 401)

    return Starlette(routes=[Route("/slack/events", endpoint, methods=["POST"])])


def verifying_aiohttp(secret: str) -> web.Application:
    """aiohttp that answers 200 to a correctly signed POST and 401 otherwise."""
    verifier = SignatureVerifier(secret)

    async def endpoint(request: web.Request) -> web.Response:
        body = await request.read()
        headers = request.headers
        ok = verifier.is_valid(body, headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature"))
        return web.Response(status=200 if ok else 401)

    app = web.Application()
    app.router.add_post("/slack/events", endpoint)
    return app


async def _serve(kind: str, secret: str, token: str, api_url: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if kind == "aiohttp":
        runner = web.AppRunner(verifying_aiohttp(secret), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server  # aiohttp keeps the bound socket here
        port = server.sockets[0].getsockname()[1]
        print(f"listening on http://127.0.0.1:{port}", flush=True)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()
        return
    if kind == "starlette":
        app = verifying_starlette(secret)
    else:
        app = bolt_app(secret, token, api_url, process_before_response=kind == "bolt-pbr")
    async with serve(app) as url:
        print(f"listening on {url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    """Serve one baseline until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--secret", required=True, help="signing secret")
    parser.add_argument("--token", default="xoxb-sandbox-aldense-guide", help="bot token (Bolt kinds)")
    parser.add_argument("--api-url", default="http://127.0.0.1:9/api/", help="Slack Web API base (Bolt kinds)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_serve(args.kind, args.secret, args.token, args.api_url))


if __name__ == "__main__":
    main()
