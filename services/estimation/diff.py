"""What changed between two revisions of an estimate: items, risks, notes and the headline figures.

Pure domain code (no I/O): the saves service reads two revisions and hands them here. Work items are
matched by id, the identifier chat edits and reports use. Risks and note lines have no id: a risk is
matched by its whole content (a risk whose probability changed is the old one removed and the new one
added), a note by its text. Every figure comes from the revisions' computed financials, and every
change is `to - from`, rounded as the calculator rounds (0.1 h, cents).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, NamedTuple, TypeVar

from pydantic import BaseModel, Field

from services.estimation.models import ClaudeEstimate, Financials, ItemCalc, RiskCalc, WorkItem

ItemField = Literal[
    "title", "role", "low_hours", "likely_hours", "high_hours", "expected_hours", "assumptions", "risks"
]
FieldValue = str | float | list[str]
T = TypeVar("T")

_TENTH = Decimal("0.1")
_CENT = Decimal("0.01")


class PricedEstimate(NamedTuple):
    """One revision as the domain sees it: Claude's judgement and the financials code computed from it."""

    estimate: ClaudeEstimate
    financials: Financials


class FieldChange(BaseModel):
    field: ItemField
    old: FieldValue
    new: FieldValue


class ItemChange(BaseModel):
    """A work item in both revisions whose judgement or PERT hours differ."""

    id: str
    title: str = Field(description="The title in the newer revision (`to`).")
    changes: list[FieldChange] = Field(description="Only the fields that differ, in a fixed order.")
    before: ItemCalc = Field(description="Its hours in `from`: low, likely, high and PERT expected.")
    after: ItemCalc = Field(description="Its hours in `to`.")


class ItemsDiff(BaseModel):
    added: list[ItemCalc] = Field(description="In `to` only, in `to`'s order, with their hours.")
    removed: list[ItemCalc] = Field(description="In `from` only, in `from`'s order, with their hours.")
    changed: list[ItemChange] = Field(description="In both (same id) but different, in `to`'s order.")


class RisksDiff(BaseModel):
    """Risks are matched by their whole content, so a changed risk is the old one removed and the new added."""

    added: list[RiskCalc]
    removed: list[RiskCalc]


class LinesDiff(BaseModel):
    added: list[str]
    removed: list[str]


class NotesDiff(BaseModel):
    assumptions: LinesDiff
    out_of_scope: LinesDiff
    open_questions: LinesDiff


class SummaryChange(BaseModel):
    old: str
    new: str


class FigureChange(BaseModel):
    before: float = Field(description="In `from`.")
    after: float = Field(description="In `to`.")
    change: float = Field(description="after - before (to - from).")


class TotalsDiff(BaseModel):
    currency: str = Field(description="The currency of `to`.")
    expected_hours: FigureChange
    cost: FigureChange | None = Field(description="Null when the two revisions are priced in different currencies.")
    price: FigureChange | None = Field(description="Null when the two revisions are priced in different currencies.")


class EstimateDiff(BaseModel):
    totals: TotalsDiff
    items: ItemsDiff
    risks: RisksDiff
    notes: NotesDiff
    summary: SummaryChange | None = Field(description="The scope summary before and after; null when unchanged.")


def _missing_from(values: list[T], others: list[T]) -> list[T]:
    return [value for value in values if value not in others]


def _lines(before: list[str], after: list[str]) -> LinesDiff:
    return LinesDiff(added=_missing_from(after, before), removed=_missing_from(before, after))


def _risks(before: list[RiskCalc], after: list[RiskCalc]) -> RisksDiff:
    return RisksDiff(added=_missing_from(after, before), removed=_missing_from(before, after))


def _figure(before: float, after: float, step: Decimal) -> FigureChange:
    change = (Decimal(repr(after)) - Decimal(repr(before))).quantize(step, ROUND_HALF_UP)
    return FigureChange(before=before, after=after, change=float(change))


def _totals(before: Financials, after: Financials) -> TotalsDiff:
    same_currency = before.currency == after.currency
    return TotalsDiff(
        currency=after.currency,
        expected_hours=_figure(before.expected_hours, after.expected_hours, _TENTH),
        cost=_figure(before.cost, after.cost, _CENT) if same_currency else None,
        price=_figure(before.price, after.price, _CENT) if same_currency else None,
    )


def _field_changes(old: WorkItem, new: WorkItem, old_calc: ItemCalc, new_calc: ItemCalc) -> list[FieldChange]:
    pairs: list[tuple[ItemField, FieldValue, FieldValue]] = [
        ("title", old.title, new.title),
        ("role", old.role, new.role),
        ("low_hours", old.low_hours, new.low_hours),
        ("likely_hours", old.likely_hours, new.likely_hours),
        ("high_hours", old.high_hours, new.high_hours),
        ("expected_hours", old_calc.expected_hours, new_calc.expected_hours),
        ("assumptions", old.assumptions, new.assumptions),
        ("risks", old.risks, new.risks),
    ]
    return [FieldChange(field=name, old=was, new=now) for name, was, now in pairs if was != now]


def _calcs(side: PricedEstimate) -> dict[str, ItemCalc]:
    calcs = {calc.id: calc for calc in side.financials.items}
    missing = [item.id for item in side.estimate.work_items if item.id not in calcs]
    if missing:
        raise ValueError(f"the financials do not price work items {', '.join(missing)}")
    return calcs


def _items(before: PricedEstimate, after: PricedEstimate) -> ItemsDiff:
    old_items = {item.id: item for item in before.estimate.work_items}
    new_items = {item.id: item for item in after.estimate.work_items}
    old_calcs, new_calcs = _calcs(before), _calcs(after)
    changed = []
    for item_id, new in new_items.items():
        old = old_items.get(item_id)
        if old is None:
            continue
        changes = _field_changes(old, new, old_calcs[item_id], new_calcs[item_id])
        if changes:
            changed.append(
                ItemChange(
                    id=item_id, title=new.title, changes=changes, before=old_calcs[item_id], after=new_calcs[item_id]
                )
            )
    return ItemsDiff(
        added=[new_calcs[item_id] for item_id in new_items if item_id not in old_items],
        removed=[old_calcs[item_id] for item_id in old_items if item_id not in new_items],
        changed=changed,
    )


def diff_estimates(before: PricedEstimate, after: PricedEstimate) -> EstimateDiff:
    """Everything that differs from `before` (the `from` revision) to `after` (`to`)."""
    old, new = before.estimate, after.estimate
    return EstimateDiff(
        totals=_totals(before.financials, after.financials),
        items=_items(before, after),
        risks=_risks(before.financials.risks, after.financials.risks),
        notes=NotesDiff(
            assumptions=_lines(old.assumptions, new.assumptions),
            out_of_scope=_lines(old.out_of_scope, new.out_of_scope),
            open_questions=_lines(old.open_questions, new.open_questions),
        ),
        summary=SummaryChange(old=old.summary, new=new.summary) if old.summary != new.summary else None,
    )
