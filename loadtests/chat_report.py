"""The chat benchmark's figures, its targets, its Markdown report, its JSON and its chart.

Turns are counted in the phase whose steady window they were *sent* in (ramp turns are left out);
estimations are counted over the whole phase, because one lasts longer than most windows would allow
to see begin and end. Every target is printed PASS or FAIL next to what was measured.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loadtests.chat_baseline import BaselineCall
from loadtests.chat_metrics import (
    CONTINUATIONS,
    RESERVED,
    THROTTLED,
    TOKENS,
    WAIT_COUNT,
    WAIT_SUM,
    Window,
    by_label,
    total,
)
from loadtests.chat_users import SCOPE_CHANGES, EstimationRecord, Phase, TurnRecord

KINDS = ("answer", "revision")
TTFT_ANSWER_P95_S = 2.0
ANSWER_P95_S = 10.0
REVISION_P95_S = 20.0
TOLD_WITHIN_S = 1.0
FAIR_RATIO = 2.0
USED_SHARE = 0.85
WASTE_MAX = 0.30
BASELINE_RATIO = 5.0
SATURATED = 0.9
"""A phase during which the whole machine's CPU was this busy (share of its cores) is flagged."""


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spread(values: Iterable[float | None]) -> dict[str, float]:
    present = [v for v in values if v is not None]
    return {"n": len(present), "p50": percentile(present, 0.5), "p95": percentile(present, 0.95)}


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator and not math.isnan(denominator) else math.nan


@dataclass(frozen=True)
class Settings:
    users: int
    estimators: int
    ramp_s: float
    steady_s: float
    drain_s: float
    think_s: tuple[float, float]
    rpm: int
    input_tpm: int
    output_tpm: int
    over_output_tpm: int
    tokens_per_second: float
    first_token_latency_s: float
    workers: int
    worker_max_jobs: int
    max_in_flight: int
    seed: int


@dataclass
class PhaseRun:
    """A phase as run: its users' records, its steady window's counters, and the machine while it ran."""

    phase: Phase
    output_tpm: int
    window: Window
    load_before: float = 0.0
    load_after: float = 0.0
    cores: dict[str, float] = field(default_factory=dict)
    allowances: dict[str, int] = field(default_factory=dict)
    poll_s: float = 1.0
    input_tpm: int = 0


def steady_turns(run: PhaseRun) -> list[TurnRecord]:
    return [t for t in run.phase.turns if run.phase.in_steady(t.sent)]


def turn_figures(turns: list[TurnRecord], steady_s: float) -> dict[str, Any]:
    done = [t for t in turns if t.outcome == "done"]
    failed = Counter(t.error_code or t.outcome for t in turns if t.outcome != "done")
    by_kind = {kind: [t for t in done if t.kind == kind] for kind in KINDS}
    return {
        "sent": len(turns),
        "done": len(done),
        "per_minute": len(done) / (steady_s / 60) if steady_s else math.nan,
        "answers": len(by_kind["answer"]),
        "revisions": len(by_kind["revision"]),
        "scope_requests": sum(t.asked == "scope" for t in done),
        "scope_requests_not_revised": sum(t.asked == "scope" and not t.revised for t in done),
        "errors": dict(failed),
        "ttft_s": {kind: spread(t.ttft for t in by_kind[kind]) for kind in KINDS},
        "duration_s": {kind: spread(t.duration for t in by_kind[kind]) for kind in KINDS},
        "working_s": {kind: spread(t.working for t in by_kind[kind]) for kind in KINDS},
        "output_tokens": {kind: spread(t.output_tokens for t in by_kind[kind]) for kind in KINDS},
        "calls": {kind: spread(t.calls for t in by_kind[kind]) for kind in KINDS},
    }


