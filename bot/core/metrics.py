"""Prometheus metrics of one bot process, in its own registry (no module-level globals)."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send


class Metrics:
    """The counters and the latency histogram ``GET /metrics`` exposes."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.guides_started = Counter("aldense_guides_started", "Guides started (fresh runs).", registry=self.registry)
        self.steps_reached = Counter(
            "aldense_steps_reached",
            "Step messages posted for the first time, by step.",
            ["step"],
            registry=self.registry,
        )
        self.troubles_chosen = Counter(
            "aldense_troubles_chosen",
            "Troubles picked after I'm stuck, by step and trouble.",
            ["step", "trouble"],
            registry=self.registry,
        )
        self.checks = Counter(
            "aldense_key_checks", "Dentally key checks, by verdict.", ["verdict"], registry=self.registry
        )
        self.nudges = Counter("aldense_nudges", "Reminders sent to quiet guides.", registry=self.registry)
        self.keepalive_failures = Counter(
            "aldense_keepalive_failures",
            "Keep-alive calls that did not succeed, by result.",
            ["result"],
            registry=self.registry,
        )
        self.slack_errors = Counter(
            "aldense_slack_api_errors",
            "Slack Web API calls that failed, by method and error.",
            ["method", "error"],
            registry=self.registry,
        )
        # Every delay visible: calls that waited for the platform's budget, how long, and 429s received.
        self.outbound_queued = Counter(
            "aldense_outbound_queued",
            "Platform calls that waited for budget, by platform, method and priority.",
            ["platform", "method", "priority"],
            registry=self.registry,
        )
        self.outbound_wait = Histogram(
            "aldense_outbound_wait_seconds",
            "How long platform calls waited for budget before they were sent, by platform, method and priority.",
            ["platform", "method", "priority"],
            registry=self.registry,
            buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
        )
        self.outbound_ratelimited = Counter(
            "aldense_outbound_ratelimited",
            "429 answers received, by platform and method.",
            ["platform", "method"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "aldense_request_seconds",
            "Time to answer a request to /slack/events.",
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


def mount(app: Starlette, metrics: Metrics, timed_path: str = "/slack/events") -> None:
    """Serve ``GET /metrics`` on ``app`` and time every request to ``timed_path``."""

    async def exposition(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.add_route("/metrics", exposition, methods=["GET"])
    app.add_middleware(_RequestTimer, histogram=metrics.request_seconds, path=timed_path)


class _RequestTimer:
    """ASGI middleware observing how long requests to one path take, until the response is complete."""

    def __init__(self, app: ASGIApp, histogram: Histogram, path: str) -> None:
        self._app = app
        self._histogram = histogram
        self._path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != self._path:
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self._app(scope, receive, send)
        finally:
            self._histogram.observe(time.perf_counter() - started)
