"""Heuristics that make generated estimates look like a person's: a sensible role and ordered hours per line.

They key on property names and enum values found in the schema actually sent, never on a fixed field list,
so the estimation tool can change shape without the simulator falling behind.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Literal

HourRank = Literal["low", "likely", "high"]

_ROLE_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("frontend", ("ui", "page", "screen", "frontend", "form", "dashboard", "button", "view", "css")),
    ("backend", ("api", "endpoint", "database", "backend", "server", "db", "integration", "auth")),
    ("devops", ("deploy", "ci", "cd", "kubernetes", "k8s", "docker", "helm", "pipeline", "infrastructure")),
    ("qa", ("test", "qa", "e2e")),
    ("designer", ("design", "ux", "wireframe", "mockup")),
    ("data", ("data", "analytics", "etl", "warehouse")),
    ("architect", ("architecture",)),
    ("pm", ("planning", "coordination", "stakeholder")),
)
_HOUR_WORDS: tuple[tuple[HourRank, tuple[str, ...]], ...] = (
    ("likely", ("likely", "expected", "realistic", "mode", "nominal")),
    ("low", ("low", "min", "optimistic", "best")),
    ("high", ("high", "max", "pessimistic", "worst")),
)
_WORD = re.compile(r"[a-z0-9]+")


def digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _matches(word: str, keyword: str) -> bool:
    return word == keyword or (len(keyword) > 3 and word.startswith(keyword))


def role_for(line: str, choices: Sequence[str]) -> str:
    """The first keyword rule that fits the line and names an allowed value; otherwise backend, if allowed."""
    by_lower = {str(choice).lower(): choice for choice in choices}
    words = _WORD.findall(line.lower())
    for role, keywords in _ROLE_KEYWORDS:
        if role in by_lower and any(_matches(w, k) for w in words for k in keywords):
            return by_lower[role]
    if "backend" in by_lower:
        return by_lower["backend"]
    return choices[digest(line) % len(choices)]


def hour_rank(property_name: str) -> HourRank | None:
    words = _WORD.findall(property_name.lower().replace("_", " "))
    for rank, keywords in _HOUR_WORDS:
        if any(word in keywords for word in words):
            return rank
    return None


def hours_for(line: str) -> dict[HourRank, float]:
    """Longer lines cost more; the hash spreads similar lines apart. Always 0 < low <= likely <= high."""
    seed = digest(line)
    likely = 4 + len(line) % 24 + seed % 17
    low = max(1.0, likely * (0.5 + (seed >> 8) % 30 / 100))
    high = likely * (1.3 + (seed >> 16) % 90 / 100)
    return {"low": round(low * 2) / 2, "likely": float(likely), "high": round(high * 2) / 2}
