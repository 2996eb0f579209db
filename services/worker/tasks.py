"""`run_estimation`, the ARQ task: from a queued job to a saved estimate.

The ARQ job id is our job id, so the job is enqueued once however often the gateway retries, and the
save is written keyed by job id, so running the same job twice (after a worker died) still yields one
save. Every stage is published on the job's status, which is what users watch.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from arq import Retry

from services.estimation.bundle import build_bundle, stored_fields
from services.estimation.methodology import METHODOLOGY_VERSION, MODEL_DOCUMENT
from services.llm.budget import Waiting
from services.llm.calls import ClaudeCallError
from services.shared.contracts import JobInput, SaveCreate, Usage
from services.shared.errors import ApiError
from services.shared.jobs import JobStore
from services.worker.claude_estimate import estimate_with_claude
from services.worker.context import WorkerContext
from services.worker.github import GitHubError, RepoSummary, fetch_repo_summary
from services.worker.metrics import JOB_DURATION, JOBS_FINISHED
from services.worker.settings import WorkerSettings

log = logging.getLogger(__name__)


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


async def run_estimation(ctx: dict[str, Any], job_id: str) -> str:
    deps: WorkerContext = ctx["deps"]
    store = deps.store
    job = await store.get(job_id)
    job_input = await store.get_input(job_id)
    if job is None or job_input is None:
        log.warning("job %s expired before it ran", job_id)
        return "expired"
    if job.status == "succeeded":
        return "already-succeeded"
    job_try = int(ctx.get("job_try", 1))
    if job_try > deps.settings.worker_max_tries:
        await store.fail(job_id, "too_many_attempts", "the estimation was interrupted too many times")
        return "failed"
    started = time.monotonic()
    failure = await _attempt(deps, job.owner, job_id, job_input, started + deps.settings.job_timeout_s * 0.9)
    outcome = "succeeded" if failure is None else "failed"
    if failure is not None and failure.transient and job_try < deps.settings.worker_max_tries:
        outcome = "retried"
    JOBS_FINISHED.labels(outcome).inc()
    JOB_DURATION.observe(time.monotonic() - started)
    if failure is None:
        return outcome
    if outcome == "retried":
        log.warning("job %s try %d failed transiently (%s), retrying", job_id, job_try, failure.code)
        await store.update(job_id, status="queued", stage="retrying")
        raise Retry(defer=2**job_try)
    await store.fail(job_id, failure.code, failure.message, failure.usage)
    return outcome


async def _estimate(
    deps: WorkerContext, store: JobStore, owner: str, job_id: str, job_input: JobInput, deadline: float
) -> None:
    settings: WorkerSettings = deps.settings
    await store.update(job_id, status="running", stage="starting", progress=0.05, error=None)
    repo: RepoSummary | None = None
    if job_input.github_url:
        await store.update(job_id, stage="fetching_repository", progress=0.1)
        repo = await fetch_repo_summary(deps.github, job_input.github_url)
    await store.update(job_id, stage="estimating", progress=0.25)

    async def waiting(wait: Waiting | None) -> None:
        await store.update(job_id, stage="waiting_for_capacity" if wait else "estimating")

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
    await store.update(job_id, stage="calculating", progress=0.8, usage=usage)
    name = job_input.name or default_name(job_input)
    bundle = build_bundle(
        name=name,
        estimate=estimate,
        requirements_md=job_input.requirements_md,
        repo=repo.facts if repo else None,
        rate_card=settings.rate_card,
        usage=usage,
        revision=1,
    )
    await store.update(job_id, stage="saving", progress=0.9)
    save = await deps.saves.upsert_from_job(
        SaveCreate(
            job_id=job_id,
            owner=owner,
            name=name,
            requirements_md=job_input.requirements_md,
            github_url=job_input.github_url,
            repository=repo.facts if repo else None,
            methodology_version=METHODOLOGY_VERSION,
            methodology_md=MODEL_DOCUMENT,
            usage=usage,
            **stored_fields(bundle),
        )
    )
    await store.update(
        job_id,
        status="succeeded",
        stage="done",
        progress=1.0,
        save_id=save.save_id,
        usage=save.usage or usage,
    )
