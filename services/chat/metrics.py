"""The chat service's own metrics; the budget's waits and token use are the fleet budget's (services/llm)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

TURNS = Counter(
    "estimator_chat_turns_total",
    "Chat turns by predicted kind and outcome (answered, revised, kept_unstored, or the error code)",
    ["kind", "outcome"],
)
CONTINUATIONS = Counter(
    "estimator_chat_continuations_total",
    "Chat answers that reached their output allowance and were continued",
    ["kind"],
)
WAITING = Gauge("estimator_chat_turns_waiting", "Chat turns of this replica waiting in line for Claude capacity")
