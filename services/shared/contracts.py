"""Wire models shared by the services: what the gateway, worker, chat and saves services say to each other.

Keeping them in one module is what lets each service be deployed alone yet agree on every payload.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from services.estimation.diff import EstimateDiff
from services.estimation.models import RepoFacts

MAX_PAGE = 100
DEFAULT_PAGE = 20
MAX_CURSOR = 500
"""Bounds of a listing (saves, a save's revisions), the same for the public routes and the saves service's."""

MAX_REVISION = 2**31 - 1
"""Revision numbers are 32-bit integers in the database: a larger one names no revision."""
_REVISION = re.compile(r"[1-9][0-9]{0,9}")


def revision_number(text: str) -> int | None:
    """The revision a path names, in its one spelling (digits, no sign, no leading zero); None for anything else."""
    if _REVISION.fullmatch(text) is None or int(text) > MAX_REVISION:
        return None
    return int(text)


_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
STORABLE_TEXT_PATTERN = r"^[^\u0000\ud800-\udfff]*$"
"""The same rule as the OpenAPI states it for every text a user sends: no NUL, no lone surrogate."""


def storable(value: object) -> object:
    """`value` if PostgreSQL (and UTF-8) can store it: no NUL, and none of the lone surrogates JSON can carry
    as `\\ud800` escapes. Raised as a validation error naming the field (422 at the gateway).

    It runs before pydantic's own string check, which refuses a surrogate in some cases (not inside a union)
    with a less telling message; anything but a string is left to that check."""
    found = _UNSTORABLE.search(value) if isinstance(value, str) else None
    if found is None:
        return value
    if found.group() == "\x00":
        raise PydanticCustomError("nul_character", "contains a NUL character")
    code = f"U+{ord(found.group()):04X}"
    raise PydanticCustomError("lone_surrogate", "contains a lone surrogate ({code}), which is not text", {"code": code})


StorableText = Annotated[str, BeforeValidator(storable), Field(json_schema_extra={"pattern": STORABLE_TEXT_PATTERN})]
"""A text a user sends. What cannot be stored is refused at the edge, before a job or a Claude call is paid for."""


JobStatus = Literal["queued", "running", "succeeded", "failed"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed"})


class ErrorInfo(BaseModel):
    code: str
    message: str


class Usage(BaseModel):
    """Token usage and its cost in USD, summed over one or more Claude calls."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            calls=self.calls + other.calls,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 6),
        )


class JobState(BaseModel):
    """The small, hot record behind `GET /api/estimate/{id}/status` (kept in Redis, never in SQL).

    `owner` comes first so that the stored form (`stored_json`) is `{"owner":…,` followed by exactly the
    public document's fields: the status read checks the owner and answers the rest without parsing it.
    """

    owner: str
    job_id: str
    status: JobStatus = "queued"
    stage: str = "queued"
    progress: float = Field(default=0.0, ge=0.0, le=1.0)
    save_id: str | None = None
    error: ErrorInfo | None = None
    usage: Usage = Field(default_factory=Usage)
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = Field(
        default=None, description="when a worker first took the job: its queue wait is `started_at - created_at`"
    )

    def public_json(self) -> str:
        """The status document as the API returns it: no owner, and no save_id or error until they exist."""
        return self.model_dump_json(exclude={"owner"}, exclude_none=True)

    def stored_json(self) -> str:
        """What Redis holds and job events carry: the public document with the owner in front."""
        return self.model_dump_json(exclude_none=True)


class JobInput(BaseModel):
    """What the user submitted; stored apart from JobState so status reads stay small."""

    requirements_md: str
    github_url: str | None = None
    name: str | None = None


class Totals(BaseModel):
    """Headline figures shown in save listings, copied from the computed financials."""

    expected_hours: float
    cost: float
    price: float
    currency: str


class SaveCreate(BaseModel):
    """Written by the worker; `job_id` makes the write idempotent (a retried job yields one save)."""

    job_id: str
    owner: str
    name: str
    requirements_md: str
    github_url: str | None = None
    repository: RepoFacts | None = None
    methodology_version: str
    methodology_md: str = Field(description="Stored once per version; the save refers to it by version.")
    report_markdown: str
    estimate_data: dict[str, Any]
    financials_data: dict[str, Any]
    cross_check: dict[str, Any]
    totals: Totals
    usage: Usage


