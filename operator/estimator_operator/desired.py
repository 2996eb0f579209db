"""From an `LLMBudget`'s spec to what the fleet should run: pure computation on the capacity model.

Nothing here talks to Kubernetes or Redis, so every rule is unit-testable: the spec's tier or limits
go through `limits_for`, the chat share and traffic mix through `plan`, and the worker HPA's
`minReplicas` (observed, not desired) bounds how the fed concurrency is cut into workers x jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from services.shared.capacity import Mix, Plan, limits_for, plan

# The CRD's camelCase mix fields and the model's names.
MIX_FIELDS = {
    "users": "users",
    "thinkTimeSeconds": "think_time_s",
    "estimateShare": "estimate_share",
    "chatShare": "chat_share",
    "estimateInputTokens": "estimate_input_tokens",
    "estimateOutputTokens": "estimate_output_tokens",
    "chatInputTokens": "chat_input_tokens",
    "chatOutputTokens": "chat_output_tokens",
    "tokensPerSecond": "tokens_per_second",
}
DEFAULT_CHAT_RESERVE = 0.2


class InvalidSpec(ValueError):
    """A spec the schema let through but the fleet cannot run; the operator reports it and changes nothing."""


@dataclass(frozen=True)
class Release:
    """The objects one `LLMBudget` governs, by name, in its own namespace."""

    worker_deployment: str
    worker_hpa: str


@dataclass(frozen=True)
class Desired:
    plan: Plan
    budget: dict[str, float]  # FleetBudget.override(): rpm, input_tpm, output_tpm, max_in_flight, chat_reserve
    max_replicas: int
    max_jobs: int
    reasons: tuple[str, ...]

    @property
    def concurrency(self) -> int:
        return self.max_replicas * self.max_jobs


def release_of(spec: Mapping[str, Any]) -> Release:
    release = spec.get("release") or {}
    deployment, hpa = release.get("workerDeployment"), release.get("workerHPA")
    if not deployment or not hpa:
        raise InvalidSpec("spec.release needs workerDeployment and workerHPA")
    return Release(worker_deployment=str(deployment), worker_hpa=str(hpa))


def mix_of(spec: Mapping[str, Any]) -> Mix:
    given = spec.get("mix") or {}
    unknown = set(given) - set(MIX_FIELDS)
    if unknown:
        raise InvalidSpec(f"spec.mix has unknown fields: {', '.join(sorted(unknown))}")
    types = {f.name: f.type for f in fields(Mix)}
    values: dict[str, Any] = {}
    for camel, name in MIX_FIELDS.items():
        if camel in given:
            values[name] = int(given[camel]) if types[name] in ("int", int) else float(given[camel])
    return Mix(**values)


def desired_state(spec: Mapping[str, Any], *, min_replicas: int = 1) -> Desired:
    """What the fleet should run for this spec; `InvalidSpec` when it cannot run any estimation."""
    given = spec.get("limits") or {}
    try:
        limits = limits_for(
            spec.get("tier"),
            rpm=given.get("rpm"),
            input_tpm=given.get("inputTokensPerMinute"),
            output_tpm=given.get("outputTokensPerMinute"),
        )
        chat_reserve = float(spec.get("chatReserve", DEFAULT_CHAT_RESERVE))
        mix = mix_of(spec)
        max_jobs = spec.get("maxJobsPerWorker")
        planned = plan(limits, chat_reserve=chat_reserve, mix=mix, max_jobs=max_jobs)
    except InvalidSpec:
        raise
    except (ValueError, TypeError) as exc:
        raise InvalidSpec(str(exc)) from exc
    if planned.estimation_concurrency < 1 or planned.worker_max_replicas < 1:
        raise InvalidSpec(
            f"the budget feeds {planned.estimation_concurrency} estimations at once: " + planned.reasons[-1]
        )
    jobs, replicas = planned.worker_max_jobs, planned.worker_max_replicas
    reasons = list(planned.reasons)
    min_replicas = max(1, min_replicas)
    if replicas < min_replicas:
        # The HPA keeps at least min_replicas workers, so fewer jobs each keeps replicas x jobs within budget.
        if planned.estimation_concurrency < min_replicas:
            raise InvalidSpec(
                f"the budget feeds {planned.estimation_concurrency} estimations at once, fewer than the worker HPA's "
                f"minReplicas {min_replicas}: lower minReplicas or raise the tier"
            )
        jobs = planned.estimation_concurrency // min_replicas
        replicas = planned.estimation_concurrency // jobs
        reasons.append(f"the HPA's minReplicas {min_replicas}: {replicas} worker(s) x max_jobs {jobs}")
    return Desired(
        plan=planned,
        budget={
            "rpm": limits.rpm,
            "input_tpm": limits.input_tpm,
            "output_tpm": limits.output_tpm,
            "max_in_flight": planned.max_in_flight,
            "chat_reserve": planned.chat_reserve,
        },
        max_replicas=replicas,
        max_jobs=jobs,
        reasons=tuple(reasons),
    )
