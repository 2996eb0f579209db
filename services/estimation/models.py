"""What Claude hands back (its judgement) and what the calculator derives from it (the arithmetic).

The two halves are kept apart on purpose: the input models only hold hours, ranges and words, so a
model cannot smuggle a total, a price or a margin into the result; every computed figure lives in the
output models and is produced by `calculator.py` alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, ValidationInfo, field_validator, model_validator

MAX_ITEM_HOURS = 2000.0
Verdict = Literal["consistent", "review"]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Notes = Annotated[list[ShortText], Field(default_factory=list, max_length=30)]


class WorkItem(BaseModel):
    """One deliverable, owned by one role, with a three-point estimate in hours."""

    id: str = Field(min_length=1, max_length=40, description="Short stable identifier such as 'WI-01'.")
    title: str = Field(min_length=1, max_length=200, description="Deliverable-oriented title.")
    role: str = Field(description="The single role that does this work.")
    low_hours: float = Field(gt=0, le=MAX_ITEM_HOURS, description="Optimistic hours (about 1 chance in 20).")
    likely_hours: float = Field(gt=0, le=MAX_ITEM_HOURS, description="Most likely hours (the mode).")
    high_hours: float = Field(gt=0, le=MAX_ITEM_HOURS, description="Pessimistic hours (about 1 in 20).")
    assumptions: Notes
    risks: Notes

    @field_validator("role")
    @classmethod
    def _known_role(cls, role: str, info: ValidationInfo) -> str:
        """Callers that know the rate card pass `context={"roles": [...]}` so unknown roles fail early,
        before they could reach the calculator as an unpriceable line."""
        roles = info.context.get("roles") if isinstance(info.context, dict) else None
        if isinstance(roles, Collection) and role not in roles:
            raise ValueError(f"unknown role {role!r}; expected one of {sorted(roles)}")
        return role

    @model_validator(mode="after")
    def _ordered_hours(self) -> WorkItem:
        """Sort the three points instead of rejecting them.

        Unordered values are a transcription slip, not a different judgement: the set of three numbers
        still says how small and how large the work may be. Rejecting them would cost a whole retried
        Claude call to get the same numbers back, while sorting is deterministic and loses nothing.
        """
        self.low_hours, self.likely_hours, self.high_hours = sorted(
            (self.low_hours, self.likely_hours, self.high_hours)
        )
        return self


class Risk(BaseModel):
    """A project-level risk priced by its exposure: probability times the hours it would cost."""

    title: str = Field(min_length=1, max_length=200)
    probability: float = Field(ge=0, le=1, description="Chance the risk materialises, 0..1.")
    impact_hours: float = Field(ge=0, le=10 * MAX_ITEM_HOURS, description="Extra hours if it happens.")
    mitigation: str = Field(default="", max_length=1000)


class ClaudeEstimate(BaseModel):
    """The whole of Claude's judgement, as returned through the estimate tool."""

    summary: str = Field(min_length=1, max_length=4000, description="Plain-language scope summary.")
    work_items: list[WorkItem] = Field(min_length=1, max_length=150)
    risks: list[Risk] = Field(default_factory=list, max_length=40)
    assumptions: Notes
    out_of_scope: Notes
    open_questions: Notes

    @model_validator(mode="after")
    def _unique_ids(self) -> ClaudeEstimate:
        """Chat revisions and reports refer to items by id, so two items may not share one."""
        counts = Counter(item.id for item in self.work_items)
        duplicates = sorted(item_id for item_id, n in counts.items() if n > 1)
        if duplicates:
            raise ValueError(f"duplicate work item ids: {', '.join(duplicates)}")
        return self


class ItemCalc(BaseModel):
    """One work item with its PERT expectation (hours rounded to 0.1 so the table adds up as shown)."""

    id: str
    title: str
    role: str
    low_hours: float
    likely_hours: float
    high_hours: float
    expected_hours: float
    std_dev_hours: float


class RiskCalc(BaseModel):
    """One project risk with its exposure (probability * impact, rounded to 0.1 h)."""

    title: str
    probability: float
    impact_hours: float
    exposure_hours: float
    mitigation: str


class RoleTotals(BaseModel):
    """Hours of one role (work items plus any overhead billed to it) and what they cost and bill."""

    role: str
    item_hours: float
    overhead_hours: float
    hours: float
    cost_per_hour: float
    bill_rate_per_hour: float
    cost: float
    billed: float


class PaymentMilestone(BaseModel):
    name: str
    fraction: float
    amount: float


class Financials(BaseModel):
    """Every figure derived from an estimate and a rate card; the report and the save read only this."""

    currency: str
    items: list[ItemCalc]
    roles: list[RoleTotals]
    base_hours: float
    pm_overhead_pct: float
    pm_overhead_hours: float
    qa_overhead_pct: float
    qa_overhead_hours: float
    expected_hours: float
    std_dev_hours: float
    confidence_z: float
    confidence_level: int = Field(description="Percentile the contingency reaches, e.g. 90 for P90.")
    contingency_hours: float
    percentile_hours: float = Field(description="Expected hours plus contingency (e.g. the P90 total).")
    risks: list[RiskCalc]
    risk_reserve_hours: float
    committed_hours: float
    blended_cost_rate: float
    blended_bill_rate: float
    delivery_cost: float
    contingency_cost: float
    risk_reserve_cost: float
    cost: float
    list_price: float = Field(description="Committed hours at the rate card's bill rates.")
    price: float
    margin_pct: float
    target_margin_pct: float
    margin_floor_applied: bool
    payment_schedule: list[PaymentMilestone]


class FunctionPointCount(BaseModel):
    """IFPUG function types found in the requirements, and their unadjusted total at average weights."""

    external_inputs: int = 0
    external_outputs: int = 0
    external_inquiries: int = 0
    internal_logical_files: int = 0
    external_interface_files: int = 0
    unadjusted_fp: int = 0


class MethodCheck(BaseModel):
    """One independent effort model's figure and how far Claude's expected hours sit from it."""

    method: str
    label: str
    hours: float
    difference_pct: float = Field(description="(Claude - method) / method * 100; positive: Claude is higher.")
    verdict: Verdict
    basis: str


class CrossCheck(BaseModel):
    """Deterministic sanity check of Claude's figure against parametric models."""

    claude_expected_hours: float
    tolerance_pct: float
    function_points: FunctionPointCount
    methods: list[MethodCheck]
    verdict: Verdict
    summary: str


class RepoFacts(BaseModel):
    """What the GitHub client learns about a repository, enough to size it."""

    full_name: str
    languages: dict[str, int] = Field(default_factory=dict, description="Bytes of code per language.")
    size_kb: int = 0
    file_count: int | None = None
