"""The stack the read-path benchmark measures, its seed data, and the bare app it is compared with.

Seeding wants a fast simulator and no request limits (it is set-up, not measurement); the mixed run
wants the simulator at a realistic speed and the product's request limits, so chat and estimates wait
on the model the way they would in production instead of burning CPU. The simulator and the gateway
are therefore restarted between the two, on the same ports and stores. From then on the gateway runs as
several processes on one port (`REUSE_PORT`), as the chart's replicas share a Service in a cluster; each
keeps a metrics port of its own, which is how the benchmark reads what each one measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from services.devstack.resolve import Resolved
from services.devstack.supervisor import Stack, create_demo_key
from services.shared.local import Ports

UNLIMITED = "100000000"
HOST = "127.0.0.1"


@dataclass
class Owner:
    key: str
    job_ids: list[str] = field(default_factory=list)
    save_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MixLimits:
    """What the mixed run is allowed, written into the report so the numbers can be read against it."""

    estimate_rate: str
    chat_rate: str
    sim_tokens_per_second: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def fixtures_env(owners: list[Owner]) -> dict[str, str]:
    """The seeded data as the k6 scripts read it (see loadtests/k6/common.js)."""
    return {
        "API_KEYS": ",".join(o.key for o in owners),
        "JOB_IDS": ";".join(",".join(o.job_ids) for o in owners),
        "SAVE_IDS": ";".join(",".join(o.save_ids) for o in owners),
    }


def new_stack(redis_url: str, database_url: str, logs: Path, access_log: bool) -> Stack:
    """Claude's budget and the simulator's limits are lifted for good, so the model is never what is measured;
    one worker with room for many jobs, since estimations mostly wait on the simulator. Logs are a
    deployment's (JSON lines at INFO), `access_log` adding a line per request as `ACCESS_LOG=true` does."""
    return Stack(
        resolved=Resolved(redis_url, database_url, False, False, logs),
        ports=Ports(*(free_port() for _ in range(5))),
        workers=1,
        log_dir=logs,
        extra_env={
            "SIM_TOKENS_PER_SECOND": "20000",
            "SIM_FIRST_TOKEN_LATENCY_S": "0",
            **{f"{p}_{k}": UNLIMITED for p in ("SIM", "LLM") for k in ("RPM", "INPUT_TPM", "OUTPUT_TPM")},
            "LLM_MAX_IN_FLIGHT": "1000",
            "WORKER_MAX_JOBS": "50",
            "ESTIMATE_RATE_LIMIT": "100000/minute",
            "CHAT_RATE_LIMIT": "100000/minute",
            # k6 sends each user's own address in X-Forwarded-For; per-IP limits then count users.
            "TRUSTED_PROXIES": '["127.0.0.1/32"]',
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
            "ACCESS_LOG": "true" if access_log else "false",
        },
    )


def requirements(owner: int, job: int) -> str:
    return f"# Product {owner}.{job}\n## Features\n- Sign-up and login\n- A dashboard of orders\n- CSV export\n"


async def seed(stack: Stack, owners: int, jobs_per_owner: int, timeout_s: float) -> list[Owner]:
    """Owners with finished estimations, made the way users make them: keys by the CLI, jobs by the API."""
    parallel_keys = asyncio.Semaphore(4)

    async def new_owner(index: int) -> Owner:
        async with parallel_keys:
            return Owner(await create_demo_key(stack.env_used, owner=f"reader-{index}"))

    seeded = list(await asyncio.gather(*(new_owner(i) for i in range(owners))))
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as api:
        for index, owner in enumerate(seeded):
            for job in range(jobs_per_owner):
                response = await api.post(
                    "/api/estimate",
                    json={"requirements_md": requirements(index, job)},
                    headers={"Authorization": f"Bearer {owner.key}"},
                )
                response.raise_for_status()
                owner.job_ids.append(response.json()["job_id"])
        deadline = time.monotonic() + timeout_s
        for owner in seeded:
            for job_id in owner.job_ids:
                owner.save_ids.append(await finished_save(api, owner.key, job_id, deadline))
    return seeded


async def finished_save(api: httpx.AsyncClient, key: str, job_id: str, deadline: float) -> str:
    """Chatters may only chat on a succeeded job, so seeding waits for every one to succeed."""
    while time.monotonic() < deadline:
        status = (await api.get(f"/api/estimate/{job_id}/status", headers={"Authorization": f"Bearer {key}"})).json()
        if status["status"] == "succeeded":
            return str(status["save_id"])
        if status["status"] == "failed":
            raise RuntimeError(f"seeding estimation {job_id} failed: {status.get('error')}")
        await asyncio.sleep(0.2)
    raise RuntimeError(f"seeding estimation {job_id} did not finish in time")


async def use_mix_limits(stack: Stack, limits: MixLimits, gateways: int) -> list[str]:
    """Restarts the simulator with the mixed run's settings, and the gateway as `gateways` processes sharing
    its port; returns their metrics URLs."""
    stack.env_used.update(
        ESTIMATE_RATE_LIMIT=limits.estimate_rate,
        CHAT_RATE_LIMIT=limits.chat_rate,
        SIM_TOKENS_PER_SECOND=str(limits.sim_tokens_per_second),
    )
    stack.env_used.pop("SIM_FIRST_TOKEN_LATENCY_S", None)
    stack.stop(["simulator", "gateway"])
    port = stack.ports.simulator
    log = (stack.log_dir or Path(".")) / "simulator-mix.log"
    with log.open("ab") as output:
        stack.processes["simulator"] = await asyncio.to_thread(
            subprocess.Popen,
            [sys.executable, "-m", "services.cli", "serve", "simulator", "--host", HOST, "--port", str(port)],
            env=stack.env_used,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    await stack.wait_ready({"simulator": f"http://{HOST}:{port}/readyz"})
    metrics = []
    for replica in range(gateways):
        name, metrics_port = "gateway" if replica == 0 else f"gateway-{replica}", free_port()
        await stack.start_gateway(name, stack.ports.gateway, {"REUSE_PORT": "true", "METRICS_PORT": str(metrics_port)})
        await wait_listening(stack.processes[name].pid, stack.ports.gateway)
        metrics.append(f"http://{HOST}:{metrics_port}")
    return metrics


async def wait_listening(pid: int, port: int, timeout_s: float = 30.0) -> None:
    """`/readyz` on a shared port may be answered by a replica started before: this waits for this one."""
    deadline = time.monotonic() + timeout_s
    process = psutil.Process(pid)
    while not any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in process.net_connections("tcp")):
        if time.monotonic() > deadline:
            raise RuntimeError(f"process {pid} is not listening on {port}")
        await asyncio.sleep(0.2)


@contextlib.contextmanager
def bare_app(redis_url: str, port: int, logs: Path, processes: int) -> Iterator[tuple[str, list[int]]]:
    """The bare baseline as `processes` processes sharing a port on loopback (its URL and their pids), as many as
    the gateway's; stopped, or killed if stuck, after."""
    command = [
        sys.executable,
        "-m",
        "loadtests.bare_app",
        "--redis-url",
        redis_url,
        "--host",
        HOST,
        "--port",
        str(port),
    ]
    started: list[subprocess.Popen[bytes]] = []
    try:
        with (logs / "bare-app.log").open("ab") as output:
            for _ in range(processes):
                started.append(subprocess.Popen([*command, "--reuse-port"], stdout=output, stderr=subprocess.STDOUT))
        yield f"http://{HOST}:{port}", [process.pid for process in started]
    finally:
        for process in started:
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def wait_answering(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer in time")
            await asyncio.sleep(0.2)
