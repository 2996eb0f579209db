"""The simulator reads the chat's `<current_estimate>` text back into the items, risks and figures it shows."""

from __future__ import annotations

from services.simulator.current_estimate import Item, best_item, read_current_estimate
from services.simulator.wire import CountTokensRequest
from tests.simulator.conftest import MODEL, Chat


def _request(chat: Chat) -> CountTokensRequest:
    return CountTokensRequest.model_validate(
        {"model": MODEL, "system": chat.system, "messages": [{"role": "user", "content": "Hi"}]}
    )


def test_the_described_estimate_reads_back_as_it_was_priced(chat: Chat) -> None:
    current = read_current_estimate(_request(chat))

    assert current is not None
    assert (current.name, current.revision) == ("Clinic booking", 2)
    assert current.items == tuple(
        Item(i.id, i.role, i.low_hours, i.likely_hours, i.high_hours, i.expected_hours, i.title)
        for i in chat.financials.items
    )
    assert [(r.title, r.probability, r.impact_hours) for r in current.risks] == [
        (r.title, r.probability, r.impact_hours) for r in chat.estimate.risks
    ]
    assert current.notes == {
        "assumptions": ("One practice location",),
        "out_of_scope": ("Payments",),
        "open_questions": ("Do patients need accounts?",),
    }
    f = chat.financials
    assert current.figures == {
        "expected": f"{f.expected_hours:g} h",
        "committed": f"{f.committed_hours:g} h",
        "cost": f"{f.cost:,.2f} {f.currency}",
        "price": f"{f.price:,.2f} {f.currency}",
    }


def test_a_request_without_the_block_has_no_current_estimate() -> None:
    request = CountTokensRequest.model_validate(
        {
            "model": MODEL,
            "system": "- WI-01 | backend | 1/2/3 | 2 | Outside any current_estimate block",
            "messages": [{"role": "user", "content": "Hi"}],
        }
    )

    assert read_current_estimate(request) is None


def test_an_item_is_named_by_id_or_by_the_most_words_of_its_title(chat: Chat) -> None:
    current = read_current_estimate(_request(chat))
    assert current is not None

    def named(text: str) -> str | None:
        item = best_item(text, current.items)
        return item.id if item else None

    assert named("the booking screens") == "WI-02"
    assert named("booking") == "WI-01"
    assert named("what about wi-04?") == "WI-04"
    assert named("the end to end test") == "WI-04"
    assert named("the reporting module") is None
