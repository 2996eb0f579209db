"""A whole stack, its own Redis (with a maxmemory) and that Redis' exporter, scraped by a real Prometheus
with the labels a ServiceMonitor gives the series in a cluster; and traffic that exercises every series
the dashboards and alerts read. Used by test_live_prometheus.py and by render.py (`make dashboards`).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from services.devstack.supervisor import Stack, create_demo_key
from services.llm.allowance import MIN_SAMPLES
from tests.api import bearer, requirements, wait_for_job
from tests.github_stub import free_port
from tests.observability.promql import TEMPLATE_VALUES
from tests.prometheus import Prometheus, Target, running_prometheus, stop_process
from tests.sim_control import stack_control_headers
from tests.stacks import isolated_stack, on_stores

NAMESPACE = TEMPLATE_VALUES["namespace"]
FULLNAME = TEMPLATE_VALUES["release"]
REDIS_MAXMEMORY = "256mb"
READY_WITHIN_S = 20
# The gateway refuses the third failed authentication a minute from one address: a rejection to count.
AUTH_FAILURE_LIMIT = "2/minute"


def cluster_labels(component: str) -> dict[str, str]:
    """What a ServiceMonitor puts on a component's series: its namespace, its Service's name, and the job
    (the Service's name too). The apps' own `service` label becomes `exported_service`, as in a cluster."""
    service = f"{FULLNAME}-{component}"
    return {"namespace": NAMESPACE, "service": service, "job": service}


def _binary(name: str, package: str) -> str:
    found = shutil.which(name)
    assert found, f"`{name}` is missing: apt-get install {package} (.ci/run installs it)"
    return found


@contextmanager
def own_redis(workdir: Path) -> Iterator[str]:
    """A redis-server of this run's own, with a maxmemory (the shared test Redis has none to compare with)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with (workdir / "redis.log").open("wb") as log:
        process = subprocess.Popen(
            [
                _binary("redis-server", "redis-server"),
                *("--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"),
                *("--maxmemory", REDIS_MAXMEMORY, "--dir", str(workdir)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"redis://127.0.0.1:{port}"
    finally:
        stop_process(process)


@contextmanager
def redis_exporter(redis_url: str, workdir: Path) -> Iterator[str]:
    """prometheus-redis-exporter (Debian's package) on `redis_url`; yields its host:port."""
    port = free_port()
    with (workdir / "redis-exporter.log").open("wb") as log:
        process = subprocess.Popen(
            [
                _binary("prometheus-redis-exporter", "prometheus-redis-exporter"),
                f"--redis.addr={redis_url}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop_process(process)


@dataclass
class Observed:
    stack: Stack
    api: httpx.AsyncClient
    simulator: httpx.AsyncClient
    prometheus: Prometheus
    redis_url: str

    async def submit(self, title: str) -> str:
        body = {"requirements_md": requirements(title, "login", "search", "export")}
        response = await self.api.post("/api/estimate", json=body)
        assert response.status_code == 202, response.text
        job_id: str = response.json()["job_id"]
        return job_id

    async def arm(self, kind: str, **spec: int) -> None:
        armed = await self.simulator.post("/_sim/faults", json={"kind": kind, **spec})
        assert armed.status_code == 200, armed.text

    async def estimation(self, title: str) -> dict[str, Any]:
        """One estimation to its end, polled on its status route and followed on its event stream."""
        job_id = await self.submit(title)
        async with self.api.stream("GET", f"/api/estimate/{job_id}/events") as events:
            assert events.status_code == 200
            async for _ in events.aiter_lines():
                pass
        return await wait_for_job(self.api, job_id)

    async def read_saves(self, save_id: str, times: int = 5) -> None:
        for _ in range(times):
            assert (await self.api.get("/api/saves")).status_code == 200
            assert (await self.api.get(f"/api/saves/{save_id}")).status_code == 200

    async def chat_turn(self, job_id: str, message: str) -> None:
        """A streamed turn through the gateway; with the tight allowance set up below it is continued."""
        async with self.api.stream(
            "POST",
            f"/api/estimate/{job_id}/chat",
            json={"message": message},
            headers={"Accept": "text/event-stream"},
        ) as response:
            assert response.status_code == 200, await response.aread()
            async for _ in response.aiter_lines():
                pass

    async def tighten_chat_allowance(self) -> None:
        """Answers learn to need 16 tokens (CHAT_MIN_TOKENS=16): the next answers reach it and continue."""
        redis = aioredis.Redis.from_url(self.redis_url)
        try:
            key = f"{self.stack.env_used['CHAT_KEY_PREFIX']}:output:answer:first"
            await redis.lpush(key, *([16] * MIN_SAMPLES))
        finally:
            await redis.aclose()

    async def refused_authentications(self, times: int = 3) -> None:
        async with httpx.AsyncClient(base_url=self.stack.gateway_url, timeout=30) as anonymous:
            statuses = [
                (await anonymous.get("/api/saves", headers=bearer(f"wrong-{uuid.uuid4().hex}"))).status_code
                for _ in range(times)
            ]
        assert 429 in statuses, statuses


async def serve_traffic(observed: Observed) -> None:
    """Every kind of work the dashboards and alerts watch: status polls and event streams, saves reads,
    estimations (one through a 429 and a 529, one failing on a spend limit), a continued chat turn, and
    refused authentications."""
    done = await observed.estimation("Observed")
    assert done["status"] == "succeeded", done
    await observed.read_saves(done["save_id"])
    # Claude throttles (429) and is overloaded (529) once each; the job waits out the retry-after and succeeds.
    await observed.arm("rate_limited", retry_after=1)
    await observed.arm("overloaded", retry_after=1)
    throttled = await observed.estimation("Throttled")
    assert throttled["status"] == "succeeded", throttled
    # A 429 without retry-after is a spend limit: the job fails.
    await observed.arm("spend_limit")
    failed = await observed.estimation("Spent")
    assert failed["status"] == "failed", failed
    await observed.tighten_chat_allowance()
    await observed.chat_turn(done["job_id"], "Why is the search work that many hours?")
    await observed.read_saves(throttled["save_id"])
    await observed.refused_authentications()


async def until_scraped(prometheus: Prometheus, promql: str, within_s: float = 30) -> None:
    for _ in range(int(within_s * 5)):
        if await prometheus.query(promql):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"Prometheus never had {promql}")


@asynccontextmanager
async def observed_stack(
    workdir: Path, database_url: str, github_stub: str, *, scrape_interval_s: float = 1, **env: str
) -> AsyncIterator[Observed]:
    """The stack on its own Redis, that Redis' exporter, and Prometheus scraping all of them."""
    with own_redis(workdir / "redis") as redis_url, redis_exporter(redis_url, workdir) as exporter:
        stack = isolated_stack(
            on_stores(f"{redis_url}/0", database_url, workdir),
            workdir / "logs",
            env={
                "GITHUB_API_URL": github_stub,
                "AUTH_FAILURE_LIMIT": AUTH_FAILURE_LIMIT,
                "CHAT_MIN_TOKENS": "16",
                **env,
            },
        )
        try:
            await stack.start()
            ports = stack.ports
            targets = [
                Target(f"{stack.host}:{ports.gateway}", cluster_labels("gateway")),
                Target(f"{stack.host}:{ports.chat}", cluster_labels("chat")),
                Target(f"{stack.host}:{ports.saves}", cluster_labels("saves")),
                Target(f"{stack.host}:{ports.simulator}", cluster_labels("simulator")),
                Target(f"{stack.host}:{ports.worker_metrics}", cluster_labels("worker")),
                Target(exporter, cluster_labels("redis")),
            ]
            key = await create_demo_key(stack.env_used, owner=f"observed-{uuid.uuid4().hex[:8]}")
            async with (
                running_prometheus(workdir / "prometheus", targets, interval_s=scrape_interval_s) as prometheus,
                httpx.AsyncClient(base_url=stack.gateway_url, headers=bearer(key), timeout=60) as api,
                httpx.AsyncClient(
                    base_url=f"http://{stack.host}:{ports.simulator}", headers=stack_control_headers(stack), timeout=30
                ) as simulator,
            ):
                yield Observed(stack, api, simulator, prometheus, f"{redis_url}/0")
        finally:
            stack.stop()


def describe(result: list[dict[str, Any]]) -> str:
    return json.dumps(result)[:300]
