"""SQL latency reaches Prometheus, labelled by statement kind only."""

from __future__ import annotations

import httpx

from services.shared.internal import OWNER_HEADER
from tests.saves.factories import new_owner


async def test_metrics_expose_sql_latency_by_operation(client: httpx.AsyncClient) -> None:
    await client.get("/internal/saves", headers={OWNER_HEADER: new_owner()})

    metrics = (await client.get("/metrics")).text

    assert 'estimator_db_query_duration_seconds_count{operation="SELECT"}' in metrics
