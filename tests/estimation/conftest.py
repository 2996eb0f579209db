"""A small estimate and rate card whose figures are easy to compute by hand (see test_calculator).

WI-03's hours arrive unordered (30/12/18), as a model sometimes returns them; they read as 12/18/30.
"""

from __future__ import annotations

import pytest

from services.estimation.models import ClaudeEstimate
from services.estimation.rate_card import RateCard, RoleRate


@pytest.fixture
def rate_card() -> RateCard:
    return RateCard(
        currency="EUR",
        roles={
            "backend": RoleRate(cost_per_hour=50, bill_rate_per_hour=100),
            "frontend": RoleRate(cost_per_hour=40, bill_rate_per_hour=80),
            "pm": RoleRate(cost_per_hour=60, bill_rate_per_hour=100),
            "qa": RoleRate(cost_per_hour=30, bill_rate_per_hour=60),
        },
        project_management_pct=0.10,
        qa_overhead_pct=0.10,
        confidence_z=1.0,
        margin_pct=0.20,
        payment_schedule=[("Signature", 0.3), ("Beta", 0.3), ("Acceptance", 0.4)],
    )


@pytest.fixture
def estimate() -> ClaudeEstimate:
    return ClaudeEstimate.model_validate(
        {
            "summary": "A booking API and its screens.",
            "work_items": [
                {
                    "id": "WI-01",
                    "title": "Booking API",
                    "role": "backend",
                    "low_hours": 6,
                    "likely_hours": 12,
                    "high_hours": 30,
                    "assumptions": ["REST over JSON"],
                    "risks": [],
                },
                {
                    "id": "WI-02",
                    "title": "Booking screens",
                    "role": "frontend",
                    "low_hours": 8,
                    "likely_hours": 8,
                    "high_hours": 8,
                },
                {
                    "id": "WI-03",
                    "title": "Calendar sync job",
                    "role": "backend",
                    "low_hours": 30,
                    "likely_hours": 12,
                    "high_hours": 18,
                },
            ],
            "risks": [
                {
                    "title": "Calendar provider rate limits",
                    "probability": 0.5,
                    "impact_hours": 10,
                    "mitigation": "Batch requests",
                },
                {"title": "Late content", "probability": 0.25, "impact_hours": 4, "mitigation": "Placeholders"},
            ],
            "assumptions": ["One practice location"],
            "out_of_scope": ["Payments"],
            "open_questions": ["Do patients need accounts?"],
        }
    )
