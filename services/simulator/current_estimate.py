"""The estimate a chat is about, read back from the `<current_estimate>` block of its system prompt.

The chat describes the current revision as text: one line per work item
(`- WI-03 | backend | 8/16/32 | 17.3 | Title`), one per risk (`- 0.5 | 10 | Title`), the notes and the
computed figures. The simulator reads that text the way Claude would, to name real items in its edits
and quote real figures in its answers. It does not import the product's models: it only knows the
text, as the real API does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from services.simulator.material import block_text
from services.simulator.wire import CountTokensRequest

_BLOCK = re.compile(r"<current_estimate>(?P<text>.*?)</current_estimate>", re.DOTALL | re.IGNORECASE)
_NUMBER = r"[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?"
_ITEM = re.compile(
    rf"^- (?P<id>[^|\s]+) \| (?P<role>[^|]+?) \| (?P<low>{_NUMBER})/(?P<likely>{_NUMBER})/(?P<high>{_NUMBER})"
    rf" \| (?P<expected>{_NUMBER}) \| (?P<title>.+?)\s*$"
)
_RISK = re.compile(rf"^- (?P<probability>{_NUMBER}) \| (?P<impact>{_NUMBER}) \| (?P<title>.+?)\s*$")
_NAME = re.compile(r"^Estimate: (?P<name>.+) \(revision (?P<revision>\d+)\)\s*$")
_FIGURES = {
    "expected": re.compile(r"expected total: (?P<value>[0-9.,]+ h)"),
    "committed": re.compile(r"committed: (?P<value>[0-9.,]+ h)"),
    "cost": re.compile(r"Cost: (?P<value>[0-9.,]+ \S+?);"),
    "price": re.compile(r"price: (?P<value>[0-9.,]+ \S+?);"),
}
_NOTE_HEADINGS = {"Assumptions:": "assumptions", "Out of scope:": "out_of_scope", "Open questions:": "open_questions"}
_WORD = re.compile(r"[a-z0-9]+")
# Words that say nothing about which item is meant: a request names an item by the rest of its words.
# fmt: off
_STOP_WORDS = frozenset({
    "the", "and", "for", "with", "from", "into", "that", "this", "those", "these", "them", "please", "item",
    "items", "work", "task", "tasks", "hour", "hours", "estimate", "estimated", "estimates", "effort", "time",
    "can", "could", "would", "should", "you", "our", "your", "its", "also", "some", "more", "less", "about",
    "all", "any", "part", "parts", "whole", "entire", "piece",
})
# fmt: on


@dataclass(frozen=True)
class Item:
    id: str
    role: str
    low: float
    likely: float
    high: float
    expected: float
    title: str


@dataclass(frozen=True)
class RiskLine:
    title: str
    probability: float
    impact_hours: float


@dataclass(frozen=True)
class CurrentEstimate:
    name: str = ""
    revision: int | None = None
    items: tuple[Item, ...] = ()
    risks: tuple[RiskLine, ...] = ()
    notes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    figures: dict[str, str] = field(default_factory=dict)


def _parse(text: str) -> CurrentEstimate:
    name, revision = "", None
    items: list[Item] = []
    risks: list[RiskLine] = []
    notes: dict[str, list[str]] = {}
    figures: dict[str, str] = {}
    section: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            section = None
            continue
        if named := _NAME.match(line):
            name, revision = named.group("name"), int(named.group("revision"))
        elif line in _NOTE_HEADINGS:
            section = _NOTE_HEADINGS[line]
            notes[section] = []
        elif section and line.startswith("- "):
            if line[2:].strip().lower() != "none":
                notes[section].append(line[2:].strip())
        elif item := _ITEM.match(line):
            low, likely, high, expected = (float(item.group(key)) for key in ("low", "likely", "high", "expected"))
            items.append(
                Item(item.group("id"), item.group("role").strip(), low, likely, high, expected, item.group("title"))
            )
        elif risk := _RISK.match(line):
            risks.append(RiskLine(risk.group("title"), float(risk.group("probability")), float(risk.group("impact"))))
        for key, pattern in _FIGURES.items():
            if found := pattern.search(line):
                figures.setdefault(key, found.group("value"))
    return CurrentEstimate(
        name=name,
        revision=revision,
        items=tuple(items),
        risks=tuple(risks),
        notes={key: tuple(lines) for key, lines in notes.items()},
        figures=figures,
    )


def read_current_estimate(request: CountTokensRequest) -> CurrentEstimate | None:
    """The last `<current_estimate>` block of the system prompt (else of the messages), or None."""
    system = request.system if isinstance(request.system, str) else block_text(request.system or [])
    for texts in ([system], [block_text(message.content) for message in request.messages]):
        found = [match.group("text") for text in texts for match in _BLOCK.finditer(text)]
        if found:
            return _parse(found[-1])
    return None


def words(text: str) -> set[str]:
    """The words that can name an item: lower case, plural `s` dropped, filler words left out."""
    found = set()
    for word in _WORD.findall(text.lower()):
        if len(word) < 3 or word in _STOP_WORDS:
            continue
        found.add(word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word)
    return found


def _mentions_id(text: str, item: Item) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(item.id)}(?![\w-])", text, re.IGNORECASE) is not None


def items_named(text: str, items: tuple[Item, ...]) -> list[Item]:
    """Items the text names, best first: by id, then by the most title words shared, then by the largest
    share of the title's own words (so 'booking screens' prefers 'Booking screens' to 'Booking API')."""
    asked = words(text)
    scored = []
    for position, item in enumerate(items):
        title = words(item.title)
        shared = len(asked & title)
        by_id = _mentions_id(text, item)
        if by_id or shared:
            scored.append((-int(by_id), -shared, -shared / max(1, len(title)), position, item))
    return [entry[-1] for entry in sorted(scored, key=lambda entry: entry[:4])]


def best_item(text: str, items: tuple[Item, ...]) -> Item | None:
    named = items_named(text, items)
    return named[0] if named else None


def hours(value: float) -> str:
    """Hours as the chat's estimate text writes them: 12, 12.5."""
    return f"{value:g}"
