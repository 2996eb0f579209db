"""A save's revisions through the internal API: listed newest first, read in full, diffed, owned."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.shared.contracts import DEFAULT_PAGE, SaveCreate
from services.shared.read_model import ReadModel, revision_diff_view, revision_view, revisions_view
from tests.saves.factories import chat_turn, edit_turn, new_owner, priced_save_create, save_create
from tests.saves.test_routes import as_owner, put_save

STRIPE_ITEM: dict[str, Any] = {"id": "WI-03", "title": "Stripe payments", "role": "backend"}
STRIPE_ITEM |= {"low_hours": 12, "likely_hours": 16, "high_hours": 30}  # PERT (12 + 64 + 30) / 6 = 17.7 h


async def create(client: httpx.AsyncClient, save: SaveCreate) -> dict[str, Any]:
    response = await put_save(client, save)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def revise(
    client: httpx.AsyncClient, owner: str, save: dict[str, Any], reason: str, *operations: dict[str, Any]
) -> dict[str, Any]:
    """Revision N+1 as the chat service stores it: a turn carrying the edit operations and their result."""
    turn = edit_turn(save["estimate_data"], save["revision"], reason, *operations)
    response = await client.post(
        f"/internal/saves/by-job/{save['job_id']}/chat", json=turn.model_dump(mode="json"), headers=as_owner(owner)
    )
    assert response.status_code == 200, response.text
    revised: dict[str, Any] = response.json()
    return revised


@pytest.fixture
def owner() -> str:
    return new_owner()


@pytest.fixture
async def revised(client: httpx.AsyncClient, owner: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A save at revision 2: Stripe added, checkout's likely hours 16 -> 20, payments no longer out of scope."""
    first = await create(client, priced_save_create(owner))
    second = await revise(
        client,
        owner,
        first,
        "Please add a payment integration with Stripe",
        {"op": "add_item", "item": STRIPE_ITEM},
        {"op": "update_item", "id": "WI-02", "likely_hours": 20},
        {"op": "edit_notes", "field": "out_of_scope", "add": [], "remove": ["Payments"]},
    )
    return first, second


async def test_revisions_are_listed_newest_first_with_reason_totals_and_operation_count(
    client: httpx.AsyncClient, owner: str, revised: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    first, second = revised

    page = (await client.get(f"/internal/saves/{first['save_id']}/revisions", headers=as_owner(owner))).json()

    assert page["next_cursor"] is None
    assert [(r["revision"], r["reason"], r["operation_count"]) for r in page["items"]] == [
        (2, "Please add a payment integration with Stripe", 3),
        (1, "initial estimate", 0),
    ]
    assert [r["totals"] for r in page["items"]] == [second["totals"], first["totals"]]
    assert page["items"][0]["created_at"] >= page["items"][1]["created_at"]


async def test_revisions_page_with_a_keyset_cursor(client: httpx.AsyncClient, owner: str) -> None:
    save = await create(client, save_create(owner))
    for n in range(4):
        turn = chat_turn(f"change {n}", "done", 1000.0 + n)
        await client.post(
            f"/internal/saves/by-job/{save['job_id']}/chat", json=turn.model_dump(mode="json"), headers=as_owner(owner)
        )

    pages: list[list[int]] = []
    params: dict[str, str | int] = {"limit": 2}
    while True:
        response = await client.get(
            f"/internal/saves/{save['save_id']}/revisions", params=params, headers=as_owner(owner)
        )
        page = response.json()
        pages.append([r["revision"] for r in page["items"]])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]

    assert pages == [[5, 4], [3, 2], [1]]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": 0}, "validation_error"),
        ({"limit": 101}, "validation_error"),
        ({"cursor": "definitely-not-a-cursor"}, "invalid_cursor"),
    ],
)
async def test_bad_revision_listing_parameters_are_422(
    client: httpx.AsyncClient, owner: str, params: dict[str, str | int], code: str
) -> None:
    save = await create(client, save_create(owner))
    response = await client.get(f"/internal/saves/{save['save_id']}/revisions", params=params, headers=as_owner(owner))
    assert (response.status_code, response.json()["error"]["code"]) == (422, code)


async def test_a_revision_in_full(
    client: httpx.AsyncClient, owner: str, revised: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    first, second = revised
    base = f"/internal/saves/{first['save_id']}/revisions"

    one = (await client.get(f"{base}/1", headers=as_owner(owner))).json()
    two = (await client.get(f"{base}/2", headers=as_owner(owner))).json()

    fields = ("estimate_data", "financials_data", "cross_check", "report_markdown", "totals")
    assert {f: one[f] for f in fields} == {f: first[f] for f in fields}
    assert {f: two[f] for f in fields} == {f: second[f] for f in fields}
    assert (one["revision"], one["reason"], one["operations"], one["operation_count"]) == (
        1,
        "initial estimate",
        None,
        0,
    )
    assert (two["save_id"], two["revision"], two["reason"]) == (
        first["save_id"],
        2,
        "Please add a payment integration with Stripe",
    )
    assert [op["op"] for op in two["operations"]] == ["add_item", "update_item", "edit_notes"]
    assert two["operations"][0]["item"]["title"] == "Stripe payments"
    assert one["created_at"] <= two["created_at"]


@pytest.mark.parametrize("revision", ["3", "0", "01", "-1", "1.0", "abc", "99999999999", str(2**31)])
async def test_unknown_or_malformed_revision_numbers_are_404(
    client: httpx.AsyncClient, owner: str, revised: tuple[dict[str, Any], dict[str, Any]], revision: str
) -> None:
    response = await client.get(
        f"/internal/saves/{revised[0]['save_id']}/revisions/{revision}", headers=as_owner(owner)
    )
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "not_found", "message": "no such revision"}


