"""The saves service: the only process holding database connections (one pool to size, one schema owner).

It owns saves, their revisions and chat history, the methodology versions, and API keys; it also keeps
the read model in Redis that lets gateways serve saves reads without calling it.

Run with `uvicorn --factory services.saves.app:create_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from services.saves import key_mirror
from services.saves.db import make_engine, make_sessionmaker
from services.saves.routes import router
from services.saves.settings import get_settings
from services.shared.deployment import internal_docs, require_deployment_ready
from services.shared.errors import ErrorStyle, install_error_handlers
from services.shared.gc_tuning import freeze_startup_objects
from services.shared.http_limits import install_request_limits
from services.shared.observability import NATIVE_TELEMETRY_OFF, install_observability
from services.shared.read_model import ReadModel
from services.shared.redis import make_redis

SERVICE_NAME = "saves"
log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    engine = make_engine(settings.database_url, settings)
    redis = make_redis(settings.redis_url, settings.redis_max_connections)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.read_model = ReadModel(redis, settings.read_model_ttl_s)
    try:
        await key_mirror.resync(app.state.sessionmaker, redis)
    except (OSError, RedisError, SQLAlchemyError):
        # Gateways still ask this service for what the mirror lacks; the next start tries again.
        log.exception("could not resync the API key mirror")
    revocations = asyncio.create_task(
        key_mirror.carry_revocations(app.state.sessionmaker, redis, settings.key_mirror_sync_s)
    )
    freeze_startup_objects()
    try:
        yield
    finally:
        revocations.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await revocations
        await redis.aclose()
        await engine.dispose()


def _is_data_exception(exc: BaseException) -> bool:
    """PostgreSQL's class 22 (data exception: bad encoding, a NUL, a number out of range), however wrapped."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if str(getattr(seen, "sqlstate", "") or "").startswith("22") or isinstance(seen, sa_exc.DataError):
            return True
        seen = seen.__cause__ or getattr(seen, "orig", None)
    return False


def create_app() -> FastAPI:
    settings = get_settings()
    require_deployment_ready(settings, SERVICE_NAME, needs=("database_url",))
    app = FastAPI(
        title="estimator-saves",
        lifespan=lifespan,
        telemetry=NATIVE_TELEMETRY_OFF,
        **internal_docs(settings),
    )

    async def database_ready() -> None:
        async with app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def redis_ready() -> None:
        await app.state.read_model.redis.ping()

    install_error_handlers(app)

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        if _is_data_exception(exc):
            # Content the database can never store (a NUL character, say): a 422, so that callers report
            # it instead of retrying, as they retry a 5xx, a write that can never succeed.
            message = "the database cannot store this content (a NUL character, for example)"
            return ErrorStyle().render(request, 422, "unstorable_content", message, None)
        log.exception("database error", exc_info=exc)
        return ErrorStyle().render(request, 500, "internal_error", "internal error", None)

    app.add_exception_handler(sa_exc.DBAPIError, database_error)
    checks = {"database": database_ready, "redis": redis_ready}
    install_observability(app, SERVICE_NAME, checks, metrics_route=settings.development)
    app.include_router(router)
    install_request_limits(app)
    return app
