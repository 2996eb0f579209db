"""Every Pod the chart makes passes the restricted Pod Security Standard, with probes and resources."""

from __future__ import annotations

import pytest

from tests.charts.chart import VALUE_SETS, Manifest, component, container_env, is_hook, pod_specs, render

ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
ALL_ON = (
    "simulator.enabled=true",
    "worker.autoscaling.enabled=true",
    "gateway.autoscaling.enabled=true",
    "methodology.override=# Methodology",
    "operator.enabled=true",
)


def restricted_violations(spec: Manifest) -> list[str]:
    """The checks of the Kubernetes "restricted" profile (v1.30+), plus a read-only root filesystem."""
    problems: list[str] = []
    pod = spec.get("securityContext", {})
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(flag) is True:
            problems.append(f"{flag} is true")
    if pod.get("sysctls"):
        problems.append("sysctls set")
    if pod.get("seLinuxOptions", {}).get("type") not in (None, "", "container_t", "container_init_t"):
        problems.append("pod seLinuxOptions.type")
    if pod.get("runAsUser") == 0:
        problems.append("pod runAsUser 0")
    for volume in spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            problems.append(f"volume {volume['name']} of type {kinds}")
    for container in spec.get("initContainers", []) + spec["containers"]:
        name = container["name"]
        ctx = container.get("securityContext", {})
        if ctx.get("privileged"):
            problems.append(f"{name}: privileged")
        if ctx.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if "ALL" not in ctx.get("capabilities", {}).get("drop", []):
            problems.append(f"{name}: capabilities do not drop ALL")
        if set(ctx.get("capabilities", {}).get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities")
        if not (ctx.get("runAsNonRoot") is True or pod.get("runAsNonRoot") is True):
            problems.append(f"{name}: runAsNonRoot not true")
        if ctx.get("runAsUser", pod.get("runAsUser")) in (None, 0):
            problems.append(f"{name}: no non-zero runAsUser")
        seccomp = ctx.get("seccompProfile", pod.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile {seccomp}")
        if ctx.get("procMount", "Default") != "Default":
            problems.append(f"{name}: procMount")
        if ctx.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: root filesystem is writable")
        if any("hostPort" in port for port in container.get("ports", [])):
            problems.append(f"{name}: hostPort")
    return problems


@pytest.mark.parametrize("value_set", VALUE_SETS)
@pytest.mark.parametrize("all_on", [False, True], ids=["as-is", "all-features"])
def test_every_pod_is_restricted_with_probes_and_resources(value_set: str, all_on: bool) -> None:
    manifests = render(value_set, *(ALL_ON if all_on else ()))
    pods = list(pod_specs(manifests))
    assert pods
    for workload, spec in pods:
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        assert restricted_violations(spec) == [], where
        assert spec.get("automountServiceAccountToken") is False, where
        for container in spec["containers"]:
            resources = container.get("resources", {})
            assert resources.get("requests", {}).keys() >= {"cpu", "memory"}, where
            assert "memory" in resources.get("limits", {}), where
            if not is_hook(workload) and workload["kind"] != "Job":
                assert "livenessProbe" in container, f"{where}: no liveness probe"
                assert "readinessProbe" in container, f"{where}: no readiness probe"


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_estimator_pods_run_as_10001_with_a_writable_tmp(value_set: str) -> None:
    for workload, spec in pod_specs(render(value_set, *ALL_ON)):
        if component(workload) in ("redis", "postgresql"):
            continue
        assert spec["securityContext"]["runAsUser"] == 10001
        mounts = {m["mountPath"]: m["name"] for m in spec["containers"][0].get("volumeMounts", [])}
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], workload["metadata"]["name"]


def test_probes_use_the_contract_endpoints_and_ports() -> None:
    manifests = render("dev")
    for workload, spec in pod_specs(manifests):
        name = component(workload)
        if name in ("redis", "postgresql", "migrate", "test"):
            continue
        container = spec["containers"][0]
        if name == "operator":  # kopf's liveness endpoint, the only one it serves
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}, probe
            assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"health": 8080}
            assert "--liveness=http://0.0.0.0:8080/healthz" in container["args"]
            continue
        port = "metrics" if name == "worker" else "http"
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}, name
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}, name
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["metrics"] == 9464
        if name != "worker":
            assert ports["http"] == 8000


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_grace_periods_outlast_the_drains(value_set: str) -> None:
    manifests = render(value_set)
    for workload, spec in pod_specs(manifests):
        name = component(workload)
        if name not in ("gateway", "chat", "saves", "worker"):
            continue
        env = container_env(manifests, spec["containers"][0])
        delay = int(env.get("SHUTDOWN_DELAY_S", 0))  # the worker turns not ready at SIGTERM, with no delay
        grace = spec["terminationGracePeriodSeconds"]
        if name == "worker":
            assert grace > int(env["WORKER_DRAIN_S"]) + delay, "the worker would be killed mid-drain"
        elif name == "chat":
            drain = int(env["CHAT_DRAIN_S"])
            assert grace > drain + delay, "turns in progress (CHAT_DRAIN_S) must be able to finish during a rollout"
        else:
            assert grace >= 30 + delay, "uvicorn drains for 30 s after the readiness delay"


def test_worker_grace_period_follows_its_drain() -> None:
    manifests = render("default", "worker.drainSeconds=200")
    spec = next(s for w, s in pod_specs(manifests) if component(w) == "worker")
    assert spec["terminationGracePeriodSeconds"] == 200 + 5 + 30


def test_migration_is_a_hook_that_waits_for_the_database() -> None:
    job = next(w for w, _ in pod_specs(render("production")) if component(w) == "migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert set(annotations["helm.sh/hook-delete-policy"].split(",")) == {"before-hook-creation", "hook-succeeded"}
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["migrate", "--wait-s", "300"]
    assert {e["name"] for e in container["env"]} == {"DATABASE_URL", "ESTIMATOR_ENV"}


def test_with_the_in_chart_database_the_migration_is_an_ordinary_job() -> None:
    """The in-chart PostgreSQL does not exist at pre-install time, so a hook would wait for it forever."""
    job = next(w for w, _ in pod_specs(render("dev")) if component(w) == "migrate")
    assert not is_hook(job)


def test_topology_spread_on_every_estimator_deployment() -> None:
    for workload, spec in pod_specs(render("production")):
        if workload["kind"] != "Deployment":
            continue
        keys = {c["topologyKey"] for c in spec["topologySpreadConstraints"]}
        assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}, workload["metadata"]["name"]
        for constraint in spec["topologySpreadConstraints"]:
            assert constraint["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == component(workload)
