"""Prose answers: a short paragraph for a question, a sentence or two after a tool result.

A model answering a question about an estimate writes a paragraph, not an essay: ANSWER_TOKENS bounds
it, and a hash of the question picks the length within those bounds, so the same question always gets
the same answer. The paragraph is built from what the request holds: the items the question names,
the computed figures and risks of the current estimate, or else the outline of the requirements.
"""

from __future__ import annotations

import re
from typing import Any

from services.simulator.current_estimate import CurrentEstimate, Item, hours, items_named
from services.simulator.estimate_fill import digest
from services.simulator.material import Material, block_text
from services.simulator.tokens import approx_tokens
from services.simulator.wire import MessageIn

ANSWER_TOKENS = (60, 200)
"""Output tokens of an answer to a question: a short paragraph, as Sonnet writes when asked to be concise."""
_QUOTE_CHARS = 120
_RESULT_CHARS = 300
_NAMED_ITEMS = 2
_RISKS = 2
_NOTES = 2
_TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("risks", re.compile(r"\brisk", re.I)),
    ("price", re.compile(r"\b(?:cost|pric|expensive|cheap|budget|money|margin|pay)", re.I)),
    ("out_of_scope", re.compile(r"\b(?:scope|exclud|include|cover)", re.I)),
    ("assumptions", re.compile(r"\bassum", re.I)),
    ("open_questions", re.compile(r"\b(?:open|unknown|unclear|question)", re.I)),
    ("largest", re.compile(r"\b(?:big|large|long|most|biggest|largest|main)", re.I)),
)
_CLOSING = "If you want to change the scope, tell me what to add, remove or resize and I'll update the estimate."
_CLOSING_OUTLINE = "Ask me to add, remove or resize any of them and I will revise the estimate."


