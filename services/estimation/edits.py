"""Chat revisions as edit operations on the current estimate, applied and checked by code.

Re-emitting a whole estimate to change one item costs thousands of output tokens and minutes of
streaming; an operation naming the item it touches costs tens. Claude only says what changes and why;
code applies the operations to the revision they were asked about, and anything it cannot apply
(unknown ids, roles not on the rate card, impossible ranges, an estimate left empty) is reported back
to Claude as a tool error, so nothing invalid is ever priced or saved.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from services.estimation.models import MAX_ITEM_HOURS, ClaudeEstimate, Risk, ShortText, WorkItem

Reason = Annotated[str, Field(min_length=1, max_length=500, description="Why this change, for the history.")]
NoteField = Literal["assumptions", "out_of_scope", "open_questions"]
Hours = Annotated[float, Field(gt=0, le=MAX_ITEM_HOURS)]
MAX_OPERATIONS = 40


class AddItem(BaseModel):
    """A new work item; its id must not be in use."""

    op: Literal["add_item"]
    item: WorkItem
    reason: Reason

    @field_validator("item", mode="before")
    @classmethod
    def _ordered_hours(cls, item: object) -> object:
        """A first estimate's unordered hours are sorted (see `WorkItem`), but an edit is a deliberate
        change: an impossible range goes back to Claude instead of being silently reinterpreted."""
        if isinstance(item, dict):
            hours = [item.get(key) for key in ("low_hours", "likely_hours", "high_hours")]
            if all(isinstance(h, int | float) for h in hours):
                problem = _ordered(str(item.get("id", "item")), *hours)  # type: ignore[arg-type]
                if problem:
                    raise ValueError(problem)
        return item


class UpdateItem(BaseModel):
    """Changes the named fields of one item; a null field keeps its current value."""

    op: Literal["update_item"]
    id: str = Field(min_length=1, max_length=40, description="Id of the item to change.")
    title: str | None = Field(default=None, min_length=1, max_length=200)
    role: str | None = None
    low_hours: Hours | None = None
    likely_hours: Hours | None = None
    high_hours: Hours | None = None
    reason: Reason


class RemoveItem(BaseModel):
    op: Literal["remove_item"]
    id: str = Field(min_length=1, max_length=40, description="Id of the item to remove.")
    reason: Reason


class AddRisk(BaseModel):
    op: Literal["add_risk"]
    risk: Risk
    reason: Reason


class RemoveRisk(BaseModel):
    op: Literal["remove_risk"]
    title: str = Field(min_length=1, max_length=200, description="Exact title of the risk to remove.")
    reason: Reason


class EditNotes(BaseModel):
    """Adds and removes lines of assumptions, exclusions (out_of_scope) or open questions."""

    op: Literal["edit_notes"]
    field: NoteField
    add: list[ShortText] = Field(max_length=30)
    remove: list[str] = Field(max_length=30, description="Exact lines to remove.")
    reason: Reason


class SetSummary(BaseModel):
    op: Literal["set_summary"]
    summary: str = Field(min_length=1, max_length=4000)
    reason: Reason


Operation = Annotated[
    AddItem | UpdateItem | RemoveItem | AddRisk | RemoveRisk | EditNotes | SetSummary, Field(discriminator="op")
]


class EstimateEdit(BaseModel):
    """What one chat turn changes, as the edit tool's input."""

    reason: str = Field(min_length=1, max_length=2000, description="The whole change in one sentence.")
    operations: list[Operation] = Field(min_length=1, max_length=MAX_OPERATIONS)


