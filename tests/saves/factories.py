"""Payloads as the worker and chat service send them, with only what a test cares about varied."""

from __future__ import annotations

import uuid
from typing import Any

from services.estimation.bundle import build_bundle, stored_fields
from services.estimation.edits import EstimateEdit, apply_edit
from services.estimation.methodology import version_of
from services.estimation.models import ClaudeEstimate
from services.estimation.rate_card import RateCard
from services.shared.contracts import (
    ChatMessageIn,
    ChatTurnCreate,
    RevisionCreate,
    SaveCreate,
    Totals,
    Usage,
)

METHODOLOGY = "## Model\nThree services."
RATE_CARD = RateCard()
WEBSHOP = ClaudeEstimate.model_validate(
    {
        "summary": "A webshop where users buy things.",
        "work_items": [
            {
                "id": "WI-01",
                "title": "Catalogue",
                "role": "backend",
                "low_hours": 8,
                "likely_hours": 12,
                "high_hours": 20,
                "assumptions": ["Up to 500 products"],
            },
            {
                "id": "WI-02",
                "title": "Checkout",
                "role": "frontend",
                "low_hours": 10,
                "likely_hours": 16,
                "high_hours": 30,
            },
        ],
        "risks": [{"title": "Unclear tax rules", "probability": 0.3, "impact_hours": 10, "mitigation": "Ask early"}],
        "assumptions": ["One currency"],
        "out_of_scope": ["Payments"],
        "open_questions": ["Guest checkout?"],
    }
)


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


def priced_save_create(owner: str, job_id: str | None = None, name: str = "Webshop") -> SaveCreate:
    """A save whose data is a real estimate priced by the calculator, as the worker stores it."""
    bundle = build_bundle(
        name=name,
        estimate=WEBSHOP,
        requirements_md="# Webshop\nUsers can buy things.",
        repo=None,
        rate_card=RATE_CARD,
        usage=None,
        revision=1,
    )
    return save_create(owner, job_id, name).model_copy(update=stored_fields(bundle))


def edit_turn(estimate_data: dict[str, Any], revision: int, reason: str, *operations: dict[str, Any]) -> ChatTurnCreate:
    """A turn that edits the estimate at `revision` as chat does: operations applied, priced, stored as N+1."""
    edit = EstimateEdit.model_validate(
        {"reason": reason, "operations": [{"reason": reason, **operation} for operation in operations]}
    )
    estimate = apply_edit(ClaudeEstimate.model_validate(estimate_data), edit, list(RATE_CARD.roles))
    bundle = build_bundle(
        name="Webshop",
        estimate=estimate,
        requirements_md="# Webshop\nUsers can buy things.",
        repo=None,
        rate_card=RATE_CARD,
        usage=None,
        revision=revision + 1,
    )
    return ChatTurnCreate(
        user=ChatMessageIn(role="user", content=reason, revision=0),
        assistant=ChatMessageIn(role="assistant", content="Done.", revision=0, usage=Usage(calls=1)),
        revision=RevisionCreate(
            **stored_fields(bundle), reason=reason, operations=[op.model_dump(mode="json") for op in edit.operations]
        ),
        base_revision=revision,
    )
