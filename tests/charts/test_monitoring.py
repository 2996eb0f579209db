"""ServiceMonitors, the PrometheusRule and the dashboard: valid against their CRDs, selectable, documented."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from tests.charts.chart import (
    CRD_MODULES,
    QUEUE_SERIES,
    ROOT,
    Manifest,
    component,
    component_name,
    of_kind,
    render,
)

VALIDATOR = ROOT / "tests" / "charts" / "validate_crds.mjs"
ALL_ON = ("simulator.enabled=true",)


def validate_crds(objects: list[Manifest]) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None or not CRD_MODULES.exists():
        pytest.fail("node or the prometheus-operator CRD models are missing: run `make chart-tools`")
    return subprocess.run(
        [node, str(VALIDATOR), str(CRD_MODULES)], input=json.dumps(objects), capture_output=True, text=True, check=False
    )


def monitoring_objects() -> list[Manifest]:
    manifests = render("production", *ALL_ON)
    return of_kind(manifests, "ServiceMonitor") + of_kind(manifests, "PrometheusRule")


def test_service_monitors_and_rules_pass_their_crd_schemas() -> None:
    objects = monitoring_objects()
    assert {o["kind"] for o in objects} == {"ServiceMonitor", "PrometheusRule"}
    result = validate_crds(objects)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("VALID") == len(objects)


def test_the_crd_validator_rejects_a_wrong_object() -> None:
    broken = json.loads(json.dumps(monitoring_objects()[0]))
    broken["spec"]["endpoints"][0]["interval"] = 30  # must be a duration string
    result = validate_crds([broken])
    assert result.returncode == 1 and "INVALID" in result.stdout


def test_one_service_monitor_per_scraped_service_with_the_selector_labels() -> None:
    manifests = render("production", *ALL_ON)
    monitors = {component(m): m for m in of_kind(manifests, "ServiceMonitor")}
    services = {component(s): s for s in of_kind(manifests, "Service")}
    assert set(monitors) == {"gateway", "chat", "saves", "worker", "simulator"}
    for name, monitor in monitors.items():
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert monitor["spec"]["selector"]["matchLabels"].items() <= services[name]["metadata"]["labels"].items()
        assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
        assert "metrics" in {p["name"] for p in services[name]["spec"]["ports"]}


def alerts() -> list[Manifest]:
    (rule,) = of_kind(render("production"), "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def test_alerts_cover_the_queue_latency_throttling_failures_budget_and_outages() -> None:
    names = {alert["alert"] for alert in alerts()}
    assert names == {
        "EstimatorQueueBacklog",
        "EstimatorOldestJobTooOld",
        "EstimatorJobFailures",
        "EstimatorReadLatencyHigh",
        "EstimatorSavesUnavailable",
        "EstimatorServiceDown",
        "EstimatorUpstreamThrottled",
        "EstimatorBudgetExhausted",
        "EstimatorRedisMemoryHigh",
        "EstimatorRedisDown",
    }


def test_every_alert_links_a_runbook_section_that_exists() -> None:
    headings = re.findall(r"^### (\S+)", (ROOT / "docs" / "runbooks.md").read_text(), re.MULTILINE)
    anchors = {heading.lower() for heading in headings}
    for alert in alerts():
        url = alert["annotations"]["runbook_url"]
        page, _, anchor = url.partition("#")
        assert page.endswith("docs/runbooks.md"), url
        assert anchor in anchors, f"{alert['alert']}: docs/runbooks.md has no section #{anchor}"


def test_alerts_read_series_the_code_exports_for_this_release() -> None:
    documented = set(re.findall(r"`(estimator_[a-z_]+)`", (ROOT / "docs" / "observability.md").read_text()))
    known = documented | QUEUE_SERIES
    for alert in alerts():
        expr = alert["expr"]
        for metric in re.findall(r"\b(estimator_[a-z_]+?)(?:_bucket)?\{", expr):
            assert metric in known, f"{alert['alert']}: {metric} is exported by nothing documented"
        assert 'namespace="estimator"' in expr, alert["alert"]
        if alert["alert"].startswith("EstimatorRedis"):
            continue  # the Redis exporter's series: selected by prometheusRule.redisSelector (default: the namespace)
        assert "service=" in expr, f"{alert['alert']} must select this release's Service"


def test_dashboard_config_map_is_labelled_for_the_sidecar() -> None:
    (dashboard,) = [c for c in of_kind(render("production"), "ConfigMap") if "dashboard" in c["metadata"]["name"]]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert set(dashboard["data"]) == {f"estimator-{name}.json" for name in ("overview", "claude-budget", "chat")}
    board = json.loads(dashboard["data"]["estimator-overview.json"])
    assert board["uid"] == "estimator-overview" and board["panels"]
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])
    assert "estimator_queue_jobs" in exprs and "estimator_http_requests_total" in exprs
    relabelled = render("production", "grafanaDashboard.labelKey=dashboards", "grafanaDashboard.labelValue=estimator")
    (dashboard,) = [c for c in of_kind(relabelled, "ConfigMap") if "dashboard" in c["metadata"]["name"]]
    assert dashboard["metadata"]["labels"]["dashboards"] == "estimator"


def test_ingress_routes_everything_to_the_gateway_with_streaming_timeouts() -> None:
    (ingress,) = of_kind(render("production"), "Ingress")
    annotations = ingress["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 330
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"secretName": "estimator-tls", "hosts": ["estimator.example.com"]}]
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/"
    assert path["backend"]["service"] == {"name": component_name("gateway"), "port": {"name": "http"}}


def test_helm_test_pod_calls_readyz_through_every_service() -> None:
    manifests = render("dev")
    (pod,) = of_kind(manifests, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    container = pod["spec"]["containers"][0]
    assert container["command"] == ["python", "-c"]
    urls = container["args"][1:]
    expected = [f"http://{component_name(c)}:8000/readyz" for c in ("gateway", "chat", "saves", "simulator")]
    assert urls == [*expected, f"http://{component_name('worker')}:9464/readyz"]
    services = {s["metadata"]["name"] for s in of_kind(manifests, "Service")}
    assert {url.split("/")[2].split(":")[0] for url in urls} <= services
    # The script itself is valid Python.
    compile(container["args"][0], "helm-test", "exec")


def test_pod_disruption_budgets_for_every_deployment() -> None:
    manifests = render("production")
    budgets = {component(p) for p in of_kind(manifests, "PodDisruptionBudget")}
    deployments = {component(d) for d in of_kind(manifests, "Deployment")}
    assert budgets == deployments == {"gateway", "chat", "saves", "worker"}
