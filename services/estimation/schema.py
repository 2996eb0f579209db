"""Anthropic tool definitions through which Claude must return (or revise) an estimate.

The JSON schemas are generated from the pydantic models so the contract the model sees and the one the
code validates can never drift apart; they are then flattened (tool schemas must be self-contained, so
no `$ref`) and the role is narrowed to an enum of the rate card's roles, because a role we cannot price
is a useless answer.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.estimation.models import ClaudeEstimate, EstimateRevision

ESTIMATE_TOOL_NAME = "submit_estimate"
REVISE_TOOL_NAME = "revise_estimate"


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """Replace every `$ref` by its definition and drop pydantic's titles and defaults.

    Titles only repeat the property names, and defaults would tell the model a field may be left out
    when we want it always stated (an empty list is an answer; a missing list is not).
    """
    if isinstance(node, list):
        return [_inline(child, defs) for child in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    return {
        key: _inline(value, defs) if key != "properties" else {k: _inline(v, defs) for k, v in value.items()}
        for key, value in node.items()
        if key not in {"title", "default", "$defs"}
    }


def _require_everything(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node["required"] = list(node["properties"])
        for child in node.values():
            _require_everything(child)
    elif isinstance(node, list):
        for child in node:
            _require_everything(child)


def _input_schema(model: type[BaseModel], roles: list[str]) -> dict[str, Any]:
    if not roles:
        raise ValueError("at least one role is needed to build an estimate tool")
    raw = model.model_json_schema()
    schema: dict[str, Any] = _inline(raw, raw.get("$defs", {}))
    _require_everything(schema)
    role = schema["properties"]["work_items"]["items"]["properties"]["role"]
    role["enum"] = list(roles)
    return schema


def estimate_tool(roles: list[str]) -> dict[str, Any]:
    """The tool Claude is forced to call with its first estimate."""
    return {
        "name": ESTIMATE_TOOL_NAME,
        "description": (
            "Submit the complete estimate: a deliverable-oriented work breakdown with three-point hours "
            "per item, project risks with probability and impact hours, assumptions, exclusions and open "
            "questions. Do not include totals, rates, costs or prices: they are computed from your items."
        ),
        "input_schema": _input_schema(ClaudeEstimate, roles),
    }


def revise_tool(roles: list[str]) -> dict[str, Any]:
    """The tool the chat offers when a conversation turn changes the estimate.

    Its input is the complete new estimate (not a diff) so that every revision stands on its own and is
    validated and priced exactly like a first estimate.
    """
    return {
        "name": REVISE_TOOL_NAME,
        "description": (
            "Replace the current estimate when the user asks for a change in scope, assumptions or hours. "
            "Send the complete new estimate (all work items, including unchanged ones, keeping their ids) "
            "and a short reason. Do not call it to answer questions that change nothing."
        ),
        "input_schema": _input_schema(EstimateRevision, roles),
    }
