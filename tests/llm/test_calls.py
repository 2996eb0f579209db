"""`call_claude`: which failures are retried, and that retrying stops at the deadline."""

from __future__ import annotations

import time

import anthropic
import httpx
import httpx2
import pytest
from anthropic.types import Message

from services.llm.budget import FleetBudget
from services.llm.calls import ClaudeCallError, call_claude
from services.llm.pricing import ModelPrice
from services.simulator.app import create_app
from services.simulator.config import SimulatorConfig
from tests.github_stub import ThreadServer
from tests.sim_control import SIM_CONTROL_HEADERS, SIM_CONTROL_TOKEN

PRICE = ModelPrice(input=3, output=15, cache_write=3.75, cache_read=0.3)
SIM = "http://sim"


def _claude() -> tuple[anthropic.AsyncAnthropic, httpx2.AsyncClient]:
    config = SimulatorConfig(tokens_per_second=1e9, first_token_latency_s=0, control_token=SIM_CONTROL_TOKEN)
    http = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=create_app(config)), base_url=SIM, headers=SIM_CONTROL_HEADERS
    )
    return anthropic.AsyncAnthropic(api_key="k", base_url=SIM, max_retries=0, http_client=http), http


async def _ask(budget: FleetBudget, claude: anthropic.AsyncAnthropic, seconds: float) -> Message:
    async def call() -> Message:
        async with claude.messages.stream(
            model="claude-sonnet-4-6", max_tokens=200, messages=[{"role": "user", "content": "hello"}]
        ) as stream:
            return await stream.get_final_message()

    message, usage = await call_claude(
        budget,
        call,
        priority="chat",
        input_tokens=50,
        max_tokens=200,
        price=PRICE,
        model="claude-sonnet-4-6",
        deadline=time.monotonic() + seconds,
    )
    assert usage.output_tokens == message.usage.output_tokens
    return message


async def test_a_server_error_is_retried(budget: FleetBudget) -> None:
    claude, sim = _claude()
    (await sim.post("/_sim/faults", json={"kind": "server_error", "count": 1})).raise_for_status()
    assert (await _ask(budget, claude, 30)).content
    assert (await sim.get("/_sim/stats")).json()["server_errors"] == 1


async def test_timeouts_are_retried_until_the_deadline_then_reported(budget: FleetBudget) -> None:
    slow = create_app(SimulatorConfig(tokens_per_second=1e9, first_token_latency_s=3, control_token=SIM_CONTROL_TOKEN))
    with ThreadServer(slow) as server:  # a real socket: in-process transports have no timeouts
        claude = anthropic.AsyncAnthropic(api_key="k", base_url=server.url, max_retries=0, timeout=0.3)
        with pytest.raises(ClaudeCallError) as failure:
            await _ask(budget, claude, 2)
        async with httpx.AsyncClient(base_url=server.url, headers=SIM_CONTROL_HEADERS) as sim:
            stats = (await sim.get("/_sim/stats")).json()
    assert failure.value.code == "claude_unavailable"
    assert stats["requests"] >= 2


async def test_a_spend_limit_is_not_retried(budget: FleetBudget) -> None:
    claude, sim = _claude()
    (await sim.post("/_sim/faults", json={"kind": "spend_limit", "count": 1})).raise_for_status()
    with pytest.raises(ClaudeCallError) as failure:
        await _ask(budget, claude, 30)
    assert failure.value.code == "claude_spend_limit"
    assert (await sim.get("/_sim/stats")).json()["requests"] == 1
