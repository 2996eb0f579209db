"""Claude judges, code calculates: every total, cost, price, margin and milestone comes from here.

Hours are rounded to 0.1 and money to cents at each step, in `Decimal` with half-up rounding, and each
step works on the rounded figures of the step before. The point is that a reader of the report can redo
any line by hand (hours * rate = amount, the lines sum to the total) and get exactly what is printed.
"""

from __future__ import annotations

import math
from collections import defaultdict
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from statistics import NormalDist

from services.estimation.models import (
    ClaudeEstimate,
    Financials,
    ItemCalc,
    PaymentMilestone,
    RiskCalc,
    RoleTotals,
)
from services.estimation.rate_card import RateCard
from services.shared.contracts import Totals

PM_ROLE = "pm"
QA_ROLE = "qa"
_TENTH = Decimal("0.1")
_CENT = Decimal("0.01")
_ZERO = Decimal(0)


def _d(value: float) -> Decimal:
    """Decimal from the float's shortest repr, so 0.1 stays 0.1 rather than its binary approximation."""
    return Decimal(repr(value))


def _hours(value: Decimal) -> Decimal:
    return value.quantize(_TENTH, ROUND_HALF_UP)


def _money(value: Decimal) -> Decimal:
    return value.quantize(_CENT, ROUND_HALF_UP)


def _items(estimate: ClaudeEstimate) -> list[ItemCalc]:
    """PERT (beta) expectation (a + 4m + b) / 6 and standard deviation (b - a) / 6 per item."""
    calcs = []
    for item in estimate.work_items:
        low, likely, high = _d(item.low_hours), _d(item.likely_hours), _d(item.high_hours)
        calcs.append(
            ItemCalc(
                id=item.id,
                title=item.title,
                role=item.role,
                low_hours=item.low_hours,
                likely_hours=item.likely_hours,
                high_hours=item.high_hours,
                expected_hours=float(_hours((low + 4 * likely + high) / 6)),
                std_dev_hours=float(_hours((high - low) / 6)),
            )
        )
    return calcs


def _payment_schedule(price: Decimal, rate_card: RateCard) -> list[PaymentMilestone]:
    """Every milestone but the last is rounded on its own; the last takes the remainder so the
    schedule always adds up to the price to the cent, whatever the fractions."""
    schedule = rate_card.payment_schedule
    if not schedule or not math.isclose(sum(f for _, f in schedule), 1.0, abs_tol=1e-9):
        raise ValueError("the payment schedule fractions must sum to 1")
    milestones = []
    paid = _ZERO
    for index, (name, fraction) in enumerate(schedule):
        last = index == len(schedule) - 1
        amount = price - paid if last else _money(price * _d(fraction))
        paid += amount
        milestones.append(PaymentMilestone(name=name, fraction=fraction, amount=float(amount)))
    return milestones


