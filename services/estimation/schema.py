"""Anthropic tool definitions through which Claude must return (or revise) an estimate.

The JSON schemas are generated from the pydantic models so the contract the model sees and the one the
code validates can never drift apart; they are then flattened (tool schemas must be self-contained, so
no `$ref`) and the role is narrowed to an enum of the rate card's roles, because a role we cannot price
is a useless answer.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.estimation.edits import EstimateEdit
from services.estimation.models import ClaudeEstimate

ESTIMATE_TOOL_NAME = "submit_estimate"
EDIT_TOOL_NAME = "edit_estimate"


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
        if key not in {"title", "default", "$defs", "discriminator"}
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


def _narrow_roles(node: Any, roles: list[str]) -> None:
    """Every `role` property, wherever it sits (an item, an update), may only name a rate-card role."""
    if isinstance(node, dict):
        role = node.get("properties", {}).get("role")
        if isinstance(role, dict):
            for branch in role.get("anyOf", [role]):
                if branch.get("type") == "string":
                    branch["enum"] = list(roles)
        for child in node.values():
            _narrow_roles(child, roles)
    elif isinstance(node, list):
        for child in node:
            _narrow_roles(child, roles)


def _input_schema(model: type[BaseModel], roles: list[str]) -> dict[str, Any]:
    if not roles:
        raise ValueError("at least one role is needed to build an estimate tool")
    raw = model.model_json_schema()
    schema: dict[str, Any] = _inline(raw, raw.get("$defs", {}))
    _require_everything(schema)
    _narrow_roles(schema, roles)
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


def edit_tool(roles: list[str]) -> dict[str, Any]:
    """The tool the chat offers when a conversation turn changes the estimate.

    Its input is a list of operations on the current revision, not a new estimate: only what changes
    is generated, and code applies, validates and prices the result.
    """
    return {
        "name": EDIT_TOOL_NAME,
        "description": (
            "Change the current estimate when the user asks for a change in scope, assumptions, risks or "
            "hours. Send only the operations that change something: add_item, update_item or remove_item "
            "by work item id (update_item: null keeps a field as it is), add_risk or remove_risk by title, "
            "edit_notes for assumptions, out_of_scope or open_questions, set_summary; each with a short "
            "reason, plus one reason for the whole change. Do not call it to answer questions."
        ),
        "input_schema": _input_schema(EstimateEdit, roles),
    }
