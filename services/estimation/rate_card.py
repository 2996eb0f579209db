"""The commercial parameters every price is computed from, besides the hours Claude judged."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RoleRate(BaseModel):
    """Hourly cost of a role to us, and the rate we bill it at."""

    cost_per_hour: float = Field(gt=0)
    bill_rate_per_hour: float = Field(gt=0)


def _default_rates() -> dict[str, RoleRate]:
    return {
        "architect": RoleRate(cost_per_hour=85, bill_rate_per_hour=150),
        "backend": RoleRate(cost_per_hour=65, bill_rate_per_hour=115),
        "frontend": RoleRate(cost_per_hour=60, bill_rate_per_hour=110),
        "devops": RoleRate(cost_per_hour=70, bill_rate_per_hour=125),
        "qa": RoleRate(cost_per_hour=50, bill_rate_per_hour=90),
        "designer": RoleRate(cost_per_hour=55, bill_rate_per_hour=100),
        "data": RoleRate(cost_per_hour=70, bill_rate_per_hour=125),
        "pm": RoleRate(cost_per_hour=60, bill_rate_per_hour=105),
    }


class RateCard(BaseModel):
    """Commercial parameters: everything the financials are computed from besides Claude's hours."""

    currency: str = "EUR"
    roles: dict[str, RoleRate] = Field(default_factory=_default_rates)
    project_management_pct: float = Field(default=0.10, ge=0, le=1)
    qa_overhead_pct: float = Field(default=0.15, ge=0, le=1)
    confidence_z: float = Field(default=1.2816, gt=0, description="z-score of the contingency percentile (P90)")
    margin_pct: float = Field(default=0.20, ge=0, lt=1)
    payment_schedule: list[tuple[str, float]] = Field(
        default_factory=lambda: [("Signature", 0.30), ("Beta delivery", 0.40), ("Acceptance", 0.30)]
    )
