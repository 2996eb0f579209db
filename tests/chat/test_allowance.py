"""Which learned allowance a chat call draws on: the turn's kind is predicted from its message."""

from __future__ import annotations

import pytest

from services.chat.allowance import predict_kind


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("Please add a mobile app", "revision"),
        ("Drop the calendar sync", "revision"),
        ("Please triple the QA effort", "revision"),
        ("Why is the API 40 hours?", "answer"),
        ("What does P90 mean here?", "answer"),
    ],
)
def test_the_kind_of_a_turn_is_predicted_from_its_message(message: str, kind: str) -> None:
    assert predict_kind(message) == kind
