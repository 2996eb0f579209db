"""Benchmark: the capacity model's forecast against a measured queue (`make bench-capacity`).

The stack runs with one worker of `--servers` slots and a fleet budget, set the way the operator sets it,
to the limits at which the model says the budget feeds exactly that many estimations. A calibration
wave measures what the model takes as input (an estimation's duration, its spread and its output
tokens). Then, at 50 % and 90 % of capacity, estimations are submitted as a Poisson stream, and each
job's own timestamps give its queue wait (`started_at - created_at`) and its service time.

Two forecasts are compared with the measurement:
- the model's own (`forecast`: 20,000 simulated jobs), which is what `estimator capacity` prints and what
  the operator acts on; the 25 % bar (issue 12) applies to it and to the utilisation;
- the same model replayed on the arrivals actually sent (`replay`, 200 draws of the service times), as a
  diagnostic. It was meant as the fairer test (a few hundred jobs are one draw of a noisy process), but it
  misses by 44-95 %: under load an estimation takes 7-14 % longer than in the calibration (the budget's
  admission and the 2-core machine), which at 90 % load is the difference between a busy queue and an
  almost saturated one. The report shows the service time in the run beside it.

    python -m loadtests.capacity --servers 4 --jobs 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from loadtests.harness import isolated_stores, machine
from services.devstack.resolve import Resolved
from services.devstack.supervisor import Stack, create_demo_key
from services.llm.budget import FleetBudget
from services.llm.settings import BudgetSettings
from services.shared.capacity import Limits, Mix, forecast, plan, replay
from tests.stacks import free_ports

# Requirements of 2 to 10 features, so that estimations vary in length as real ones do.
MIN_FEATURES, FEATURE_SPREAD = 2, 9
CALIBRATION_WAVES = 4
PICKUP_S = 0.5  # ARQ's poll delay: a free slot takes the next job up to this late
TOLERANCE = 0.25
REPLICATIONS = 200
UNLIMITED = "100000000"


@dataclass(frozen=True)
class Job:
    created: float
    started: float
    finished: float
    output_tokens: int

    @property
    def wait(self) -> float:
        return self.started - self.created

    @property
    def service(self) -> float:
        return self.finished - self.started


@dataclass(frozen=True)
class Phase:
    load: float
    arrivals_per_min: float
    jobs: int
    measured_wait_p50_s: float
    measured_wait_p95_s: float
    measured_utilisation: float
    measured_service_s: float
    predicted_wait_p95_s: float
    forecast_wait_p95_s: float
    mmc_wait_p95_s: float
    predicted_utilisation: float

    @property
    def wait_error(self) -> float:
        return abs(self.measured_wait_p95_s - self.predicted_wait_p95_s) / self.predicted_wait_p95_s

    @property
    def forecast_error(self) -> float:
        return abs(self.measured_wait_p95_s - self.forecast_wait_p95_s) / self.forecast_wait_p95_s

    @property
    def utilisation_error(self) -> float:
        return abs(self.measured_utilisation - self.predicted_utilisation) / self.predicted_utilisation

    @property
    def passed(self) -> bool:
        return self.forecast_error <= TOLERANCE and self.utilisation_error <= TOLERANCE


def requirements(index: int) -> str:
    count = MIN_FEATURES + (index * 7919) % FEATURE_SPREAD
    features = "\n".join(f"- Feature {index}.{n}: an API endpoint and a page for item {n}" for n in range(count))
    return f"# Product {index}\n## Features\n{features}\n"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))]


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


async def submit(api: httpx.AsyncClient, index: int) -> str:
    response = await api.post("/api/estimate", json={"requirements_md": requirements(index)})
    response.raise_for_status()
    job_id: str = response.json()["job_id"]
    return job_id


async def finished(api: httpx.AsyncClient, job_ids: list[str], timeout_s: float) -> list[Job]:
    deadline = time.monotonic() + timeout_s
    done: dict[str, dict[str, Any]] = {}
    while len(done) < len(job_ids):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(job_ids) - len(done)} jobs still running after {timeout_s:.0f} s")
        for job_id in job_ids:
            if job_id not in done:
                status = (await api.get(f"/api/estimate/{job_id}/status")).json()
                if status["status"] in ("succeeded", "failed"):
                    if status["status"] == "failed":
                        raise RuntimeError(f"job {job_id} failed: {status.get('error')}")
                    done[job_id] = status
        await asyncio.sleep(1)
    return [
        Job(
            _seconds(s["created_at"]),
            _seconds(s["started_at"]),
            _seconds(s["updated_at"]),
            int(s["usage"]["output_tokens"]),
        )
        for s in (done[job_id] for job_id in job_ids)
    ]


def utilisation(jobs: list[Job], servers: int) -> float:
    """Busy slot-seconds over available slot-seconds while arrivals last (the drain at the end left out)."""
    start, end = min(j.created for j in jobs), max(j.created for j in jobs)
    busy = sum(max(0.0, min(j.finished, end) - max(j.started, start)) for j in jobs)
    return busy / (servers * (end - start))


def conditional_p95(jobs: list[Job], servers: int, service_s: float, cv: float) -> float:
    """The model's p95 wait for the arrivals actually sent, pooled over many draws of the service times."""
    first = min(j.created for j in jobs)
    arrivals = sorted(j.created - first for j in jobs)
    rng = random.Random(11)
    waits: list[float] = []
    for _ in range(REPLICATIONS):
        waits += replay(arrivals, servers, service_s, cv, pickup_s=PICKUP_S, rng=rng)
    return p95(waits)


