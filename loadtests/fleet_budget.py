"""Benchmark: how much of Claude's output-token limit a full queue really uses, and how many 429s it causes.

Two fleets of worker processes drain the same queue of estimations against the simulator configured
with the given limits, in the same run on the same machine:

- baseline, "per-pod": every worker holds its own budget with the full limits (what a per-replica limiter
  does), so together they ask for more than the organisation has;
- "fleet": every worker draws from the one Redis budget.

For each, the report gives the output tokens produced per minute of the busy period as a share of the
output-token limit (strict: the bucket's initial full minute counted as capacity; steady: after the
first minute) and the number of upstream 429s.

    python -m loadtests.fleet_budget --otpm 20000 --jobs 36 --workers 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from loadtests.harness import isolated_stores, machine
from services.devstack.resolve import Resolved
from services.devstack.supervisor import Stack, create_demo_key
from services.shared.local import Ports
from services.simulator.control_api import control_headers

BULLETS = 8


@dataclass
class Run:
    mode: str
    otpm: int
    samples: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    busy_s: float = 0.0
    finished: int = 0
    failed: int = 0

    @property
    def tokens(self) -> int:
        return int(self.samples[-1][1]["output_tokens"]) if self.samples else 0

    @property
    def rate_limited(self) -> int:
        return int(self.samples[-1][1]["rate_limited"]) if self.samples else 0

    def strict_utilisation(self) -> float:
        capacity = self.otpm * (self.busy_s / 60) + self.otpm
        return self.tokens / capacity

    def minute_rates(self) -> list[float]:
        """Output tokens produced in each trailing minute of the busy period, sampled every second."""
        rates = []
        for t, stats in self.samples:
            earlier = [s for u, s in self.samples if u <= t - 60]
            if earlier:
                rates.append(float(stats["output_tokens"] - earlier[-1]["output_tokens"]))
        return rates

    def steady_utilisation(self) -> float:
        after = [(t, s["output_tokens"]) for t, s in self.samples if t >= 60]
        if len(after) < 2 or after[-1][0] - after[0][0] < 20:
            return float("nan")
        (t0, k0), (t1, k1) = after[0], after[-1]
        return (k1 - k0) / (self.otpm * (t1 - t0) / 60)


def requirements(index: int) -> str:
    features = "\n".join(f"- Feature {index}.{n}: an API endpoint and a page for item {n}" for n in range(BULLETS))
    return f"# Product {index}\n## Features\n{features}\n"


async def run_mode(mode: str, args: argparse.Namespace) -> Run:
    limits = {"rpm": str(args.rpm), "input_tpm": str(args.itpm), "output_tpm": str(args.otpm)}
    run = Run(mode, args.otpm)
    async with isolated_stores() as (redis_url, database_url):
        logs = Path(tempfile.mkdtemp(prefix=f"bench-{mode}-"))
        stack = Stack(
            resolved=Resolved(redis_url, database_url, False, False, logs),
            ports=Ports(*(args.base_port + i for i in range(5))),
            workers=0,
            log_dir=logs,
            extra_env={
                **{f"SIM_{k.upper()}": v for k, v in limits.items()},
                **{f"LLM_{k.upper()}": v for k, v in limits.items()},
                "SIM_TOKENS_PER_SECOND": str(args.tps),
                "SIM_FIRST_TOKEN_LATENCY_S": "0.5",
                "ESTIMATE_MAX_TOKENS": str(args.max_tokens),
                "WORKER_MAX_JOBS": str(args.max_jobs),
                "ESTIMATE_RATE_LIMIT": "100000/minute",
                "LLM_CHAT_RESERVE": "0",
                "LOG_LEVEL": "WARNING",
            },
        )
        await stack.start()
        try:
            for index in range(args.workers):
                prefix = f"bench:pod:{index}" if mode == "per-pod" else "bench:fleet"
                stack.start_worker(f"worker-{index}", {"LLM_BUDGET_PREFIX": prefix})
            key = await create_demo_key(stack.env_used, owner="bench")
            await drive(stack, key, args, run)
        finally:
            stack.stop()
    return run


async def drive(stack: Stack, key: str, args: argparse.Namespace, run: Run) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    sim_url = f"http://127.0.0.1:{stack.ports.simulator}"
    async with (
        httpx.AsyncClient(base_url=stack.gateway_url, headers=headers, timeout=30) as api,
        httpx.AsyncClient(
            base_url=sim_url, headers=control_headers(stack.env_used["SIM_CONTROL_TOKEN"]), timeout=10
        ) as sim,
    ):
        await sim.post("/_sim/reset")
        jobs = [
            (await api.post("/api/estimate", json={"requirements_md": requirements(i), "name": f"bench {i}"})).json()[
                "job_id"
            ]
            for i in range(args.jobs)
        ]
        start = time.monotonic()
        pending = set(jobs)
        while pending and time.monotonic() - start < args.max_seconds:
            run.samples.append((time.monotonic() - start, (await sim.get("/_sim/stats")).json()))
            for job_id in list(pending):
                status = (await api.get(f"/api/estimate/{job_id}/status")).json()["status"]
                if status in ("succeeded", "failed"):
                    pending.discard(job_id)
                    run.finished += status == "succeeded"
                    run.failed += status == "failed"
            await asyncio.sleep(1.0)
        run.busy_s = time.monotonic() - start
        run.samples.append((run.busy_s, (await sim.get("/_sim/stats")).json()))


def report(runs: list[Run], args: argparse.Namespace) -> str:
    rows = [
        f"| {r.mode} | {r.finished}/{args.jobs} | {r.failed} | {r.busy_s:.0f} | {r.tokens} | "
        f"{100 * r.strict_utilisation():.1f}% | {100 * r.steady_utilisation():.1f}% | {r.rate_limited} |"
        for r in runs
    ]
    baseline, fleet = runs
    ratio = fleet.strict_utilisation() / baseline.strict_utilisation() if baseline.strict_utilisation() else 0
    per_minute = fleet.minute_rates()
    return "\n".join(
        [
            f"# Fleet budget benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"Machine: {machine()}",
            f"Simulator limits: {args.rpm} RPM, {args.itpm} input TPM, {args.otpm} output TPM; "
            f"{args.tps} tokens/s per call; {args.jobs} estimations of {BULLETS} features "
            f"(max_tokens {args.max_tokens}); {args.workers} workers, max_jobs {args.max_jobs}.",
            "",
            "| mode | succeeded | failed | busy s | output tokens | used of limit (strict) | "
            "used of limit (steady, after 1st min) | upstream 429s |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Fleet vs per-pod baseline, strict utilisation ratio: {ratio:.2f}. "
            f"Fleet output over trailing minutes: median {statistics.median(per_minute) if per_minute else 0:.0f}, "
            f"max {max(per_minute, default=0):.0f} tokens/min (limit {args.otpm}).",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--otpm", type=int, default=20_000)
    parser.add_argument("--itpm", type=int, default=400_000)
    parser.add_argument("--rpm", type=int, default=500)
    parser.add_argument("--tps", type=float, default=150.0)
    parser.add_argument("--jobs", type=int, default=36)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--max-jobs", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=2200)
    parser.add_argument("--max-seconds", type=float, default=420)
    parser.add_argument("--base-port", type=int, default=18100)
    parser.add_argument("--report", type=Path, default=Path("loadtests/reports/fleet_budget.md"))
    args = parser.parse_args()
    runs = [asyncio.run(run_mode(mode, args)) for mode in ("per-pod", "fleet")]
    text = report(runs, args)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
