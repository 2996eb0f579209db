"""Injected faults: each kind reaches the SDK as the exception production code must handle."""

from __future__ import annotations

import anthropic
import pytest

from services.simulator.faults import FaultSpec
from tests.simulator.conftest import MODEL, Sim, SimFactory


async def _ask(sim: Sim) -> anthropic.types.Message:
    return await sim.claude.messages.create(model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "Hi"}])


async def _arm(sim: Sim, **fault: object) -> None:
    response = await sim.http.post("/_sim/faults", json=fault)
    assert response.status_code == 200


async def test_overloaded_fails_the_next_requests_with_529(sim: Sim) -> None:
    await _arm(sim, kind="overloaded", count=2, retry_after=4)

    for _ in range(2):
        with pytest.raises(anthropic.OverloadedError) as caught:
            await _ask(sim)
        assert caught.value.status_code == 529
        assert caught.value.type == "overloaded_error"
        assert caught.value.response.headers["retry-after"] == "4"
    assert (await _ask(sim)).type == "message"


async def test_rate_limited_fault_carries_its_retry_after(sim: Sim) -> None:
    await _arm(sim, kind="rate_limited", count=1, retry_after=3)

    with pytest.raises(anthropic.RateLimitError) as caught:
        await _ask(sim)

    assert caught.value.response.headers["retry-after"] == "3"
    assert (await sim.http.get("/_sim/stats")).json()["rate_limited"] == 1


async def test_spend_limit_is_a_429_without_retry_after(sim: Sim) -> None:
    await _arm(sim, kind="spend_limit", count=1)

    with pytest.raises(anthropic.RateLimitError) as caught:
        await _ask(sim)

    assert "retry-after" not in caught.value.response.headers
    assert "spend limit" in str(caught.value)
    assert caught.value.type == "rate_limit_error"


async def test_server_error_is_a_500_api_error(sim: Sim) -> None:
    await _arm(sim, kind="server_error", count=1)

    with pytest.raises(anthropic.InternalServerError) as caught:
        await _ask(sim)

    assert caught.value.status_code == 500
    assert caught.value.type == "api_error"


async def test_sdk_retries_through_an_overload_after_retry_after(sim: Sim) -> None:
    await _arm(sim, kind="overloaded", count=1, retry_after=1)
    patient = sim.claude.with_options(max_retries=2)

    message = await patient.messages.create(model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "Hi"}])

    assert message.type == "message"
    assert (await sim.http.get("/_sim/stats")).json()["overloaded"] == 1


async def test_faults_can_be_armed_at_startup(make_sim: SimFactory) -> None:
    sim = await make_sim(faults=[FaultSpec(kind="overloaded", count=1)])

    with pytest.raises(anthropic.OverloadedError):
        await _ask(sim)
    assert (await _ask(sim)).type == "message"


async def test_unknown_fault_kind_is_refused(sim: Sim) -> None:
    response = await sim.http.post("/_sim/faults", json={"kind": "meteor"})

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
