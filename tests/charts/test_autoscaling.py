"""The worker HPA scales on the queue series our worker exports, through the adapter rule that ships in k8s/."""

from __future__ import annotations

import re

import pytest

from tests.charts.chart import (
    ADAPTER_VALUES,
    QUEUE_SERIES,
    ROOT,
    Manifest,
    adapter_rules,
    chart_values,
    component_name,
    named,
    of_kind,
    render,
    render_error,
)


def worker_hpa(value_set: str = "production", *sets: str) -> Manifest:
    hpa = named(render(value_set, *sets), "HorizontalPodAutoscaler", component_name("worker"))
    spec: Manifest = hpa["spec"]
    return spec


def test_chart_rules_are_the_k8s_adapter_rules() -> None:
    assert chart_values()["prometheusAdapter"]["rules"] == adapter_rules()


def test_hpa_metric_and_selector_match_an_adapter_rule() -> None:
    spec = worker_hpa()
    (metric,) = spec["metrics"]
    assert metric["type"] == "External"
    name = metric["external"]["metric"]["name"]
    rules = {rule["name"]["as"]: rule for rule in adapter_rules()}
    assert name in rules, f"{name} is served by no adapter rule ({sorted(rules)})"
    assert name == "estimator_queue_demand_jobs"
    selector = metric["external"]["metric"]["selector"]["matchLabels"]
    assert selector == {"service": component_name("worker")}
    # The outermost aggregation of the rule keeps these labels; the selector may only use them.
    kept = re.search(r"by \(([^)]*)\)", rules[name]["metricsQuery"])
    assert kept is not None
    assert set(selector) <= {label.strip() for label in kept.group(1).split(",")}
    # The worker Service is the one the ServiceMonitor scrapes: its name is the `service` target label.
    manifests = render("production")
    named(manifests, "Service", component_name("worker"))
    monitor = named(manifests, "ServiceMonitor", component_name("worker"))
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"


def test_hpa_targets_max_jobs_per_replica_and_scales_down_slowly() -> None:
    spec = worker_hpa("production", "worker.maxJobs=4")
    (metric,) = spec["metrics"]
    assert metric["external"]["target"] == {"type": "AverageValue", "averageValue": "4"}
    down = spec["behavior"]["scaleDown"]
    assert down["stabilizationWindowSeconds"] >= 300
    assert down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 300}]
    manifests = render("production", "worker.maxJobs=4")
    worker = named(manifests, "ConfigMap", component_name("worker"))
    assert worker["data"]["WORKER_MAX_JOBS"] == "4"
    deployment = named(manifests, "Deployment", component_name("worker"))
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"


def test_adapter_queries_read_the_queue_series_the_worker_exports() -> None:
    text = ADAPTER_VALUES.read_text()
    for rule in adapter_rules():
        series = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", rule["seriesQuery"])
        assert series is not None
        assert series.group(1) in QUEUE_SERIES
        assert f"^{series.group(1)}$" == rule["name"]["matches"]
        assert "<<.Series>>" in rule["metricsQuery"] and "<<.LabelMatchers>>" in rule["metricsQuery"]
        assert series.group(1) in text
    # Once services/worker/queue_metrics.py (issue 10, part 2) lands, the code must export every series.
    exporter = ROOT / "services" / "worker" / "queue_metrics.py"
    if exporter.exists():
        code = exporter.read_text()
        for series_name in QUEUE_SERIES:
            assert series_name in code, f"{exporter} does not export {series_name}"


def test_every_queue_rule_keeps_the_labels_the_hpa_and_alerts_select_on() -> None:
    for rule in adapter_rules():
        kept = re.search(r"by \(([^)]*)\)", rule["metricsQuery"])
        assert kept is not None
        assert {label.strip() for label in kept.group(1).split(",")} == {"namespace", "service"}
        assert rule["resources"]["overrides"] == {"namespace": {"resource": "namespace"}}


@pytest.mark.parametrize("component", ["gateway", "chat", "saves"])
def test_http_services_scale_on_cpu(component: str) -> None:
    manifests = render("production")
    hpa = named(manifests, "HorizontalPodAutoscaler", component_name(component))
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    assert "replicas" not in named(manifests, "Deployment", component_name(component))["spec"]


def test_no_hpa_when_autoscaling_is_off() -> None:
    assert of_kind(render("default"), "HorizontalPodAutoscaler") == []


def test_budget_cap_is_computed_from_the_claude_budget() -> None:
    # 90000 x 0.8 / (6000 x 60 / 100) = 20: 4 x 5 renders, 5 x 5 does not.
    worker_hpa("production", "worker.autoscaling.maxReplicas=4", "worker.maxJobs=5")
    message = render_error("production", "worker.autoscaling.maxReplicas=5", "worker.maxJobs=5")
    assert "25 concurrent estimations, above the 20 the Claude budget feeds" in message
    # A bigger tier feeds more workers.
    worker_hpa("production", "worker.autoscaling.maxReplicas=8", "config.llm.outputTpm=180000")


def test_budget_cap_can_be_stated() -> None:
    message = render_error("production", "worker.autoscaling.maxConcurrentEstimations=10")
    assert "above the 10 the Claude budget feeds" in message
    message = render_error("default", "worker.replicaCount=30")
    assert "30 replicas x maxJobs 5 = 150" in message
