"""Prometheus latency of every SQL statement, labelled by its verb, from SQLAlchemy cursor events.

Cheap enough to leave on: two clock reads per statement, no statement text in labels (bounded cardinality).
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Histogram
from sqlalchemy import event
from sqlalchemy.engine import Connection, ExceptionContext, ExecutionContext
from sqlalchemy.ext.asyncio import AsyncEngine

DB_QUERY_LATENCY = Histogram(
    "estimator_db_query_duration_seconds",
    "SQL statement latency in the saves service",
    ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
_KNOWN_OPERATIONS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"})


def _operation(statement: str) -> str:
    verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
    return verb if verb in _KNOWN_OPERATIONS else "OTHER"


def _started(
    conn: Connection,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: ExecutionContext,
    executemany: bool,
) -> None:
    conn.info.setdefault("query_started", []).append(time.perf_counter())


def _finished(
    conn: Connection,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: ExecutionContext,
    executemany: bool,
) -> None:
    started = conn.info["query_started"].pop()
    DB_QUERY_LATENCY.labels(_operation(statement)).observe(time.perf_counter() - started)


def _failed(context: ExceptionContext) -> None:
    """A failed statement never reaches after_cursor_execute; drop its start so timings stay paired."""
    if context.connection is not None and context.connection.info.get("query_started"):
        context.connection.info["query_started"].pop()


def instrument_query_latency(engine: AsyncEngine) -> None:
    event.listen(engine.sync_engine, "before_cursor_execute", _started)
    event.listen(engine.sync_engine, "after_cursor_execute", _finished)
    event.listen(engine.sync_engine, "handle_error", _failed)
