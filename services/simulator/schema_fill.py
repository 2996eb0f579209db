"""A JSON Schema driven answer generator: any tool input or structured output, filled from the request's text.

Arrays of objects get one item per outline line of the requirements (bounded by minItems/maxItems); strings
quote that line; numbers and enums are picked by hashing it. Hours and roles go through `estimate_fill` so
estimates come out plausible. The output always validates against the schema it was generated from.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from services.simulator.estimate_fill import digest, hour_rank, hours_for, role_for
from services.simulator.material import Material

if TYPE_CHECKING:
    from referencing._core import Resolver  # not re-exported publicly; referencing.typing does the same

Schema = dict[str, Any]
_ROOT_URI = "urn:claude-simulator:schema"
_MAX_DEPTH = 6
_SCALAR_LIST_LENGTH = 5
_TOPIC_CHARS = 120
_TITLE_WORDS = ("title", "name", "label", "heading", "task", "feature")
_PROSE_WORDS = ("description", "summary", "detail", "rationale", "reason", "note", "explanation", "scope")


@dataclass(frozen=True)
class _Slot:
    """Where a value goes: the property it fills, the outline line it speaks about (if any yet), its index
    among siblings sharing that line, and `key`, an id for the list item it belongs to (like 'WI-03')."""

    name: str
    line: str | None
    index: int
    depth: int
    key: str | None = None


def _humanize(name: str) -> str:
    words = re.sub(r"(?<=[a-z])(?=[A-Z])|[_\-]+", " ", name).strip().lower()
    return words[:1].upper() + words[1:] if words else "Value"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "item"


def _initials(name: str) -> str:
    return "".join(word[0] for word in re.split(r"[^A-Za-z0-9]+", name) if word).upper()[:3] or "ID"


def _clamp_count(wanted: int, schema: Schema) -> int:
    low = int(schema.get("minItems", 0))
    high = int(schema.get("maxItems", max(wanted, low)))
    return max(low, min(wanted, high))


class SchemaFiller:
    def __init__(self, schema: Schema, material: Material) -> None:
        self._schema = schema
        self._resolver: Resolver[Any] = (
            Registry()
            .with_resource(_ROOT_URI, Resource.from_contents(schema, default_specification=DRAFT202012))
            .resolver(base_uri=_ROOT_URI)
        )
        self._lines = material.lines
        first_sentence = re.split(r"(?<=[.?!])\s|\n", material.question.strip(), maxsplit=1)[0]
        self._request = first_sentence[:_TOPIC_CHARS] or "no reason given"
        topic = material.lines[0] if material.lines else first_sentence[:_TOPIC_CHARS]
        self._topic = topic or "the request"

    def fill(self) -> Any:
        return self._value(self._schema, self._resolver, _Slot("", None, 0, 0))

    def _resolve(self, schema: Schema, resolver: Resolver[Any]) -> tuple[Schema, Resolver[Any]]:
        """Follows $ref, merges allOf and picks the first non-null anyOf/oneOf branch."""
        while True:
            if "$ref" in schema:
                resolved = resolver.lookup(schema["$ref"])
                rest = {k: v for k, v in schema.items() if k != "$ref"}
                schema, resolver = {**resolved.contents, **rest}, resolved.resolver
            elif "allOf" in schema:
                merged: Schema = {k: v for k, v in schema.items() if k != "allOf"}
                for part in schema["allOf"]:
                    part_schema, resolver = self._resolve(part, resolver)
                    properties = {**merged.get("properties", {}), **part_schema.get("properties", {})}
                    required = [*merged.get("required", []), *part_schema.get("required", [])]
                    merged = {**part_schema, **merged, "properties": properties, "required": required}
                schema = merged
            elif "anyOf" in schema or "oneOf" in schema:
                options = schema.get("anyOf") or schema.get("oneOf") or []
                chosen = next((o for o in options if o.get("type") != "null"), options[0])
                rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
                schema = {**rest, **chosen}
            else:
                return schema, resolver

    @staticmethod
    def _type(schema: Schema) -> str:
        declared = schema.get("type")
        if isinstance(declared, list):
            declared = next((t for t in declared if t != "null"), "null")
        if isinstance(declared, str):
            return declared
        if "properties" in schema:
            return "object"
        return "array" if "items" in schema else "string"

    def _value(self, schema: Schema, resolver: Resolver[Any], slot: _Slot) -> Any:
        schema, resolver = self._resolve(schema, resolver)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self._choose(list(schema["enum"]), slot)
        kind = self._type(schema)
        if kind == "object":
            return self._object(schema, resolver, slot)
        if kind == "array":
            return self._array(schema, resolver, slot)
        if kind in ("number", "integer"):
            return self._number(schema, slot)
        if kind == "boolean":
            return digest(f"{slot.name}|{slot.line}|{slot.index}") % 2 == 0
        if kind == "null":
            return None
        return self._string(schema, slot)

    def _choose(self, choices: list[Any], slot: _Slot) -> Any:
        if "role" in slot.name.lower() and all(isinstance(c, str) for c in choices):
            return role_for(slot.line or self._topic, choices)
        return choices[digest(f"{slot.name}|{slot.line}|{slot.index}") % len(choices)]

    def _object(self, schema: Schema, resolver: Resolver[Any], slot: _Slot) -> dict[str, Any]:
        properties: dict[str, Schema] = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        names = [n for n in properties if slot.depth < _MAX_DEPTH or n in required]
        resolved = {name: self._resolve(properties[name], resolver) for name in names}
        ranks = {
            name: rank
            for name, (sub, _) in resolved.items()
            if self._type(sub) in ("number", "integer") and (rank := hour_rank(name)) is not None
        }
        hours = hours_for(slot.line or self._topic) if len(set(ranks.values())) >= 2 else {}
        result: dict[str, Any] = {}
        for name, (sub, sub_resolver) in resolved.items():
            child = _Slot(name, slot.line, slot.index, slot.depth + 1, slot.key)
            if name in ranks and hours and "enum" not in sub and "const" not in sub:
                result[name] = self._fit_number(sub, hours[ranks[name]])
            else:
                result[name] = self._value(sub, sub_resolver, child)
        return result

    def _titled(self, schema: Schema) -> bool:
        properties = schema.get("properties") or {}
        return self._type(schema) == "object" and any(
            word in name.lower() for name in properties for word in _TITLE_WORDS
        )

    def _line(self, index: int) -> str:
        if not self._lines:
            return f"{self._topic} (part {index + 1})"
        line = self._lines[index % len(self._lines)]
        return line if index < len(self._lines) else f"{line} (part {index // len(self._lines) + 1})"

    def _array(self, schema: Schema, resolver: Resolver[Any], slot: _Slot) -> list[Any]:
        items, item_resolver = self._resolve(schema.get("items") or {}, resolver)
        per_line = slot.line is None
        if slot.depth >= _MAX_DEPTH:
            wanted = 0
        elif per_line and self._titled(items):
            wanted = max(1, len(self._lines))
        elif per_line:
            wanted = max(1, min(len(self._lines), _SCALAR_LIST_LENGTH))
        else:
            wanted = 1
        values = []
        for index in range(_clamp_count(wanted, schema)):
            # Items made from distinct lines are told apart by their line; only repeats need their index.
            item = (
                _Slot(slot.name, self._line(index), 0, slot.depth + 1, f"{_initials(slot.name)}-{index + 1:02d}")
                if per_line
                else _Slot(slot.name, slot.line, index, slot.depth + 1, slot.key)
            )
            values.append(self._value(items, item_resolver, item))
        return values

    def _bounds(self, schema: Schema) -> tuple[float, float]:
        integer = self._type(schema) == "integer"
        step = 1.0 if integer else 0.01
        low = schema.get("minimum", schema.get("exclusiveMinimum", -math.inf) + step)
        high = schema.get("maximum", schema.get("exclusiveMaximum", math.inf) - step)
        if math.isinf(low):
            low = min(1.0, high)
        if math.isinf(high):
            high = max(low, 1.0) * 100
        if integer:
            return float(math.ceil(low)), float(math.floor(high))
        return float(low), float(high)

    def _fit_number(self, schema: Schema, preferred: float) -> float | int:
        low, high = self._bounds(schema)
        value = min(max(preferred, low), high)
        return round(value) if self._type(schema) == "integer" else value

    def _number(self, schema: Schema, slot: _Slot) -> float | int:
        if "hour" in slot.name.lower():
            return self._fit_number(schema, hours_for(slot.line or self._topic)["likely"])
        low, high = self._bounds(schema)
        fraction = digest(f"{slot.name}|{slot.line}|{slot.index}") % 1000 / 1000
        if self._type(schema) == "integer":
            return min(int(high), int(low) + math.floor(fraction * (high - low + 1)))
        return min(high, max(low, round(low + fraction * (high - low), 2 if high - low <= 10 else 1)))

    def _string(self, schema: Schema, slot: _Slot) -> str:
        line = slot.line or self._topic
        formatted = {
            "date-time": "2025-01-06T09:00:00Z",
            "date": "2025-01-06",
            "time": "09:00:00Z",
            "email": f"{_slug(line)[:40]}@example.com",
            "uri": f"https://example.com/{_slug(line)}",
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, line)),
        }.get(str(schema.get("format")))
        if formatted is not None:
            return formatted
        text = self._phrase(slot.name.lower(), line, slot.line is None, slot.key)
        if slot.index:
            text = f"{text} ({slot.index + 1})"
        minimum, maximum = int(schema.get("minLength", 0)), schema.get("maxLength")
        text = text.ljust(minimum, ".")
        return text[: int(maximum)] if maximum is not None else text

    def _phrase(self, name: str, line: str, overall: bool, key: str | None) -> str:
        if any(word in name for word in _TITLE_WORDS) or not name:
            return line
        if "assum" in name:
            return f"{line} needs nothing beyond what the requirements describe"
        if "reason" in name and overall:
            return f"Changed as requested: {self._request}"
        if "risk" in name:
            return f"{line} may grow once its details are known"
        if name in ("id", "key", "slug"):
            return key or _slug(line)
        if name.endswith("_id"):
            return _slug(line)
        if any(word in name for word in _PROSE_WORDS):
            if overall and self._lines:
                shown = ", ".join(self._lines[:3])
                return f"Covers {len(self._lines)} parts of the request, starting with {shown}."
            return f"{line}, as described in the requirements."
        return f"{_humanize(name)} for {line}"
