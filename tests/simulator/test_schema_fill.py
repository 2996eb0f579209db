"""Structured output: answers to `output_config.format` are JSON that validates against the schema sent."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from pydantic import BaseModel

from tests.simulator.conftest import MODEL, OUTLINE, REQUIREMENTS, Sim

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "summary": {"type": "string", "maxLength": 80},
        "features": {"type": "array", "items": {"$ref": "#/$defs/Feature"}, "minItems": 1, "maxItems": 4},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["web", "mobile", "api"]}, "minItems": 2},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "team_size": {"type": "integer", "minimum": 2, "maximum": 9},
        "needs_hosting": {"type": "boolean"},
        "owner": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/Person"}]},
        "kind": {"const": "estimate"},
    },
    "required": ["summary", "features", "tags", "confidence", "team_size", "needs_hosting", "owner", "kind"],
    "$defs": {
        "Feature": {
            "type": "object",
            "properties": {
                "title": {"type": "string", "maxLength": 12},
                "priority": {"type": "string", "enum": ["must", "should", "could"]},
                "steps": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
            },
            "required": ["title", "priority", "steps"],
        },
        "Person": {
            "type": "object",
            "properties": {"email": {"type": "string", "format": "email"}, "name": {"type": "string"}},
            "required": ["email", "name"],
        },
    },
}


async def _structured(sim: Sim, schema: dict[str, Any], content: str = REQUIREMENTS) -> Any:
    message = await sim.claude.messages.create(
        model=MODEL,
        max_tokens=4000,
        messages=[{"role": "user", "content": content}],
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )
    assert message.stop_reason == "end_turn"
    assert message.content[0].type == "text"
    return json.loads(message.content[0].text)


async def test_structured_output_validates_against_the_schema(sim: Sim) -> None:
    answer = await _structured(sim, SCHEMA)

    jsonschema.validate(answer, SCHEMA)
    assert [feature["title"] for feature in answer["features"]] == [line[:12] for line in OUTLINE[:4]]


async def test_list_of_titled_objects_follows_the_outline(sim: Sim) -> None:
    schema = {
        "type": "object",
        "properties": {"sections": {"type": "array", "items": {"type": "object", "properties": {"name": {}}}}},
    }

    answer = await _structured(sim, schema)

    assert [section["name"] for section in answer["sections"]] == OUTLINE


async def test_text_without_an_outline_still_gets_a_valid_answer(sim: Sim) -> None:
    answer = await _structured(sim, SCHEMA, content="Just a short question without any list.")

    jsonschema.validate(answer, SCHEMA)
    assert len(answer["features"]) == 1


class Section(BaseModel):
    title: str
    hours: float


class Plan(BaseModel):
    sections: list[Section]


async def test_sdk_parses_structured_output_into_a_model(sim: Sim) -> None:
    parsed = await sim.claude.messages.parse(
        model=MODEL, max_tokens=4000, messages=[{"role": "user", "content": REQUIREMENTS}], output_format=Plan
    )

    assert parsed.parsed_output is not None
    assert [section.title for section in parsed.parsed_output.sections] == OUTLINE
    assert all(section.hours > 0 for section in parsed.parsed_output.sections)
