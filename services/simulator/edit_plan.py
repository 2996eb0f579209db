"""The edit a model would make for one scope-change request: a few operations, not a new estimate.

"add X" / "include X" adds one work item under a fresh id; "remove/drop/delete/cut X" removes the item
whose title best matches X; "increase/reduce/raise/lower/change ... X" rescales X's hours, and
"change X to <role>" gives it to another role of the tool's enum. Everything
is derived from the request and the current estimate's text, so the same request gives the same edit,
and an edit for one change stays at a hundred or two output tokens, as a real model's call does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from services.simulator.current_estimate import CurrentEstimate, Item, best_item, hours
from services.simulator.estimate_fill import hours_for, role_for

MAX_HOURS = 2000.0
_TITLE_CHARS = 120
_REASON_CHARS = 160
_LISTED_ITEMS = 10
_DEFAULT_UP = 1.25
_DEFAULT_DOWN = 0.8

_CHANGE = re.compile(
    r"\b(add|remove|increase|reduce|change|revise|drop|delete|decrease|update|cut|raise|lower|double|triple|halve)\b",
    re.I,
)
_INCLUDE = re.compile(r"^\W*(?:(?:please|also|and|then|can|could|would|will)\W+(?:you\W+|we\W+)?)*include\b", re.I)
_QUESTION = re.compile(
    r"^\W*(?:why|what|how|when|where|which|who|whose|does|do|did|is|are|was|were|has|have|had|should)\b", re.I
)
_SENTENCE = re.compile(r"[^.?!\n]+[.?!]*")
_VERB = re.compile(
    r"\b(?P<verb>add|include|remove|drop|delete|cut|increase|raise|reduce|lower|decrease|change|update|revise|"
    r"double|triple|halve)\b"
    r"\W*(?P<target>.*)",
    re.I | re.S,
)
_ADDITIONS = {"add", "include"}
_REMOVALS = {"remove", "drop", "delete"}
_DOWN = {"reduce", "lower", "decrease", "cut"}
_GENERIC = {"change", "update", "revise"}
_WHOLE = re.compile(r"^(?:the\s+|this\s+|our\s+)?(?:estimate|scope|plan|proposal|quote)\b", re.I)
_AMOUNT = re.compile(r"\b(?:hours?|effort|time|budget|cost|estimate)\b|\d", re.I)
_NUMBER = r"(?P<n>\d+(?:\.\d+)?)"
_PERCENT = re.compile(rf"\b(?:by\s+)?{_NUMBER}\s*(?:%|percent\b)", re.I)
_TO_HOURS = re.compile(rf"\bto\s+(?:about\s+|around\s+)?{_NUMBER}\s*(?:h|hrs?|hours?)\b", re.I)
_BY_HOURS = re.compile(rf"\b(?:by\s+)?{_NUMBER}\s*(?:h|hrs?|hours?)\b", re.I)
_FACTOR_WORDS = re.compile(r"\b(?P<word>double|twice|triple|halve|half)\b", re.I)
_FACTORS = {"double": 2.0, "twice": 2.0, "triple": 3.0, "halve": 0.5, "half": 0.5}
_HOURS_ADDED = re.compile(rf"^{_NUMBER}\s*(?P<unit>%|percent|h|hrs?|hours?)\b\W*(?:more\W+)?(?:to|for|on)\b", re.I)
_LEADING = re.compile(r"^(?:(?:a|an|the|some|also|another|new|please)\s+)+", re.I)
_TRAILING = re.compile(
    r"\s*(?:,?\s*(?:please|thanks?|thank you)|\s+(?:to|in|into)\s+(?:the|this|our)\s+"
    r"(?:estimate|scope|plan|project|proposal|quote)|\s+as well|\s+too|\s+also)\s*$",
    re.I,
)


@dataclass(frozen=True)
class Edit:
    """The text said before the tool call and the tool's input."""

    preface: str
    tool_input: dict[str, Any]


def change_request(question: str) -> str | None:
    """The sentence of the message that asks for a change, if one does.

    A sentence opening like a question ('why did you add ...?') asks about the estimate and changes
    nothing; 'can you add ...?' and 'please include ...' ask for a change.
    """
    for match in _SENTENCE.finditer(question):
        sentence = match.group(0).strip()
        if _QUESTION.match(sentence):
            continue
        if _CHANGE.search(sentence) or _INCLUDE.match(sentence):
            return sentence
    return None


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for child in node.values():
            yield from _walk(child)
    elif isinstance(node, list):
        for child in node:
            yield from _walk(child)


