"""Benchmark: is the read path fast enough for 1000 people using the product at once, and what does it cost
over a bare Starlette + Redis endpoint on the same machine?

Absolute latencies on a shared 2-core machine say as much about the machine as about the code, so
every number here is paired with a baseline measured in the same run. One invocation, on a stack
seeded through the real API (owners with keys from `estimator keys create`, finished estimations):

1. the plan's mix (`loadtests/k6/read_path.js`): 80 % readers, 15 % chatters, 5 % new estimates, 1 to 2 s
   think time, a ramp then a steady period, with the simulator at a realistic speed and the product's
   request limits; k6 thresholds hold reads to p99 < 200 ms and to no error but 429;
2. the same users, same think time, against the bare app (`loadtests/bare_app.py`: one Redis GET);
3. maximum throughput with no think time, status vs bare, alternated (three pairs: the median resists one noisy pair);
4. single-route capacity: status, saves list, save detail, chat history;
5. a fresh gateway replica's RSS after 10,000 and 100,000 requests.

Phases 1 to 4 run the gateway as `--processes` processes sharing one port (`REUSE_PORT`; 2, the chart's
default replica count), and the bare app as the same number, so every ratio compares like with like;
phase 5 measures one process.

It writes `loadtests/reports/read_path.md` (every target marked met or not met) and a latency chart next
to it. Every k6 run is bounded by its own duration and by a kill deadline here.

    python -m loadtests.read_path                                   # 1000 users: about 6 to 7 minutes
    python -m loadtests.read_path --vus 20 --ramp 1 --steady 3 --capacity-seconds 2 \\
        --memory-requests 300 3000 --owners 2 --jobs-per-owner 1 --report /tmp/read.md    # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import psutil

from loadtests.cpu import CpuClock
from loadtests.gateway_metrics import count_between, p99_between, scrape
from loadtests.harness import isolated_stores, machine
from loadtests.k6run import Summary, run_k6
from loadtests.read_report import READ_ROUTES, MemoryPoint, Phase, Results, Settings, chart, report
from loadtests.read_stack import (
    MixLimits,
    bare_app,
    fixtures_env,
    free_port,
    new_stack,
    seed,
    use_mix_limits,
    wait_answering,
    wait_listening,
)
from services.devstack.supervisor import Stack

T = TypeVar("T")
GRACEFUL_STOP_S = 30
THROUGHPUT_USERS = 64
CAPACITY_USERS = 32
MEMORY_USERS = 64
KILL_MARGIN_S = 60
WRITERS = ("chat", "worker-0", "simulator")


class Bench:
    """One run's stack, data and clock: every phase is timed and its load average recorded."""

    def __init__(self, args: argparse.Namespace, stack: Stack, fixtures: dict[str, str], results: Results) -> None:
        self.args = args
        self.stack = stack
        self.fixtures = fixtures
        self.results = results
        self.logs = stack.log_dir or Path(tempfile.mkdtemp())
        self.metrics_urls: list[str] = []
        self.bare_pids: list[int] = []

    def parts(self) -> dict[str, list[int]]:
        running = {name: process.pid for name, process in self.stack.processes.items() if process.poll() is None}
        return {
            "gateways": [pid for name, pid in running.items() if name.startswith("gateway")],
            "saves": [pid for name, pid in running.items() if name == "saves"],
            "chat, worker, simulator": [pid for name, pid in running.items() if name in WRITERS],
            "bare app": self.bare_pids,
        }

    async def phase(self, name: str, work: Awaitable[T]) -> T:
        load_before, clock = os.getloadavg()[0], CpuClock(self.parts())
        outcome = await work
        cores = clock.cores()
        seconds = time.monotonic() - clock.started
        self.results.phases.append(Phase(name, seconds, load_before, os.getloadavg()[0], cores))
        await asyncio.sleep(self.args.pause)
        return outcome

    def mix(self, name: str, base_url: str, target: str) -> Awaitable[Summary]:
        a = self.args
        env = {
            **self.fixtures,
            "BASE_URL": base_url,
            "TARGET": target,
            "VUS": str(a.vus),
            "RAMP": f"{a.ramp}s",
            "STEADY": f"{a.steady}s",
            "GRACEFUL_STOP": f"{GRACEFUL_STOP_S}s",
        }
        return self.phase(name, run_k6("read_path.js", env, self.logs, name, a.ramp + a.steady + 2 * KILL_MARGIN_S))

    def flood(self, name: str, base_url: str, route: str, users: int, seconds: int) -> Awaitable[Summary]:
        env = {**self.fixtures, "BASE_URL": base_url, "ROUTE": route, "VUS": str(users), "DURATION": f"{seconds}s"}
        return self.phase(name, run_k6("flood.js", env, self.logs, name, seconds + KILL_MARGIN_S))

    async def requests(self, name: str, base_url: str, count: int) -> Summary:
        limit = self.args.memory_max_seconds
        env = {
            **self.fixtures,
            "BASE_URL": base_url,
            "ROUTE": "reads",
            "VUS": str(MEMORY_USERS),
            "ITERATIONS": str(count),
            "MAX_DURATION": f"{limit}s",
        }
        return await self.phase(name, run_k6("flood.js", env, self.logs, name, limit + KILL_MARGIN_S))


