"""`run_estimation`, the ARQ task: from a queued job to a saved estimate.

The ARQ job id is our job id, so the job is enqueued once however often the gateway retries, and the
save is written keyed by job id, so running the same job twice (after a worker died) still yields one
save. Every stage is published on the job's status, which is what users watch.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from arq import Retry
from opentelemetry import trace as otel
from opentelemetry.trace import SpanKind

from services.estimation.bundle import build_bundle, stored_fields
from services.estimation.methodology import METHODOLOGY_VERSION, MODEL_DOCUMENT
from services.estimation.models import ClaudeEstimate, RepoFacts
from services.llm.budget import Waiting
from services.llm.calls import ClaudeCallError
from services.shared.backoff import until_stored
from services.shared.contracts import JobInput, SaveCreate, Usage
from services.shared.errors import ApiError
from services.shared.jobs import JobStore, PaidResult
from services.shared.log_context import log_context, set_log_context
from services.shared.tracing import job_context
from services.worker.claude_estimate import estimate_with_claude
from services.worker.context import WorkerContext
from services.worker.github import GitHubError, RepoSummary, fetch_repo_summary
from services.worker.metrics import JOB_DURATION, JOB_QUEUE_WAIT, JOBS_FINISHED
from services.worker.settings import WorkerSettings

log = logging.getLogger(__name__)
TRACER = otel.get_tracer(__name__)
# A paid job's save is retried this often at most while saves is down (each rerun costs no Claude call).
SAVE_RETRY_MAX_DEFER_S = 60


def default_name(job_input: JobInput) -> str:
    for line in job_input.requirements_md.splitlines():
        title = line.strip().lstrip("#").strip()
        if title:
            return title[:200]
    return "Untitled estimate"


@dataclass(frozen=True)
class Failure:
    code: str
    message: str
    transient: bool
    usage: Usage | None = None


async def _attempt(
    deps: WorkerContext, owner: str, job_id: str, job_input: JobInput, deadline: float
) -> Failure | None:
    """One try at the estimation; a failure is returned (not raised) so the caller decides retry or fail."""
    try:
        await _estimate(deps, deps.store, owner, job_id, job_input, deadline)
    except GitHubError as exc:
        return Failure(exc.code, exc.message, exc.transient)
    except ClaudeCallError as exc:
        return Failure(exc.code, exc.message, False, exc.usage)
    except ApiError as exc:
        return Failure(exc.code, exc.message, exc.status >= 500)
    except Exception:
        log.exception("job %s failed unexpectedly", job_id)
        return Failure("internal_error", "the estimation failed unexpectedly", False)
    return None


async def run_estimation(ctx: dict[str, Any], job_id: str, trace: dict[str, str] | None = None) -> str:
    """One try of a job, as a span of the trace of the request that submitted it."""
    attributes: dict[str, str | int] = {"estimator.job_id": job_id, "estimator.job_try": int(ctx.get("job_try", 1))}
    with (
        log_context(job_id=job_id),
        TRACER.start_as_current_span(
            "estimation job", context=job_context(trace), kind=SpanKind.CONSUMER, attributes=attributes
        ),
    ):
        return await _run_estimation(ctx, job_id)


async def _run_estimation(ctx: dict[str, Any], job_id: str) -> str:
    deps: WorkerContext = ctx["deps"]
    store = deps.store
    job = await store.get(job_id)
    job_input = await store.get_input(job_id)
    if job is None or job_input is None:
        log.warning("job %s expired before it ran", job_id)
        return "expired"
    if job.status == "succeeded":
        return "already-succeeded"
    set_log_context(owner=job.owner)
    job_try = int(ctx.get("job_try", 1))
    enqueued: datetime | None = ctx.get("enqueue_time")
    if job_try == 1 and enqueued is not None:
        JOB_QUEUE_WAIT.observe(max(0.0, (datetime.now(UTC) - enqueued).total_seconds()))
    tries = 0  # tries that could call Claude; one that only saves a stored answer is not counted
    if await store.paid_result(job_id) is None:
        tries = await store.count_try(job_id)
        if tries > deps.settings.worker_max_tries:
            await store.fail(job_id, "too_many_attempts", "the estimation was interrupted too many times")
            return "failed"
    started = time.monotonic()
    failure = await _attempt(deps, job.owner, job_id, job_input, started + deps.settings.job_timeout_s * 0.9)
    outcome = "succeeded" if failure is None else "failed"
    defer_s = await _retry_in(deps, job_id, failure, tries, job_try)
    if defer_s is not None:
        outcome = "retried"
    JOBS_FINISHED.labels(outcome).inc()
    JOB_DURATION.observe(time.monotonic() - started)
    if failure is None:
        return outcome
    if defer_s is not None:
        log.warning("job %s try %d failed transiently (%s), retrying in %.0f s", job_id, job_try, failure.code, defer_s)
        await store.update(job_id, status="queued", stage="retrying")
        raise Retry(defer=defer_s)
    usage = failure.usage
    if usage is None and (paid := await store.paid_result(job_id)) is not None:
        usage = paid.usage  # Claude was paid before the failure: the job still shows what it cost
    await store.fail(job_id, failure.code, failure.message, usage)
    return outcome


async def _retry_in(
    deps: WorkerContext, job_id: str, failure: Failure | None, tries: int, job_try: int
) -> float | None:
    """When to run a transiently failed job again, or None to fail it now.

    A job whose Claude answer is stored (paid for) only has its save left: it is retried for as long as
    the job lives, never costing another call. Any other job has `WORKER_MAX_TRIES` tries.
    """
    if failure is None or not failure.transient:
        return None
    if await deps.store.paid_result(job_id) is not None:
        defer_s = float(min(SAVE_RETRY_MAX_DEFER_S, 2 ** min(job_try, 10)))
        return defer_s if await deps.store.ttl_s_left(job_id) > defer_s else None
    return float(2**tries) if tries < deps.settings.worker_max_tries else None


async def _ask_claude(
    deps: WorkerContext, store: JobStore, job_id: str, job_input: JobInput, deadline: float
) -> tuple[ClaudeEstimate, Usage, RepoFacts | None]:
    """The paid part: the repository summary, then Claude; its answer is kept with the job at once."""
    settings: WorkerSettings = deps.settings
    repo: RepoSummary | None = None
    if job_input.github_url:
        await store.update(job_id, stage="fetching_repository", progress=0.1)
        repo = await fetch_repo_summary(deps.github, job_input.github_url)
    await store.update(job_id, stage="estimating", progress=0.25)

    async def waiting(wait: Waiting | None) -> None:
        await store.update(job_id, stage="waiting_for_capacity" if wait else "estimating")

    cut_calls = await store.start_claude_call(job_id)
    estimate, usage = await estimate_with_claude(
        deps.claude,
        deps.budget,
        deps.allowance,
        settings,
        job_input.requirements_md,
        repo.markdown if repo else None,
        deadline,
        waiting,
    )
    # A call cut by a crash is counted as made; its tokens are unknown (no answer came back).
    usage = usage.model_copy(update={"calls": usage.calls + cut_calls})
    # Paid for: kept with the job before anything else can fail, so no retry ever pays for it again.
    await store.keep_result(
        job_id,
        PaidResult(
            estimate=estimate.model_dump(mode="json"),
            usage=usage,
            repository=repo.facts if repo else None,
        ),
    )
    return estimate, usage, repo.facts if repo else None


async def _estimate(
    deps: WorkerContext, store: JobStore, owner: str, job_id: str, job_input: JobInput, deadline: float
) -> None:
    settings: WorkerSettings = deps.settings
    await store.update(job_id, status="running", stage="starting", progress=0.05, error=None)
    paid = await store.paid_result(job_id)
    if paid is None:
        estimate, usage, repository = await _ask_claude(deps, store, job_id, job_input, deadline)
    else:
        log.info("job %s reuses Claude's stored answer (%d calls paid)", job_id, paid.usage.calls)
        roles = list(settings.rate_card.roles)
        estimate = ClaudeEstimate.model_validate(paid.estimate, context={"roles": roles})
        usage, repository = paid.usage, paid.repository
    await store.update(job_id, stage="calculating", progress=0.8, usage=usage)
    name = job_input.name or default_name(job_input)
    bundle = build_bundle(
        name=name,
        estimate=estimate,
        requirements_md=job_input.requirements_md,
        repo=repository,
        rate_card=settings.rate_card,
        usage=usage,
        revision=1,
    )
    await store.update(job_id, stage="saving", progress=0.9)
    save_create = SaveCreate(
        job_id=job_id,
        owner=owner,
        name=name,
        requirements_md=job_input.requirements_md,
        github_url=job_input.github_url,
        repository=repository,
        methodology_version=METHODOLOGY_VERSION,
        methodology_md=MODEL_DOCUMENT,
        usage=usage,
        **stored_fields(bundle),
    )
    # Idempotent by job id (a second write returns the first save), so it is retried while saves is down or
    # failing (5xx), until the attempt's deadline; a 4xx (a save saves can never store) fails the job at once.
    save = await until_stored(
        lambda: deps.saves.upsert_from_job(save_create),
        min(deadline, time.monotonic() + await store.ttl_s_left(job_id)),
        f"saving job {job_id}",
    )
    await store.update(
        job_id,
        status="succeeded",
        stage="done",
        progress=1.0,
        save_id=save.save_id,
        usage=save.usage or usage,
    )
