"""The floor under the read path: one Starlette endpoint doing one Redis GET, served like our services.

Whatever the gateway's status route costs above this app is ours (auth, routing, validation,
middleware, metrics); what this app costs is the machine, uvicorn and Redis. So the benchmark reports
the gateway against it, measured in the same run, rather than against absolute numbers that depend
on the machine. The Redis pool and uvicorn settings mirror `services/shared/redis.py` and
`services/cli.py` so the comparison is between frameworks of work, not between configurations.

    python -m loadtests.bare_app --redis-url redis://127.0.0.1:6379/9 --port 18300 [--reuse-port]

With `--reuse-port`, several of these processes share the port, as the gateway's do with `REUSE_PORT`.
"""

from __future__ import annotations

import argparse
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DOCUMENT_KEY = "loadtests:bare:doc"
PATH = "/doc"
# About the size and shape of a job's status document, so both answers cost the same bytes.
DOCUMENT = json.dumps(
    {
        "job_id": "0" * 32,
        "status": "succeeded",
        "stage": "done",
        "save_id": "1" * 32,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:30Z",
    }
)


def create_app(redis_url: str) -> Starlette:
    """The document is written at start-up so the endpoint never misses, whatever Redis DB it is given."""
    pool = aioredis.BlockingConnectionPool.from_url(
        redis_url, max_connections=200, timeout=5.0, health_check_interval=30
    )
    client = aioredis.Redis(connection_pool=pool)

    async def document(_: Request) -> Response:
        body = await client.get(DOCUMENT_KEY)
        if body is None:
            return Response(b'{"detail": "missing"}', status_code=404, media_type="application/json")
        return Response(body, media_type="application/json")

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await client.set(DOCUMENT_KEY, DOCUMENT)
        try:
            yield
        finally:
            await client.aclose()

    return Starlette(routes=[Route(PATH, document)], lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--reuse-port", action="store_true", help="share the port with other processes")
    args = parser.parse_args()
    # Same server settings as `estimator serve` (services/cli.py `_serve`): default loop and HTTP
    # implementations (uvloop and httptools when installed), no proxy headers, 15 s keep-alive.
    config = uvicorn.Config(
        create_app(args.redis_url),
        host=args.host,
        port=args.port,
        log_level="warning",
        proxy_headers=False,
        timeout_graceful_shutdown=30,
        timeout_keep_alive=15,
    )
    sockets = None
    if (
        args.reuse_port
    ):  # as services/shared/serving.py does; not imported, which would load a service into the baseline
        shared = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        shared.bind((args.host, args.port))
        sockets = [shared]
    uvicorn.Server(config).run(sockets)


if __name__ == "__main__":
    main()
