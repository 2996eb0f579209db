from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator, ValidationError

from services.estimation.models import ClaudeEstimate
from services.estimation.rate_card import RateCard
from services.estimation.schema import ESTIMATE_TOOL_NAME, REVISE_TOOL_NAME, estimate_tool, revise_tool

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


def test_revise_tool_requires_a_reason_on_top_of_the_estimate(estimate: ClaudeEstimate) -> None:
    tool = revise_tool(ROLES)
    validator = Draft202012Validator(tool["input_schema"])
    data = estimate.model_dump(mode="json")

    assert tool["name"] == REVISE_TOOL_NAME
    with pytest.raises(ValidationError, match="'reason' is a required property"):
        validator.validate(data)
    validator.validate(data | {"reason": "Client dropped the calendar sync"})


def test_a_tool_needs_roles() -> None:
    with pytest.raises(ValueError, match="at least one role"):
        estimate_tool([])