async def test_the_diff_between_two_revisions(
    client: httpx.AsyncClient, owner: str, revised: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    first, second = revised
    url = f"/internal/saves/{first['save_id']}/revisions/2/diff"

    diff = (await client.get(url, params={"against": 1}, headers=as_owner(owner))).json()

    assert (diff["save_id"], diff["from_revision"], diff["to_revision"]) == (first["save_id"], 1, 2)
    assert [(i["id"], i["expected_hours"]) for i in diff["items"]["added"]] == [("WI-03", 17.7)]
    assert diff["items"]["removed"] == []
    [checkout] = diff["items"]["changed"]
    assert checkout["id"] == "WI-02"
    # (10 + 4 * 16 + 30) / 6 = 17.3 h -> (10 + 4 * 20 + 30) / 6 = 20.0 h
    assert [(c["field"], c["old"], c["new"]) for c in checkout["changes"]] == [
        ("likely_hours", 16.0, 20.0),
        ("expected_hours", 17.3, 20.0),
    ]
    assert diff["notes"]["out_of_scope"] == {"added": [], "removed": ["Payments"]}
    assert diff["risks"] == {"added": [], "removed": []}
    totals = diff["totals"]
    for figure in ("expected_hours", "cost", "price"):
        before, after = first["totals"][figure], second["totals"][figure]
        assert (totals[figure]["before"], totals[figure]["after"]) == (before, after)
        assert totals[figure]["change"] == pytest.approx(after - before, abs=0.005)
    assert totals["expected_hours"]["change"] > 0


async def test_a_diff_can_go_backwards_or_compare_a_revision_with_itself(
    client: httpx.AsyncClient, owner: str, revised: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    base = f"/internal/saves/{revised[0]['save_id']}/revisions"

    backwards = (await client.get(f"{base}/1/diff", params={"against": 2}, headers=as_owner(owner))).json()
    same = (await client.get(f"{base}/2/diff", params={"against": 2}, headers=as_owner(owner))).json()

    assert [i["id"] for i in backwards["items"]["removed"]] == ["WI-03"]
    assert backwards["notes"]["out_of_scope"] == {"added": ["Payments"], "removed": []}
    assert same["items"] == {"added": [], "removed": [], "changed": []}
    assert same["totals"]["price"]["change"] == 0.0


@pytest.mark.parametrize(("revision", "against", "status"), [("2", 3, 404), ("3", 1, 404), ("2", 0, 422)])
async def test_a_diff_with_an_unknown_side_is_404(
    client: httpx.AsyncClient,
    owner: str,
    revised: tuple[dict[str, Any], dict[str, Any]],
    revision: str,
    against: int,
    status: int,
) -> None:
    response = await client.get(
        f"/internal/saves/{revised[0]['save_id']}/revisions/{revision}/diff",
        params={"against": against},
        headers=as_owner(owner),
    )
    assert response.status_code == status, response.text


async def test_another_owner_gets_404_on_every_revision_route(
    client: httpx.AsyncClient, revised: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    base = f"/internal/saves/{revised[0]['save_id']}/revisions"
    stranger = as_owner(new_owner())

    responses = [
        await client.get(base, headers=stranger),
        await client.get(f"{base}/1", headers=stranger),
        await client.get(f"{base}/2/diff", params={"against": 1}, headers=stranger),
    ]

    assert [r.status_code for r in responses] == [404] * 3
    assert {r.json()["error"]["message"] for r in responses} == {"no such save"}


async def test_a_new_revision_and_a_delete_move_the_cached_revisions_on(
    client: httpx.AsyncClient, app: FastAPI, owner: str
) -> None:
    """Reads are left in the read model for the gateways; a chat revision and a delete orphan the list,
    and a delete orphans the revisions and diffs too, which then answer 404."""
    reads: ReadModel = app.state.read_model
    save = await create(client, priced_save_create(owner))
    save_id, base = save["save_id"], f"/internal/saves/{save['save_id']}/revisions"
    listing = revisions_view(save_id, DEFAULT_PAGE, None)
    assert [r["revision"] for r in (await client.get(base, headers=as_owner(owner))).json()["items"]] == [1]
    assert (await reads.get(owner, listing)).entry is not None

    await revise(client, owner, save, "Drop the catalogue", {"op": "remove_item", "id": "WI-01"})

    assert (await reads.get(owner, listing)).entry is None
    assert [r["revision"] for r in (await client.get(base, headers=as_owner(owner))).json()["items"]] == [2, 1]
    diff = await client.get(f"{base}/2/diff", params={"against": 1}, headers=as_owner(owner))
    assert [i["id"] for i in diff.json()["items"]["removed"]] == ["WI-01"]
    assert (await client.get(f"{base}/1", headers=as_owner(owner))).status_code == 200
    cached = [listing, revision_view(save_id, 1), revision_diff_view(save_id, 2, 1)]
    assert all([(await reads.get(owner, view)).entry is not None for view in cached])

    assert (await client.delete(f"/internal/saves/{save_id}", headers=as_owner(owner))).status_code == 204

    assert all([(await reads.get(owner, view)).entry is None for view in cached])
    gone = [
        await client.get(base, headers=as_owner(owner)),
        await client.get(f"{base}/1", headers=as_owner(owner)),
        await client.get(f"{base}/2/diff", params={"against": 1}, headers=as_owner(owner)),
    ]
    assert [r.status_code for r in gone] == [404] * 3
