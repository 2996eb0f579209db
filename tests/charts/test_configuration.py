"""Each container gets only the settings its service reads; secrets come from Secrets, never ConfigMaps."""

from __future__ import annotations

import re

import pytest

from tests.charts.chart import (
    VALUE_SETS,
    Manifest,
    component,
    component_name,
    container_env,
    named,
    of_kind,
    pod_specs,
    reads,
    render,
)

ALL_ON = (
    "simulator.enabled=true",
    "methodology.override=# Our methodology",
    "config.rateCard.currency=EUR",
    "operator.enabled=true",
)
SECRET_NAME = re.compile(r"(^|_)(TOKEN|KEY|PASSWORD|SECRET)($|_)|DATABASE_URL|REDIS_URL", re.IGNORECASE)
CREDENTIAL_VALUE = re.compile(r"://[^/@\s]*:[^/@\s]*@|sk-ant-|\best_[A-Za-z0-9_-]{40,}")

# What each service must get from the Secret (the contract with the code's production start-up checks).
SECRETS = {
    "gateway": {"INTERNAL_TOKEN", "REDIS_URL"},
    "chat": {"INTERNAL_TOKEN", "REDIS_URL", "ANTHROPIC_API_KEY"},
    "saves": {"INTERNAL_TOKEN", "REDIS_URL", "DATABASE_URL"},
    "worker": {"INTERNAL_TOKEN", "REDIS_URL", "ANTHROPIC_API_KEY", "GITHUB_TOKEN"},
    "simulator": {"SIM_CONTROL_TOKEN"},
    "migrate": {"DATABASE_URL"},
    "operator": {"REDIS_URL"},
}


def estimator_containers(manifests: list[Manifest]) -> list[tuple[str, Manifest]]:
    return [
        (component(workload), container)
        for workload, spec in pod_specs(manifests)
        if component(workload) not in ("redis", "postgresql", "test")
        for container in spec["containers"]
    ]


@pytest.mark.parametrize("value_set", VALUE_SETS)
@pytest.mark.parametrize("all_on", [False, True], ids=["as-is", "all-features"])
def test_every_env_name_is_one_its_service_reads(value_set: str, all_on: bool) -> None:
    manifests = render(value_set, *(ALL_ON if all_on else ()))
    for service, container in estimator_containers(manifests):
        env = container_env(manifests, container)
        unread = set(env) - reads(service)
        assert not unread, f"{service} is given variables it does not read: {sorted(unread)}"
        assert env["ESTIMATOR_ENV"] == "production", service


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_secrets_come_from_secret_refs(value_set: str) -> None:
    manifests = render(value_set, "simulator.enabled=true")
    for service, container in estimator_containers(manifests):
        from_secrets = {
            entry["name"] for entry in container.get("env", []) if "secretKeyRef" in entry.get("valueFrom", {})
        }
        assert from_secrets == SECRETS[service], service
        for entry in container.get("env", []):
            if SECRET_NAME.search(entry["name"]):
                assert "value" not in entry, f"{service}: {entry['name']} given as a literal"


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_no_configmap_holds_anything_secret_looking(value_set: str) -> None:
    for config_map in of_kind(render(value_set, *ALL_ON), "ConfigMap"):
        for name, value in config_map.get("data", {}).items():
            assert not SECRET_NAME.search(name), f"{config_map['metadata']['name']}: {name}"
            assert not CREDENTIAL_VALUE.search(value), f"{config_map['metadata']['name']}: {name} holds a credential"


def test_service_urls_and_claude_base_url() -> None:
    manifests = render("dev")
    gateway = named(manifests, "ConfigMap", component_name("gateway"))["data"]
    assert gateway["SAVES_URL"] == f"http://{component_name('saves')}:8000"
    assert gateway["CHAT_URL"] == f"http://{component_name('chat')}:8000"
    for service in ("chat", "worker"):
        data = named(manifests, "ConfigMap", component_name(service))["data"]
        assert data["SAVES_URL"] == f"http://{component_name('saves')}:8000"
        assert data["ANTHROPIC_BASE_URL"] == f"http://{component_name('simulator')}:8000"
    worker = named(manifests, "ConfigMap", component_name("worker"))["data"]
    assert (worker["WORKER_METRICS_HOST"], worker["WORKER_METRICS_PORT"]) == ("0.0.0.0", "9464")
    production = render("production")
    for service in ("chat", "worker"):
        assert "ANTHROPIC_BASE_URL" not in named(production, "ConfigMap", component_name(service))["data"]


def test_commands_are_the_contract() -> None:
    manifests = render("dev")
    args = {component(w): s["containers"][0].get("args") for w, s in pod_specs(manifests)}
    for service in ("gateway", "chat", "saves", "simulator"):
        assert args[service] == ["serve", service, "--host", "0.0.0.0", "--port", "8000"]
    assert args["worker"] == ["worker"]
    assert args["migrate"] == ["migrate", "--wait-s", "300"]


def test_methodology_is_mounted_only_when_overridden() -> None:
    manifests = render("default", "methodology.override=# Ours")
    assert named(manifests, "ConfigMap", "estimator-methodology")["data"]["methodology.md"] == "# Ours"
    for workload, spec in pod_specs(manifests):
        name = component(workload)
        env = container_env(manifests, spec["containers"][0]) if name != "migrate" else {}
        mounts = {m["mountPath"] for m in spec["containers"][0].get("volumeMounts", [])}
        reader = name in ("chat", "worker")
        assert ("METHODOLOGY_FILE" in env) == reader, name
        assert ("/etc/estimator/methodology" in mounts) == reader, name
        if reader:
            assert env["METHODOLOGY_FILE"] == "/etc/estimator/methodology/methodology.md"
    plain = render("default")
    assert not [c for c in of_kind(plain, "ConfigMap") if c["metadata"]["name"].endswith("-methodology")]
    for service in ("chat", "saves", "worker"):
        assert "METHODOLOGY_FILE" not in named(plain, "ConfigMap", component_name(service))["data"]


def test_rate_card_goes_to_chat_and_worker_as_json() -> None:
    manifests = render("default", "config.rateCard.currency=USD")
    for service in ("chat", "worker"):
        assert named(manifests, "ConfigMap", component_name(service))["data"]["RATE_CARD"] == '{"currency":"USD"}'


def test_dev_secret_is_created_for_the_hooks_and_production_uses_the_existing_one() -> None:
    dev = of_kind(render("dev"), "Secret")
    assert len(dev) == 1 and dev[0]["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert dev[0]["stringData"]["DATABASE_URL"].startswith("postgresql+asyncpg://estimator:")
    production = render("production")
    assert of_kind(production, "Secret") == []
    saves = named(production, "Deployment", component_name("saves"))["spec"]["template"]["spec"]["containers"][0]
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in saves["env"]}
    assert refs == {"estimator-secrets"}