async def run_phase(
    api: httpx.AsyncClient, load: float, servers: int, mix: Mix, jobs: int, seed: int, offset: int
) -> Phase:
    duration = mix.estimate_duration_s
    rate = load * servers / duration
    rng = random.Random(seed)
    job_ids: list[str] = []
    clock = time.monotonic()
    for index in range(jobs):
        clock += rng.expovariate(rate)
        await asyncio.sleep(max(0.0, clock - time.monotonic()))
        job_ids.append(await submit(api, offset + index))
    measured = await finished(api, job_ids, timeout_s=duration * jobs)
    model = forecast(rate, servers, duration, mix.estimate_time_cv, PICKUP_S)
    return Phase(
        load=load,
        arrivals_per_min=rate * 60,
        jobs=jobs,
        measured_wait_p50_s=statistics.median(j.wait for j in measured),
        measured_wait_p95_s=p95([j.wait for j in measured]),
        measured_utilisation=utilisation(measured, servers),
        measured_service_s=statistics.mean(j.service for j in measured),
        predicted_wait_p95_s=conditional_p95(measured, servers, duration, mix.estimate_time_cv),
        forecast_wait_p95_s=model.wait_p95_s,
        mmc_wait_p95_s=model.wait_p95_mmc_s,
        predicted_utilisation=model.utilisation,
    )


async def calibrate(api: httpx.AsyncClient, servers: int) -> tuple[Mix, list[Job]]:
    """Waves of `servers` estimations, none queued: what one estimation takes, as the model's input."""
    jobs: list[Job] = []
    for wave in range(CALIBRATION_WAVES):
        ids = [await submit(api, 10_000 + wave * servers + i) for i in range(servers)]
        jobs += await finished(api, ids, timeout_s=600)
    measured = jobs[servers:]  # the first wave also taught the output allowance
    services = [j.service for j in measured]
    duration = statistics.mean(services)
    tokens = round(statistics.mean(j.output_tokens for j in measured))
    mix = Mix(
        estimate_output_tokens=tokens,
        tokens_per_second=tokens / duration,
        first_token_s=0.0,
        estimate_time_cv=statistics.pstdev(services) / duration,
        worker_poll_s=PICKUP_S,
    )
    return mix, measured


def budget_for(servers: int, mix: Mix) -> Limits:
    """Limits at which the budget feeds `servers` estimations and a little more (never one more)."""
    per_estimation_per_min = mix.estimate_output_tokens * 60 / mix.estimate_duration_s
    return Limits(rpm=10_000, input_tpm=100_000_000, output_tpm=math.ceil((servers + 0.9) * per_estimation_per_min))


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    async with isolated_stores("bench") as (redis_url, database_url):
        logs = Path(tempfile.mkdtemp(prefix="bench-capacity-"))
        prefix = f"bench:capacity:{uuid.uuid4().hex[:8]}"
        stack = Stack(
            resolved=Resolved(redis_url, database_url, False, False, logs),
            ports=free_ports(),
            workers=1,
            log_dir=logs,
            extra_env={
                "SIM_TOKENS_PER_SECOND": str(args.tps),
                "SIM_FIRST_TOKEN_LATENCY_S": "1.0",
                "SIM_RPM": UNLIMITED,
                "SIM_INPUT_TPM": UNLIMITED,
                "SIM_OUTPUT_TPM": UNLIMITED,
                "LLM_CHAT_RESERVE": "0",
                "LLM_BUDGET_PREFIX": prefix,
                "QUEUE_NAME": f"estimator:queue:bench:{uuid.uuid4().hex[:8]}",
                "WORKER_MAX_JOBS": str(args.servers),
                "ESTIMATE_RATE_LIMIT": "100000/minute",
                "LOG_LEVEL": "WARNING",
            },
        )
        await stack.start()
        try:
            key = await create_demo_key(stack.env_used, owner="bench-capacity")
            async with httpx.AsyncClient(
                base_url=stack.gateway_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
            ) as api:
                mix, calibration = await calibrate(api, args.servers)
                limits = budget_for(args.servers, mix)
                planned = plan(limits, chat_reserve=0, mix=mix, max_jobs=args.servers)
                if planned.worker_max_jobs * planned.worker_max_replicas != args.servers:
                    raise RuntimeError(f"the model sizes {planned} for these limits, not {args.servers} slots")
                redis = aioredis.Redis.from_url(redis_url)
                try:  # what the operator does: the fleet's budget, for every process at once
                    await FleetBudget(redis, BudgetSettings(llm_budget_prefix=prefix)).override(
                        {"rpm": limits.rpm, "input_tpm": limits.input_tpm, "output_tpm": limits.output_tpm}
                    )
                finally:
                    await redis.aclose()
                phases = [
                    await run_phase(api, load, args.servers, mix, args.jobs, seed=index, offset=index * 1000)
                    for index, load in enumerate(args.loads)
                ]
        finally:
            stack.stop()
    return {"mix": mix, "limits": limits, "plan": planned, "calibration": calibration, "phases": phases}


