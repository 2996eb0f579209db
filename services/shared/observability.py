"""Health, readiness, Prometheus metrics and tracing, mounted the same way on every HTTP service."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import TypeVar

from fastapi import APIRouter, FastAPI, Response
from fastapi.telemetry import TelemetryConfig
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.shared.errors import error_response
from services.shared.log_context import ContextFilter
from services.shared.tracing import configure_tracing

ReadinessCheck = Callable[[], Awaitable[None]]
ScrapeHook = Callable[[], Awaitable[None]]

NATIVE_TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""Every service's `FastAPI(telemetry=...)`. FastAPI's own OpenTelemetry asks, on every request, whether
any provider is configured, and each answer reads the environment: profiled with py-spy under a status
flood, that was 4.4 % of the gateway's CPU. Our spans come from `install_observability` (when an OTLP
endpoint is set) and our metrics from Prometheus, so it is off everywhere."""

HTTP_REQUESTS = Counter(
    "estimator_http_requests_total", "HTTP requests served", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "estimator_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 30),
)


SSE_CONNECTIONS = Gauge("estimator_sse_connections", "Event streams open on this process", ["stream"])
T = TypeVar("T")


async def counted_stream(stream: str, events: AsyncIterator[T]) -> AsyncIterator[T]:
    """`events`, counted in `estimator_sse_connections` for as long as the client stays connected."""
    SSE_CONNECTIONS.labels(stream).inc()
    try:
        async for event in events:
            yield event
    finally:
        SSE_CONNECTIONS.labels(stream).dec()


class MetricsMiddleware:
    """Counts and times requests by route template (pure ASGI: no task group around the app)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(self.service, scope["method"], template, str(status)).inc()
            HTTP_LATENCY.labels(self.service, scope["method"], template).observe(time.perf_counter() - start)


def configure_logging(level: str, log_format: str = "text") -> None:
    """JSON lines in a deployment, for the cluster's log pipeline to index; plain text on a laptop.

    uvicorn's loggers are routed through the same root handler, so its access and error lines are JSON too.
    """
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's ANSI-coloured copy of the message
                timestamp=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(ContextFilter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # httpx logs every request at INFO: a line per call between our own services, which the metrics count.
    # At DEBUG they are wanted.
    debugging = logging.getLogger().level <= logging.DEBUG
    logging.getLogger("httpx").setLevel(logging.NOTSET if debugging else logging.WARNING)


def install_observability(
    app: FastAPI,
    service: str,
    checks: Mapping[str, ReadinessCheck],
    *,
    metrics_route: bool = True,
    registries: Iterable[CollectorRegistry] = (),
    on_scrape: Iterable[ScrapeHook] = (),
) -> None:
    """Adds /healthz, /readyz (each named dependency probed) and /metrics, plus request metrics and traces.

    `metrics_route=False` keeps `/metrics` off this app: a deployed service serves it on its metrics port
    instead (`metrics_app`), which the ingress does not route. `registries` are exported besides the
    process-wide one (the simulator's own counters); `on_scrape` hooks refresh gauges read from elsewhere
    (the queue in Redis) just before each scrape.
    """
    app.state.metrics_registries = (REGISTRY, *registries)
    app.state.scrape_hooks = tuple(on_scrape)
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    app.state.draining = False

    @router.get("/readyz")
    async def readyz() -> Response:
        if app.state.draining:
            return error_response(503, "shutting_down", "not ready: draining before shutdown")
        failed: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await check()
            except Exception as exc:
                failed[name] = type(exc).__name__
        if failed:
            detail = ", ".join(f"{k} ({v})" for k, v in failed.items())
            return error_response(503, "dependency_unavailable", f"not ready: {detail}")
        return Response('{"status":"ready"}', media_type="application/json")

    if metrics_route:

        @router.get("/metrics")
        async def metrics() -> Response:
            return await metrics_response(app)

    app.include_router(router)
    app.add_middleware(MetricsMiddleware, service=service)
    if configure_tracing(service):
        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")


async def metrics_response(app: FastAPI) -> Response:
    hooks: tuple[ScrapeHook, ...] = app.state.scrape_hooks
    for hook in hooks:
        await hook()
    registries: tuple[CollectorRegistry, ...] = app.state.metrics_registries
    return Response(b"".join(generate_latest(registry) for registry in registries), media_type=CONTENT_TYPE_LATEST)


def metrics_app(app: FastAPI) -> Starlette:
    """`/metrics` of `app` alone, for the metrics port (`METRICS_PORT`) beside the API port."""

    async def metrics(_: Request) -> Response:
        return await metrics_response(app)

    return Starlette(routes=[Route("/metrics", metrics)])