async def run_mixed(bench: Bench) -> None:
    """The plan's mix against the gateway, the only phase in which anything writes."""
    r = bench.results
    before, _ = await scrape(bench.metrics_urls)
    mixed = await bench.mix("mixed", bench.stack.gateway_url, "gateway")
    after, _ = await scrape(bench.metrics_urls)
    r.gateway_p99 = {route: p99_between(before[route], after[route]) for route in after}
    r.full_collections = count_between(before["full collections"], after["full collections"])
    r.mix = {route: mixed.latency(f"route:{route}") for route in (*READ_ROUTES, "chat", "estimate")}
    r.mix["all reads"] = mixed.latency("kind:read")
    r.mix["chat, answered (200)"] = mixed.latency("route:chat,status:200")
    r.mix["estimate, accepted (202)"] = mixed.latency("route:estimate,status:202")
    r.mix_reads_errors_ok = mixed.threshold_ok("unexpected{kind:read}")
    # Estimates accepted during the mix would keep the worker, chat and simulator busy for minutes; their
    # unfinished work is of no interest, so they are killed rather than drained.
    bench.stack.stop(list(WRITERS), sig=signal.SIGKILL)


async def run_against_bare(bench: Bench, redis_url: str) -> None:
    """The bare app runs only while it is measured, so it takes no CPU from the gateway's other phases."""
    a, r, gateway = bench.args, bench.results, bench.stack.gateway_url
    port = free_port()
    with bare_app(redis_url, port, bench.logs, a.processes) as (bare_url, bare_pids):
        bench.bare_pids = bare_pids
        await wait_answering(f"{bare_url}/doc")
        for pid in bare_pids:
            await wait_listening(pid, port)
        r.bare = (await bench.mix("bare-mixed", bare_url, "bare")).latency("route:bare")
        # Unreported: the first seconds of a flood measure k6 and fresh connections as much as the servers.
        await bench.flood("warm-up-status", gateway, "status", THROUGHPUT_USERS, a.warmup_seconds)
        await bench.flood("warm-up-bare", bare_url, "bare", THROUGHPUT_USERS, a.warmup_seconds)
        for pair in range(1, a.throughput_pairs + 1):
            status = await bench.flood(f"max-status-{pair}", gateway, "status", THROUGHPUT_USERS, a.throughput_seconds)
            bare = await bench.flood(f"max-bare-{pair}", bare_url, "bare", THROUGHPUT_USERS, a.throughput_seconds)
            r.throughput_pairs.append((status.latency("route:status").rps, bare.latency("route:bare").rps))
    bench.bare_pids = []


async def run_capacity(bench: Bench) -> None:
    for route in READ_ROUTES:
        summary = await bench.flood(
            f"capacity-{route}", bench.stack.gateway_url, route, CAPACITY_USERS, bench.args.capacity_seconds
        )
        bench.results.capacity[route] = summary.latency(f"route:{route}")


async def run_memory(bench: Bench, url: str) -> None:
    """On a replica of its own, so the counts start at zero and nothing but this load touches its heap."""
    process = psutil.Process(bench.stack.processes["gateway-memory"].pid)
    sent = 0
    for target in bench.args.memory_requests:
        await bench.requests(f"memory-{target}", url, target - sent)
        sent = target
        await asyncio.sleep(1)
        bench.results.memory.append(MemoryPoint(sent, process.memory_info().rss, (await scrape([url]))[1]))
    bench.stack.stop(["gateway-memory"])