class SaveSummary(BaseModel):
    save_id: str
    name: str
    status: str
    created_at: datetime
    updated_at: datetime
    totals: Totals


class SaveDetail(SaveSummary):
    job_id: str
    revision: int
    github_url: str | None
    repository: RepoFacts | None = Field(
        default=None, description="What was learnt about `github_url` when the estimate was made."
    )
    requirements_md: str
    methodology_version: str = Field(
        description="The estimation methodology the estimate was made with: GET /api/methodology/{version}."
    )
    report_markdown: str
    estimate_data: dict[str, Any]
    financials_data: dict[str, Any]
    cross_check: dict[str, Any]
    usage: Usage


class SaveWithMethodology(SaveDetail):
    """The whole save in one answer (`?include=methodology`): the methodology's text inlined."""

    methodology_md: str


class Methodology(BaseModel):
    version: str
    content: str


class SavePage(BaseModel):
    items: list[SaveSummary]
    next_cursor: str | None


class SaveRename(BaseModel):
    name: StorableText = Field(min_length=1, max_length=200)


class RevisionCreate(BaseModel):
    """A chat turn that changed the estimate: the new data replaces the current one as revision N+1."""

    estimate_data: dict[str, Any]
    financials_data: dict[str, Any]
    cross_check: dict[str, Any]
    report_markdown: str
    totals: Totals
    reason: str = Field(max_length=2000)
    operations: list[dict[str, Any]] = Field(
        default_factory=list, description="The edit operations that turned the previous revision into this one."
    )


class RevisionSummary(BaseModel):
    """One revision in a save's history, without its (large) data."""

    revision: int
    reason: str = Field(description="Why it was made: the initial estimate, or the chat change that made it.")
    created_at: datetime
    totals: Totals
    operation_count: int = Field(
        description="How many edit operations turned the previous revision into this one (0 for the first)."
    )


class RevisionPage(BaseModel):
    items: list[RevisionSummary]
    next_cursor: str | None


class RevisionDetail(RevisionSummary):
    """One revision in full. A revision never changes once written."""

    save_id: str
    operations: list[dict[str, Any]] | None = Field(
        description="The edit operations that made it from the previous revision; null when none were recorded "
        "(the first revision, and revisions saved before chat edited by operations)."
    )
    estimate_data: dict[str, Any]
    financials_data: dict[str, Any]
    cross_check: dict[str, Any]
    report_markdown: str


class RevisionDiff(EstimateDiff):
    """What changed from revision `from_revision` to `to_revision`; every change is to - from."""

    save_id: str
    from_revision: int
    to_revision: int


class ChatMessageIn(BaseModel):
    role: Literal["user", "assistant"]
    content: str
    revision: int
    usage: Usage | None = None


class ChatTurnCreate(BaseModel):
    """One user message and Claude's reply, stored together so history never holds half a turn."""

    user: ChatMessageIn
    assistant: ChatMessageIn
    revision: RevisionCreate | None = None
    base_revision: int | None = Field(
        default=None, description="The revision the turn was asked about; a revision built on another is refused."
    )


class ChatMessage(BaseModel):
    role: Literal["user", "assistant"]
    content: str
    revision: int
    created_at: datetime


class ChatHistory(BaseModel):
    job_id: str
    save_id: str
    messages: list[ChatMessage]


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: StorableText = Field(min_length=1, max_length=20_000)


class ChatReply(BaseModel):
    reply: str
    revision: int
    revised: bool = Field(description="True when this turn changed the estimate (a new revision was saved).")
    usage: Usage
    stored: bool = Field(
        default=True,
        description="False while the turn waits to be stored (the saves service was unavailable when Claude "
        "answered): it is kept and stored in the background, and its turn state says `stored: true` once done.",
    )


class TurnState(BaseModel):
    """A chat turn as its owner sees it: running, or finished with the reply or the error."""

    turn_id: str
    job_id: str
    state: Literal["running", "succeeded", "failed"]
    reply: ChatReply | None = None
    error: ErrorInfo | None = None
