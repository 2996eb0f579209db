"""Default deny, and every Service's pods admit exactly the callers that need them, on the ports they use."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.charts.chart import (
    RELEASE,
    VALUE_SETS,
    Manifest,
    chart_values,
    component,
    of_kind,
    peer,
    pod_labels,
    pod_specs,
    render,
)

VALUES = chart_values()
NP = VALUES["networkPolicy"]
INGRESS_CONTROLLER = {
    "namespaceSelector": NP["ingressController"]["namespaceSelector"],
    "podSelector": NP["ingressController"]["podSelector"],
}
PROMETHEUS = {
    "namespaceSelector": NP["prometheus"]["namespaceSelector"],
    "podSelector": NP["prometheus"]["podSelector"],
}
TEST = peer("test")

# Service component -> its target port name -> who may call it.
CALLERS: dict[str, dict[str, list[Manifest]]] = {
    "gateway": {"http": [INGRESS_CONTROLLER, TEST], "metrics": [PROMETHEUS]},
    "chat": {"http": [peer("gateway"), TEST], "metrics": [PROMETHEUS]},
    "saves": {"http": [peer("gateway"), peer("chat"), peer("worker"), TEST], "metrics": [PROMETHEUS]},
    "worker": {"metrics": [PROMETHEUS, TEST]},
    "simulator": {"http": [peer("chat"), peer("worker"), TEST], "metrics": [PROMETHEUS]},
    "redis": {"redis": [peer("gateway"), peer("chat"), peer("saves"), peer("worker"), peer("operator")]},
    "postgresql": {"postgresql": [peer("saves"), peer("migrate")]},
}

# Component -> the release's components it may open connections to (besides DNS, stores and HTTPS).
CALLEES = {
    "gateway": {"saves", "chat"},
    "chat": {"saves", "simulator"},
    "saves": set(),
    "worker": {"saves", "simulator"},
    "simulator": set(),
    "migrate": set(),
    "operator": set(),
    "test": {"gateway", "chat", "saves", "worker", "simulator"},
    "redis": set(),
    "postgresql": set(),
}


def key(selector: Any) -> str:
    return json.dumps(selector, sort_keys=True)


def selects(policy: Manifest, labels: dict[str, str]) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    return all(labels.get(k) == v for k, v in wanted.items())


def policies_for(manifests: list[Manifest], labels: dict[str, str]) -> list[Manifest]:
    return [p for p in of_kind(manifests, "NetworkPolicy") if selects(p, labels)]


@pytest.mark.parametrize("value_set", ["dev", "production"])
def test_every_service_admits_exactly_its_callers(value_set: str) -> None:
    manifests = render(value_set)
    workloads = {component(w): w for w, _ in pod_specs(manifests)}
    services = of_kind(manifests, "Service")
    assert services
    for service in services:
        name = component(service)
        labels = pod_labels(workloads[name])
        assert all(labels[k] == v for k, v in service["spec"]["selector"].items())
        admitted: dict[str, set[str]] = {}
        for policy in policies_for(manifests, labels):
            for rule in policy["spec"].get("ingress", []):
                assert rule.get("from"), f"{policy['metadata']['name']}: an ingress rule without `from` admits anyone"
                assert rule.get("ports"), f"{policy['metadata']['name']}: an ingress rule without ports"
                for port in rule["ports"]:
                    admitted.setdefault(str(port["port"]), set()).update(key(p) for p in rule["from"])
        expected = {port: {key(p) for p in peers} for port, peers in CALLERS[name].items()}
        assert admitted == expected, name
        target_ports = {p["targetPort"] for p in service["spec"]["ports"]}
        assert target_ports == set(expected), f"{name}: Service ports and admitted ports differ"


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_pod_is_under_default_deny_and_its_own_policy(value_set: str) -> None:
    manifests = render(value_set)
    for workload, _ in pod_specs(manifests):
        labels = pod_labels(workload)
        policies = policies_for(manifests, labels)
        deny = [p for p in policies if "ingress" not in p["spec"] and "egress" not in p["spec"]]
        assert deny and all(set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"} for p in deny)
        own = [p for p in policies if p["spec"]["podSelector"]["matchLabels"].get("app.kubernetes.io/component")]
        assert len(own) == 1, f"{workload['metadata']['name']}: {len(own)} policies of its own"
        assert set(own[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}


def egress_peers(manifests: list[Manifest], name: str) -> tuple[set[str], list[Manifest]]:
    """The release components a component may call, and its other egress rules."""
    workload = next(w for w, _ in pod_specs(manifests) if component(w) == name)
    components: set[str] = set()
    others: list[Manifest] = []
    for policy in policies_for(manifests, pod_labels(workload)):
        for rule in policy["spec"].get("egress", []):
            to = rule.get("to", [])
            in_release = [
                p["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
                for p in to
                if "namespaceSelector" not in p
                and "ipBlock" not in p
                and p["podSelector"]["matchLabels"].get("app.kubernetes.io/instance") == RELEASE
            ]
            components.update(in_release)
            if len(in_release) != len(to) or not to:
                others.append(rule)
    return components, others


@pytest.mark.parametrize("value_set", ["dev", "production"])
def test_egress_reaches_only_callees_dns_stores_and_https(value_set: str) -> None:
    manifests = render(value_set)
    in_chart_stores = value_set == "dev"
    for workload, _ in pod_specs(manifests):
        name = component(workload)
        components, others = egress_peers(manifests, name)
        stores = {
            "gateway": {"redis"},
            "chat": {"redis"},
            "saves": {"redis", "postgresql"},
            "worker": {"redis"},
            "migrate": {"postgresql"},
            "operator": {"redis"},
        }.get(name, set())
        present = {c for w, _ in pod_specs(manifests) for c in [component(w)]}
        expected = (CALLEES[name] & present) | (stores if in_chart_stores else set())
        assert components == expected, name
        ports = {p["port"] for rule in others for p in rule.get("ports", [])}
        if name in ("redis", "postgresql", "simulator"):
            assert others == [], f"{name} needs no egress"
            continue
        assert 53 in ports, f"{name}: no DNS"
        if not in_chart_stores and stores:
            assert ports & {6379, 5432}, f"{name}: no egress to its external store"
        if name == "operator":  # the Kubernetes API server (443, or 6443 on some clusters), nothing else
            assert ports - {53, 6379} == set(VALUES["networkPolicy"]["apiServer"]["ports"]), ports
            continue
        https = 443 in ports
        needs_https = name == "worker" or (name == "chat" and value_set == "production")
        assert https == needs_https, f"{name}: HTTPS egress {https}, needed {needs_https}"


def test_external_store_egress_is_limited_to_the_configured_cidrs() -> None:
    manifests = render("production")
    _, others = egress_peers(manifests, "saves")
    database = [rule for rule in others if {p["port"] for p in rule["ports"]} == {5432}]
    assert database and database[0]["to"] == [{"ipBlock": {"cidr": "10.20.1.0/24"}}]


def test_extra_egress_is_added_to_the_four_services_only() -> None:
    manifests = render("production", "networkPolicy.extraEgress[0].ports[0].port=4318")
    for workload, _ in pod_specs(manifests):
        _, others = egress_peers(manifests, component(workload))
        ports = {p["port"] for rule in others for p in rule.get("ports", [])}
        assert (4318 in ports) == (component(workload) in ("gateway", "chat", "saves", "worker"))
