from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.estimation.models import ClaudeEstimate, WorkItem


def _item(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "WI-01",
        "title": "Orders API",
        "role": "backend",
        "low_hours": 8,
        "likely_hours": 12,
        "high_hours": 20,
    } | overrides


def test_unordered_hours_are_sorted_not_rejected() -> None:
    item = WorkItem.model_validate(_item(low_hours=30, likely_hours=10, high_hours=20))

    assert (item.low_hours, item.likely_hours, item.high_hours) == (10, 20, 30)


@pytest.mark.parametrize("hours", [0, -1, 2001])
def test_hours_outside_the_allowed_range_are_rejected(hours: float) -> None:
    with pytest.raises(ValidationError):
        WorkItem.model_validate(_item(high_hours=hours))


def test_roles_are_checked_against_the_roles_given_at_validation() -> None:
    assert WorkItem.model_validate(_item(role="wizard")).role == "wizard"
    with pytest.raises(ValidationError, match="unknown role 'wizard'"):
        WorkItem.model_validate(_item(role="wizard"), context={"roles": ["backend", "qa"]})


def test_duplicate_item_ids_are_rejected() -> None:
    with pytest.raises(ValidationError, match="duplicate work item ids: WI-01"):
        ClaudeEstimate.model_validate({"summary": "s", "work_items": [_item(), _item(title="Other")]})


def test_an_estimate_needs_at_least_one_item() -> None:
    with pytest.raises(ValidationError):
        ClaudeEstimate.model_validate({"summary": "s", "work_items": []})
