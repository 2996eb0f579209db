from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError

from services.estimation.models import ClaudeEstimate
from services.estimation.rate_card import RateCard
from services.estimation.schema import EDIT_TOOL_NAME, ESTIMATE_TOOL_NAME, edit_tool, estimate_tool

ROLES = list(RateCard().roles)


def test_estimate_tool_is_a_self_contained_anthropic_tool() -> None:
    tool = estimate_tool(ROLES)

    assert set(tool) == {"name", "description", "input_schema"}
    assert tool["name"] == ESTIMATE_TOOL_NAME
    assert "$ref" not in json.dumps(tool)
    Draft202012Validator.check_schema(tool["input_schema"])


def test_roles_are_an_enum_of_the_rate_card() -> None:
    item = estimate_tool(ROLES)["input_schema"]["properties"]["work_items"]["items"]

    assert item["properties"]["role"]["enum"] == ROLES
    assert item["properties"]["high_hours"]["maximum"] == 2000
    assert item["properties"]["title"]["maxLength"] == 200


def test_a_dumped_estimate_validates_against_the_tool_schema(estimate: ClaudeEstimate) -> None:
    Draft202012Validator(estimate_tool(ROLES)["input_schema"]).validate(estimate.model_dump(mode="json"))


def test_the_schema_refuses_what_the_models_refuse(estimate: ClaudeEstimate) -> None:
    validator = Draft202012Validator(estimate_tool(["backend", "qa"])["input_schema"])
    data = estimate.model_dump(mode="json")

    with pytest.raises(ValidationError, match="'frontend' is not one of"):
        validator.validate(data)
    data["work_items"] = []
    with pytest.raises(ValidationError):
        Draft202012Validator(estimate_tool(ROLES)["input_schema"]).validate(data)


def test_edit_tool_takes_operations_and_names_only_rate_card_roles() -> None:
    tool = edit_tool(ROLES)
    validator = Draft202012Validator(tool["input_schema"])
    add: dict[str, Any] = {
        "op": "add_item",
        "reason": "asked for",
        "item": {
            "id": "WI-09",
            "title": "Mobile app",
            "role": ROLES[0],
            "low_hours": 8,
            "likely_hours": 16,
            "high_hours": 30,
            "assumptions": [],
            "risks": [],
        },
    }
    update = {
        "op": "update_item",
        "id": "WI-01",
        "title": None,
        "role": None,
        "low_hours": None,
        "likely_hours": 20,
        "high_hours": None,
        "reason": "more screens",
    }

    assert tool["name"] == EDIT_TOOL_NAME
    validator.validate({"reason": "Client wants a mobile app", "operations": [add, update]})
    with pytest.raises(ValidationError, match="not valid under any"):
        validator.validate({"reason": "r", "operations": [add | {"item": add["item"] | {"role": "astronaut"}}]})
    with pytest.raises(ValidationError):
        validator.validate({"reason": "r", "operations": []})


def test_a_tool_needs_roles() -> None:
    with pytest.raises(ValueError, match="at least one role"):
        estimate_tool([])
