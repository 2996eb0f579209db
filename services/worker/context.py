"""What every task of a worker process shares: clients opened once at startup, closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import redis.asyncio as aioredis
from anthropic import AsyncAnthropic

from services.llm.allowance import OutputAllowance
from services.llm.budget import FleetBudget
from services.llm.client import make_client
from services.shared.jobs import JobStore
from services.shared.redis import make_redis
from services.shared.saves_client import SavesClient
from services.worker.claude_estimate import estimate_allowance
from services.worker.github import make_github_client
from services.worker.settings import WorkerSettings


@dataclass
class WorkerContext:
    settings: WorkerSettings
    redis: aioredis.Redis
    store: JobStore
    claude: AsyncAnthropic
    github: httpx.AsyncClient
    saves: SavesClient
    budget: FleetBudget
    allowance: OutputAllowance
    draining: bool = False

    @classmethod
    def open(cls, settings: WorkerSettings) -> WorkerContext:
        redis = make_redis(settings.redis_url, settings.redis_max_connections)
        return cls(
            settings=settings,
            redis=redis,
            store=JobStore(redis, settings.job_ttl_s),
            claude=make_client(settings),
            github=make_github_client(settings),
            saves=SavesClient(settings),
            budget=FleetBudget(redis, settings),
            allowance=estimate_allowance(redis, settings),
        )

    async def close(self) -> None:
        await self.claude.close()
        await self.github.aclose()
        await self.saves.aclose()
        await self.redis.aclose()
