"""Rate limits: token buckets per minute, announced in headers, enforced with 429 and retry-after."""

from __future__ import annotations

from datetime import datetime

import anthropic
import pytest

from tests.simulator.conftest import MODEL, SimFactory

LIMITS = ("requests", "input-tokens", "output-tokens")


async def test_every_response_carries_the_rate_limit_headers(make_sim: SimFactory) -> None:
    sim = await make_sim(rpm=10, input_tpm=10_000, output_tpm=5_000)

    response = await sim.claude.messages.with_raw_response.create(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
    )

    headers = response.headers
    assert headers["anthropic-ratelimit-requests-limit"] == "10"
    assert headers["anthropic-ratelimit-requests-remaining"] == "9"
    assert headers["anthropic-ratelimit-input-tokens-limit"] == "10000"
    assert int(headers["anthropic-ratelimit-input-tokens-remaining"]) < 10_000
    assert headers["anthropic-ratelimit-output-tokens-limit"] == "5000"
    for limit in LIMITS:
        datetime.fromisoformat(headers[f"anthropic-ratelimit-{limit}-reset"])


async def test_requests_over_the_limit_get_429_with_retry_after(make_sim: SimFactory) -> None:
    sim = await make_sim(rpm=2)
    for _ in range(2):
        await sim.claude.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "Hi"}])

    with pytest.raises(anthropic.RateLimitError) as caught:
        await sim.claude.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "Hi"}])

    headers = caught.value.response.headers
    assert int(headers["retry-after"]) >= 1
    assert headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert caught.value.type == "rate_limit_error"
    stats = (await sim.http.get("/_sim/stats")).json()
    assert stats["rate_limited"] == 1
    assert stats["requests"] == 3


async def test_max_tokens_beyond_what_remains_is_refused(make_sim: SimFactory) -> None:
    sim = await make_sim(output_tpm=1_000)
    await sim.claude.messages.create(model=MODEL, max_tokens=500, messages=[{"role": "user", "content": "Hi"}])

    with pytest.raises(anthropic.RateLimitError) as caught:
        await sim.claude.messages.create(model=MODEL, max_tokens=990, messages=[{"role": "user", "content": "Hi"}])

    assert "output tokens" in str(caught.value)


async def test_unused_output_tokens_are_given_back(make_sim: SimFactory) -> None:
    sim = await make_sim(output_tpm=1_000)

    messages = [
        await sim.claude.messages.create(model=MODEL, max_tokens=600, messages=[{"role": "user", "content": "Hi"}])
        for _ in range(4)
    ]

    assert all(message.stop_reason == "end_turn" for message in messages)
    stats = (await sim.http.get("/_sim/stats")).json()
    assert stats["output_tokens"] == sum(message.usage.output_tokens for message in messages)


async def test_cache_reads_do_not_count_against_input_tokens(make_sim: SimFactory) -> None:
    sim = await make_sim(input_tpm=3_000)
    system: list[anthropic.types.TextBlockParam] = [
        {"type": "text", "text": "Follow the method. " * 500, "cache_control": {"type": "ephemeral"}}
    ]

    for _ in range(4):
        await sim.claude.messages.create(
            model=MODEL, max_tokens=50, system=system, messages=[{"role": "user", "content": "Hi"}]
        )


async def test_input_tokens_over_the_limit_get_429(make_sim: SimFactory) -> None:
    sim = await make_sim(input_tpm=3_000)
    system = "Follow the method. " * 500

    await sim.claude.messages.create(
        model=MODEL, max_tokens=50, system=system, messages=[{"role": "user", "content": "Hi"}]
    )
    with pytest.raises(anthropic.RateLimitError) as caught:
        await sim.claude.messages.create(
            model=MODEL, max_tokens=50, system=system, messages=[{"role": "user", "content": "Hi"}]
        )

    assert "input tokens" in str(caught.value)


async def test_reset_refills_the_buckets(make_sim: SimFactory) -> None:
    sim = await make_sim(rpm=1)
    await sim.claude.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "Hi"}])

    await sim.http.post("/_sim/reset")
    message = await sim.claude.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "Hi"}])

    assert message.type == "message"