def _excerpt(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _quoted(lines: list[str]) -> str:
    quoted = [f'"{line}"' for line in lines]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def answer_length(question: str) -> int:
    """The output tokens this question's answer aims at, within ANSWER_TOKENS."""
    low, high = ANSWER_TOKENS
    return low + digest(f"answer|{question}") % (high - low + 1)


def _fit(sentences: list[str], closing: str, target: int) -> str:
    """Sentences in order until the paragraph reaches `target` tokens, never beyond ANSWER_TOKENS; the
    closing sentence always ends it."""
    budget = ANSWER_TOKENS[1] - approx_tokens(" " + closing)
    paragraph = ""
    for sentence in dict.fromkeys(sentences):
        if approx_tokens(paragraph) >= target - approx_tokens(closing):
            break
        candidate = f"{paragraph} {sentence}".strip()
        if approx_tokens(candidate) <= budget:
            paragraph = candidate
    return f"{paragraph} {closing}".strip()


def _in_sentence(note: str) -> str:
    """A note as a clause: no full stop of its own, and a capital kept only where it is not just the
    note's first letter ('API keys', not 'One location')."""
    note = note.strip().rstrip(".")
    return note[:1].lower() + note[1:] if note[1:2].islower() else note


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _item_sentence(item: Item) -> str:
    return (
        f"{item.id} ({item.title}) is {_article(item.role)} {item.role} item estimated at "
        f"{hours(item.low)}/{hours(item.likely)}/{hours(item.high)} h, which weighs out at "
        f"{hours(item.expected)} h expected."
    )


def _topic_sentences(estimate: CurrentEstimate) -> dict[str, str]:
    figures = estimate.figures
    sentences: dict[str, str] = {}
    if "expected" in figures:
        committed = f", and {figures['committed']} committed once contingency and the risk reserve are added"
        sentences["hours"] = (
            f"Across its {len(estimate.items)} work items the estimate comes to {figures['expected']} expected"
            f"{committed if 'committed' in figures else ''}."
        )
    if "price" in figures:
        cost = f" for a delivery cost of {figures['cost']}" if "cost" in figures else ""
        sentences["price"] = f"The price is {figures['price']}{cost}, computed from the rate card."
    if estimate.items:
        largest = max(estimate.items, key=lambda item: item.expected)
        sentences["largest"] = (
            f"The largest item is {largest.id} ({largest.title}) at {hours(largest.expected)} h expected."
        )
        widest = max(estimate.items, key=lambda item: item.high - item.low)
        sentences["spread"] = (
            f"The widest range is on {widest.id}, {hours(widest.low)} to {hours(widest.high)} h; narrowing it "
            "is the quickest way to lower the contingency."
        )
    risks = sorted(estimate.risks, key=lambda risk: -risk.probability * risk.impact_hours)[:_RISKS]
    if risks:
        listed = [
            f'"{risk.title}" ({risk.probability:.0%}, {hours(risk.impact_hours)} h if it happens)' for risk in risks
        ]
        sentences["risks"] = f"The main risks are {' and '.join(listed)}."
    else:
        sentences["risks"] = "No project risks are recorded in this revision."
    for key, label in (
        ("assumptions", "It assumes"),
        ("out_of_scope", "Out of scope:"),
        ("open_questions", "Still open:"),
    ):
        notes = [_in_sentence(note) for note in estimate.notes.get(key, ())[:_NOTES]]
        if notes:
            joined = "; ".join(notes)
            sentences[key] = f"{label} {joined}" + ("" if joined.endswith(("?", "!")) else ".")
    return sentences


def _about_estimate(question: str, estimate: CurrentEstimate) -> str:
    topics = _topic_sentences(estimate)
    asked = [topic for topic, pattern in _TOPICS if pattern.search(question) and topic in topics]
    named = [_item_sentence(item) for item in items_named(question, estimate.items)[:_NAMED_ITEMS]]
    order = ["hours", "price", "largest", "risks", "spread", "assumptions", "out_of_scope", "open_questions"]
    sentences = [*named, *(topics[topic] for topic in asked), *(topics[t] for t in order if t in topics)]
    return _fit(sentences, _CLOSING, answer_length(question))


def _about_outline(material: Material) -> str:
    question = _excerpt(material.question, _QUOTE_CHARS) or "to look at this request"
    sentences = [f'You asked: "{question}".']
    # A message with no requirements is its own only "line"; quoting it back twice says nothing.
    if material.lines and material.lines != [material.question.strip()]:
        count = f"{len(material.lines)} point{'s' if len(material.lines) > 1 else ''}"
        sentences.append(f"The request covers {count}, including {_quoted(material.lines[:3])}.")
        sentences += [f'"{line}" can be estimated and delivered on its own.' for line in material.lines[3:]]
    sentences += [
        "A first estimate breaks each point into deliverables with optimistic, likely and pessimistic hours, "
        "then adds project management, QA and a contingency for the spread.",
        "Risks and open questions are listed apart, so they can be priced or settled before the work starts.",
        "The figures are computed from the items and the rate card, so they move as soon as an item changes.",
    ]
    return _fit(sentences, _CLOSING_OUTLINE, answer_length(material.question))


def answer(material: Material, estimate: CurrentEstimate | None) -> str:
    """A short paragraph answering the question, about the current estimate if the request has one."""
    if estimate is not None and estimate.items:
        return _about_estimate(material.question, estimate)
    return _about_outline(material)


def _tool_uses(message: MessageIn | None) -> list[dict[str, Any]]:
    if message is None or isinstance(message.content, str):
        return []
    return [block for block in message.content if block.get("type") == "tool_use"]


def _what_changed(tool_input: Any) -> str:
    """'added WI-04 (Mobile app)', from the edit the previous turn sent, when it is one."""
    operations = tool_input.get("operations") if isinstance(tool_input, dict) else None
    said = []
    for op in operations if isinstance(operations, list) else []:
        if not isinstance(op, dict):
            continue
        item = op.get("item")
        item = item if isinstance(item, dict) else {}
        if op.get("op") == "add_item":
            said.append(f"added {item.get('id')} ({item.get('title')})")
        elif op.get("op") == "remove_item":
            said.append(f"removed {op.get('id')}")
        elif op.get("op") == "update_item":
            said.append(f"updated {op.get('id')}")
    return " and ".join(said[:3])


def confirmation(messages: list[MessageIn]) -> str:
    """One or two sentences on the tool result that ends the conversation, quoting what the tool said."""
    last = messages[-1] if messages else None
    blocks = [] if last is None or isinstance(last.content, str) else last.content
    results = [block for block in blocks if block.get("type") == "tool_result"]
    reported = _excerpt(" ".join(block_text(block.get("content") or "") for block in results), _RESULT_CHARS)
    if any(block.get("is_error") for block in results):
        return f'I couldn\'t apply that change: "{reported or "no details"}". Nothing was saved.'
    calls = _tool_uses(messages[-2] if len(messages) >= 2 else None)
    changed = _what_changed(calls[0].get("input")) if calls else ""
    done = f"Done: I {changed}." if changed else "Done."
    return f'{done} "{reported}"' if reported else f"{done} The change is applied."
