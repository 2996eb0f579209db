"""The kinds of chat call whose output allowances are learned apart (see `services/llm/allowance.py`).

Reserving the estimation's 8,000 tokens for a 100-token answer made eleven turns fill a Tier 2 minute.
The kind of a turn is predicted from the message before anything is spent: a request to change the
estimate tends to make an edit call, a question a short answer. The prediction only picks which history
to learn from; a wrong guess is paid for by a continuation, never by a cut answer.
"""

from __future__ import annotations

import re
from typing import Literal

import redis.asyncio as aioredis

from services.chat.settings import ChatSettings
from services.llm.allowance import OutputAllowance

TurnKind = Literal["answer", "revision"]
CallKind = Literal["first", "follow"]
INITIAL: dict[tuple[TurnKind, CallKind], int] = {
    ("answer", "first"): 400,
    ("answer", "follow"): 300,
    ("revision", "first"): 1200,
    ("revision", "follow"): 300,
}
"""Until enough calls of a kind are measured: generous guesses, refined by the first few turns."""

_CHANGE = re.compile(
    r"\b(add|include|remove|drop|delete|cut|increase|reduce|decrease|raise|lower|change|revise|update|"
    r"replace|split|merge|move|extend|double|triple|halve)\b",
    re.I,
)


def predict_kind(message: str) -> TurnKind:
    return "revision" if _CHANGE.search(message) else "answer"


def allowance_kind(turn: TurnKind, call: CallKind) -> str:
    return f"{turn}:{call}"


def continued_kind(kind: str) -> str:
    """The history of what continuations of a kind wrote after its first call reached its allowance."""
    return f"{kind}:continued"


def chat_allowance(redis: aioredis.Redis, settings: ChatSettings) -> OutputAllowance:
    """The learner every chat replica (and anything reading what chat reserves) shares."""
    return OutputAllowance(
        redis,
        settings.chat_key_prefix,
        settings.chat_allowance_quantile,
        floor=settings.chat_min_tokens,
        ceiling=settings.chat_max_tokens,
        # A text answer cut at its allowance is continued where it stopped, a few tokens more; an edit cut
        # mid-way is made again whole, so the call that makes it reserves a higher quantile.
        quantiles={allowance_kind("revision", "first"): settings.chat_edit_allowance_quantile},
    )
