"""The operator in this process, against kmock (kopf's Kubernetes API emulator) and this run's real Redis.

kmock serves the bundled built-in resources (apps/v1 Deployments, autoscaling/v2 HPAs, v1 events) and
the LLMBudget resource declared here as the CRD declares it; kopf logs in to it with a login handler
of the test's registry. kubectl cannot talk to kmock, so objects are created, patched and deleted over
HTTP with kmock's own client, which also feeds kopf's watch streams.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import kmock as kmock_lib
import kopf
import pytest
import redis.asyncio as aioredis

from estimator_operator.handlers import run
from estimator_operator.settings import DEFAULT_MAX_JOBS, DEFAULT_MAX_REPLICAS, OperatorSettings
from services.llm.budget import FleetBudget
from services.llm.settings import BudgetSettings

NAMESPACE = "estimator"
WORKER = "estimator-worker"
CHART_MAX_REPLICAS = 4
CHART_MAX_JOBS = 5
BUDGETS = "/apis/estimator.dev/v1alpha1/namespaces/estimator/llmbudgets"
HPA = f"/apis/autoscaling/v2/namespaces/{NAMESPACE}/horizontalpodautoscalers/{WORKER}"
DEPLOYMENT = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{WORKER}"
# Short enough that a drift is put back within a test, long enough not to busy two shared cores.
TIMER_S = 1.0


class Emulator(kmock_lib.KubernetesEmulator):
    """kmock, plus one thing the API server does that kopf's events rely on: a name from `generateName`.

    kmock keeps `resourceVersion` as written (every object here is created with "1"); bumping it on each
    write would make kopf's guarded JSON patches fail against its cached copy, which kmock answers with
    a 500 where a real server answers 409/422 and kopf would re-read.
    """

    async def _handle(self, request: kmock_lib.Request) -> Any:
        if request.action == kmock_lib.action.CREATE and isinstance(request.data, dict):
            meta = request.data.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = f"{meta['generateName']}{uuid.uuid4().hex[:8]}"
            meta.setdefault("resourceVersion", "1")
        return await super()._handle(request)


def chart_hpa() -> dict[str, Any]:
    """The worker HPA as charts/estimator renders it (the queue metric targeted at worker.maxJobs)."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": WORKER,
            "namespace": NAMESPACE,
            "annotations": {DEFAULT_MAX_REPLICAS: str(CHART_MAX_REPLICAS), DEFAULT_MAX_JOBS: str(CHART_MAX_JOBS)},
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": WORKER},
            "minReplicas": 1,
            "maxReplicas": CHART_MAX_REPLICAS,
            "metrics": [
                {
                    "type": "External",
                    "external": {
                        "metric": {"name": "estimator_queue_demand_jobs"},
                        "target": {"type": "AverageValue", "averageValue": str(CHART_MAX_JOBS)},
                    },
                }
            ],
        },
    }


def chart_deployment() -> dict[str, Any]:
    """The worker Deployment as the chart renders it: WORKER_MAX_JOBS comes from its ConfigMap (envFrom)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": WORKER,
            "namespace": NAMESPACE,
            "annotations": {DEFAULT_MAX_JOBS: str(CHART_MAX_JOBS)},
        },
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "worker",
                            "image": "estimator:test",
                            "args": ["worker"],
                            "envFrom": [{"configMapRef": {"name": WORKER}}],
                            "env": [{"name": "REDIS_URL", "valueFrom": {"secretKeyRef": {"name": "s", "key": "r"}}}],
                        }
                    ]
                }
            }
        },
    }


def budget(name: str = "fleet", generation: int = 1, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "estimator.dev/v1alpha1",
        "kind": "LLMBudget",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "generation": generation,
            "uid": str(uuid.uuid4()),
        },
        "spec": {"release": {"workerDeployment": WORKER, "workerHPA": WORKER}, **spec},
    }


@dataclass
class Cluster:
    """The emulated API, the budget the services read, and small helpers to act and to wait."""

    api: kmock_lib.KubernetesEmulator
    redis: aioredis.Redis
    budget: FleetBudget

    async def request(self, method: str, url: str, body: Any = None, content_type: str | None = None) -> Any:
        headers = {"Content-Type": content_type} if content_type else None
        async with self.api.request(method, url, json=body, headers=headers) as response:
            assert response.status < 300, f"{method} {url}: {response.status} {await response.text()}"
            return await response.json()

    async def get(self, url: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("get", url)
        return result

    async def exists(self, url: str) -> bool:
        async with self.api.get(url) as response:
            return response.status == 200

    async def overrides(self) -> dict[str, str]:
        raw = await self.redis.hgetall(self.budget.config_key)  # type: ignore[misc]
        return {k.decode(): v.decode() for k, v in raw.items()}

    async def condition(self, name: str, kind: str) -> dict[str, Any]:
        obj = await self.get(f"{BUDGETS}/{name}")
        for c in obj.get("status", {}).get("conditions", []):
            if c["type"] == kind:
                return dict(c)
        return {}


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def cluster(kmock: kmock_lib.KubernetesEmulator, redis_url: str) -> AsyncIterator[Cluster]:
    kmock.resources.load_bundled()
    kmock.resources["estimator.dev/v1alpha1/llmbudgets"] = kmock_lib.ResourceInfo(
        kind="LLMBudget",
        singular="llmbudget",
        namespaced=True,
        subresources={"status"},
        verbs={"create", "delete", "get", "list", "patch", "update", "watch"},
    )
    kmock.objects["autoscaling/v2/horizontalpodautoscalers", NAMESPACE, WORKER] = chart_hpa()
    kmock.objects["apps/v1/deployments", NAMESPACE, WORKER] = chart_deployment()

    prefix = f"estimator:test-operator:{uuid.uuid4().hex[:8]}:budget"
    settings = OperatorSettings(
        estimator_env="development",
        redis_url=redis_url,
        watch_namespace=NAMESPACE,
        llm_budget_prefix=prefix,
        operator_interval_s=TIMER_S,
    )
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=str(kmock.url))

    # kopf cancels every task started after it when it stops (the test's teardown too), so it runs as it
    # does in a pod: in a thread with an event loop of its own; it reaches kmock and Redis over TCP.
    stop, ready = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            asyncio.run(run(settings, registry=registry, stop_flag=stop, ready_flag=ready))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve, name="operator", daemon=True)
    thread.start()
    redis = aioredis.Redis.from_url(redis_url)
    try:
        assert await asyncio.to_thread(ready.wait, 10), f"the operator did not start: {errors}"
        yield Cluster(kmock, redis, FleetBudget(redis, BudgetSettings(llm_budget_prefix=prefix)))
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 15)
        assert not thread.is_alive(), "the operator did not stop within 15 s of its stop flag"
        assert not errors, f"the operator failed: {errors}"
        await redis.delete(f"{prefix}:config")
        await redis.aclose()
