"""How an HTTP service is served: its API on one port and, beside it, `/metrics` on `METRICS_PORT`.

Both are uvicorn servers on the same event loop, beside a task that measures how late that loop runs
(`loop_lag`); garbage collections are timed too (`gc_tuning`). The API server owns the signals (SIGTERM
drains it); the metrics server stops once the API server has. The ingress routes only the API port, so
Prometheus scrapes a port no client can reach. The API server runs `BoundedHttpToolsProtocol`, so an oversized
request head is refused before it is buffered.

With `REUSE_PORT`, the API socket is bound with `SO_REUSEPORT`, which uvicorn does not offer: several
processes of one service then serve one port on one machine, as a Service spreads connections over
replicas in a cluster (each keeps its own `METRICS_PORT`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI

from services.shared.gc_tuning import time_collections
from services.shared.http_limits import BoundedHttpToolsProtocol
from services.shared.loop_lag import measure_loop_lag
from services.shared.observability import metrics_app
from services.shared.settings import get_http_settings, get_service_settings

log = logging.getLogger(__name__)
STARTUP_FAILURE = 3  # what uvicorn.run exits with when the server did not start


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a not-ready period between the first SIGTERM and the drain; a second signal
    drains at once."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, delay_s: float) -> None:
        super().__init__(config)
        self.app = app
        self.delay_s = delay_s
        self.exit_at: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.app.state.draining = True
        if self.delay_s > 0 and self.exit_at is None and not self.should_exit:
            self._captured_signals.append(sig)  # re-raised after the drain, as uvicorn does
            self.exit_at = time.monotonic() + self.delay_s
            log.info("not ready; draining in %.0f s", self.delay_s)
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self.exit_at is not None and time.monotonic() >= self.exit_at:
            self.should_exit = True
        return await super().on_tick(counter)


class _SideServer(uvicorn.Server):
    """A server that leaves the signals to the API server beside it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve(app: FastAPI, host: str, port: int, log_level: str, **options: Any) -> None:
    """Serves `app` on `host:port` and its metrics on `host:METRICS_PORT` (unless 0) until SIGTERM or SIGINT."""
    http = get_http_settings()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=None,
        access_log=http.access_log,
        http=BoundedHttpToolsProtocol,
        **options,
    )
    service = get_service_settings()
    server = DrainingServer(config, app, http.shutdown_delay_for(service))
    metrics_port = http.metrics_port_for(service)
    side = None
    if metrics_port:
        side_config = uvicorn.Config(
            metrics_app(app),
            host=host,
            port=metrics_port,
            log_level=None,  # a level here would apply to the API server's loggers too (they are uvicorn's)
            log_config=None,
            lifespan="off",
            access_log=False,
        )
        side = _SideServer(side_config)
    try:
        sockets = [_shared_socket(host, port)] if http.reuse_port else None
    except OSError as error:  # as uvicorn treats a port it cannot bind
        log.error("could not bind %s:%d: %s", host, port, error)
        sys.exit(STARTUP_FAILURE)
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(_serve_both(server, side, sockets))
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _shared_socket(host: str, port: int) -> socket.socket:
    """A listening socket that other processes may bind too; the kernel hands each new connection to one of them."""
    family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    shared = socket.socket(family, kind, protocol)
    shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    shared.bind(address)
    return shared


async def _serve_both(server: uvicorn.Server, side: uvicorn.Server | None, sockets: list[socket.socket] | None) -> None:
    time_collections()
    lag = asyncio.create_task(measure_loop_lag(), name="loop-lag")
    metrics = None if side is None else asyncio.create_task(side.serve(), name="metrics-server")
    try:
        await server.serve(sockets)
    finally:
        lag.cancel()
        if side is not None and metrics is not None:  # both or neither
            side.should_exit = True
            await metrics
