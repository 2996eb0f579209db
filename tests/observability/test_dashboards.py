"""The dashboards' JSON without a server: the shape Grafana's sidecar loads, the template variables every
query uses, and only metrics of the contract (test_live_prometheus.py proves each query has data)."""

from __future__ import annotations

import re

import pytest

from tests.observability.promql import CONTRACT, DASHBOARDS, dashboard, family, metric_names, panel_queries, substitute

FLEET_WIDE = ("estimator_queue_", "estimator_llm_budget_available", "estimator_llm_budget_capacity")


@pytest.mark.parametrize("name", DASHBOARDS)
def test_dashboard_has_its_variables_and_a_grid_of_panels(name: str) -> None:
    board = dashboard(name)
    assert board["uid"] == f"estimator-{name}" and board["title"].startswith("Estimator")
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert variables["namespace"]["type"] == variables["release"]["type"] == "query"
    assert "$namespace" in variables["release"]["query"]["query"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["description"] and panel["targets"], panel["title"]


@pytest.mark.parametrize("name", DASHBOARDS)
def test_every_query_selects_the_namespace_and_release_and_reads_only_exported_metrics(name: str) -> None:
    for title, expr in panel_queries(name):
        for selector in re.findall(r"\{[^{}]*\}", re.sub(r'"[^"]*"', '""', expr)):
            assert "namespace=" in selector, f"{title}: {expr}"
        assert "$release" in expr or "redis_" in expr, f"{title} must select the release: {expr}"
        unknown = {family(metric) for metric in metric_names(expr)} - CONTRACT
        assert not unknown, f"{title} reads {unknown}, which the services do not export"
        substitute(expr)


@pytest.mark.parametrize("name", DASHBOARDS)
def test_fleet_wide_gauges_are_read_with_max_never_summed(name: str) -> None:
    for title, expr in panel_queries(name):
        for metric in metric_names(expr):
            if metric.startswith(FLEET_WIDE):
                assert "sum" not in expr and "max" in expr, f"{title} must read {metric} with max(), never sum()"
