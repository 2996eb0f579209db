"""The public API's request and response bodies (what /openapi.json documents)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from services.shared.contracts import ErrorInfo, JobStatus, Usage, revision_number
from services.shared.errors import ApiError
from services.worker.github import parse_github_url


def _github_url(value: str) -> str:
    parse_github_url(value)
    return value.rstrip("/")


GitHubUrl = Annotated[str, Field(max_length=200), AfterValidator(_github_url)]


class EstimateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requirements_md: str = Field(min_length=1, max_length=200_000, description="The requirements, in markdown.")
    github_url: GitHubUrl | None = Field(default=None, description="https://github.com/OWNER/REPO the work builds on.")
    name: str | None = Field(default=None, min_length=1, max_length=200)


class EstimateAccepted(BaseModel):
    job_id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    status_url: str
    events_url: str


class JobStatusResponse(BaseModel):
    job_id: str
    status: JobStatus
    stage: str
    progress: float
    save_id: str | None = None
    error: ErrorInfo | None = None
    usage: Usage
    created_at: datetime
    updated_at: datetime


class ErrorEnvelope(BaseModel):
    error: ErrorInfo


_ID = re.compile(r"[0-9A-Fa-f-]{1,64}")


def looks_like_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None


def known_id(value: str) -> str:
    """Ids are UUIDs; anything else cannot name a record, so it is a 404 (and is never forwarded)."""
    if not looks_like_id(value):
        raise ApiError(404, "not_found", "no such record")
    return value


def save_id_of(value: str) -> str:
    """Save ids are UUIDs, in one spelling: every way of writing one reads the same cached answer."""
    try:
        return str(uuid.UUID(known_id(value)))
    except ValueError as exc:
        raise ApiError(404, "not_found", "no such record") from exc


def revision_of(value: str) -> int:
    """Revision numbers have one spelling too (1, 2, …; no sign, no leading zero); anything else is a 404."""
    number = revision_number(value)
    if number is None:
        raise ApiError(404, "not_found", "no such revision")
    return number


def error_responses(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the error envelope, so generated clients know every failure's shape."""
    return {status: {"model": ErrorEnvelope} for status in statuses}
