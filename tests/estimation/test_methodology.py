from __future__ import annotations

from services.estimation.methodology import MODEL_DOCUMENT
from services.estimation.rate_card import RateCard


def test_the_document_is_long_enough_to_be_cached() -> None:
    assert len(MODEL_DOCUMENT) / 4 >= 4096


def test_every_rate_card_role_is_explained() -> None:
    for role in RateCard().roles:
        assert f"| `{role}`" in MODEL_DOCUMENT


def test_it_covers_the_method_the_calculator_applies() -> None:
    for topic in ("expected hours E = (low + 4", "4 to 80 hours", "probability", "Worked example", "tool"):
        assert topic in MODEL_DOCUMENT
