"""Failures served on demand, so retry and fallback paths can be exercised without a real outage.

Faults queue up in the order they were armed; each request consumes the first one that applies to it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

FaultKind = Literal["overloaded", "rate_limited", "spend_limit", "overloaded_mid_stream", "server_error"]


class FaultSpec(BaseModel):
    """The next `count` requests fail with `kind`, once `after` requests have passed; `retry_after` is for
    overloaded and rate_limited."""

    kind: FaultKind
    count: int = Field(default=1, ge=1)
    retry_after: int = Field(default=1, ge=1)
    after: int = Field(default=0, ge=0)


class FaultBoard:
    """Armed faults and how many requests each still has to spoil.

    A mid-stream fault can only spoil a streaming request, so plain requests pass it by and leave it armed.
    """

    def __init__(self, initial: list[FaultSpec]) -> None:
        self._pending: list[FaultSpec] = [spec.model_copy() for spec in initial]

    def arm(self, spec: FaultSpec) -> None:
        self._pending.append(spec.model_copy())

    def pending(self) -> list[FaultSpec]:
        return [spec.model_copy() for spec in self._pending]

    def clear(self) -> None:
        self._pending.clear()

    def take(self, *, streaming: bool) -> FaultSpec | None:
        for spec in self._pending:
            if spec.kind == "overloaded_mid_stream" and not streaming:
                continue
            if spec.after:
                spec.after -= 1  # this request passes; a later one is spoilt (e.g. a continuation, not its first call)
                return None
            spec.count -= 1
            if spec.count == 0:
                self._pending.remove(spec)
            return spec
        return None