def waiting_figures(turns: list[TurnRecord]) -> dict[str, Any]:
    waited = [t for t in turns if t.first_wait is not None]
    told = [t.told_after for t in waited if t.told_after is not None]
    waits = [t.waited for t in waited if t.waited is not None]
    p50, p95 = percentile(waits, 0.5), percentile(waits, 0.95)
    in_line = [t.in_line for t in waited if t.in_line is not None]
    return {
        "turns": len(turns),
        "waited": len(waited),
        "share_waited": len(waited) / len(turns) if turns else math.nan,
        "told_after_s": {"p50": percentile(told, 0.5), "p95": percentile(told, 0.95), "max": max(told, default=0.0)},
        "told_within_1s": sum(x <= TOLD_WITHIN_S for x in told),
        "admitted_after_wait": len(waits),
        "gave_up_after_wait": sum(t.waited is None for t in waited),
        "wait_s": {"p50": p50, "p95": p95, "max": max(waits, default=math.nan)},
        "wait_p95_over_p50": ratio(p95, p50),
        "in_line_s": {"p50": percentile(in_line, 0.5), "p95": percentile(in_line, 0.95)},
        "reasons": dict(Counter(reason for t in waited for reason in t.wait_reasons)),
    }


def budget_figures(run: PhaseRun) -> dict[str, Any]:
    w = run.window
    c = w.counters
    minutes = w.seconds / 60
    out_chat = total(c, TOKENS, priority="chat", kind="output")
    out_estimate = total(c, TOKENS, priority="estimate", kind="output")
    reserved_chat = total(c, RESERVED, priority="chat")
    reserved_estimate = total(c, RESERVED, priority="estimate")
    capacity = run.output_tpm * minutes
    wait_counts = by_label(c, WAIT_COUNT, "priority")
    wait_sums = by_label(c, WAIT_SUM, "priority")
    return {
        "window_s": w.seconds,
        "output_tpm": run.output_tpm,
        "output_tokens_metrics": {"chat": out_chat, "estimate": out_estimate, "all": out_chat + out_estimate},
        "output_tokens_simulator": w.sim("output_tokens"),
        "output_per_minute_metrics": ratio(out_chat + out_estimate, minutes),
        "used_share_metrics": ratio(out_chat + out_estimate, capacity),
        "used_share_simulator": ratio(w.sim("output_tokens"), capacity),
        # Calls in flight when the window opens end inside it, and the bucket may start it full: at most one
        # bucket (a minute of the limit) more than limit x window can be produced without a single 429.
        "used_share_strict": ratio(out_chat + out_estimate, capacity + run.output_tpm),
        "reserved": {"chat": reserved_chat, "estimate": reserved_estimate},
        "waste": {
            "chat": 1 - ratio(out_chat, reserved_chat),
            "estimate": 1 - ratio(out_estimate, reserved_estimate),
            "all": 1 - ratio(out_chat + out_estimate, reserved_chat + reserved_estimate),
        },
        "input_tokens_simulator": w.sim("input_tokens") + w.sim("cache_creation_input_tokens"),
        "input_share_simulator": ratio(
            w.sim("input_tokens") + w.sim("cache_creation_input_tokens"), run.input_tpm * minutes
        ),
        "requests_simulator": w.sim("requests"),
        "upstream_429_simulator": w.sim("rate_limited"),
        "upstream_throttled_metrics": total(c, THROTTLED),
        "continuations": by_label(c, CONTINUATIONS, "kind"),
        "budget_wait_mean_s": {p: ratio(wait_sums.get(p, 0.0), n) for p, n in wait_counts.items()},
        "budget_grants": wait_counts,
    }


