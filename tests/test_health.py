"""Every service answers /healthz, /readyz and /metrics (what Kubernetes probes and Prometheus scrape)."""

from __future__ import annotations

import httpx
import pytest

from services.devstack.supervisor import Stack


@pytest.mark.parametrize("service", ["gateway", "chat", "saves", "simulator"])
async def test_health_readiness_and_metrics(stack: Stack, service: str) -> None:
    port = getattr(stack.ports, service)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
        metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "# TYPE" in metrics.text


async def test_the_worker_answers_probes_and_exports_metrics(stack: Stack, api_key: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.ports.worker_metrics}") as client:
        assert (await client.get("/healthz")).json()["service"] == "worker"
        assert (await client.get("/readyz")).status_code == 200
        metrics = await client.get("/metrics")
    assert "estimator_worker_jobs_total" in metrics.text
    assert "estimator_llm_budget_grants_total" in metrics.text


async def test_the_gateway_exports_the_fleet_budget_for_dashboards(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        metrics = (await client.get("/metrics")).text
    assert 'estimator_llm_budget_capacity{limit="output_tokens"} 90000.0' in metrics
    assert "estimator_llm_budget_in_flight" in metrics