def _offered(schema: dict[str, Any]) -> tuple[set[str], list[str]]:
    """The operations (each `op` property's const) and the roles (any `role` enum) the tool accepts."""
    ops: set[str] = set()
    roles: list[str] = []
    for node in _walk(schema):
        properties = node.get("properties")
        if not isinstance(properties, dict):
            continue
        op = properties.get("op")
        if isinstance(op, dict) and isinstance(op.get("const"), str):
            ops.add(op["const"])
        role = properties.get("role")
        for branch in _walk(role):
            for value in branch.get("enum") or []:
                if isinstance(value, str) and value not in roles:
                    roles.append(value)
    return ops, roles


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;: ") + "…"


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def _next_id(items: tuple[Item, ...]) -> str:
    """The next id in the estimate's own numbering (WI-03 -> WI-04), never one in use."""
    used = {item.id for item in items}
    numbered = [m for item in items if (m := re.fullmatch(r"(?P<prefix>.*?)(?P<n>\d+)", item.id))]
    prefix, width, number = "WI-", 2, 0
    if numbered:
        last = max(numbered, key=lambda m: int(m.group("n")))
        prefix, width, number = last.group("prefix"), len(last.group("n")), int(last.group("n"))
    while True:
        number += 1
        candidate = f"{prefix}{number:0{width}d}"
        if candidate not in used:
            return candidate


def _title(target: str) -> str:
    title = target.strip().rstrip(".!?").strip()
    previous = None
    while previous != title:
        previous = title
        title = _TRAILING.sub("", _LEADING.sub("", title)).strip(" ,;:")
    return _sentence_case(_clip(title, _TITLE_CHARS)) or "Additional work requested in chat"


def _round(value: float) -> float:
    return min(MAX_HOURS, max(0.5, round(value * 2) / 2))


def _scaled(item: Item, factor: float) -> tuple[float, float, float]:
    low, likely, high = (_round(value * factor) for value in (item.low, item.likely, item.high))
    return low, likely, high


def _factor(verb: str, target: str, item: Item) -> tuple[float, str]:
    """How much to scale the item's hours, and how the request put it ('raised by 50%')."""
    direction = "lowered" if verb in _DOWN else "raised"
    if word := _FACTOR_WORDS.fullmatch(verb) or _FACTOR_WORDS.search(target):
        factor = _FACTORS[word.group("word").lower()]
        return factor, {2.0: "doubled", 3.0: "tripled"}.get(factor, "halved")
    if to := _TO_HOURS.search(target):
        wanted = float(to.group("n"))
        return max(0.05, wanted / item.likely), f"set to {hours(wanted)} h likely"
    if percent := _PERCENT.search(target):
        share = float(percent.group("n")) / 100
        factor = 1 - share if direction == "lowered" else 1 + share
        return max(0.05, factor), f"{direction} by {percent.group('n')}%"
    if by := _BY_HOURS.search(target):
        delta = float(by.group("n"))
        likely = item.likely - delta if direction == "lowered" else item.likely + delta
        return max(0.05, likely / item.likely), f"{direction} by {hours(delta)} h"
    if direction == "lowered":
        return _DEFAULT_DOWN, "lowered by a fifth"
    return _DEFAULT_UP, "raised by a quarter"


def _not_found(target: str, estimate: CurrentEstimate) -> str:
    wanted = _clip(target.strip().rstrip(".!?"), 80) or "that"
    if not estimate.items:
        return f'I couldn\'t find a work item matching "{wanted}": the current estimate lists no work items.'
    shown = [f"{item.id} ({item.title})" for item in estimate.items[:_LISTED_ITEMS]]
    more = len(estimate.items) - len(shown)
    listed = ", ".join(shown) + (f" and {more} more" if more > 0 else "")
    return f'I couldn\'t find a work item matching "{wanted}". The estimate has {listed}. Which one did you mean?'


