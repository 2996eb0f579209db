"""Benchmark: chat at the plan's scale, within Claude's Tier 2 budget and over it, against re-emission.

One invocation starts a whole stack (gateway, chat, saves, workers, the simulator at a model's speed)
on isolated stores, seeds one finished estimate per chatting user through the saves service, then:

1. **baseline**: each scope-change message once, the way the product used to do it (the whole estimate
   re-emitted through `revise_estimate`, `max_tokens` 8,000), straight to the simulator;
2. **within budget**: the simulator and the fleet budget at Tier 2 (1,000 RPM, 450,000 input and
   90,000 output tokens a minute); 150 users chatting over the streaming chat (20-40 s think time, one
   message in five a scope change) and 50 users submitting estimates, a ramp then a steady window;
3. **over budget**: the same users with the output-token limit lowered for both the simulator and the
   fleet budget, so that demand clearly exceeds it: do waiting users hear so at once, is the line fair,
   is the limit used, do estimations still complete, does anything reach a 429 upstream?

It writes `loadtests/reports/chat.md`, `chat.json` and `chat.png` (every target PASS or FAIL).

    python -m loadtests.chat_load                                   # 150 + 50 users: about 12 minutes
    python -m loadtests.chat_load --users 4 --estimators 1 --ramp 1 --steady 4 --think 1 2 \\
        --tokens-per-second 5000 --first-token-latency 0 --report /tmp/chat.md         # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from loadtests.chat_baseline import BaselineCall, run_baseline
from loadtests.chat_metrics import Window, sample_simulator, snapshot
from loadtests.chat_report import (
    PhaseRun,
    Settings,
    baseline_figures,
    chart,
    phase_figures,
    report,
    targets,
    trailing_minute,
)
from loadtests.chat_seed import Seeded, create_keys, seed_saves
from loadtests.chat_users import SCOPE_CHANGES, Load, Phase, TurnRecord, chat_turn, chatter, estimation_user
from loadtests.cpu import CpuClock
from loadtests.harness import isolated_stores, machine
from loadtests.read_stack import HOST, free_port
from services.chat.allowance import INITIAL, CallKind, TurnKind, allowance_kind, chat_allowance
from services.chat.settings import ChatSettings
from services.devstack.resolve import Resolved
from services.devstack.supervisor import Stack
from services.llm.budget import FleetBudget
from services.llm.settings import BudgetSettings, ClaudeSettings
from services.shared.local import Ports
from services.simulator.config import SimulatorConfig
from services.simulator.control_api import control_headers
from services.worker.claude_estimate import KIND, estimate_allowance, estimate_initial_tokens
from services.worker.settings import WorkerSettings

SIM_DEFAULTS = SimulatorConfig.model_fields
"""A model's speed is the simulator's default (Claude Sonnet's published figures); passed explicitly all the same."""
BASELINE_USER = 200_000
"""Client addresses of the baseline's edit turns start here, clear of every chatting user's."""
CLIENT_LIMITS = httpx.Limits(max_connections=2000, max_keepalive_connections=500, keepalive_expiry=5)
CLIENT_TIMEOUT = httpx.Timeout(connect=10, read=60, write=10, pool=60)


class Bench:
    """The running stack, its seeded users, and where to read what it counted."""

    def __init__(self, args: argparse.Namespace, stack: Stack, redis_url: str, worker_ports: list[int]) -> None:
        self.args = args
        self.stack = stack
        self.redis_url = redis_url
        self.sim_url = f"http://{HOST}:{stack.ports.simulator}"
        self.sim_headers = control_headers(stack.env_used["SIM_CONTROL_TOKEN"])  # `/_sim/*` needs the token
        self.metric_urls = [f"http://{HOST}:{stack.ports.chat}", *(f"http://{HOST}:{p}" for p in worker_ports)]
        self.seeded: list[Seeded] = []
        self.baseline_saves: list[Seeded] = []
        self.estimator_keys: list[str] = []
        self.turns_sent: list[int] = []
        self.submitted: list[int] = []

    @property
    def load(self) -> Load:
        a = self.args
        return Load(think_s=(a.think[0], a.think[1]), poll_s=a.poll, turn_timeout_s=a.turn_timeout, seed=a.seed)

    def parts(self) -> dict[str, list[int]]:
        running = {name: p.pid for name, p in self.stack.processes.items() if p.poll() is None}
        return {
            "gateway": [pid for name, pid in running.items() if name == "gateway"],
            "chat": [pid for name, pid in running.items() if name == "chat"],
            "saves": [pid for name, pid in running.items() if name == "saves"],
            "workers": [pid for name, pid in running.items() if name.startswith("worker")],
            "simulator": [pid for name, pid in running.items() if name == "simulator"],
            "benchmark users": [os.getpid()],
        }


def stack_env(args: argparse.Namespace) -> dict[str, str]:
    limits = {"RPM": args.rpm, "INPUT_TPM": args.input_tpm, "OUTPUT_TPM": args.output_tpm}
    return {
        **{f"{p}_{k}": str(v) for p in ("SIM", "LLM") for k, v in limits.items()},
        "SIM_TOKENS_PER_SECOND": str(args.tokens_per_second),
        "SIM_FIRST_TOKEN_LATENCY_S": str(args.first_token_latency),
        "LLM_MAX_IN_FLIGHT": str(args.max_in_flight),
        "WORKER_MAX_JOBS": str(args.worker_max_jobs),
        # Each user sends its own address in X-Forwarded-For; per-address request limits then count users.
        "TRUSTED_PROXIES": '["127.0.0.1/32"]',
        "LOG_LEVEL": "WARNING",
    }


async def start_workers(stack: Stack, count: int) -> list[int]:
    """Workers with a metrics port each, so every one's budget counters can be read."""
    ports = [free_port() for _ in range(count)]
    for index, port in enumerate(ports):
        stack.start_worker(f"worker-{index}", {"WORKER_METRICS_PORT": str(port)})
    await stack.wait_ready({f"worker-{i}": f"http://{HOST}:{port}/readyz" for i, port in enumerate(ports)})
    return ports


async def restart_simulator(stack: Stack, **env: str) -> None:
    """The simulator's limits are read at start-up: a new process on the same port takes the new ones."""
    stack.env_used.update(env)
    stack.stop(["simulator"])
    port = stack.ports.simulator
    log = (stack.log_dir or Path(tempfile.gettempdir())) / "simulator-over-budget.log"
    with log.open("ab") as output:
        stack.processes["simulator"] = await asyncio.to_thread(
            subprocess.Popen,
            [sys.executable, "-m", "services.cli", "serve", "simulator", "--host", HOST, "--port", str(port)],
            env=stack.env_used,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    await stack.wait_ready({"simulator": f"http://{HOST}:{port}/readyz"})


async def lower_output_limit(bench: Bench, output_tpm: int) -> None:
    """What an operator does: `estimator budget set --output-tpm` for the fleet; the simulator as the API."""
    redis = aioredis.Redis.from_url(bench.redis_url)
    try:
        await FleetBudget(redis, BudgetSettings()).override({"output_tpm": output_tpm})
    finally:
        await redis.aclose()
    await restart_simulator(bench.stack, SIM_OUTPUT_TPM=str(output_tpm))


async def learned_allowances(redis_url: str) -> dict[str, int]:
    """What each kind of chat call, and an estimation, reserves now, read as the services read it."""
    chat = ChatSettings()
    worker = WorkerSettings()
    redis = aioredis.Redis.from_url(redis_url)
    chat_learner = chat_allowance(redis, chat)
    estimate_learner = estimate_allowance(redis, worker)
    kinds: tuple[TurnKind, ...] = ("answer", "revision")
    calls: tuple[CallKind, ...] = ("first", "follow")
    try:
        learned = {
            f"{kind}/{call}": await chat_learner.tokens(allowance_kind(kind, call), INITIAL[(kind, call)])
            for kind in kinds
            for call in calls
        }
        learned["estimate"] = await estimate_learner.tokens(KIND, estimate_initial_tokens(worker))
        return learned
    finally:
        await redis.aclose()


async def run_phase(bench: Bench, client: httpx.AsyncClient, name: str, output_tpm: int) -> PhaseRun:
    a = bench.args
    phase = Phase(name, a.ramp, a.steady, a.drain)
    run = PhaseRun(phase, output_tpm, Window(), load_before=os.getloadavg()[0], poll_s=a.poll, input_tpm=a.input_tpm)
    print(f"{datetime.now(UTC):%H:%M:%S} phase {name}: output limit {output_tpm}/min", flush=True)
    phase.started = time.monotonic()
    clock = CpuClock(bench.parts())
    users = [
        asyncio.create_task(chatter(client, u, a.users, s, phase, bench.load, bench.turns_sent))
        for u, s in enumerate(bench.seeded)
    ] + [
        asyncio.create_task(estimation_user(client, u, a.estimators, key, phase, bench.load, bench.submitted))
        for u, key in enumerate(bench.estimator_keys)
    ]
    # Its own client: the users' pool may hold connections to a simulator process restarted since.
    observer = httpx.AsyncClient(timeout=CLIENT_TIMEOUT, headers=bench.sim_headers)
    sampler = asyncio.create_task(sample_simulator(observer, bench.sim_url, phase.started, run.window))
    try:
        await asyncio.sleep(max(0.0, phase.ramp_s - phase.now()))
        run.window.start = await snapshot(observer, bench.metric_urls, bench.sim_url, phase.started)
        await asyncio.sleep(max(0.0, phase.end_s - phase.now()))
        run.window.end = await snapshot(observer, bench.metric_urls, bench.sim_url, phase.started)
        run.cores = {part: cores for part, cores in clock.cores().items() if part != "k6"}  # no k6 here
        _, unfinished = await asyncio.wait(users, timeout=max(1.0, phase.end_s + phase.drain_s - phase.now()))
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
    finally:
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
        await observer.aclose()
    for task in users:
        if task.done() and not task.cancelled() and task.exception() is not None:
            print(f"a user failed: {task.exception()!r}", file=sys.stderr, flush=True)
    run.load_after = os.getloadavg()[0]
    run.allowances = await learned_allowances(bench.redis_url)
    # Every turn as its user saw it, for digging into a figure the report only summarises.
    turns = bench.args.report.with_name(f"{bench.args.report.stem}-turns-{name}.jsonl")
    turns.parent.mkdir(parents=True, exist_ok=True)
    turns.write_text("".join(json.dumps(asdict(turn), default=str) + "\n" for turn in phase.turns))
    print(
        f"{datetime.now(UTC):%H:%M:%S} phase {name} over: {len(phase.turns)} turns, "
        f"{len(phase.estimations)} estimations",
        flush=True,
    )
    return run


async def seed(bench: Bench, database_url: str) -> None:
    """Chatters' estimates, estimation users' keys, and an estimate for each baseline message of its own."""
    a = bench.args
    chatters = [f"chatter-{i}" for i in range(a.users)]
    baseline = [f"baseline-{i}" for i in range(a.baseline_requests)]
    estimators = [f"estimator-{i}" for i in range(a.estimators)]
    keys = await create_keys(database_url, [*chatters, *baseline, *estimators])
    saves_url = f"http://{HOST}:{bench.stack.ports.saves}"
    token = bench.stack.env_used["INTERNAL_TOKEN"]
    seeded = await seed_saves(saves_url, token, [*chatters, *baseline], keys[: len(chatters) + len(baseline)])
    bench.seeded, bench.baseline_saves = seeded[: a.users], seeded[a.users :]
    bench.estimator_keys = keys[len(chatters) + len(baseline) :]
    bench.turns_sent = [0] * a.users
    bench.submitted = [0] * a.estimators


async def edit_turns_alone(client: httpx.AsyncClient, bench: Bench, messages: list[str]) -> list[TurnRecord]:
    """The baseline's messages through the product's streaming chat, each on the estimate its re-emission used."""
    phase = Phase("alone", 0.0, math.inf, 0.0, started=time.monotonic())
    records = [TurnRecord(phase.name, BASELINE_USER + i, "scope", m, 0.0) for i, m in enumerate(messages)]

    async def one(record: TurnRecord, seeded: Seeded) -> None:
        try:
            async with asyncio.timeout(bench.args.turn_timeout):
                await chat_turn(client, record.user, seeded, record, phase)
        except (httpx.HTTPError, TimeoutError) as exc:
            record.outcome, record.error_code = "broken", type(exc).__name__

    await asyncio.gather(*(one(r, s) for r, s in zip(records, bench.baseline_saves, strict=True)))
    return records


async def benchmark(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, list[tuple[float, float]]]]:
    if os.environ.get("ANTHROPIC_API_KEY"):
        raise SystemExit("ANTHROPIC_API_KEY is set: this benchmark only runs against the simulator; unset it")
    started = time.monotonic()
    date = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    described = machine()
    async with isolated_stores("bench") as (redis_url, database_url):
        logs = Path(tempfile.mkdtemp(prefix="bench-chat-"))
        print(f"logs: {logs}", flush=True)
        stack = Stack(
            resolved=Resolved(redis_url, database_url, False, False, logs),
            ports=Ports(*(free_port() for _ in range(5))),
            workers=0,
            log_dir=logs,
            extra_env=stack_env(args),
        )
        await stack.start()
        try:
            bench = Bench(args, stack, redis_url, await start_workers(stack, args.workers))
            await seed(bench, database_url)
            print(f"{datetime.now(UTC):%H:%M:%S} seeded {len(bench.seeded)} estimates; baseline", flush=True)
            messages = [SCOPE_CHANGES[i % len(SCOPE_CHANGES)] for i in range(args.baseline_requests)]
            model = ClaudeSettings().anthropic_model
            calls: list[BaselineCall] = await run_baseline(bench.sim_url, model, bench.baseline_saves, messages)
            async with httpx.AsyncClient(
                base_url=stack.gateway_url, limits=CLIENT_LIMITS, timeout=CLIENT_TIMEOUT
            ) as client:
                alone = await edit_turns_alone(client, bench, messages)
                async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT, headers=bench.sim_headers) as control:
                    (await control.post(f"{bench.sim_url}/_sim/reset")).raise_for_status()
                within = await run_phase(bench, client, "within", args.output_tpm)
                await lower_output_limit(bench, args.over_output_tpm)
                over = await run_phase(bench, client, "over", args.over_output_tpm)
        finally:
            stack.stop()
    figures: dict[str, Any] = {
        "date": date,
        "machine": described,
        "wall_s": time.monotonic() - started,
        "within": phase_figures(within),
        "over": phase_figures(over),
        "baseline": baseline_figures(calls, alone, within),
    }
    series = {"within": trailing_minute(within.window), "over": trailing_minute(over.window)}
    return figures, series


