"""Hand-computed figures for the conftest estimate (z = 1, PM and QA overheads 10 % each).

Items: WI-01 backend 6/12/30 -> E 14, sd 4; WI-02 frontend 8/8/8 -> E 8, sd 0;
WI-03 backend 12/18/30 -> E 19, sd 3. Base 41 h, PM 4.1 h, QA 4.1 h, expected 49.2 h.
sd of total = sqrt(16 + 9) * 1.2 = 6.0 h; contingency = 1.0 * 6.0 h. Risk reserve 0.5*10 + 0.25*4 = 6 h.
"""

from __future__ import annotations

import pytest

from services.estimation.calculator import calculate, totals
from services.estimation.models import ClaudeEstimate
from services.estimation.rate_card import RateCard, RoleRate


def test_pert_expectation_and_spread_per_item(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    items = {i.id: i for i in calculate(estimate, rate_card).items}

    assert (items["WI-01"].expected_hours, items["WI-01"].std_dev_hours) == (14.0, 4.0)
    assert (items["WI-02"].expected_hours, items["WI-02"].std_dev_hours) == (8.0, 0.0)
    assert (items["WI-03"].expected_hours, items["WI-03"].std_dev_hours) == (19.0, 3.0)


def test_overheads_are_billed_to_pm_and_qa(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    f = calculate(estimate, rate_card)
    roles = {r.role: r for r in f.roles}

    assert (f.base_hours, f.pm_overhead_hours, f.qa_overhead_hours, f.expected_hours) == (41.0, 4.1, 4.1, 49.2)
    assert (roles["backend"].hours, roles["backend"].cost, roles["backend"].billed) == (33.0, 1650.0, 3300.0)
    assert (roles["pm"].overhead_hours, roles["pm"].cost, roles["pm"].billed) == (4.1, 246.0, 410.0)
    assert (roles["qa"].overhead_hours, roles["qa"].cost, roles["qa"].billed) == (4.1, 123.0, 246.0)


def test_contingency_and_risk_reserve(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    f = calculate(estimate, rate_card)

    assert f.std_dev_hours == 6.0
    assert f.contingency_hours == 6.0
    assert f.confidence_level == 84
    assert f.percentile_hours == 55.2
    assert [r.exposure_hours for r in f.risks] == [5.0, 1.0]
    assert f.risk_reserve_hours == 6.0
    assert f.committed_hours == 61.2


def test_default_z_gives_p90(estimate: ClaudeEstimate) -> None:
    assert calculate(estimate, RateCard()).confidence_level == 90


def test_cost_price_and_margin(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    f = calculate(estimate, rate_card)

    assert f.delivery_cost == 2339.0
    assert (f.blended_cost_rate, f.blended_bill_rate) == (47.54, 93.41)
    assert (f.contingency_cost, f.risk_reserve_cost) == (285.24, 285.24)
    assert f.cost == 2909.48
    assert f.price == f.list_price == 5716.92
    assert f.margin_pct == 0.4911
    assert not f.margin_floor_applied


def test_payment_schedule_sums_exactly_to_the_price(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    f = calculate(estimate, rate_card)

    assert [m.amount for m in f.payment_schedule] == [1715.08, 1715.08, 2286.76]
    assert round(sum(m.amount for m in f.payment_schedule), 2) == f.price


def test_price_is_raised_to_the_margin_floor(estimate: ClaudeEstimate) -> None:
    thin = RateCard(
        roles={
            role: RoleRate(cost_per_hour=100, bill_rate_per_hour=110) for role in ("backend", "frontend", "pm", "qa")
        },
        margin_pct=0.25,
        payment_schedule=[("Once", 1.0)],
    )

    f = calculate(estimate, thin)

    assert f.margin_floor_applied
    assert f.list_price < f.price
    assert f.margin_pct == 0.25
    assert f.price >= f.cost / 0.75
    assert [m.amount for m in f.payment_schedule] == [f.price]


def test_roles_missing_from_the_rate_card_are_refused(estimate: ClaudeEstimate) -> None:
    card = RateCard(roles={"backend": RoleRate(cost_per_hour=1, bill_rate_per_hour=2)})

    with pytest.raises(ValueError, match="frontend, pm, qa"):
        calculate(estimate, card)


def test_payment_fractions_must_sum_to_one(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    card = rate_card.model_copy(update={"payment_schedule": [("Start", 0.5), ("End", 0.4)]})

    with pytest.raises(ValueError, match="sum to 1"):
        calculate(estimate, card)


def test_totals_copy_the_headline_figures(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    t = totals(calculate(estimate, rate_card))

    assert (t.expected_hours, t.cost, t.price, t.currency) == (49.2, 2909.48, 5716.92, "EUR")


def test_financials_are_json_serialisable(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    data = calculate(estimate, rate_card).model_dump(mode="json")

    assert data["price"] == 5716.92
    assert data["payment_schedule"][-1] == {"name": "Acceptance", "fraction": 0.4, "amount": 2286.76}