def estimation_figures(phase: Phase, poll_s: float) -> dict[str, Any]:
    records: list[EstimationRecord] = phase.estimations
    ok = [r for r in records if r.outcome == "succeeded"]
    minutes = [0] * max(1, math.ceil(phase.steady_s / 60))
    for r in ok:
        if r.ended is not None and phase.in_steady(r.ended):
            minutes[min(len(minutes) - 1, int((r.ended - phase.ramp_s) // 60))] += 1
    return {
        "submitted": len(records),
        "succeeded": len(ok),
        "failed": sum(r.outcome == "failed" for r in records),
        "refused": sum(r.outcome == "refused" for r in records),
        "unfinished": sum(r.outcome == "unfinished" for r in records),
        "errors": dict(Counter(r.error_code for r in records if r.error_code)),
        "queue_wait_s": spread(r.queue_wait for r in ok),
        "duration_s": spread(r.duration for r in ok),
        "waited_for_capacity": sum(r.capacity_polls > 0 for r in records),
        "capacity_wait_s": spread(r.capacity_polls * poll_s for r in ok),
        "completed_per_steady_minute": minutes,
    }


def phase_figures(run: PhaseRun) -> dict[str, Any]:
    p = run.phase
    turns = steady_turns(run)
    return {
        "name": p.name,
        "output_tpm": run.output_tpm,
        "ramp_s": p.ramp_s,
        "steady_s": p.steady_s,
        "turns": turn_figures(turns, p.steady_s),
        "waiting": waiting_figures(turns),
        "budget": budget_figures(run),
        "estimations": estimation_figures(p, run.poll_s),
        "load": {"before": run.load_before, "after": run.load_after},
        "cores": run.cores,
        "allowances": run.allowances,
    }


def _median(values: Iterable[float | None]) -> float:
    return percentile([v for v in values if v is not None], 0.5)


def baseline_figures(calls: list[BaselineCall], alone: list[TurnRecord], within: PhaseRun) -> dict[str, Any]:
    """Re-emission against edit mode for the same messages: alone (each on the same estimate, nothing else
    running, as the re-emission ran) and under the within-budget load (every revision turn of those messages)."""
    loaded = [t for t in steady_turns(within) if t.outcome == "done" and t.revised and t.message in SCOPE_CHANGES]
    edits = [t for t in alone if t.outcome == "done"]
    good = [c for c in calls if c.error is None]
    rows = []
    for message in dict.fromkeys(c.message for c in calls):
        mine = [c for c in good if c.message == message]
        edit = [t for t in edits if t.message == message]
        under_load = [t for t in loaded if t.message == message]
        rows.append(
            {
                "message": message,
                "reemit_tokens": _median(float(c.output_tokens) for c in mine),
                "reemit_s": _median(c.duration_s for c in mine),
                "edit_tokens": _median(float(t.output_tokens or 0) for t in edit),
                "edit_s": _median(t.duration for t in edit),
                "edit_revised": sum(t.revised for t in edit),
                "loaded_turns": len(under_load),
                "loaded_tokens_p50": _median(float(t.output_tokens or 0) for t in under_load),
                "loaded_s_p50": _median(t.duration for t in under_load),
            }
        )
    reemit_tokens = _median(float(c.output_tokens) for c in good)
    reemit_s = _median(c.duration_s for c in good)
    edit_tokens = _median(float(t.output_tokens or 0) for t in edits)
    edit_s = _median(t.duration for t in edits)
    loaded_s = _median(t.duration for t in loaded)
    loaded_working_s = _median(t.working for t in loaded)
    return {
        "calls": [asdict(c) for c in calls],
        "errors": [c.error for c in calls if c.error],
        "valid_estimates": sum(c.valid for c in good),
        "max_tokens_reached": sum(c.stop_reason == "max_tokens" for c in good),
        "by_message": rows,
        "reemit_tokens_p50": reemit_tokens,
        "reemit_s_p50": reemit_s,
        "reemit_ttft_s_p50": _median(c.first_token_s for c in good),
        "edit_turns": len(alone),
        "edit_revised": sum(t.revised for t in edits),
        "edit_errors": dict(Counter(t.error_code or t.outcome for t in alone if t.outcome != "done")),
        "edit_tokens_p50": edit_tokens,
        "edit_s_p50": edit_s,
        "tokens_ratio": ratio(reemit_tokens, edit_tokens),
        "duration_ratio": ratio(reemit_s, edit_s),
        "loaded_revisions": len(loaded),
        "loaded_tokens_p50": _median(float(t.output_tokens or 0) for t in loaded),
        "loaded_s_p50": loaded_s,
        "loaded_working_s_p50": loaded_working_s,
        "loaded_duration_ratio": ratio(reemit_s, loaded_s),
        "loaded_working_ratio": ratio(reemit_s, loaded_working_s),
    }


def _f(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.1f} %"


def targets(figures: dict[str, Any]) -> list[tuple[str, str, bool]]:
    within, over, base = figures["within"], figures["over"], figures["baseline"]
    wt = within["turns"]
    ow = over["waiting"]
    rows: list[tuple[str, str, bool]] = [
        (
            "revision: ≥ 5x fewer output tokens than re-emission (same requests alone, medians)",
            f"{_f(base['tokens_ratio'], 1)}x ({_f(base['reemit_tokens_p50'], 0)} vs {_f(base['edit_tokens_p50'], 0)})",
            base["tokens_ratio"] >= BASELINE_RATIO,
        ),
        (
            "revision: ≥ 5x faster than re-emission (same requests alone, medians)",
            f"{_f(base['duration_ratio'], 1)}x ({_f(base['reemit_s_p50'], 1)} s vs {_f(base['edit_s_p50'], 1)} s)",
            base["duration_ratio"] >= BASELINE_RATIO,
        ),
        (
            "revision under the within-budget load: ≥ 5x faster than re-emission alone (time in line included)",
            f"{_f(base['loaded_duration_ratio'], 1)}x ({_f(base['loaded_s_p50'], 1)} s, of which "
            f"{_f(base['loaded_working_s_p50'], 1)} s outside the line)",
            base["loaded_duration_ratio"] >= BASELINE_RATIO,
        ),
        (
            "within budget: answers' time to first token p95 ≤ 2 s",
            f"{_f(wt['ttft_s']['answer']['p95'])} s",
            wt["ttft_s"]["answer"]["p95"] <= TTFT_ANSWER_P95_S,
        ),
        (
            "within budget: answer turns p95 ≤ 10 s",
            f"{_f(wt['duration_s']['answer']['p95'])} s",
            wt["duration_s"]["answer"]["p95"] <= ANSWER_P95_S,
        ),
        (
            "within budget: revision turns p95 ≤ 20 s",
            f"{_f(wt['duration_s']['revision']['p95'])} s (n={wt['duration_s']['revision']['n']})",
            wt["duration_s"]["revision"]["p95"] <= REVISION_P95_S,
        ),
        (
            "over budget: every waiting user told within 1 s",
            f"{ow['told_within_1s']}/{ow['waited']} (max {_f(ow['told_after_s']['max'])} s)",
            ow["waited"] > 0 and ow["told_within_1s"] == ow["waited"],
        ),
        (
            "over budget: wait p95 ≤ 2x median (no starvation)",
            f"{_f(ow['wait_p95_over_p50'])}x (p50 {_f(ow['wait_s']['p50'])} s, p95 {_f(ow['wait_s']['p95'])} s)",
            ow["wait_p95_over_p50"] <= FAIR_RATIO,
        ),
        (
            "over budget: estimations complete (none failed, some in every steady minute)",
            f"{over['estimations']['succeeded']}/{over['estimations']['submitted']} succeeded, "
            f"{over['estimations']['failed']} failed, per minute {over['estimations']['completed_per_steady_minute']}",
            over["estimations"]["failed"] == 0 and min(over["estimations"]["completed_per_steady_minute"]) > 0,
        ),
    ]
    for name, phase in (("within budget", within), ("over budget", over)):
        b = phase["budget"]
        upstream = b["upstream_429_simulator"] + b["upstream_throttled_metrics"]
        rows.append(
            (
                f"{name}: zero upstream 429s",
                f"{b['upstream_429_simulator']} (simulator), {b['upstream_throttled_metrics']:.0f} (services)",
                upstream == 0,
            )
        )
    ob = over["budget"]
    rows.append(
        (
            "over budget: ≥ 85 % of the output-token limit used while demand exceeds it",
            f"{_pct(ob['used_share_strict'])} strict ({_pct(ob['used_share_metrics'])} of limit x window)",
            ob["used_share_strict"] >= USED_SHARE,
        )
    )
    for name, phase in (("within budget", within), ("over budget", over)):
        for who in ("chat", "all"):
            waste = phase["budget"]["waste"][who]
            rows.append((f"{name}: reservation waste ≤ 30 % ({who})", _pct(waste), waste <= WASTE_MAX))
    return rows


def _kind_rows(t: dict[str, Any]) -> list[str]:
    rows = []
    for label, key, digits, unit in (
        ("time to first token", "ttft_s", 2, " s"),
        ("turn duration", "duration_s", 2, " s"),
        ("turn duration less time in line", "working_s", 2, " s"),
        ("output tokens per turn", "output_tokens", 0, ""),
        ("Claude calls per turn", "calls", 1, ""),
    ):
        cells = [
            f"{_f(t[key][kind]['p50'], digits)}{unit} / {_f(t[key][kind]['p95'], digits)}{unit} (n={t[key][kind]['n']})"
            for kind in KINDS
        ]
        rows.append(f"| {label}, p50 / p95 | {cells[0]} | {cells[1]} |")
    return rows


def phase_section(title: str, f: dict[str, Any], s: Settings) -> list[str]:
    t, w, b, e = f["turns"], f["waiting"], f["budget"], f["estimations"]
    waste = b["waste"]
    errors = ", ".join(f"{code}: {n}" for code, n in sorted(t["errors"].items())) or "none"
    e_errors = ", ".join(f"{code}: {n}" for code, n in sorted(e["errors"].items())) or "none"
    reasons = ", ".join(f"`{r}` {n}" for r, n in sorted(w["reasons"].items())) or "none"
    allowances = ", ".join(f"{k} {v}" for k, v in f["allowances"].items()) or "n/a"
    grants = ", ".join(f"{p} {_f(v)} s" for p, v in sorted(b["budget_wait_mean_s"].items())) or "n/a"
    return [
        f"## {title}",
        "",
        f"Output-token limit {f['output_tpm']:,}/min (simulator and fleet budget); {f['ramp_s']:g} s ramp, "
        f"{f['steady_s']:g} s steady window (measured); load average {f['load']['before']:.2f} → "
        f"{f['load']['after']:.2f}.",
        "",
        "| turns sent in the steady window, by outcome | answers | revisions |",
        "|---|---|---|",
        *_kind_rows(t),
        "",
        f"- Turns: {t['sent']} sent, {t['done']} done (**{_f(t['per_minute'], 1)} turns/min**); "
        f"{t['scope_requests']} scope changes asked, {t['scope_requests_not_revised']} of them not revised; "
        f"errors: {errors}.",
        f"- Waiting: {w['waited']} of {w['turns']} turns waited ({_pct(w['share_waited'])}); told (silence before "
        f"each `wait`, from the request or the previous call's last text) after p50 "
        f"{_f(w['told_after_s']['p50'], 3)} s, p95 {_f(w['told_after_s']['p95'], 3)} s, max "
        f"{_f(w['told_after_s']['max'], 3)} s ({w['told_within_1s']} within 1 s); wait (first `wait` → "
        f"`admitted`) p50 {_f(w['wait_s']['p50'])} s, p95 {_f(w['wait_s']['p95'])} s, max {_f(w['wait_s']['max'])} s, "
        f"p95/p50 **{_f(w['wait_p95_over_p50'])}**; {w['gave_up_after_wait']} waited and were not admitted; time in "
        f"line, admitted or not, p50 {_f(w['in_line_s']['p50'])} s, p95 {_f(w['in_line_s']['p95'])} s; turns by "
        f"the reasons they were given: {reasons}.",
        f"- Output tokens in the window ({b['window_s']:.0f} s): {b['output_tokens_metrics']['all']:,.0f} by the "
        f"services' counters (chat {b['output_tokens_metrics']['chat']:,.0f}, estimations "
        f"{b['output_tokens_metrics']['estimate']:,.0f}), {b['output_tokens_simulator']:,} by the simulator: "
        f"**{_pct(b['used_share_metrics'])}** of limit x window (simulator: {_pct(b['used_share_simulator'])}), "
        f"{_pct(b['used_share_strict'])} strict (against limit x window plus one full bucket); "
        f"{_f(b['output_per_minute_metrics'], 0)} tokens/min.",
        f"- Reservation waste (1 - used / reserved): chat **{_pct(waste['chat'])}**, estimations "
        f"{_pct(waste['estimate'])}, all **{_pct(waste['all'])}**; continuations (answer cut at its allowance and "
        f"continued): {b['continuations'] or 'none'}; allowances learned by the end of the phase (output tokens "
        f"reserved per call; chat by kind/call): {allowances}.",
        f"- Upstream 429s: {b['upstream_429_simulator']} (simulator), {b['upstream_throttled_metrics']:.0f} "
        f"(services' `estimator_llm_upstream_throttled_total`); simulator requests {b['requests_simulator']:,}, "
        f"input tokens counted against the input limit {b['input_tokens_simulator']:,} "
        f"({_pct(b['input_share_simulator'])} of it); mean fleet-budget wait per call: {grants}.",
        f"- Estimations over the whole phase: {e['submitted']} submitted, {e['succeeded']} succeeded, "
        f"{e['failed']} failed, {e['refused']} refused, {e['unfinished']} unfinished at the end of the drain "
        f"(errors: {e_errors}); queue wait p50 {_f(e['queue_wait_s']['p50'], 1)} s, p95 "
        f"{_f(e['queue_wait_s']['p95'], 1)} s; submit → done p50 {_f(e['duration_s']['p50'], 1)} s, p95 "
        f"{_f(e['duration_s']['p95'], 1)} s; {e['waited_for_capacity']} seen `waiting_for_capacity`, for p50 "
        f"{_f(e['capacity_wait_s']['p50'], 0)} s, p95 {_f(e['capacity_wait_s']['p95'], 0)} s (polls that saw it x "
        f"the poll interval, succeeded jobs); completed "
        f"per minute of the steady window: {e['completed_per_steady_minute']}.",
        "- CPU (cores, 1.00 = one core for the whole phase): "
        + ", ".join(f"{k} {v:.2f}" for k, v in f["cores"].items())
        + ".",
        "",
    ]


def baseline_section(b: dict[str, Any]) -> list[str]:
    rows = [
        f"| {r['message']} | {_f(r['reemit_tokens'], 0)} | {_f(r['reemit_s'], 1)} | {_f(r['edit_tokens'], 0)} | "
        f"{_f(r['edit_s'], 1)} | {r['loaded_turns']} | {_f(r['loaded_tokens_p50'], 0)} | {_f(r['loaded_s_p50'], 1)} |"
        for r in b["by_message"]
    ]
    errors = "; ".join(b["errors"]) or "none"
    edit_errors = ", ".join(f"{k}: {v}" for k, v in b["edit_errors"].items()) or "none"
    return [
        "## Baseline: re-emitting the whole estimate for a scope change",
        "",
        "Before edit operations, a scope change had Claude re-emit the complete estimate through "
        "`revise_estimate` (the whole `ClaudeEstimate` plus a reason) with `max_tokens` 8,000. Each scope-change "
        "message below was sent that way once, each on an estimate of its own seeded for this (no chatter uses "
        "it), with the chat's system prompt, straight to the simulator through the `anthropic` SDK (streamed, "
        "tool forced), all at once and before the within-budget phase, with nothing else running. Then the same "
        "messages went, on the same estimates, through the product's streaming chat (edit mode: `edit_estimate`, "
        "the tool result, Claude's closing sentence), again alone. The simulator's buckets were reset after both, "
        "as the fleet budget never saw the re-emissions. The last columns are the within-budget phase's revision "
        "turns of the same messages, under load, time in line included.",
        "",
        "| message | re-emission output tokens | re-emission s | edit turn output tokens | edit turn s | "
        "revisions under load | their output tokens p50 | their s p50 |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Medians: re-emission {_f(b['reemit_tokens_p50'], 0)} output tokens in {_f(b['reemit_s_p50'], 1)} s "
        f"(first token after {_f(b['reemit_ttft_s_p50'], 2)} s); edit-mode turns alone {_f(b['edit_tokens_p50'], 0)} "
        f"output tokens in {_f(b['edit_s_p50'], 1)} s ({b['edit_revised']} of {b['edit_turns']} revised; not done: "
        f"{edit_errors}). **Ratios, same requests alone: {_f(b['tokens_ratio'], 1)}x fewer output tokens, "
        f"{_f(b['duration_ratio'], 1)}x faster.** Under the within-budget load ({b['loaded_revisions']} revisions): "
        f"{_f(b['loaded_tokens_p50'], 0)} output tokens in {_f(b['loaded_s_p50'], 1)} s, "
        f"{_f(b['loaded_working_s_p50'], 1)} s of it outside the line; {_f(b['loaded_duration_ratio'], 1)}x faster "
        f"than re-emission alone with the waits, {_f(b['loaded_working_ratio'], 1)}x without. Re-emissions that "
        f"validated as an estimate: {b['valid_estimates']}/{len(b['calls'])}; stopped at `max_tokens`: "
        f"{b['max_tokens_reached']}; errors: {errors}.",
        "",
    ]


def targets_section(rows: list[tuple[str, str, bool]]) -> list[str]:
    return [
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
        *(f"| {name} | {value} | {'PASS' if ok else '**FAIL**'} |" for name, value, ok in rows),
        "",
    ]


def settings_section(s: Settings) -> list[str]:
    return [
        "## Settings",
        "",
        f"- Users: **{s.users} chatting** (one seeded estimate each, 10-15 work items) and **{s.estimators} "
        f"submitting estimates** (the plan's 15 % : 5 %), each with its own API key and client address; think time "
        f"{s.think_s[0]:g}-{s.think_s[1]:g} s (uniform); one chat message in five a scope change.",
        f"- Phases: {s.ramp_s:g} s ramp + {s.steady_s:g} s steady each, then up to {s.drain_s:g} s for work in "
        "flight; the same users in both.",
        f"- Within budget: simulator and fleet budget at Tier 2 — {s.rpm:,} RPM, {s.input_tpm:,} input TPM, "
        f"{s.output_tpm:,} output TPM. Over budget: the output limit lowered to **{s.over_output_tpm:,}** for "
        "both (the simulator restarted with `SIM_OUTPUT_TPM`, the fleet through `FleetBudget.override`, what "
        "`estimator budget set --output-tpm` writes), everything else equal.",
        f"- Simulator at a model's speed: {s.tokens_per_second:g} tokens/s per call, first token after "
        f"{s.first_token_latency_s:g} s. {s.workers} workers x `WORKER_MAX_JOBS` {s.worker_max_jobs}; "
        f"`LLM_MAX_IN_FLIGHT` {s.max_in_flight}; the product's own request limits (`CHAT_RATE_LIMIT`, "
        "`ESTIMATE_RATE_LIMIT`), chat reserve, `CHAT_MAX_WAIT_S` and allowances at their defaults.",
        "",
    ]


def saturation(figures: dict[str, Any], cores: int) -> list[str]:
    """A warning for each phase during which the machine was saturated, by this run or by anything else."""
    warnings = []
    for name in ("within", "over"):
        f = figures[name]
        busy = f["cores"].get("whole machine", 0.0)
        ours = sum(v for k, v in f["cores"].items() if k != "whole machine")
        if busy >= SATURATED * cores or f["load"]["after"] >= 2 * cores:
            warnings.append(
                f"**Warning: the machine was saturated during the {name}-budget phase** ({busy:.2f} of {cores} "
                f"cores busy, {ours:.2f} of them this stack and its users; load average {f['load']['before']:.2f} → "
                f"{f['load']['after']:.2f}): its latencies measure the machine, not the product. Run again on a "
                "quiet machine."
            )
    return [line for warning in warnings for line in (warning, "")]


def report(figures: dict[str, Any], settings: Settings, chart: Path) -> str:
    rows = targets(figures)
    passed = sum(ok for *_, ok in rows)
    return "\n".join(
        [
            f"# Chat benchmark — {figures['date']}",
            "",
            f"Machine: {figures['machine']}. The whole run took {figures['wall_s'] / 60:.1f} min; the benchmark's "
            "users run on the same machine as every service, Redis and PostgreSQL.",
            "",
            *saturation(figures, os.cpu_count() or 1),
            f"{passed} of {len(rows)} targets met.",
            "",
            *targets_section(rows),
            *settings_section(settings),
            *phase_section("Within budget (Tier 2)", figures["within"], settings),
            *phase_section("Over budget (output limit lowered)", figures["over"], settings),
            *baseline_section(figures["baseline"]),
            "## How the figures are taken",
            "",
            "- Times are the client's, from the moment the request is sent: time to first token to the first "
            "`delta` event, turn duration to `done`. A turn is a *revision* when `done.revised` is true. Only turns "
            "sent in the steady window count.",
            '- Output-token use is the services\' `estimator_llm_tokens_total{kind="output"}` (chat and every '
            "worker) over the steady window, against limit x window; the simulator's count is shown beside it. "
            "Tokens are counted when a call ends and a bucket may be full when the window opens, so limit x window "
            "can be exceeded by up to one bucket (a minute of the limit) without a 429; *strict* divides by limit x "
            "window plus that bucket, and is what the 85 % target is held to.",
            '- Reservation waste is 1 - `estimator_llm_tokens_total{kind="output"}` / '
            "`estimator_llm_output_reserved_tokens_total` over the same window.",
            "- Estimation queue wait is from submission to the first poll (every second) that sees the job running.",
            "- *Told after* is the longest silence a waiting user had before a `wait` event: from the request for "
            "a turn's first call, from the last text or `admitted` for a follow-up call (a revision's second call "
            "may wait again after the first answer streamed, from the place the turn first took); the `turn` "
            "event does not count as news.",
            "",
            f"![Time to first token, turn duration and output per minute]({chart.name})",
            "",
        ]
    )


def chart(figures: dict[str, Any], series: dict[str, list[tuple[float, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    phases = ("within", "over")
    labels = [f"{phase}\n{kind}" for phase in phases for kind in KINDS]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    for axis, key, title in (
        (axes[0], "ttft_s", "time to first token (s)"),
        (axes[1], "duration_s", "turn duration (s)"),
    ):
        for offset, q in ((-0.2, "p50"), (0.2, "p95")):
            values = [figures[phase]["turns"][key][kind][q] for phase in phases for kind in KINDS]
            axis.bar(
                [i + offset for i in range(len(labels))], [0 if math.isnan(v) else v for v in values], 0.4, label=q
            )
        done = [figures[phase]["turns"][key][kind]["n"] for phase in phases for kind in KINDS]
        for i, n in enumerate(done):
            if not n:
                axis.text(i, 0, "no turn\ndone", ha="center", va="bottom", fontsize=8, color="grey")
        axis.set_xticks(range(len(labels)), labels)
        axis.set_title(title)
        axis.legend(fontsize=8)
    for phase in phases:
        points = series.get(phase, [])
        axes[2].plot([t for t, _ in points], [v for _, v in points], label=f"{phase} budget")
        axes[2].axhline(figures[phase]["output_tpm"], linestyle="--", linewidth=1, color="grey")
    axes[2].set_title("output tokens in the trailing minute (simulator)")
    axes[2].set_xlabel("seconds since the phase started")
    axes[2].legend(fontsize=8)
    figure.suptitle(f"Chat benchmark — {figures['date']}")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def trailing_minute(window: Window) -> list[tuple[float, float]]:
    """Output tokens produced in the minute before each sample (or since the phase began, scaled up)."""
    points = []
    samples = window.samples
    for t, stats in samples:
        earlier = [(u, s) for u, s in samples if u <= t - 60] or samples[:1]
        u, first = earlier[-1]
        if t - u >= 10:
            points.append((t, (stats["output_tokens"] - first["output_tokens"]) * 60 / (t - u)))
    return points