def settings_of(args: argparse.Namespace) -> Settings:
    return Settings(
        users=args.users,
        estimators=args.estimators,
        ramp_s=args.ramp,
        steady_s=args.steady,
        drain_s=args.drain,
        think_s=(args.think[0], args.think[1]),
        rpm=args.rpm,
        input_tpm=args.input_tpm,
        output_tpm=args.output_tpm,
        over_output_tpm=args.over_output_tpm,
        tokens_per_second=args.tokens_per_second,
        first_token_latency_s=args.first_token_latency,
        workers=args.workers,
        worker_max_jobs=args.worker_max_jobs,
        max_in_flight=args.max_in_flight,
        seed=args.seed,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=150, help="chatting users (the plan's 15 %% of 1000)")
    parser.add_argument("--estimators", type=int, help="users submitting estimates (default: a third of --users)")
    parser.add_argument("--ramp", type=float, default=30.0, help="seconds over which users arrive, per phase")
    parser.add_argument("--steady", type=float, default=180.0, help="measured seconds after the ramp, per phase")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds left to work in flight after a phase")
    parser.add_argument("--think", type=float, nargs=2, default=[20.0, 40.0], metavar=("MIN", "MAX"))
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between status polls of an estimation")
    parser.add_argument("--turn-timeout", type=float, default=180.0, help="a chat turn read longer is broken")
    parser.add_argument("--rpm", type=int, default=1000)
    parser.add_argument("--input-tpm", type=int, default=450_000)
    parser.add_argument("--output-tpm", type=int, default=90_000, help="within budget (Tier 2)")
    parser.add_argument("--over-output-tpm", type=int, default=30_000, help="the output limit over budget")
    parser.add_argument("--tokens-per-second", type=float, default=SIM_DEFAULTS["tokens_per_second"].default)
    parser.add_argument("--first-token-latency", type=float, default=SIM_DEFAULTS["first_token_latency_s"].default)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-max-jobs", type=int, default=40)
    parser.add_argument("--max-in-flight", type=int, default=50, help="LLM_MAX_IN_FLIGHT (the product's default)")
    parser.add_argument(
        "--baseline-requests", type=int, default=len(SCOPE_CHANGES), help="scope changes re-emitted (cycling the list)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--report", type=Path, default=Path("loadtests/reports/chat.md"))
    args = parser.parse_args(argv)
    if args.estimators is None:
        args.estimators = math.ceil(args.users / 3)
    if args.think[0] > args.think[1]:
        parser.error("--think MIN must not exceed MAX")
    return args


def write(figures: dict[str, Any], series: dict[str, list[tuple[float, float]]], args: argparse.Namespace) -> str:
    png = args.report.with_suffix(".png")
    chart(figures, series, png)
    text = report(figures, settings_of(args), png)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text)
    document = {
        **figures,
        "settings": asdict(settings_of(args)),
        "targets": [{"target": n, "measured": m, "pass": ok} for n, m, ok in targets(figures)],
    }
    args.report.with_suffix(".json").write_text(json.dumps(document, indent=2, default=str, allow_nan=True) + "\n")
    return text


async def run(args: argparse.Namespace) -> str:
    """The benchmark, its report, JSON and chart (next to the report, named after it); returns the report."""
    figures, series = await benchmark(args)
    return await asyncio.to_thread(write, figures, series, args)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print(asyncio.run(run(args)))
    for target in json.loads(args.report.with_suffix(".json").read_text())["targets"]:
        print(f"{'PASS' if target['pass'] else 'FAIL'}  {target['target']}: {target['measured']}")


if __name__ == "__main__":
    main()
