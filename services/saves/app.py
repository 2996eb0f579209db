"""The saves service: the only process holding database connections (one pool to size, one schema owner).

It owns saves, their revisions and chat history, the methodology versions, and API keys; it also keeps
the read model in Redis that lets gateways serve saves reads without calling it.

Run with `uvicorn --factory services.saves.app:create_app`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from services.saves import key_mirror
from services.saves.db import make_engine, make_sessionmaker
from services.saves.routes import router
from services.saves.settings import get_settings
from services.shared.errors import install_error_handlers
from services.shared.gc_tuning import freeze_startup_objects
from services.shared.observability import install_observability
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
    freeze_startup_objects()
    try:
        yield
    finally:
        await redis.aclose()
        await engine.dispose()


def create_app() -> FastAPI:
    app = FastAPI(title="estimator-saves", lifespan=lifespan)

    async def database_ready() -> None:
        async with app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def redis_ready() -> None:
        await app.state.read_model.redis.ping()

    install_error_handlers(app)
    install_observability(app, SERVICE_NAME, {"database": database_ready, "redis": redis_ready})
    app.include_router(router)
    return app
