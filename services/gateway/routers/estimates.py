"""Submitting estimations and watching them: the job lifecycle as users see it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from services.gateway.auth import CurrentOwner
from services.gateway.schemas import (
    EstimateAccepted,
    EstimateRequest,
    JobStatusResponse,
    error_responses,
    looks_like_id,
)
from services.gateway.state import GatewayState, State
from services.shared.contracts import TERMINAL_STATUSES, JobInput, JobState
from services.shared.errors import ApiError
from services.shared.jobs import IdempotencyMismatch
from services.shared.observability import counted_stream
from services.shared.tracing import job_carrier

router = APIRouter(prefix="/api/estimate", tags=["estimates"])
SSE_PING_S = 15
MAX_IDEMPOTENCY_KEY = 200


async def live_job(state: GatewayState, job_id: str) -> JobState | None:
    """The job while it is in Redis; an id that cannot name a job costs no Redis call."""
    return await state.store.get(job_id) if looks_like_id(job_id) else None


def no_such_job() -> ApiError:
    """One answer for a job that does not exist and one another owner has, so ids reveal nothing."""
    return ApiError(404, "not_found", "no such job")


async def owned_job(state: GatewayState, owner: str, job_id: str) -> JobState:
    """The job if it exists and belongs to `owner`; 404 otherwise."""
    job = await live_job(state, job_id)
    if job is None or job.owner != owner:
        raise no_such_job()
    return job


@router.post(
    "",
    status_code=202,
    response_model=EstimateAccepted,
    responses=error_responses(401, 413, 422, 429, 503),
    summary="Submit requirements for estimation",
)
async def submit_estimate(
    body: EstimateRequest,
    owner: CurrentOwner,
    state: State,
    request: Request,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=MAX_IDEMPOTENCY_KEY)] = None,
) -> EstimateAccepted:
    job_input = JobInput(requirements_md=body.requirements_md, github_url=body.github_url, name=body.name)
    try:
        # A replay is answered before the rate limit: retrying a request safely must not cost quota.
        job = await state.store.replay(owner, idempotency_key, job_input) if idempotency_key else None
        if job is None:
            await state.limits.check("estimate", request, response, owner)
            job, _ = await state.store.create(owner, job_input, idempotency_key)
    except IdempotencyMismatch as exc:
        raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used for a different request") from exc
    if job.status == "queued":
        # The ARQ job id is ours: enqueueing a replay again is a no-op, and heals a crash between the two steps.
        await state.queue.enqueue_job(
            "run_estimation",
            job.job_id,
            trace=job_carrier(),  # the worker's spans join this request's trace
            _job_id=job.job_id,
            _queue_name=state.settings.queue_name,
        )
    base = f"/api/estimate/{job.job_id}"
    response.headers["Location"] = f"{base}/status"
    return EstimateAccepted(
        job_id=job.job_id, status=job.status, status_url=f"{base}/status", events_url=f"{base}/events"
    )


@router.get(
    "/{job_id}/status",
    response_model=JobStatusResponse,
    response_model_exclude_none=True,
    responses=error_responses(401, 404),
    summary="The job's current status (served from Redis)",
)
async def job_status(job_id: str, owner: CurrentOwner, state: State) -> Response:
    # The stored document as it is: the hottest route neither parses it nor re-validates a response model.
    public = await state.store.public_json(job_id, owner) if looks_like_id(job_id) else None
    if public is None:
        raise no_such_job()
    return Response(public, media_type="application/json")


def _event(job: JobState) -> ServerSentEvent:
    return ServerSentEvent(
        data=job.public_json(),
        event="status",
        id=job.updated_at.isoformat(),
    )


async def _job_events(state: GatewayState, owner: str, job_id: str) -> AsyncIterator[ServerSentEvent]:
    async with state.hub.watch(job_id) as changes:
        job = await owned_job(state, owner, job_id)
        yield _event(job)
        last = job.updated_at
        while job.status not in TERMINAL_STATUSES:
            job = await changes.get()
            if job.updated_at > last:
                last = job.updated_at
                yield _event(job)


@router.get(
    "/{job_id}/events",
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "One `status` event per change, then closes.",
        },
        **error_responses(401, 404),
    },
    summary="Server-sent events of the job's status until it ends",
)
async def job_events(job_id: str, owner: CurrentOwner, state: State) -> EventSourceResponse:
    await owned_job(state, owner, job_id)
    events = counted_stream("job_events", _job_events(state, owner, job_id))
    return EventSourceResponse(events, ping=SSE_PING_S, send_timeout=30)