def report(result: dict[str, Any], args: argparse.Namespace, started: datetime) -> str:
    mix: Mix = result["mix"]
    limits: Limits = result["limits"]
    phases: list[Phase] = result["phases"]
    rows = [
        f"| {p.load:.0%} | {p.arrivals_per_min:.1f} | {p.jobs} | {p.measured_wait_p50_s:.1f} s "
        f"| **{p.measured_wait_p95_s:.1f} s** | **{p.forecast_wait_p95_s:.1f} s** ({p.forecast_error:.0%}) "
        f"| {p.predicted_wait_p95_s:.1f} s ({p.wait_error:.0%}) | {p.mmc_wait_p95_s:.1f} s "
        f"| {p.measured_service_s:.2f} s "
        f"| **{p.measured_utilisation:.0%}** | **{p.predicted_utilisation:.0%}** ({p.utilisation_error:.0%}) "
        f"| {'PASS' if p.passed else 'FAIL'} |"
        for p in phases
    ]
    return "\n".join(
        [
            f"# Capacity model vs measurement — {started:%Y-%m-%d %H:%M} UTC",
            "",
            f"Machine: {machine()}",
            "",
            f"One worker of {args.servers} slots; the simulator at {args.tps:g} tokens/s after a 1 s first token. "
            f"Calibration ({len(result['calibration'])} estimations, none queued): "
            f"{mix.estimate_output_tokens:,} output tokens over {mix.estimate_duration_s:.2f} s on average, "
            f"spread (CV) {mix.estimate_time_cv:.2f}. Fleet budget set to {limits.output_tpm:,} output tokens a "
            f"minute, where the model feeds {result['plan'].estimation_concurrency} estimations at once.",
            "",
            "| load | arrivals/min | jobs | wait p50 measured | wait p95 measured | wait p95 forecast "
            "(the model) | replayed on the arrivals sent | M/M/c p95 | service time in the run "
            "| utilisation measured | utilisation predicted | within 25 % |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Waits are each job's `started_at - created_at`; utilisation is busy slot time over slot time while "
            "arrivals last. The forecast is the model on its own 20,000 Poisson arrivals (lognormal service "
            f"times with the calibrated mean and spread, plus ARQ's pickup of up to {PICKUP_S} s): what "
            "`estimator capacity` prints and the 25 % bar applies to, with the utilisation. The replay runs the "
            f"same model on the arrival times actually sent ({REPLICATIONS} draws of the service times); it "
            "misses because an estimation takes longer under load than in the calibration (service time in the "
            "run), which the model does not know.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=150, help="estimations per load level")
    parser.add_argument("--tps", type=float, default=300.0, help="simulator output tokens per second")
    parser.add_argument("--loads", type=float, nargs="+", default=[0.5, 0.9])
    parser.add_argument("--report", type=Path, default=Path("loadtests/reports/capacity.md"))
    args = parser.parse_args()
    started = datetime.now(UTC)
    result = asyncio.run(bench(args))
    text = report(result, args, started)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text + "\n")
    raw = {
        "mix": asdict(result["mix"]),
        "limits": asdict(result["limits"]),
        "phases": [{**asdict(p), "passed": p.passed} for p in result["phases"]],
    }
    args.report.with_suffix(".json").write_text(json.dumps(raw, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
