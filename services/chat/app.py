"""The chat service: Claude conversations about a saved estimate (internal, behind the gateway)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.chat.context import ChatContext
from services.chat.routes import finish_turns, router
from services.chat.settings import get_settings
from services.chat.unstored import store_unstored_turns
from services.shared.deployment import internal_docs, require_deployment_ready
from services.shared.errors import install_error_handlers
from services.shared.gc_tuning import freeze_startup_objects
from services.shared.http_limits import install_request_limits
from services.shared.observability import NATIVE_TELEMETRY_OFF, install_observability

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    context = ChatContext.open(get_settings())
    app.state.chat = context
    retrier = asyncio.create_task(store_unstored_turns(context))
    freeze_startup_objects()
    try:
        yield
        # uvicorn has stopped taking requests: the turns already started still finish, and are stored.
        cut = await finish_turns(context.settings.chat_drain_s)
        if cut:
            log.warning("%d chat turn(s) cut by the shutdown after %.0f s", cut, context.settings.chat_drain_s)
    finally:
        retrier.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await retrier
        await context.close()


def create_app() -> FastAPI:
    settings = get_settings()
    require_deployment_ready(settings, "chat", needs=("saves_url", "anthropic_api_key"))
    app = FastAPI(
        title="Estimator chat (internal)",
        lifespan=lifespan,
        telemetry=NATIVE_TELEMETRY_OFF,
        **internal_docs(settings),
    )
    install_error_handlers(app)
    app.include_router(router)

    async def redis_ready() -> None:
        await app.state.chat.redis.ping()

    # Not saves: its outage is answered per turn (503 with Retry-After, replies kept until stored), and it
    # must not empty the chat Service of endpoints nor stall a rollout.
    install_observability(app, "chat", {"redis": redis_ready}, metrics_route=settings.development)
    install_request_limits(app)
    return app
