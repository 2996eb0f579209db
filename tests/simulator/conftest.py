"""A simulator per test, reached through the real anthropic SDK over an in-process ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2
import pytest

from services.simulator.app import create_app
from services.simulator.config import SimulatorConfig

MODEL = "claude-sonnet-4-6"
BASE_URL = "http://sim"
REQUIREMENTS = """# Booking platform
## Customer features
- Search page for available rooms
- Booking checkout API endpoint
- Deploy to Kubernetes with CI
* End-to-end tests for checkout
1. Design the booking flow
"""
OUTLINE = [
    "Booking platform",
    "Customer features",
    "Search page for available rooms",
    "Booking checkout API endpoint",
    "Deploy to Kubernetes with CI",
    "End-to-end tests for checkout",
    "Design the booking flow",
]


@dataclass
class Sim:
    claude: anthropic.AsyncAnthropic
    http: httpx2.AsyncClient


SimFactory = Callable[..., Awaitable[Sim]]


@pytest.fixture
async def make_sim() -> AsyncIterator[SimFactory]:
    """Builds a fresh simulator; fast pacing unless a test overrides it, and no SDK retries."""
    opened: list[httpx2.AsyncClient] = []

    async def make(**overrides: Any) -> Sim:
        config = SimulatorConfig(**{"tokens_per_second": 1e9, "first_token_latency_s": 0.0, **overrides})
        app = create_app(config)
        http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE_URL)
        opened.append(http)
        claude = anthropic.AsyncAnthropic(api_key="sk-test", base_url=BASE_URL, max_retries=0, http_client=http)
        return Sim(claude=claude, http=http)

    yield make
    for client in opened:
        await client.aclose()


@pytest.fixture
async def sim(make_sim: SimFactory) -> Sim:
    return await make_sim()
