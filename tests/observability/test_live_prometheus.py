"""Every PromQL expression the chart ships, evaluated by a real Prometheus scraping a stack that has just
served traffic: each dashboard panel's query and each alert's expression parse and return data, and none
names a metric the services do not export.

An alert's comparison filters out every series while the system is healthy, so what must have data is
its signal (the expression without its thresholds) and each of its selectors; the whole expression must
still parse and evaluate.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.observability.live import NAMESPACE, Observed, observed_stack, serve_traffic, until_scraped
from tests.observability.promql import (
    CONTRACT,
    DASHBOARDS,
    alert_rules,
    family,
    metric_names,
    panel_queries,
    selectors,
    signal,
    substitute,
)


async def evaluate(observed: Observed, promql: str) -> list[dict[str, Any]] | str:
    """The query's result, or Prometheus' error for it."""
    response = await observed.prometheus.http.get(f"{observed.prometheus.url}/api/v1/query", params={"query": promql})
    body: dict[str, Any] = response.json()
    if body.get("status") != "success":
        return f"{body.get('errorType')}: {body.get('error')}"
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def check(name: str, promql: str, result: list[dict[str, Any]] | str, exported: set[str]) -> list[str]:
    problems = []
    unknown = {family(metric) for metric in metric_names(promql)} - exported
    if unknown:
        problems.append(f"{name}: names {sorted(unknown)}, which nothing exports\n    {promql}")
    if isinstance(result, str):
        problems.append(f"{name}: {result}\n    {promql}")
    elif not result:
        problems.append(f"{name}: no data\n    {promql}")
    return problems


async def test_every_dashboard_and_alert_expression_returns_data_from_a_real_prometheus(
    tmp_path: Path, database_url: str, github_stub: str
) -> None:
    async with observed_stack(tmp_path, database_url, github_stub) as observed:
        await serve_traffic(observed)
        prometheus = observed.prometheus
        await until_scraped(prometheus, f'estimator_rate_limit_rejections_total{{namespace="{NAMESPACE}"}}')
        await until_scraped(prometheus, f'estimator_llm_budget_capacity{{namespace="{NAMESPACE}"}}')
        await asyncio.sleep(3)  # a few more scrapes, so that every rate has two samples after the traffic

        names = await prometheus.query(f'group by (__name__) ({{namespace="{NAMESPACE}"}})')
        exported = {family(series["metric"]["__name__"]) for series in names}
        # The apps' own `service` label is kept as `exported_service`, as under a ServiceMonitor.
        assert await prometheus.query(
            f'estimator_http_requests_total{{namespace="{NAMESPACE}", service="estimator-gateway",'
            ' exported_service="gateway"}'
        )

        problems: list[str] = []
        for name in DASHBOARDS:
            for title, expr in panel_queries(name):
                promql = substitute(expr)
                problems += check(title, promql, await evaluate(observed, promql), exported)
        for rule in alert_rules():
            alert, expr = rule["alert"], rule["expr"]
            whole = await evaluate(observed, expr)
            if isinstance(whole, str):
                problems.append(f"{alert}: {whole}\n    {expr}")
            problems += check(f"{alert} (signal)", signal(expr), await evaluate(observed, signal(expr)), exported)
            for selector in selectors(expr):
                problems += check(f"{alert} ({selector})", selector, await evaluate(observed, selector), exported)

        missing = sorted(CONTRACT - exported)
        assert not problems, "\n".join(problems)
        assert not missing, f"the services export none of {missing} (the metric contract in promql.py)"
