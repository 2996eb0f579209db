"""What a log line says about where it comes from: the trace and span, and the job and owner where known.

A job's or a chat turn's code runs in a task of its own, which sets `log_context` once; every line logged
under it, by our code or a library's, then carries the ids, so an SRE can go from a log line to its
trace and back. Never a key, a token or the requirements' text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from opentelemetry import trace

_FIELDS: dict[str, ContextVar[str | None]] = {
    "job_id": ContextVar("log_job_id", default=None),
    "owner": ContextVar("log_owner", default=None),
}


@contextmanager
def log_context(**values: str) -> Iterator[None]:
    tokens = [(_FIELDS[name], _FIELDS[name].set(value)) for name, value in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def set_log_context(**values: str) -> None:
    """Adds to the enclosing `log_context` what becomes known later (a job's owner, once it is read)."""
    for name, value in values.items():
        _FIELDS[name].set(value)


class ContextFilter(logging.Filter):
    """Puts the current trace and span ids, the job and the owner on every record, where known."""

    def filter(self, record: logging.LogRecord) -> bool:
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            record.trace_id = format(span.trace_id, "032x")
            record.span_id = format(span.span_id, "016x")
        for name, var in _FIELDS.items():
            value = var.get()
            if value is not None:
                setattr(record, name, value)
        return True
