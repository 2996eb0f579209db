"""What an SRE reads about Claude calls: outcomes, cost, the retry-after of throttling, tokens by kind."""

from __future__ import annotations

from prometheus_client import REGISTRY

from services.llm.budget import FleetBudget
from tests.llm.test_calls import _ask, _claude


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_throttled_then_answered_call_is_counted_priced_and_its_retry_after_kept(
    budget: FleetBudget,
) -> None:
    claude, sim = _claude()
    (await sim.post("/_sim/faults", json={"kind": "rate_limited", "count": 1, "retry_after": 1})).raise_for_status()
    before = {
        "ok": _value("estimator_llm_requests_total", priority="chat", outcome="ok"),
        "throttled": _value("estimator_llm_requests_total", priority="chat", outcome="throttled"),
        "retry_after": _value("estimator_llm_upstream_retry_after_seconds_count", status="429"),
        "cost": _value("estimator_llm_cost_usd_total", priority="chat"),
        "output": _value("estimator_llm_tokens_total", priority="chat", kind="output"),
    }

    message = await _ask(budget, claude, 30)

    assert _value("estimator_llm_requests_total", priority="chat", outcome="ok") == before["ok"] + 1
    assert _value("estimator_llm_requests_total", priority="chat", outcome="throttled") == before["throttled"] + 1
    assert _value("estimator_llm_upstream_retry_after_seconds_count", status="429") == before["retry_after"] + 1
    assert _value("estimator_llm_cost_usd_total", priority="chat") > before["cost"]
    output = _value("estimator_llm_tokens_total", priority="chat", kind="output")
    assert output == before["output"] + message.usage.output_tokens
    for kind in ("input", "cache_write", "cache_read"):
        assert REGISTRY.get_sample_value("estimator_llm_tokens_total", {"priority": "chat", "kind": kind}) is not None
