"""The simulator's own controls: counters as JSON and Prometheus text, pending faults, reset, and their token."""

from __future__ import annotations

import anthropic
import pytest

from services.simulator.control_api import CONTROL_TOKEN_HEADER
from tests.simulator.conftest import MODEL, Sim, SimFactory

CONTROLS = [("GET", "/_sim/stats"), ("GET", "/_sim/faults"), ("POST", "/_sim/faults"), ("POST", "/_sim/reset")]


async def test_stats_count_requests_refusals_and_output(sim: Sim) -> None:
    message = await sim.claude.messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "Hi"}])
    await sim.http.post("/_sim/faults", json={"kind": "rate_limited"})
    with pytest.raises(anthropic.RateLimitError):
        await sim.claude.messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "Hi"}])

    stats = (await sim.http.get("/_sim/stats")).json()

    assert stats["requests"] == 2
    assert stats["rate_limited"] == 1
    assert stats["output_tokens"] == message.usage.output_tokens
    assert stats["input_tokens"] == message.usage.input_tokens


async def test_metrics_expose_the_counters_to_prometheus(sim: Sim) -> None:
    message = await sim.claude.messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "Hi"}])

    text = (await sim.http.get("/metrics")).text

    assert f"claude_sim_output_tokens_total {float(message.usage.output_tokens)}" in text
    assert "claude_sim_rate_limited_total 0.0" in text
    assert "estimator_http_requests_total" in text


async def test_pending_faults_are_listed_and_reset_clears_everything(sim: Sim) -> None:
    await sim.claude.messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "Hi"}])
    await sim.http.post("/_sim/faults", json={"kind": "overloaded", "count": 3})

    before = (await sim.http.get("/_sim/faults")).json()["pending"]
    await sim.http.post("/_sim/reset")

    assert [(fault["kind"], fault["count"]) for fault in before] == [("overloaded", 3)]
    assert (await sim.http.get("/_sim/faults")).json()["pending"] == []
    assert set((await sim.http.get("/_sim/stats")).json().values()) == {0}


@pytest.mark.parametrize(("method", "path"), CONTROLS)
async def test_the_controls_need_the_token(sim: Sim, method: str, path: str) -> None:
    for token in ("", "not-the-token"):
        refused = await sim.http.request(
            method, path, headers={CONTROL_TOKEN_HEADER: token}, json={"kind": "spend_limit", "count": 1}
        )
        assert refused.status_code == 401
        assert refused.json()["error"]["type"] == "authentication_error"
    assert (await sim.http.get("/_sim/faults")).json()["pending"] == [], "no fault was armed without the token"


@pytest.mark.parametrize(("method", "path"), CONTROLS)
async def test_without_a_configured_token_the_controls_are_off(make_sim: SimFactory, method: str, path: str) -> None:
    sim = await make_sim(control_token="")
    for token in ("", "anything"):
        refused = await sim.http.request(
            method, path, headers={CONTROL_TOKEN_HEADER: token}, json={"kind": "spend_limit", "count": 1}
        )
        assert refused.status_code == 403
    answer = await sim.claude.messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "Hi"}])
    assert answer.content, "the Messages API itself needs no control token"
