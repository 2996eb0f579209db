"""k8s/ and skaffold.yaml agree with the chart: labels, selectors, value files and the image name."""

from __future__ import annotations

from typing import Any

import yaml

from tests.charts.chart import CHART, ROOT, VALUE_SETS, component_name, of_kind, render


def load(path: str) -> Any:
    return yaml.safe_load((ROOT / path).read_text())


def test_namespace_enforces_the_restricted_profile() -> None:
    namespace = load("k8s/namespace.yaml")
    labels = namespace["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


def test_kube_prometheus_stack_selects_what_the_production_chart_makes() -> None:
    values = load("k8s/kube-prometheus-stack/values.yaml")
    spec = values["prometheus"]["prometheusSpec"]
    manifests = render("production")
    for kind, selector in (("ServiceMonitor", "serviceMonitorSelector"), ("PrometheusRule", "ruleSelector")):
        objects = of_kind(manifests, kind)
        assert objects
        for obj in objects:
            assert spec[selector]["matchLabels"].items() <= obj["metadata"]["labels"].items(), obj["metadata"]["name"]
    sidecar = values["grafana"]["sidecar"]["dashboards"]
    (dashboard,) = [c for c in of_kind(manifests, "ConfigMap") if c["metadata"]["name"].endswith("-dashboard")]
    assert dashboard["metadata"]["labels"][sidecar["label"]] == sidecar["labelValue"]
    # The chart admits Prometheus by namespace and pod labels; the adapter queries the same Prometheus.
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    prometheus = chart_values["networkPolicy"]["prometheus"]
    assert prometheus["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "monitoring"}
    adapter = load("k8s/prometheus-adapter/values.yaml")
    assert adapter["prometheus"]["url"].endswith(".monitoring.svc")


def test_skaffold_builds_the_image_and_deploys_the_chart_with_each_value_set() -> None:
    config = load("skaffold.yaml")
    assert config["apiVersion"] == "skaffold/v4beta14"
    (artifact,) = config["build"]["artifacts"]
    assert artifact["image"] == "estimator" and artifact["docker"]["dockerfile"] == "Dockerfile"
    profiles = {p["name"]: p for p in config["profiles"]}
    assert set(profiles) == {"dev", "production"}
    releases = [config["deploy"]["helm"]["releases"][0]] + [
        p["deploy"]["helm"]["releases"][0] for p in profiles.values()
    ]
    for release in releases:
        assert (ROOT / release["chartPath"]) == CHART
        for values_file in release.get("valuesFiles", []):
            assert (ROOT / values_file).exists(), values_file
            assert (ROOT / values_file).name in {f for files in VALUE_SETS.values() for f in files}
        assert release["setValueTemplates"]["image.repository"] == "{{.IMAGE_REPO_estimator}}"
    assert profiles["dev"]["deploy"]["helm"]["releases"][0]["valuesFiles"] == ["charts/estimator/values-dev.yaml"]
    (rule,) = profiles["dev"]["build"]["artifacts"][0]["sync"]["manual"]
    assert rule["src"] == "services/**/*.py"


def test_image_values_from_skaffold_render_a_pinned_image() -> None:
    manifests = render("dev", "image.repository=registry.local/estimator", "image.tag=abc@sha256:0123")
    deployment = next(d for d in of_kind(manifests, "Deployment") if d["metadata"]["name"] == component_name("saves"))
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.local/estimator:abc@sha256:0123"
