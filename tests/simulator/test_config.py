"""Pacing defaults to Claude Sonnet's published speed, and every figure can be set per instance."""

from __future__ import annotations

import time

import pytest

from services.simulator.config import SimulatorConfig
from tests.simulator.conftest import MODEL, SimFactory

SONNET_TOKENS_PER_SECOND = (50, 80)
SONNET_FIRST_TOKEN_S = (0.5, 1.5)


def test_pacing_defaults_to_sonnet_speed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIM_TOKENS_PER_SECOND", raising=False)
    monkeypatch.delenv("SIM_FIRST_TOKEN_LATENCY_S", raising=False)
    config = SimulatorConfig()

    assert SONNET_TOKENS_PER_SECOND[0] <= config.tokens_per_second <= SONNET_TOKENS_PER_SECOND[1]
    assert SONNET_FIRST_TOKEN_S[0] <= config.first_token_latency_s <= SONNET_FIRST_TOKEN_S[1]


def test_pacing_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_TOKENS_PER_SECOND", "75")
    monkeypatch.setenv("SIM_FIRST_TOKEN_LATENCY_S", "1.2")
    config = SimulatorConfig()

    assert (config.tokens_per_second, config.first_token_latency_s) == (75, 1.2)


async def test_the_first_token_waits_and_the_rest_streams_at_the_configured_rate(make_sim: SimFactory) -> None:
    sim = await make_sim(first_token_latency_s=0.2, tokens_per_second=1000)
    started = time.monotonic()
    async with sim.claude.messages.stream(
        model=MODEL, max_tokens=500, messages=[{"role": "user", "content": "How long would it take?"}]
    ) as stream:
        first = None
        async for _ in stream.text_stream:
            first = first or time.monotonic() - started
        total = time.monotonic() - started
        message = await stream.get_final_message()

    assert first is not None and first >= 0.2
    assert total >= 0.2 + message.usage.output_tokens / 1000 * 0.9
