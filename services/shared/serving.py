"""How an HTTP service is served: its API on one port and, beside it, `/metrics` on `METRICS_PORT`.

Both are uvicorn servers on the same event loop. The API server owns the signals (SIGTERM drains it);
the metrics server stops once the API server has. The ingress routes only the API port, so Prometheus
scrapes a port no client can reach. The API server runs `BoundedHttpToolsProtocol`, so an oversized
request head is refused before it is buffered.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI

from services.shared.http_limits import BoundedHttpToolsProtocol
from services.shared.observability import metrics_app
from services.shared.settings import get_http_settings, get_service_settings

STARTUP_FAILURE = 3  # what uvicorn.run exits with when the server did not start


class _SideServer(uvicorn.Server):
    """A server that leaves the signals to the API server beside it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve(app: FastAPI, host: str, port: int, log_level: str, **options: Any) -> None:
    """Serves `app` on `host:port` and its metrics on `host:METRICS_PORT` (unless 0) until SIGTERM or SIGINT."""
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, http=BoundedHttpToolsProtocol, **options)
    server = uvicorn.Server(config)
    metrics_port = get_http_settings().metrics_port_for(get_service_settings())
    side = None
    if metrics_port:
        side_config = uvicorn.Config(
            metrics_app(app), host=host, port=metrics_port, log_level="warning", lifespan="off", access_log=False
        )
        side = _SideServer(side_config)
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(_serve_both(server, side))
    if not server.started:
        sys.exit(STARTUP_FAILURE)


async def _serve_both(server: uvicorn.Server, side: uvicorn.Server | None) -> None:
    if side is None:
        await server.serve()
        return
    metrics = asyncio.create_task(side.serve(), name="metrics-server")
    try:
        await server.serve()
    finally:
        side.should_exit = True
        await metrics
