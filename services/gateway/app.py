"""The gateway: the only public service. It authenticates, validates, limits and routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from services.gateway import fast_reads
from services.gateway.body_limit import BodyLimitMiddleware
from services.gateway.events import JobEventHub
from services.gateway.key_cache import KeyCache
from services.gateway.ratelimit import RateLimits
from services.gateway.routers import chat, estimates, methodology, saves
from services.gateway.schemas import document_errors
from services.gateway.settings import get_settings
from services.gateway.single_flight import SingleFlight
from services.gateway.state import GatewayState
from services.llm.budget import FleetBudget
from services.shared.apikeys import CACHE_OWNER, REVOKED_CHANNEL
from services.shared.deployment import require_deployment_ready
from services.shared.errors import install_error_handlers
from services.shared.gc_tuning import freeze_startup_objects
from services.shared.http_limits import install_request_limits
from services.shared.internal import INTERNAL_KEEPALIVE_S
from services.shared.jobs import JobStore
from services.shared.observability import NATIVE_TELEMETRY_OFF, install_observability
from services.shared.read_model import ReadModel
from services.shared.redis import make_arq_pool, make_redis
from services.shared.saves_client import SavesClient

DESCRIPTION = """Submit software requirements, let Claude estimate the work, then browse and refine the
saved estimates by chat. Every `/api` route needs `Authorization: Bearer <api key>`; errors are
`{"error": {"code", "message"}}`."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    redis = make_redis(settings.redis_url, settings.redis_max_connections)
    queue = await make_arq_pool(settings.redis_url)
    keys = KeyCache(settings.auth_local_ttl_s)
    hub = JobEventHub(redis, listeners={REVOKED_CHANNEL: keys})
    hub.start()
    saves = SavesClient(settings)
    state = GatewayState(
        settings=settings,
        redis=redis,
        store=JobStore(redis, settings.job_ttl_s),
        queue=queue,
        saves=saves,
        chat=httpx.AsyncClient(
            base_url=settings.chat_url,
            timeout=httpx.Timeout(settings.chat_timeout_s, connect=3.0),
            limits=httpx.Limits(keepalive_expiry=INTERNAL_KEEPALIVE_S),
        ),
        hub=hub,
        limits=RateLimits(settings, redis),
        keys=keys,
        cache_owner=redis.register_script(CACHE_OWNER),
        reads=ReadModel(redis, settings.read_model_ttl_s),
        misses=SingleFlight(),
        key_lookups=SingleFlight(),
    )
    app.state.gateway = state
    freeze_startup_objects()
    gauges = asyncio.create_task(FleetBudget(redis, settings).export_gauges_forever(), name="budget-gauges")
    try:
        yield
    finally:
        gauges.cancel()
        await hub.stop()
        await state.chat.aclose()
        await state.saves.aclose()
        await queue.aclose()
        await redis.aclose()


def create_app() -> FastAPI:
    settings = get_settings()
    require_deployment_ready(settings, "gateway", needs=("saves_url", "chat_url"))
    app = FastAPI(
        title="Estimator API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        telemetry=NATIVE_TELEMETRY_OFF,
    )
    install_error_handlers(app)
    app.include_router(estimates.router)
    app.include_router(chat.router)
    app.include_router(saves.router)
    app.include_router(methodology.router)
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(build_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    async def redis_ready() -> None:
        await app.state.gateway.redis.ping()

    # Redis only: status, events and the read model need nothing else, so an outage of saves or chat
    # must not take every gateway out of the ingress. Their routes answer 503 with Retry-After meanwhile.
    checks = {"redis": redis_ready}
    fast_reads.install(app, "gateway")
    install_observability(app, "gateway", checks, metrics_route=settings.development)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    install_request_limits(app)
    return app
