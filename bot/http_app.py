"""The one ASGI app every replica serves: platform routes, health, readiness, the guide's pictures, request ids."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.request_ids import RequestIds
from conversations.guide import Guide
from conversations.store import Store, StoreUnavailable


def build_http_app(platform_routes: Sequence[Route], store: Store, guide: Guide) -> Starlette:
    """The ASGI app ``aldense-guide run`` serves.

    Args:
        platform_routes: Where each chat platform's requests arrive (none for Slack in Socket Mode).
        store: Checked by ``/readyz``.
        guide: Its pictures are served under ``/guide-assets/``.
    """
    pictures = {step.image: guide.image_path(step) for step in guide.steps}

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        try:
            await store.ping()
        except StoreUnavailable:
            return JSONResponse({"ready": False, "store": "unreachable"}, status_code=503)
        return JSONResponse({"ready": True})

    async def guide_asset(request: Request) -> Response:
        path = pictures.get(request.path_params["name"])
        if path is None or not path.is_file():
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/guide-assets/{name}", guide_asset),
    ]
    # Outside every route, so each request's log lines (and the work it starts) carry its id.
    return Starlette(routes=[*routes, *platform_routes], middleware=[Middleware(RequestIds)])
