"""The operator in the chart: the CRD, a narrow Role, one Recreate replica, the defaults it restores."""

from __future__ import annotations

from typing import Any

import jsonschema
import yaml

from tests.charts.chart import CHART, ROOT, component_name, named, of_kind, pod_specs, render, render_error

CRD = ROOT / "k8s" / "crds" / "llmbudgets.estimator.dev.yaml"
ON = ("operator.enabled=true",)


def crd_schema() -> dict[str, Any]:
    (version,) = yaml.safe_load(CRD.read_text())["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def test_the_chart_installs_the_crd_from_k8s() -> None:
    assert (CHART / "crds" / CRD.name).read_bytes() == CRD.read_bytes()


def test_the_dev_values_render_an_llmbudget_the_crd_accepts() -> None:
    (budget,) = of_kind(render("dev"), "LLMBudget")
    jsonschema.validate(budget, crd_schema())
    worker = component_name("worker")
    assert budget["spec"]["release"] == {"workerDeployment": worker, "workerHPA": worker}
    assert budget["spec"]["tier"] == "2"


def test_the_crd_schema_refuses_what_it_can() -> None:
    schema = crd_schema()
    good = {"spec": {"tier": "2", "release": {"workerDeployment": "w", "workerHPA": "w"}}}
    jsonschema.validate(good, schema)
    for bad in (
        {"tier": "5"},
        {"chatReserve": 0.95},
        {"maxJobsPerWorker": 0},
        {"limits": {"rpm": 0}},
        {"release": {"workerDeployment": "w"}},
    ):
        spec = {**good["spec"], **bad}
        try:
            jsonschema.validate({"spec": spec}, schema)
        except jsonschema.ValidationError:
            continue
        raise AssertionError(f"the CRD schema accepts {bad}")
    rule = schema["properties"]["spec"]["x-kubernetes-validations"][0]["rule"]
    assert "has(self.tier)" in rule and "outputTokensPerMinute" in rule, "a tier, or all three limits (CEL)"


def test_the_role_grants_only_what_the_operator_touches() -> None:
    manifests = render("default", *ON)
    role = named(manifests, "Role", component_name("operator"))
    grants = {
        (g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]
    }
    resources = {(g, r) for g, r, _ in grants}
    assert resources == {
        ("estimator.dev", "llmbudgets"),
        ("estimator.dev", "llmbudgets/status"),
        ("autoscaling", "horizontalpodautoscalers"),
        ("apps", "deployments"),
        ("", "events"),
        ("events.k8s.io", "events"),
    }
    assert {v for _, _, v in grants} <= {"get", "list", "watch", "patch", "update", "create"}, "never delete"
    assert {r for _, r, v in grants if v == "create"} == {"events"}, "it creates only events"
    assert {v for g, r, v in grants if r in ("horizontalpodautoscalers", "deployments")} == {
        "get",
        "list",
        "watch",
        "patch",
    }
    assert {v for g, r, v in grants if r == "events"} == {"create", "patch"}
    assert not of_kind(manifests, "ClusterRole") and not of_kind(manifests, "ClusterRoleBinding")
    binding = named(manifests, "RoleBinding", component_name("operator"))
    assert binding["subjects"][0]["name"] == component_name("operator")


def test_one_standalone_replica_replaced_by_recreate() -> None:
    manifests = render("default", *ON)
    deployment = named(manifests, "Deployment", component_name("operator"))
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:2] == ["operator", "--standalone"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env["WATCH_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    peering = render("default", *ON, "operator.peering.enabled=true")
    container = named(peering, "Deployment", component_name("operator"))["spec"]["template"]["spec"]["containers"][0]
    assert "--peering=estimator" in container["args"] and "--standalone" not in container["args"]
    role = named(peering, "Role", component_name("operator"))
    assert any("kopfpeerings" in rule["resources"] for rule in role["rules"])


def test_the_worker_carries_the_defaults_the_operator_restores() -> None:
    manifests = render("default", "worker.autoscaling.enabled=true", "worker.maxJobs=3")
    hpa = named(manifests, "HorizontalPodAutoscaler", component_name("worker"))
    assert hpa["metadata"]["annotations"]["estimator.dev/default-max-replicas"] == str(hpa["spec"]["maxReplicas"])
    assert hpa["metadata"]["annotations"]["estimator.dev/default-max-jobs"] == "3"
    deployment = named(manifests, "Deployment", component_name("worker"))
    assert deployment["metadata"]["annotations"]["estimator.dev/default-max-jobs"] == "3"


def test_the_operator_is_off_by_default_and_the_example_needs_the_worker_hpa() -> None:
    manifests = render("default")
    assert not [w for w, _ in pod_specs(manifests) if w["metadata"]["name"] == component_name("operator")]
    message = render_error("default", *ON, "operator.exampleBudget.enabled=true")
    assert "worker.autoscaling.enabled" in message