async def benchmark(args: argparse.Namespace) -> Results:
    started = time.monotonic()
    limits = MixLimits(args.estimate_rate_limit, args.chat_rate_limit, args.sim_tokens_per_second)
    settings = Settings(
        users=args.vus,
        ramp_s=args.ramp,
        steady_s=args.steady,
        owners=args.owners,
        jobs_per_owner=args.jobs_per_owner,
        throughput_users=THROUGHPUT_USERS,
        throughput_seconds=args.throughput_seconds,
        capacity_users=CAPACITY_USERS,
        capacity_seconds=args.capacity_seconds,
        memory_users=MEMORY_USERS,
        limits=limits,
        access_log=args.access_log,
        processes=args.processes,
    )
    results = Results(settings, f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", machine())
    async with isolated_stores() as (redis_url, database_url):
        logs = Path(tempfile.mkdtemp(prefix="bench-read-"))
        print(f"logs: {logs}", flush=True)
        stack = new_stack(redis_url, database_url, logs, args.access_log)
        await stack.start()
        try:
            owners = await seed(stack, args.owners, args.jobs_per_owner, args.seed_timeout)
            metrics_urls = await use_mix_limits(stack, limits, args.processes)
            # Started now because a gateway is only ready while the chat service runs, which stops after the mix.
            memory_gateway = await stack.start_gateway("gateway-memory", free_port())
            bench = Bench(args, stack, fixtures_env(owners), results)
            bench.metrics_urls = metrics_urls
            await run_mixed(bench)
            await run_against_bare(bench, redis_url)
            await run_capacity(bench)
            await run_memory(bench, memory_gateway)
        finally:
            stack.stop()
    results.wall_s = time.monotonic() - started
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vus", type=int, default=1000, help="users in the mixed and bare runs")
    parser.add_argument(
        "--processes", type=int, default=2, help="gateway processes sharing its port (and as many of the bare app)"
    )
    parser.add_argument("--ramp", type=int, default=10, help="seconds over which users arrive")
    parser.add_argument("--steady", type=int, default=60, help="seconds all users stay after the ramp")
    parser.add_argument("--throughput-seconds", type=int, default=10, help="per run of the status/bare comparison")
    parser.add_argument("--throughput-pairs", type=int, default=3, help="status/bare pairs, alternated")
    parser.add_argument("--warmup-seconds", type=int, default=3, help="unreported floods before the comparison")
    parser.add_argument("--capacity-seconds", type=int, default=10, help="per route of the capacity table")
    parser.add_argument("--memory-requests", type=int, nargs=2, default=[10_000, 100_000], metavar=("FIRST", "LAST"))
    parser.add_argument("--memory-max-seconds", type=int, default=600, help="bound on each memory load")
    parser.add_argument("--owners", type=int, default=20)
    parser.add_argument("--jobs-per-owner", type=int, default=3)
    parser.add_argument("--estimate-rate-limit", default="5/minute", help="ESTIMATE_RATE_LIMIT during the mix")
    parser.add_argument("--chat-rate-limit", default="20/minute", help="CHAT_RATE_LIMIT during the mix")
    parser.add_argument("--sim-tokens-per-second", type=float, default=60.0, help="the simulator during the mix")
    parser.add_argument(
        "--access-log", action="store_true", help="a log line per request (ACCESS_LOG=true), to measure its cost"
    )
    parser.add_argument("--pause", type=float, default=3.0, help="seconds of rest after each phase")
    parser.add_argument("--seed-timeout", type=float, default=300.0)
    parser.add_argument("--report", type=Path, default=Path("loadtests/reports/read_path.md"))
    args = parser.parse_args(argv)
    if args.memory_requests[0] >= args.memory_requests[1]:
        parser.error("--memory-requests FIRST must be below LAST")
    return args


async def run(args: argparse.Namespace) -> str:
    """The benchmark, its report and its chart (next to the report, named after it); returns the report."""
    results = await benchmark(args)
    png = args.report.with_name(f"{args.report.stem}_latency.png")
    chart(results, png)
    text = report(results, png)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text)
    return text


def main(argv: list[str] | None = None) -> None:
    print(asyncio.run(run(parse_args(argv))))


if __name__ == "__main__":
    main()