def calculate(estimate: ClaudeEstimate, rate_card: RateCard) -> Financials:
    """Derive hours, contingency, cost, price, margin and payments from Claude's work items.

    - Base hours are the sum of the items' PERT expectations; project management and QA overheads are
      percentages of the base, billed at the pm and qa rates.
    - Contingency is z * sd of the total. Items are treated as independent, so the total's variance is
      the sum of the items' variances; overheads are proportional to the base, so they scale sd by the
      same factor (1 + pm% + qa%).
    - The risk reserve is the summed exposure (probability * impact hours) of all risks.
    - Contingency and risk reserve are priced at the blended rates of the delivery mix, because nobody
      knows in advance which role will absorb them.
    - Cost is taken over the committed hours (expected + contingency + reserve): the margin shown is the
      one we still earn if the whole reserve is spent.
    - If the bill rates give a margin below `rate_card.margin_pct`, the price is raised to
      cost / (1 - margin_pct), rounded up to the cent, so the rate card's margin is a floor.
    """
    items = _items(estimate)
    item_hours: dict[str, Decimal] = defaultdict(lambda: _ZERO)
    for calc in items:
        item_hours[calc.role] += _d(calc.expected_hours)
    base = sum(item_hours.values(), _ZERO)

    pm_pct, qa_pct = _d(rate_card.project_management_pct), _d(rate_card.qa_overhead_pct)
    pm_hours, qa_hours = _hours(base * pm_pct), _hours(base * qa_pct)
    roles = _role_totals(item_hours, {PM_ROLE: pm_hours, QA_ROLE: qa_hours}, rate_card)

    expected = base + pm_hours + qa_hours
    std_dev = _std_dev(estimate, pm_pct + qa_pct)
    contingency = _hours(_d(rate_card.confidence_z) * std_dev)
    risks = _risks(estimate)
    risk_reserve = sum((_d(r.exposure_hours) for r in risks), _ZERO)
    committed = expected + contingency + risk_reserve

    delivery_cost = sum((_d(r.cost) for r in roles), _ZERO)
    delivery_billed = sum((_d(r.billed) for r in roles), _ZERO)
    blended_cost = _money(delivery_cost / expected) if expected else _ZERO
    blended_bill = _money(delivery_billed / expected) if expected else _ZERO
    contingency_cost, risk_cost = _money(contingency * blended_cost), _money(risk_reserve * blended_cost)
    cost = delivery_cost + contingency_cost + risk_cost
    list_price = delivery_billed + _money(contingency * blended_bill) + _money(risk_reserve * blended_bill)
    price, margin, floor_applied = _price(cost, list_price, _d(rate_card.margin_pct))

    return Financials(
        currency=rate_card.currency,
        items=items,
        roles=roles,
        base_hours=float(base),
        pm_overhead_pct=rate_card.project_management_pct,
        pm_overhead_hours=float(pm_hours),
        qa_overhead_pct=rate_card.qa_overhead_pct,
        qa_overhead_hours=float(qa_hours),
        expected_hours=float(expected),
        std_dev_hours=float(std_dev),
        confidence_z=rate_card.confidence_z,
        confidence_level=round(NormalDist().cdf(rate_card.confidence_z) * 100),
        contingency_hours=float(contingency),
        percentile_hours=float(expected + contingency),
        risks=risks,
        risk_reserve_hours=float(risk_reserve),
        committed_hours=float(committed),
        blended_cost_rate=float(blended_cost),
        blended_bill_rate=float(blended_bill),
        delivery_cost=float(delivery_cost),
        contingency_cost=float(contingency_cost),
        risk_reserve_cost=float(risk_cost),
        cost=float(cost),
        list_price=float(list_price),
        price=float(price),
        margin_pct=float(margin.quantize(Decimal("0.0001"), ROUND_HALF_UP)),
        target_margin_pct=rate_card.margin_pct,
        margin_floor_applied=floor_applied,
        payment_schedule=_payment_schedule(price, rate_card),
    )


def _role_totals(
    item_hours: dict[str, Decimal], overhead_hours: dict[str, Decimal], rate_card: RateCard
) -> list[RoleTotals]:
    """Hours, cost and billing per role, in the rate card's order; a role worked but not priced is an error."""
    worked = {role for role, hours in [*item_hours.items(), *overhead_hours.items()] if hours}
    unpriced = sorted(worked - set(rate_card.roles))
    if unpriced:
        raise ValueError(f"roles without a rate in the rate card: {', '.join(unpriced)}")
    roles: list[RoleTotals] = []
    for role, rate in rate_card.roles.items():
        if role not in worked:
            continue
        hours = item_hours.get(role, _ZERO) + overhead_hours.get(role, _ZERO)
        roles.append(
            RoleTotals(
                role=role,
                item_hours=float(item_hours.get(role, _ZERO)),
                overhead_hours=float(overhead_hours.get(role, _ZERO)),
                hours=float(hours),
                cost_per_hour=rate.cost_per_hour,
                bill_rate_per_hour=rate.bill_rate_per_hour,
                cost=float(_money(hours * _d(rate.cost_per_hour))),
                billed=float(_money(hours * _d(rate.bill_rate_per_hour))),
            )
        )
    return roles


def _std_dev(estimate: ClaudeEstimate, overhead_pct: Decimal) -> Decimal:
    """Independent items: the total's variance is the sum of theirs; overheads scale it with the base."""
    variance = sum((((_d(i.high_hours) - _d(i.low_hours)) / 6) ** 2 for i in estimate.work_items), _ZERO)
    return _hours(variance.sqrt() * (1 + overhead_pct))


def _risks(estimate: ClaudeEstimate) -> list[RiskCalc]:
    return [
        RiskCalc(
            title=r.title,
            probability=r.probability,
            impact_hours=r.impact_hours,
            exposure_hours=float(_hours(_d(r.probability) * _d(r.impact_hours))),
            mitigation=r.mitigation,
        )
        for r in estimate.risks
    ]


def _price(cost: Decimal, list_price: Decimal, target_margin: Decimal) -> tuple[Decimal, Decimal, bool]:
    """(price, margin, floor applied): the list price, raised to cost / (1 - target) when that is higher."""
    floor_price = (cost / (1 - target_margin)).quantize(_CENT, ROUND_CEILING)
    floor_applied = list_price < floor_price
    price = floor_price if floor_applied else list_price
    margin = (price - cost) / price if price else _ZERO
    return price, margin, floor_applied


def totals(financials: Financials) -> Totals:
    """The headline figures copied into save listings."""
    return Totals(
        expected_hours=financials.expected_hours,
        cost=financials.cost,
        price=financials.price,
        currency=financials.currency,
    )