class EditError(ValueError):
    """The operations cannot be applied; `problems` go back to Claude, and nothing is saved."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _ordered(item_id: str, low: float, likely: float, high: float) -> str | None:
    if low <= likely <= high:
        return None
    return f"{item_id}: hours must satisfy low <= likely <= high, got {low:g}/{likely:g}/{high:g}"


def _role_problem(item_id: str, role: str, roles: Collection[str]) -> str | None:
    return None if role in roles else f"{item_id}: role {role!r} is not on the rate card; use one of {sorted(roles)}"


class _Draft:
    """The estimate being edited, with every problem found on the way rather than only the first."""

    def __init__(self, estimate: ClaudeEstimate, roles: Collection[str]) -> None:
        self.data = estimate.model_copy(deep=True)
        self.items = {item.id: item for item in self.data.work_items}
        self.order = [item.id for item in self.data.work_items]
        self.roles = roles
        self.problems: list[str] = []

    def _complain(self, problem: str | None) -> None:
        if problem:
            self.problems.append(problem)

    def add_item(self, op: AddItem) -> None:
        item = op.item
        if item.id in self.items:
            self.problems.append(f"add_item: id {item.id!r} is already in use; pick a new id or use update_item")
            return
        self._complain(_role_problem(item.id, item.role, self.roles))
        self.items[item.id] = item
        self.order.append(item.id)

    def update_item(self, op: UpdateItem) -> None:
        current = self.items.get(op.id)
        if current is None:
            self.problems.append(f"update_item: no work item has id {op.id!r}")
            return
        changes = op.model_dump(exclude={"op", "id", "reason"}, exclude_none=True)
        merged = current.model_copy(update=changes)
        if op.role is not None:
            self._complain(_role_problem(op.id, op.role, self.roles))
        self._complain(_ordered(op.id, merged.low_hours, merged.likely_hours, merged.high_hours))
        self.items[op.id] = merged

    def remove_item(self, op: RemoveItem) -> None:
        if self.items.pop(op.id, None) is None:
            self.problems.append(f"remove_item: no work item has id {op.id!r}")
            return
        self.order.remove(op.id)

    def add_risk(self, op: AddRisk) -> None:
        if any(risk.title == op.risk.title for risk in self.data.risks):
            self.problems.append(f"add_risk: a risk titled {op.risk.title!r} already exists")
            return
        self.data.risks.append(op.risk)

    def remove_risk(self, op: RemoveRisk) -> None:
        kept = [risk for risk in self.data.risks if risk.title != op.title]
        if len(kept) == len(self.data.risks):
            self.problems.append(f"remove_risk: no risk is titled {op.title!r}")
        self.data.risks = kept

    def edit_notes(self, op: EditNotes) -> None:
        notes: list[str] = getattr(self.data, op.field)
        missing = [line for line in op.remove if line not in notes]
        if missing:
            self.problems.append(f"edit_notes: {op.field} has no line {missing[0]!r}")
        kept = [line for line in notes if line not in op.remove]
        setattr(self.data, op.field, kept + [line for line in op.add if line not in kept])

    def set_summary(self, op: SetSummary) -> None:
        self.data.summary = op.summary

    def result(self) -> ClaudeEstimate:
        fields = self.data.model_dump(exclude={"work_items"})
        fields["work_items"] = [self.items[item_id].model_dump() for item_id in self.order]
        try:
            return ClaudeEstimate.model_validate(fields, context={"roles": list(self.roles)})
        except ValidationError as exc:
            raise EditError([f"the edited estimate is not valid: {error['msg']}" for error in exc.errors()]) from exc


def apply_edit(estimate: ClaudeEstimate, edit: EstimateEdit, roles: Collection[str]) -> ClaudeEstimate:
    """The estimate with every operation applied in order, or `EditError` listing all that is wrong."""
    draft = _Draft(estimate, roles)
    for op in edit.operations:
        getattr(draft, op.op)(op)
    if draft.problems:
        raise EditError(draft.problems)
    return draft.result()


def parse_edit(tool_input: object) -> EstimateEdit:
    """The tool's input as an edit, or `EditError` with pydantic's complaints in Claude-readable form."""
    try:
        return EstimateEdit.model_validate(tool_input)
    except ValidationError as exc:
        raise EditError(
            [f"{'.'.join(str(part) for part in error['loc']) or 'input'}: {error['msg']}" for error in exc.errors()]
        ) from exc
