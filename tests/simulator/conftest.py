"""A simulator per test, reached through the real anthropic SDK over an in-process ASGI transport, and the
parts of a real chat turn (estimate, system prompt, edit tool) as the chat service builds them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import anthropic
import httpx2
import pytest
from anthropic.types import Message, MessageParam, TextBlockParam, ToolParam

from services.estimation.calculator import calculate
from services.estimation.methodology import MODEL_DOCUMENT
from services.estimation.models import ClaudeEstimate, Financials
from services.estimation.prompt import build_chat_system
from services.estimation.rate_card import RateCard
from services.estimation.schema import edit_tool
from services.simulator.app import create_app
from services.simulator.config import SimulatorConfig
from tests.sim_control import SIM_CONTROL_HEADERS, SIM_CONTROL_TOKEN

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
    """Builds a fresh simulator; fast pacing unless a test overrides it, no SDK retries, the control token sent."""
    opened: list[httpx2.AsyncClient] = []

    async def make(**overrides: Any) -> Sim:
        defaults = {"tokens_per_second": 1e9, "first_token_latency_s": 0.0, "control_token": SIM_CONTROL_TOKEN}
        config = SimulatorConfig(**{**defaults, **overrides})
        app = create_app(config)
        http = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url=BASE_URL, headers=SIM_CONTROL_HEADERS
        )
        opened.append(http)
        claude = anthropic.AsyncAnthropic(api_key="sk-test", base_url=BASE_URL, max_retries=0, http_client=http)
        return Sim(claude=claude, http=http)

    yield make
    for client in opened:
        await client.aclose()


@pytest.fixture
async def sim(make_sim: SimFactory) -> Sim:
    return await make_sim()


@dataclass(frozen=True)
class Chat:
    """One saved estimate under discussion: what the chat service sends Claude about it on every turn."""

    estimate: ClaudeEstimate
    financials: Financials
    roles: list[str]
    system: list[TextBlockParam]
    tools: list[ToolParam]

    async def ask(self, sim: Sim, messages: list[MessageParam] | str, *, max_tokens: int = 4000) -> Message:
        turns: list[MessageParam] = [{"role": "user", "content": messages}] if isinstance(messages, str) else messages
        return await sim.claude.messages.create(
            model=MODEL,
            max_tokens=max_tokens,
            system=self.system,
            messages=turns,
            tools=self.tools,
        )


CHAT_ITEMS = [
    ("WI-01", "Booking API", "backend", 6, 12, 30),
    ("WI-02", "Booking screens", "frontend", 8, 8, 8),
    ("WI-03", "Calendar sync job", "backend", 12, 18, 30),
    ("WI-04", "End-to-end tests for checkout", "qa", 8, 12, 20),
]


@pytest.fixture
def chat() -> Chat:
    """A four-item estimate priced on the default rate card, as revision 2 of "Clinic booking"."""
    keys = ("id", "title", "role", "low_hours", "likely_hours", "high_hours")
    estimate = ClaudeEstimate.model_validate(
        {
            "summary": "Online booking for a clinic: an API, its screens and a calendar sync.",
            "work_items": [dict(zip(keys, item, strict=True)) for item in CHAT_ITEMS],
            "risks": [
                {"title": "Calendar provider rate limits", "probability": 0.5, "impact_hours": 10},
                {"title": "Late content", "probability": 0.25, "impact_hours": 4},
            ],
            "assumptions": ["One practice location"],
            "out_of_scope": ["Payments"],
            "open_questions": ["Do patients need accounts?"],
        }
    )
    rate_card = RateCard()
    roles = list(rate_card.roles)
    financials = calculate(estimate, rate_card)
    system = build_chat_system(MODEL_DOCUMENT, "Clinic booking", 2, estimate, financials)
    # The product builds plain dicts; they are exactly the SDK's parameter shapes.
    return Chat(estimate, financials, roles, cast(list[TextBlockParam], system), [cast(ToolParam, edit_tool(roles))])
