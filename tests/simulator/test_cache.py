"""Prompt caching: a repeated prefix behind a `cache_control` breakpoint is read back instead of billed again."""

from __future__ import annotations

from typing import Any

from anthropic.types import Message, TextBlockParam

from tests.simulator.conftest import MODEL, Sim

METHODOLOGY = "Estimate with three points per item and name every assumption. " * 80  # ~1300 tokens


def _system(text: str = METHODOLOGY) -> list[TextBlockParam]:
    return [
        {"type": "text", "text": "You are an estimator."},
        {"type": "text", "text": text, "cache_control": {"type": "ephemeral"}},
    ]


async def _ask(sim: Sim, system: list[TextBlockParam], question: str = "Estimate a login page.") -> Message:
    return await sim.claude.messages.create(
        model=MODEL, max_tokens=200, system=system, messages=[{"role": "user", "content": question}]
    )


async def test_second_identical_request_reads_the_cached_prefix(sim: Sim) -> None:
    first = await _ask(sim, _system())
    second = await _ask(sim, _system())

    assert first.usage.cache_creation_input_tokens is not None
    assert first.usage.cache_creation_input_tokens >= 1024
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.input_tokens == first.usage.input_tokens


async def test_only_tokens_after_the_cached_prefix_are_input(sim: Sim) -> None:
    short = await _ask(sim, _system(), "Hi")
    longer = await _ask(sim, _system(), "Hi " + "and a much longer question " * 20)

    assert longer.usage.cache_read_input_tokens == short.usage.cache_creation_input_tokens
    assert longer.usage.input_tokens > short.usage.input_tokens


async def test_a_changed_prefix_misses_the_cache(sim: Sim) -> None:
    await _ask(sim, _system())
    changed = await _ask(sim, _system(METHODOLOGY + " Revised."))

    assert changed.usage.cache_read_input_tokens == 0
    assert changed.usage.cache_creation_input_tokens is not None
    assert changed.usage.cache_creation_input_tokens > 0


async def test_prefix_below_the_minimum_is_not_cached(sim: Sim) -> None:
    first = await _ask(sim, _system("Short instructions."))
    second = await _ask(sim, _system("Short instructions."))

    assert first.usage.cache_creation_input_tokens == 0
    assert second.usage.cache_read_input_tokens == 0


async def test_later_breakpoint_extends_a_cached_prefix(sim: Sim) -> None:
    tools: list[Any] = [
        {
            "name": "submit_estimate",
            "description": METHODOLOGY,
            "input_schema": {"type": "object"},
            "cache_control": {"type": "ephemeral"},
        }
    ]
    first = await sim.claude.messages.create(
        model=MODEL, max_tokens=50, tools=tools, messages=[{"role": "user", "content": "Hi"}]
    )
    extended = await sim.claude.messages.create(
        model=MODEL, max_tokens=50, tools=tools, system=_system(), messages=[{"role": "user", "content": "Hi"}]
    )

    assert extended.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert extended.usage.cache_creation_input_tokens is not None
    assert extended.usage.cache_creation_input_tokens > 0


async def test_reset_empties_the_cache(sim: Sim) -> None:
    await _ask(sim, _system())
    await sim.http.post("/_sim/reset")
    after = await _ask(sim, _system())

    assert after.usage.cache_read_input_tokens == 0


async def test_minimum_cacheable_length_is_configurable(make_sim: Any) -> None:
    sim = await make_sim(min_cacheable_tokens=2)
    await _ask(sim, _system("Short instructions."))
    second = await _ask(sim, _system("Short instructions."))

    assert second.usage.cache_read_input_tokens is not None
    assert second.usage.cache_read_input_tokens > 0
