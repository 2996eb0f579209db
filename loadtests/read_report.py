"""The read-path benchmark's results, its Markdown report and its latency chart.

Every target is shown next to what was measured and marked met or not met, because the numbers of a
shared 2-core machine move from run to run and a reader should not have to do the comparison by hand.
Absolute numbers are always paired with the bare baseline measured in the same run.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from loadtests.k6run import Latency
from loadtests.read_stack import MixLimits

READ_ROUTES = ("status", "saves_list", "save_detail", "chat_history")
MIX_ROWS = (*READ_ROUTES, "all reads", "chat", "chat, answered (200)", "estimate", "estimate, accepted (202)")
READ_P99_MUST_MS = 200.0
READ_P99_AIM_MS = 20.0
STATUS_VS_BARE = 0.7
ROUTE_VS_STATUS = 0.5
MEMORY_GROWTH_PCT = 5.0
MIB = 1024 * 1024


@dataclass(frozen=True)
class Phase:
    name: str
    seconds: float
    load_before: float
    load_after: float
    cores: dict[str, float]


@dataclass(frozen=True)
class MemoryPoint:
    requests: int
    rss_bytes: int
    counted_by_gateway: int


@dataclass(frozen=True)
class Settings:
    users: int
    ramp_s: int
    steady_s: int
    owners: int
    jobs_per_owner: int
    throughput_users: int
    throughput_seconds: int
    capacity_users: int
    capacity_seconds: int
    memory_users: int
    limits: MixLimits
    access_log: bool
    processes: int


@dataclass
class Results:
    settings: Settings
    date: str
    machine: str
    mix: dict[str, Latency] = field(default_factory=dict)
    gateway_p99: dict[str, str] = field(default_factory=dict)
    full_collections: int = 0
    mix_reads_errors_ok: bool = False
    bare: Latency | None = None
    throughput_pairs: list[tuple[float, float]] = field(default_factory=list)
    capacity: dict[str, Latency] = field(default_factory=dict)
    memory: list[MemoryPoint] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def status_vs_bare(self) -> float:
        """The median over the alternated pairs, so one noisy interval on a shared machine weighs less."""
        return statistics.median(s / b if b else 0.0 for s, b in self.throughput_pairs)

    def vs_status(self, route: str) -> float:
        status = self.capacity["status"].rps
        return self.capacity[route].rps / status if status else 0.0

    @property
    def memory_growth_pct(self) -> float:
        first, last = self.memory[0].rss_bytes, self.memory[-1].rss_bytes
        return 100 * (last - first) / first if first else 0.0


def ms(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def latency_row(name: str, s: Latency, gateway_p99: str = "") -> str:
    return (
        f"| {name} | {s.count} | {s.rps:.1f} | {ms(s.p50)} | {ms(s.p95)} | {ms(s.p99)} | {gateway_p99} | "
        f"{pct(s.unexpected)} | {pct(s.throttled)} | {pct(s.conflicted)} |"
    )


def full_collections(r: Results) -> str:
    if not r.full_collections:
        return "It made no full garbage collection meanwhile."
    made = (
        "one full garbage collection" if r.full_collections == 1 else f"{r.full_collections} full garbage collections"
    )
    return (
        f"It made {made} meanwhile, the longest {r.gateway_p99.get('full collections', 'n/a')} ms "
        "(`estimator_gc_pause_seconds`), each stopping every request in its process."
    )


def mix_section(r: Results) -> list[str]:
    st = r.settings
    bare = [latency_row("bare baseline (own run)", r.bare)] if r.bare else []
    return [
        f"## Mixed run: {st.users} users",
        "",
        "| route | requests | req/s | p50 ms | p95 ms | p99 ms | gateway-side p99 ms | errors | 429s | 409s |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(latency_row(name, r.mix[name], r.gateway_p99.get(name, "")) for name in MIX_ROWS if name in r.mix),
        *bare,
        "",
        "Latencies are k6's, on the client side, so they include time queued behind a busy CPU. req/s is over "
        "the whole run, ramp included. The gateway-side p99 is the bucket of the gateway's own histogram that "
        "holds it (time in the handler and middleware only); far below k6's p99, the time went to waiting before "
        "the handler ran. The bare baseline is a separate run of the same users, with the same "
        "arrival and think time, all reading the bare app's one endpoint (one Redis GET) while the stack idles. "
        "Errors are answers other than a success, a 429 or, for a write, a 409; 409s are chat turns refused "
        "because another user of the same owner was already chatting about that estimate (`turn_in_progress`).",
        "",
        "The gateway's event loops woke a task due every 0.25 s late by p99 "
        f"{r.gateway_p99.get('event loop lag', 'n/a')} ms during the mixed run "
        "(`estimator_event_loop_lag_seconds` over all its processes, the same bucket reading): every request in "
        f"a process waited about that long before its handler ran. {full_collections(r)}",
        "",
    ]


def throughput_section(r: Results) -> list[str]:
    st = r.settings
    rows = [f"| {i} | {s:.0f} | {b:.0f} | {s / b if b else 0:.2f} |" for i, (s, b) in enumerate(r.throughput_pairs, 1)]
    return [
        f"## Maximum throughput: status vs bare ({st.throughput_users} users, no think time)",
        "",
        "| pair | status req/s | bare req/s | status / bare |",
        "|---|---|---|---|",
        *rows,
        "",
        f"Status / bare (median of the pairs): **{r.status_vs_bare:.2f}**. Runs of {st.throughput_seconds} s, "
        "alternated (status, bare, status, bare, …) so drift in the machine's load hits both alike.",
        "",
    ]


def capacity_section(r: Results) -> list[str]:
    st = r.settings
    rows = [
        f"| {route} | {s.rps:.0f} | {r.vs_status(route):.2f} | {ms(s.p50)} | {ms(s.p99)} | {pct(s.unexpected)} |"
        for route, s in r.capacity.items()
    ]
    return [
        f"## Single-route capacity ({st.capacity_users} users, no think time, {st.capacity_seconds} s per route)",
        "",
        "| route | req/s | ratio to status | p50 ms | p99 ms | errors (non-429) |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]


def memory_section(r: Results) -> list[str]:
    rows = [f"| {p.requests} | {p.rss_bytes / MIB:.1f} | {p.counted_by_gateway} |" for p in r.memory]
    return [
        "## Gateway memory",
        "",
        "| requests sent | RSS MiB | requests counted by the gateway (/metrics) |",
        "|---|---|---|",
        *rows,
        "",
        f"Growth from the first to the last point: **{r.memory_growth_pct:.1f}%**. A gateway replica started for "
        f"this measurement alone, fed the mixed run's reads by {r.settings.memory_users} users with no think time; "
        "RSS from psutil.",
        "",
    ]


def targets_section(r: Results) -> list[str]:
    reads = r.mix["all reads"]
    worst = max((r.mix[route] for route in READ_ROUTES), key=lambda s: s.p99)
    errors = max(r.mix[route].unexpected for route in READ_ROUTES)
    rows = [
        ("reads p99 < 200 ms (must), all reads", f"{ms(reads.p99)} ms", reads.p99 < READ_P99_MUST_MS),
        ("reads p99 < 200 ms (must), slowest read route", f"{ms(worst.p99)} ms", worst.p99 < READ_P99_MUST_MS),
        ("reads p99 ≤ 20 ms (aim), all reads", f"{ms(reads.p99)} ms", reads.p99 <= READ_P99_AIM_MS),
        ("no non-429 errors on reads (must)", pct(errors), errors == 0 and r.mix_reads_errors_ok),
        ("status throughput ≥ 0.7x bare", f"{r.status_vs_bare:.2f}x", r.status_vs_bare >= STATUS_VS_BARE),
        (
            "saves list capacity ≥ 0.5x status",
            f"{r.vs_status('saves_list'):.2f}x",
            r.vs_status("saves_list") >= ROUTE_VS_STATUS,
        ),
        (
            "save detail capacity ≥ 0.5x status",
            f"{r.vs_status('save_detail'):.2f}x",
            r.vs_status("save_detail") >= ROUTE_VS_STATUS,
        ),
        ("gateway memory growth ≤ 5 %", f"{r.memory_growth_pct:.1f}%", r.memory_growth_pct <= MEMORY_GROWTH_PCT),
    ]
    return [
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
        *(f"| {name} | {value} | {met(ok)} |" for name, value, ok in rows),
        "",
    ]


CPU_PARTS = ("gateways", "saves", "chat, worker, simulator", "bare app", "k6", "whole machine")


def load_section(r: Results) -> list[str]:
    rows = [
        f"| {p.name} | {p.seconds:.0f} | {p.load_before:.2f} → {p.load_after:.2f} | "
        + " | ".join(f"{p.cores.get(part, 0.0):.2f}" for part in CPU_PARTS)
        + " |"
        for p in r.phases
    ]
    return [
        "## Load and CPU per phase",
        "",
        "CPU in cores (1.00 = one core busy for the whole phase); the whole machine includes Redis, PostgreSQL "
        "and anything else running on it.",
        "",
        "| phase | seconds | load average (1 min) before → after | " + " | ".join(CPU_PARTS) + " |",
        "|---|---|---|" + "---|" * len(CPU_PARTS),
        *rows,
        "",
    ]


def report(r: Results, chart: Path) -> str:
    st = r.settings
    lim = st.limits
    return "\n".join(
        [
            f"# Read-path benchmark — {r.date}",
            "",
            f"Machine: {r.machine}. The whole run took {r.wall_s / 60:.1f} min. k6 runs on the same machine and "
            "competes with the services for its cores.",
            "",
            f"The gateway runs as {st.processes} process{'es' if st.processes > 1 else ''} sharing one port "
            "(`REUSE_PORT`), as the chart's replicas share a Service; the bare app runs as many processes, so "
            "each ratio compares like with like. Memory is one fresh process's.",
            "",
            f"Mixed run: {st.users} users arriving over {st.ramp_s} s, then {st.steady_s} s steady; 80 % readers "
            "(status 40 %, saves list, save detail and chat history 20 % each), 15 % chatters (JSON replies), "
            "5 % submitting estimates; 1 to 2 s think time. "
            f"{st.owners} owners with {st.jobs_per_owner} finished estimations each; users of an owner share its "
            "key, each user sends its own X-Forwarded-For address (trusted from loopback). "
            f"Limits: ESTIMATE_RATE_LIMIT={lim.estimate_rate} and CHAT_RATE_LIMIT={lim.chat_rate} (per key and "
            f"per address); simulator at {lim.sim_tokens_per_second:g} tokens/s; the simulator's and Claude "
            "budget's request and token limits lifted, so the model is slow but never refuses. Writers (worker, "
            "chat, simulator) are stopped after the mixed run: the later phases measure reads alone. Services "
            "log as deployed (JSON lines at INFO), "
            + ("with a line per request (`ACCESS_LOG=true`)." if st.access_log else "without access logs (default)."),
            "",
            *targets_section(r),
            *mix_section(r),
            *throughput_section(r),
            *capacity_section(r),
            *memory_section(r),
            *load_section(r),
            f"![Latency percentiles per route]({chart.name})",
            "",
        ]
    )


def chart(r: Results, path: Path) -> None:
    """Log scale, because chat and estimates wait seconds on the model while reads take milliseconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = {name: r.mix[name] for name in MIX_ROWS if name in r.mix}
    if r.bare:
        rows["bare (own run)"] = r.bare
    names = list(rows)
    width = 0.27
    figure, axes = plt.subplots(figsize=(11, 5.5))
    for offset, (label, values) in enumerate(
        (
            ("p50", [rows[n].p50 for n in names]),
            ("p95", [rows[n].p95 for n in names]),
            ("p99", [rows[n].p99 for n in names]),
        )
    ):
        axes.bar([i + (offset - 1) * width for i in range(len(names))], values, width, label=label)
    axes.axhline(READ_P99_MUST_MS, color="red", linestyle="--", linewidth=1, label="reads p99 must (200 ms)")
    axes.axhline(READ_P99_AIM_MS, color="green", linestyle=":", linewidth=1, label="reads p99 aim (20 ms)")
    axes.set_yscale("log")
    axes.set_xticks(range(len(names)), names, rotation=30, ha="right")
    axes.set_ylabel("latency, ms (log scale)")
    axes.set_title(f"Read path, {r.settings.users} users with 1 to 2 s think time — {r.date}")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
