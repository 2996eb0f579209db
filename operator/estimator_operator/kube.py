"""The operator's reads and writes of the worker HPA and Deployment.

Calls go through kopf's own API client (`kopf._cogs.clients.api`, pinned with kopf 1.45.x): it carries
the operator's credentials (the ServiceAccount in a pod) and its retries on 5xx/429. Writes are JSON
patches (RFC 6902) that change one value at one path, guarded by `test` operations on the names
they expect at the list indexes, so a concurrent edit of the containers or metrics makes the patch
fail (and the next timer tick retry) instead of writing into the wrong element. Strategic merge would
match the container by name on a real API server, but not on an emulator; a guarded JSON patch means
the same on both.
"""

from __future__ import annotations

import logging
from typing import Any

from kopf._cogs.clients import api, errors
from kopf._cogs.configs.configuration import OperatorSettings as KopfSettings

from estimator_operator.settings import MAX_JOBS_ENV

NotFound = errors.APINotFoundError
APIError = errors.APIError

JSONPatch = list[dict[str, Any]]


def hpa_url(namespace: str, name: str) -> str:
    return f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{name}"


def deployment_url(namespace: str, name: str) -> str:
    return f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"


class Kube:
    def __init__(self, settings: KopfSettings, logger: logging.Logger | logging.LoggerAdapter[Any]) -> None:
        self.settings = settings
        self.logger = logger

    async def get(self, url: str) -> dict[str, Any]:
        body: dict[str, Any] = await api.get(url, settings=self.settings, logger=self.logger)
        return body

    async def json_patch(self, url: str, ops: JSONPatch) -> dict[str, Any]:
        body: dict[str, Any] = await api.patch(
            url,
            payload=ops,
            headers={"Content-Type": "application/json-patch+json"},
            settings=self.settings,
            logger=self.logger,
        )
        return body


# ---- the HPA: spec.maxReplicas and the queue metric's target, averageValue (= max_jobs) --------------


def hpa_min_replicas(hpa: dict[str, Any]) -> int:
    return int(hpa.get("spec", {}).get("minReplicas") or 1)


def hpa_max_replicas(hpa: dict[str, Any]) -> int:
    return int(hpa.get("spec", {}).get("maxReplicas") or 0)


def _average_value_paths(hpa: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(path, current value) of every metric target of type AverageValue (the chart's External queue metric)."""
    found = []
    for i, metric in enumerate(hpa.get("spec", {}).get("metrics") or []):
        kind = metric.get("type", "")
        source = metric.get(kind[:1].lower() + kind[1:], {}) if kind else {}
        target = source.get("target") or {}
        if target.get("type") == "AverageValue":
            key = kind[:1].lower() + kind[1:]
            found.append((f"/spec/metrics/{i}/{key}/target/averageValue", target.get("averageValue")))
    return found


def hpa_ops(hpa: dict[str, Any], max_replicas: int, max_jobs: int) -> JSONPatch:
    """What brings the HPA to `max_replicas` and a per-replica target of `max_jobs`; [] if it is there."""
    ops: JSONPatch = []
    if hpa_max_replicas(hpa) != max_replicas:
        ops.append({"op": "replace", "path": "/spec/maxReplicas", "value": max_replicas})
    for path, value in _average_value_paths(hpa):
        if str(value) != str(max_jobs):
            index = path.split("/")[3]
            ops.append(
                {
                    "op": "test",
                    "path": f"/spec/metrics/{index}/type",
                    "value": hpa["spec"]["metrics"][int(index)]["type"],
                }
            )
            ops.append({"op": "replace", "path": path, "value": str(max_jobs)})
    return ops


def hpa_average_value(hpa: dict[str, Any]) -> str | None:
    paths = _average_value_paths(hpa)
    return str(paths[0][1]) if paths else None


# ---- the worker Deployment: WORKER_MAX_JOBS in the worker container's env ------------------------------


def _container(deployment: dict[str, Any], container: str) -> tuple[int, dict[str, Any]]:
    containers = deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []
    for i, c in enumerate(containers):
        if c.get("name") == container:
            return i, c
    raise LookupError(f"the Deployment has no container named {container!r}")


def env_max_jobs(deployment: dict[str, Any], container: str) -> str | None:
    """The container's explicit WORKER_MAX_JOBS (the operator's); None when the chart's ConfigMap rules."""
    _, c = _container(deployment, container)
    for entry in c.get("env") or []:
        if entry.get("name") == MAX_JOBS_ENV:
            return str(entry.get("value")) if "value" in entry else None
    return None


def deployment_ops(deployment: dict[str, Any], container: str, max_jobs: int | None) -> JSONPatch:
    """Sets the container's WORKER_MAX_JOBS to `max_jobs` (None: removes it, back to the ConfigMap); [] if so."""
    i, c = _container(deployment, container)
    base = f"/spec/template/spec/containers/{i}"
    env = c.get("env")
    # The container, and its env exactly as read: a concurrent change fails the patch instead of doubling an entry.
    guard = [
        {"op": "test", "path": f"{base}/name", "value": container},
        *([{"op": "test", "path": f"{base}/env", "value": env}] if env is not None else []),
    ]
    for j, entry in enumerate(env or []):
        if entry.get("name") == MAX_JOBS_ENV:
            if max_jobs is None:
                return [*guard, {"op": "remove", "path": f"{base}/env/{j}"}]
            if entry.get("value") == str(max_jobs) and "valueFrom" not in entry:
                return []
            new = {"name": MAX_JOBS_ENV, "value": str(max_jobs)}
            return [*guard, {"op": "replace", "path": f"{base}/env/{j}", "value": new}]
    if max_jobs is None:
        return []
    new = {"name": MAX_JOBS_ENV, "value": str(max_jobs)}
    if env is None:
        return [*guard, {"op": "add", "path": f"{base}/env", "value": [new]}]
    return [*guard, {"op": "add", "path": f"{base}/env/-", "value": new}]


def annotation_int(obj: dict[str, Any], key: str) -> int | None:
    value = (obj.get("metadata", {}).get("annotations") or {}).get(key)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
