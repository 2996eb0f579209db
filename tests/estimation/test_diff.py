"""The diff between two revisions, on the conftest estimate (hand-computed figures in test_calculator).

Revisions after the first are made as chat makes them: edit operations applied by the edit domain.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.estimation.calculator import calculate
from services.estimation.diff import FieldChange, PricedEstimate, diff_estimates
from services.estimation.edits import EstimateEdit, apply_edit
from services.estimation.models import ClaudeEstimate, RiskCalc
from services.estimation.rate_card import RateCard


def priced(estimate: ClaudeEstimate, rate_card: RateCard) -> PricedEstimate:
    return PricedEstimate(estimate, calculate(estimate, rate_card))


def edited(estimate: ClaudeEstimate, rate_card: RateCard, *operations: dict[str, Any]) -> PricedEstimate:
    edit = EstimateEdit.model_validate(
        {"reason": "test", "operations": [{"reason": "test", **operation} for operation in operations]}
    )
    return priced(apply_edit(estimate, edit, list(rate_card.roles)), rate_card)


def test_a_revision_against_itself_changes_nothing(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    first = priced(estimate, rate_card)

    diff = diff_estimates(first, first)

    assert (diff.items.added, diff.items.removed, diff.items.changed) == ([], [], [])
    assert (diff.risks.added, diff.risks.removed) == ([], [])
    assert diff.notes.assumptions.added == diff.notes.out_of_scope.removed == []
    assert diff.summary is None
    assert diff.totals.expected_hours.change == 0.0
    assert diff.totals.cost is not None and diff.totals.cost.change == 0.0


def test_items_added_removed_and_changed_by_id(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    new_item: dict[str, Any] = {"id": "WI-04", "title": "Stripe payments", "role": "backend"}
    new_item |= {"low_hours": 6, "likely_hours": 9, "high_hours": 18}
    before = priced(estimate, rate_card)
    after = edited(
        estimate,
        rate_card,
        {"op": "add_item", "item": new_item},
        {"op": "remove_item", "id": "WI-02"},
        {"op": "update_item", "id": "WI-01", "likely_hours": 18, "title": "Booking API v2"},
    )

    items = diff_estimates(before, after).items

    assert [(i.id, i.title, i.low_hours, i.likely_hours, i.high_hours, i.expected_hours) for i in items.added] == [
        ("WI-04", "Stripe payments", 6.0, 9.0, 18.0, 10.0)  # (6 + 36 + 18) / 6
    ]
    assert [(i.id, i.expected_hours) for i in items.removed] == [("WI-02", 8.0)]
    [change] = items.changed  # WI-03 is untouched
    assert (change.id, change.title) == ("WI-01", "Booking API v2")
    assert change.changes == [
        FieldChange(field="title", old="Booking API", new="Booking API v2"),
        FieldChange(field="likely_hours", old=12.0, new=18.0),
        FieldChange(field="expected_hours", old=14.0, new=18.0),  # (6 + 72 + 30) / 6
    ]
    assert (change.before.low_hours, change.before.likely_hours, change.before.high_hours) == (6.0, 12.0, 30.0)
    assert (change.after.likely_hours, change.after.expected_hours) == (18.0, 18.0)


def test_an_item_whose_notes_or_role_changed_is_changed(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    before = priced(estimate, rate_card)
    moved = estimate.model_copy(deep=True)
    moved.work_items[0].assumptions = ["GraphQL"]
    moved.work_items[2].role = "frontend"

    changed = {c.id: c.changes for c in diff_estimates(before, priced(moved, rate_card)).items.changed}

    assert changed == {
        "WI-01": [FieldChange(field="assumptions", old=["REST over JSON"], new=["GraphQL"])],
        "WI-03": [FieldChange(field="role", old="backend", new="frontend")],
    }


def test_notes_and_summary(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    question = "Do patients need accounts?"
    after = edited(
        estimate,
        rate_card,
        {"op": "edit_notes", "field": "assumptions", "add": ["Stripe account exists"], "remove": []},
        {"op": "edit_notes", "field": "out_of_scope", "add": [], "remove": ["Payments"]},
        {"op": "edit_notes", "field": "open_questions", "add": ["Which currencies?"], "remove": [question]},
        {"op": "set_summary", "summary": "A booking API, its screens and payments."},
    )

    diff = diff_estimates(priced(estimate, rate_card), after)

    notes = diff.notes
    assert (notes.assumptions.added, notes.assumptions.removed) == (["Stripe account exists"], [])
    assert (notes.out_of_scope.added, notes.out_of_scope.removed) == ([], ["Payments"])
    assert (notes.open_questions.added, notes.open_questions.removed) == (["Which currencies?"], [question])
    assert diff.summary is not None
    assert (diff.summary.old, diff.summary.new) == (
        "A booking API and its screens.",
        "A booking API, its screens and payments.",
    )
    assert diff.items.changed == [] and diff.totals.expected_hours.change == 0.0


def test_risks_added_and_removed_a_changed_risk_is_both(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    fraud = {"title": "Card fraud", "probability": 0.2, "impact_hours": 20, "mitigation": "Stripe Radar"}
    after = edited(
        estimate,
        rate_card,
        {"op": "add_risk", "risk": fraud},
        {"op": "remove_risk", "title": "Late content"},
    )
    reweighed = after.estimate.model_copy(deep=True)
    reweighed.risks[0].probability = 0.75  # "Calendar provider rate limits", was 0.5

    added = diff_estimates(priced(estimate, rate_card), after).risks
    assert added.added == [
        RiskCalc(title="Card fraud", probability=0.2, impact_hours=20, exposure_hours=4.0, mitigation="Stripe Radar")
    ]
    assert [r.title for r in added.removed] == ["Late content"]

    changed = diff_estimates(after, priced(reweighed, rate_card)).risks
    assert [(r.title, r.probability, r.exposure_hours) for r in changed.removed] == [
        ("Calendar provider rate limits", 0.5, 5.0)
    ]
    assert [(r.title, r.probability, r.exposure_hours) for r in changed.added] == [
        ("Calendar provider rate limits", 0.75, 7.5)
    ]


def test_deltas_are_to_minus_from_as_the_calculator_rounds(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    """WI-01 likely 12 -> 18: base 41 -> 45 h, expected 49.2 -> 54.0 h. Delivery cost 2339 -> 2575 EUR,
    blended cost rate 47.54 -> 47.69, contingency and reserve 6 h each: cost 2909.48 -> 3147.28 EUR."""
    before = priced(estimate, rate_card)
    after = edited(estimate, rate_card, {"op": "update_item", "id": "WI-01", "likely_hours": 18})

    totals = diff_estimates(before, after).totals
    back = diff_estimates(after, before).totals

    assert totals.currency == "EUR"
    assert (totals.expected_hours.before, totals.expected_hours.after, totals.expected_hours.change) == (
        49.2,
        54.0,
        4.8,
    )
    assert totals.cost is not None and totals.price is not None
    assert (totals.cost.before, totals.cost.after, totals.cost.change) == (2909.48, 3147.28, 237.8)
    assert totals.price.change == pytest.approx(after.financials.price - before.financials.price, abs=0.005)
    assert totals.price.change == round(totals.price.change, 2)
    assert back.cost is not None and back.price is not None
    assert (back.expected_hours.change, back.cost.change, back.price.change) == (-4.8, -237.8, -totals.price.change)


def test_money_is_not_subtracted_across_currencies(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    in_usd = priced(estimate, rate_card.model_copy(update={"currency": "USD"}))

    totals = diff_estimates(priced(estimate, rate_card), in_usd).totals

    assert (totals.currency, totals.cost, totals.price, totals.expected_hours.change) == ("USD", None, None, 0.0)


def test_financials_that_do_not_price_an_item_are_refused(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    first = priced(estimate, rate_card)
    unpriced = PricedEstimate(first.estimate, first.financials.model_copy(update={"items": first.financials.items[1:]}))

    with pytest.raises(ValueError, match="WI-01"):
        diff_estimates(first, unpriced)