def _add(sentence: str, target: str, estimate: CurrentEstimate, roles: list[str]) -> Edit:
    title = _title(target)
    choices = roles or sorted({item.role for item in estimate.items}) or ["backend"]
    role = role_for(title, choices)
    low, likely, high = (hours_for(title)[rank] for rank in ("low", "likely", "high"))
    item_id = _next_id(estimate.items)
    item = {
        "id": item_id,
        "title": title,
        "role": role,
        "low_hours": low,
        "likely_hours": likely,
        "high_hours": high,
        "assumptions": [],
        "risks": [],
    }
    operation = {"op": "add_item", "item": item, "reason": "New scope the client asked for in the chat."}
    article = "an" if role[:1].lower() in "aeiou" else "a"
    preface = (
        f'I\'ll add "{title}" as {item_id}, {article} {role} item of {hours(low)}/{hours(likely)}/{hours(high)} h.'
    )
    return Edit(preface, {"reason": _clip(f"Client asked: {sentence}", _REASON_CHARS), "operations": [operation]})


def _remove(sentence: str, item: Item) -> Edit:
    operation = {"op": "remove_item", "id": item.id, "reason": "The client no longer wants this work."}
    preface = f"I'll remove {item.id} ({item.title}) from the estimate."
    return Edit(preface, {"reason": _clip(f"Client asked: {sentence}", _REASON_CHARS), "operations": [operation]})


def _resize(sentence: str, verb: str, target: str, item: Item) -> Edit:
    factor, how = _factor(verb.lower(), target, item)
    low, likely, high = _scaled(item, factor)
    operation = {
        "op": "update_item",
        "id": item.id,
        "title": None,
        "role": None,
        "low_hours": low,
        "likely_hours": likely,
        "high_hours": high,
        "reason": f"The client asked for its hours {how}.",
    }
    before = f"{hours(item.low)}/{hours(item.likely)}/{hours(item.high)}"
    preface = f"I'll change {item.id} ({item.title}) from {before} h to {hours(low)}/{hours(likely)}/{hours(high)} h."
    return Edit(preface, {"reason": _clip(f"Client asked: {sentence}", _REASON_CHARS), "operations": [operation]})


def _role_named(target: str, roles: list[str]) -> str | None:
    """The role a request hands the item to ('change X to frontend'), when it names no amount."""
    if not roles or _PERCENT.search(target) or _BY_HOURS.search(target):
        return None
    names = "|".join(re.escape(role) for role in sorted(roles, key=len, reverse=True))
    found = re.search(rf"\b(?:to|as|into)\s+(?:an?\s+|the\s+)?(?P<role>{names})\b", target, re.I)
    return next((role for role in roles if found and role.lower() == found.group("role").lower()), None)


def _reassign(sentence: str, item: Item, role: str) -> Edit:
    operation = {
        "op": "update_item",
        "id": item.id,
        "title": None,
        "role": role,
        "low_hours": None,
        "likely_hours": None,
        "high_hours": None,
        "reason": f"The client asked for {role} to do it.",
    }
    preface = f"I'll give {item.id} ({item.title}) to {role} instead of {item.role}."
    return Edit(preface, {"reason": _clip(f"Client asked: {sentence}", _REASON_CHARS), "operations": [operation]})


def plan_edit(question: str, estimate: CurrentEstimate | None, schema: dict[str, Any]) -> Edit | str | None:
    """The edit for the change the message asks for; a sentence naming the items when the one it speaks
    of cannot be found; None when it asks for no change the tool can make."""
    sentence = change_request(question)
    found = _VERB.search(sentence) if sentence else None
    if sentence is None or found is None:
        return None
    verb, target = found.group("verb").lower(), found.group("target")
    # "Update the estimate to include X" asks for what follows, not for a resize of "the estimate".
    while verb in _GENERIC and _WHOLE.match(target) and (later := _VERB.search(target)):
        verb, target = later.group("verb").lower(), later.group("target")
    if verb in _ADDITIONS and (added := _HOURS_ADDED.match(target)):
        verb = "increase"
        unit = "%" if added.group("unit").lower() in ("%", "percent") else " h"
        target = f"{target[added.end() :]} by {added.group('n')}{unit}"
    if verb in _ADDITIONS:
        wanted = "add_item"
    elif verb in _REMOVALS or (verb == "cut" and not _AMOUNT.search(target)):
        wanted = "remove_item"
    else:
        wanted = "update_item"
    estimate = estimate or CurrentEstimate()
    offered, roles = _offered(schema)
    if offered and wanted not in offered:
        return None
    if wanted == "add_item":
        return _add(sentence, target, estimate, roles)
    item = best_item(target, estimate.items)
    if item is None:
        return _not_found(target, estimate)
    if wanted == "remove_item":
        return _remove(sentence, item)
    role = _role_named(target, roles) if verb in _GENERIC else None
    return _reassign(sentence, item, role) if role else _resize(sentence, verb, target, item)
