"""`estimator capacity`: the capacity model's table for one tier, every tier, or explicit limits."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from services.shared.capacity import Limits, Mix, Plan, plan

MIX_FLAGS = {
    "users": int,
    "think_time_s": float,
    "estimate_share": float,
    "chat_share": float,
    "estimate_output_tokens": int,
    "estimate_input_tokens": int,
    "chat_output_tokens": int,
    "chat_input_tokens": int,
    "tokens_per_second": float,
    "estimate_time_cv": float,
}


def plans(named: dict[str, Limits], chat_reserve: float, mix: Mix, max_jobs: int | None) -> dict[str, Plan]:
    return {name: plan(limits, chat_reserve=chat_reserve, mix=mix, max_jobs=max_jobs) for name, limits in named.items()}


def _seconds(value: float) -> str:
    return "overloaded" if math.isinf(value) else f"{value:.0f} s"


def as_text(results: dict[str, Plan], mix: Mix) -> str:
    lines = [
        f"{mix.users} users, an action every {mix.think_time_s:g} s each, {mix.estimate_share:.0%} estimations "
        f"({mix.estimate_arrivals_per_s * 60:.1f} a minute), {mix.estimate_output_tokens:,} output tokens over "
        f"{mix.estimate_duration_s:.0f} s each",
        "",
        "| tier | output TPM | estimations at once | chat turns at once | workers x max_jobs | max in flight "
        "| utilisation | queue wait p50 | p95 (M/M/c) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, result in results.items():
        queue = result.queue
        lines.append(
            f"| {name} | {result.limits.output_tpm:,} | {result.estimation_concurrency} | {result.chat_concurrency} "
            f"| {result.worker_max_replicas} x {result.worker_max_jobs} | {result.max_in_flight} "
            f"| {queue.utilisation:.0%} | {_seconds(queue.wait_p50_s)} "
            f"| {_seconds(queue.wait_p95_s)} ({_seconds(queue.wait_p95_mmc_s)}) |"
        )
    return "\n".join(lines) + "\n"


def as_json(results: dict[str, Plan]) -> str:
    def encode(value: Any) -> Any:
        return None if isinstance(value, float) and math.isinf(value) else value

    payload = {
        name: {key: encode(value) for key, value in _flat(dataclasses.asdict(result)).items()}
        for name, result in results.items()
    }
    return json.dumps(payload, indent=2)


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return flat
