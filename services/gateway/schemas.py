"""The public API's request and response bodies (what /openapi.json documents)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from services.shared.contracts import ErrorInfo, JobStatus, StorableText, Usage, revision_number, storable
from services.shared.errors import ApiError
from services.worker.github import GITHUB_URL_PATTERN, parse_github_url


def _github_url(value: str) -> str:
    parse_github_url(value)
    return value.rstrip("/")


GitHubUrl = Annotated[
    str,
    Field(max_length=200, json_schema_extra={"pattern": GITHUB_URL_PATTERN}),
    BeforeValidator(storable),
    AfterValidator(_github_url),
]


class EstimateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requirements_md: StorableText = Field(
        min_length=1, max_length=200_000, description="The requirements, in markdown."
    )
    github_url: GitHubUrl | None = Field(
        default=None,
        description="https://github.com/OWNER/REPO the work builds on (`.git` and one trailing `/` allowed); "
        "null or absent for none. An empty string is not a URL and is refused.",
    )
    name: StorableText | None = Field(default=None, min_length=1, max_length=200)


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


_ENVELOPE = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
_ALWAYS = {
    "401": "No API key, or an unknown or revoked one (`unauthorized`, with `WWW-Authenticate: Bearer`).",
    "414": "The request target is over `MAX_HEADER_FIELD_BYTES` (8 KiB) (`uri_too_long`).",
    "429": "Too many failed authentications from this address (`AUTH_FAILURE_LIMIT`), or, where the route "
    "has a rate limit, too many requests (`rate_limited`, with `Retry-After`).",
    "431": "A header line over `MAX_HEADER_FIELD_BYTES` (8 KiB), or headers over `MAX_HEADER_BYTES` (16 KiB) "
    "in total (`headers_too_large`).",
    "503": "A dependency (Redis, or the saves service looking up a key not yet cached) is unavailable "
    "(`dependency_unavailable`, with `Retry-After`).",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}}
_WITH_PARAMETERS = {
    "422": "A parameter or the body failed validation (`validation_error`, naming each field; at most five).",
}
_WITH_BODY = {
    "400": "The body could not be read as JSON text: not UTF-8, or beyond the parser's limits (`bad_request`).",
    "413": "The body exceeds `MAX_BODY_BYTES` (2 MiB), refused before it is parsed (`payload_too_large`).",
}


def document_errors(doc: dict[str, Any]) -> dict[str, Any]:
    """Completes the OpenAPI with the errors every operation can answer, all in the error envelope.

    FastAPI documents its own 422 shape (`HTTPValidationError`), which this API never sends; and some failures
    come from outside the route (authentication, the body limit, reading the body), so no route lists them.
    """
    for path, operations in doc.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for operation in operations.values():
            has_body = "requestBody" in operation
            has_parameters = has_body or any(p.get("in") != "path" for p in operation.get("parameters", []))
            wanted = {**_ALWAYS, **(_WITH_PARAMETERS if has_parameters else {}), **(_WITH_BODY if has_body else {})}
            responses = operation.setdefault("responses", {})
            if "422" not in wanted and "HTTPValidationError" in json.dumps(responses.get("422")):
                del responses["422"]  # path parameters are plain text: a bad one is a 404, never a 422
            for status, description in wanted.items():
                entry = responses.get(status)
                if entry is None or "HTTPValidationError" in json.dumps(entry):
                    entry = responses[status] = {"description": description, "content": _ENVELOPE}
                elif entry.get("description") in (None, "", "Unprocessable Content", "Validation Error"):
                    entry["description"] = description
                if status in ("429", "503"):
                    entry.setdefault("headers", {}).update(_RETRY_AFTER)
            operation["responses"] = dict(sorted(responses.items()))
    schemas = doc.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return doc
