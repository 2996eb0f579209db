"""Edit operations: applied by code to the current estimate, every problem reported, nothing half-applied."""

from __future__ import annotations

from typing import Any

import pytest

from services.estimation.calculator import calculate
from services.estimation.edits import EditError, apply_edit, parse_edit
from services.estimation.models import ClaudeEstimate
from services.estimation.rate_card import RateCard

ROLES = ["backend", "frontend", "pm", "qa"]


def _edit(*operations: dict[str, Any]) -> Any:
    return parse_edit({"reason": "client asked", "operations": list(operations)})


def _item(item_id: str = "WI-04", role: str = "frontend", hours: tuple[float, float, float] = (8, 16, 24)) -> Any:
    low, likely, high = hours
    return {
        "id": item_id,
        "title": "Mobile app",
        "role": role,
        "low_hours": low,
        "likely_hours": likely,
        "high_hours": high,
        "assumptions": [],
        "risks": [],
    }


def test_add_update_remove_are_applied_in_order_and_repriced(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    edit = _edit(
        {"op": "add_item", "item": _item(), "reason": "mobile app asked for"},
        {"op": "update_item", "id": "WI-01", "likely_hours": 20, "high_hours": 40, "reason": "more endpoints"},
        {"op": "remove_item", "id": "WI-02", "reason": "screens come from the app now"},
        {"op": "edit_notes", "field": "out_of_scope", "add": ["Web screens"], "remove": ["Payments"], "reason": "r"},
        {"op": "add_risk", "risk": {"title": "App store review", "probability": 0.3, "impact_hours": 8}, "reason": "r"},
        {"op": "remove_risk", "title": "Late content", "reason": "no content any more"},
    )

    revised = apply_edit(estimate, edit, ROLES)

    assert [item.id for item in revised.work_items] == ["WI-01", "WI-03", "WI-04"]
    booking = revised.work_items[0]
    assert (booking.low_hours, booking.likely_hours, booking.high_hours) == (6, 20, 40)
    assert booking.title == "Booking API" and booking.assumptions == ["REST over JSON"]
    assert revised.out_of_scope == ["Web screens"]
    assert [risk.title for risk in revised.risks] == ["Calendar provider rate limits", "App store review"]
    assert calculate(revised, rate_card).base_hours != calculate(estimate, rate_card).base_hours
    assert [item.id for item in estimate.work_items] == ["WI-01", "WI-02", "WI-03"], "the original is untouched"


def test_every_problem_is_reported_and_nothing_is_applied(estimate: ClaudeEstimate) -> None:
    edit = _edit(
        {"op": "update_item", "id": "WI-99", "likely_hours": 3, "reason": "r"},
        {"op": "remove_item", "id": "WI-77", "reason": "r"},
        {"op": "add_item", "item": _item("WI-01"), "reason": "r"},
        {"op": "add_item", "item": _item("WI-05", role="astronaut"), "reason": "r"},
        {"op": "update_item", "id": "WI-02", "low_hours": 50, "reason": "impossible: low above high"},
        {"op": "edit_notes", "field": "assumptions", "add": [], "remove": ["Never said"], "reason": "r"},
    )

    with pytest.raises(EditError) as raised:
        apply_edit(estimate, edit, ROLES)

    problems = " | ".join(raised.value.problems)
    assert len(raised.value.problems) == 6
    for expected in ("'WI-99'", "'WI-77'", "'WI-01' is already in use", "'astronaut'", "low <= likely", "Never said"):
        assert expected in problems


def test_an_added_item_with_an_impossible_range_is_refused_not_sorted() -> None:
    with pytest.raises(EditError, match="low <= likely <= high"):
        _edit({"op": "add_item", "item": _item(hours=(30, 10, 20)), "reason": "r"})


def test_removing_every_item_leaves_no_estimate(estimate: ClaudeEstimate) -> None:
    edit = _edit(*({"op": "remove_item", "id": item.id, "reason": "r"} for item in estimate.work_items))

    with pytest.raises(EditError, match="not valid"):
        apply_edit(estimate, edit, ROLES)


@pytest.mark.parametrize(
    "tool_input",
    [
        {"reason": "r", "operations": []},
        {"operations": [{"op": "remove_item", "id": "WI-01", "reason": "r"}]},
        {"reason": "r", "operations": [{"op": "rename_everything", "reason": "r"}]},
        {"reason": "r", "operations": [{"op": "update_item", "id": "WI-01", "low_hours": -1, "reason": "r"}]},
        "not even an object",
    ],
)
def test_malformed_tool_input_becomes_readable_problems(tool_input: object) -> None:
    with pytest.raises(EditError) as raised:
        parse_edit(tool_input)

    assert raised.value.problems and all(isinstance(problem, str) for problem in raised.value.problems)
