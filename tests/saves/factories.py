"""Payloads as the worker and chat service send them, with only what a test cares about varied."""

from __future__ import annotations

import uuid

from services.estimation.methodology import version_of
from services.shared.contracts import (
    ChatMessageIn,
    ChatTurnCreate,
    RevisionCreate,
    SaveCreate,
    Totals,
    Usage,
)

METHODOLOGY = "## Model\nThree services."


def new_owner() -> str:
    return f"user-{uuid.uuid4().hex[:10]}"


def save_create(owner: str, job_id: str | None = None, name: str = "Webshop") -> SaveCreate:
    return SaveCreate(
        job_id=job_id or uuid.uuid4().hex,
        owner=owner,
        name=name,
        requirements_md="# Webshop\nUsers can buy things.",
        github_url="https://github.com/acme/webshop",
        methodology_version=version_of(METHODOLOGY),
        methodology_md=METHODOLOGY,
        report_markdown="# Report\n120 hours.",
        estimate_data={"tasks": [{"title": "Checkout", "hours": 40}]},
        financials_data={"price": 18000.0},
        cross_check={"agrees": True},
        totals=Totals(expected_hours=120.0, cost=9000.0, price=18000.0, currency="EUR"),
        usage=Usage(calls=2, input_tokens=1500, output_tokens=900, cost_usd=0.018),
    )


def chat_turn(question: str, answer: str, revised_price: float | None = None) -> ChatTurnCreate:
    revision = None
    if revised_price is not None:
        revision = RevisionCreate(
            estimate_data={"tasks": [{"title": "Checkout", "hours": 60}]},
            financials_data={"price": revised_price},
            cross_check={"agrees": True},
            report_markdown=f"# Report\nNow {revised_price} EUR.",
            totals=Totals(expected_hours=140.0, cost=10500.0, price=revised_price, currency="EUR"),
            reason=question,
        )
    return ChatTurnCreate(
        user=ChatMessageIn(role="user", content=question, revision=0),
        assistant=ChatMessageIn(role="assistant", content=answer, revision=0, usage=Usage(calls=1)),
        revision=revision,
    )
