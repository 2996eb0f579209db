"""A save's revisions through the gateway: listed, read in full (immutable, ETag/304), diffed, owned.

Revision 2 is stored the way the chat service stores one (a chat turn carrying edit operations, sent to
the saves service's internal API), so these tests do not depend on what Claude (here the simulator)
decides to change.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.devstack.supervisor import Stack
from services.shared.internal import OWNER_HEADER, TOKEN_HEADER
from tests.api import estimate, requirements
from tests.saves.factories import edit_turn

REASON = "Please add a payment integration with Stripe"
STRIPE: dict[str, Any] = {"id": "WI-STRIPE", "title": "Stripe payment integration", "role": "backend"}
STRIPE |= {"low_hours": 12, "likely_hours": 16, "high_hours": 30}  # PERT (12 + 64 + 30) / 6 = 17.7 h


async def revise(stack: Stack, save: dict[str, Any], *operations: dict[str, Any]) -> dict[str, Any]:
    """Stores revision N+1 of `save` (owned by the `api_key` fixture's owner) as the chat service would."""
    env = stack.env_used
    headers = {TOKEN_HEADER: env["INTERNAL_TOKEN"], OWNER_HEADER: "alice"}
    turn = edit_turn(save["estimate_data"], save["revision"], REASON, *operations)
    async with httpx.AsyncClient(base_url=env["SAVES_URL"], headers=headers, timeout=30) as saves:
        response = await saves.post(f"/internal/saves/by-job/{save['job_id']}/chat", json=turn.model_dump(mode="json"))
    assert response.status_code == 200, response.text
    revised: dict[str, Any] = response.json()
    return revised


@pytest.fixture
async def first(client: httpx.AsyncClient) -> dict[str, Any]:
    status = await estimate(client, {"requirements_md": requirements("Shop", "catalogue", "checkout"), "name": "Shop"})
    assert status["status"] == "succeeded", status
    save: dict[str, Any] = (await client.get(f"/api/saves/{status['save_id']}")).json()
    return save


@pytest.fixture
async def second(stack: Stack, client: httpx.AsyncClient, first: dict[str, Any]) -> dict[str, Any]:
    """Revision 2 of `first`, after revision 1's list was read (so the read model held it)."""
    listed = (await client.get(f"/api/saves/{first['save_id']}/revisions")).json()
    assert [r["revision"] for r in listed["items"]] == [1]
    return await revise(stack, first, {"op": "add_item", "item": STRIPE})


async def test_revisions_are_listed_newest_first(
    client: httpx.AsyncClient, first: dict[str, Any], second: dict[str, Any]
) -> None:
    page = await client.get(f"/api/saves/{first['save_id']}/revisions")

    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-cache"
    body = page.json()
    assert body["next_cursor"] is None
    assert [(r["revision"], r["reason"], r["operation_count"]) for r in body["items"]] == [
        (2, REASON, 1),
        (1, "initial estimate", 0),
    ]
    assert [r["totals"] for r in body["items"]] == [second["totals"], first["totals"]]
    assert (await client.get(f"/api/saves/{first['save_id']}/revisions", params={"limit": 1})).json()[
        "next_cursor"
    ] is not None
    again = await client.get(
        f"/api/saves/{first['save_id']}/revisions", headers={"If-None-Match": page.headers["etag"]}
    )
    assert again.status_code == 304


async def test_a_revision_is_immutable_with_a_strong_etag(
    client: httpx.AsyncClient, first: dict[str, Any], second: dict[str, Any]
) -> None:
    url = f"/api/saves/{first['save_id']}/revisions/2"

    full = await client.get(url)

    assert full.status_code == 200
    assert full.headers["cache-control"] == "private, max-age=31536000, immutable"
    etag = full.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    body = full.json()
    assert (body["revision"], body["reason"], body["save_id"]) == (2, REASON, first["save_id"])
    assert [op["op"] for op in body["operations"]] == ["add_item"]
    for field in ("estimate_data", "financials_data", "cross_check", "report_markdown", "totals"):
        assert body[field] == second[field], field
    not_modified = await client.get(url, headers={"If-None-Match": etag})
    assert (not_modified.status_code, not_modified.content, not_modified.headers["etag"]) == (304, b"", etag)
    assert not_modified.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert (await client.get(f"/api/saves/{first['save_id']}/revisions/1")).json()["operations"] is None


async def test_the_diff_from_the_previous_revision(
    client: httpx.AsyncClient, first: dict[str, Any], second: dict[str, Any]
) -> None:
    base = f"/api/saves/{first['save_id']}/revisions"

    default = await client.get(f"{base}/2/diff")
    explicit = await client.get(f"{base}/2/diff", params={"against": 1})

    assert default.status_code == 200, default.text
    assert default.json() == explicit.json() and default.headers["etag"] == explicit.headers["etag"]
    assert "immutable" in default.headers["cache-control"]
    diff = default.json()
    assert (diff["from_revision"], diff["to_revision"]) == (1, 2)
    assert [(i["id"], i["title"], i["expected_hours"]) for i in diff["items"]["added"]] == [
        ("WI-STRIPE", "Stripe payment integration", 17.7)
    ]
    assert diff["items"]["removed"] == diff["items"]["changed"] == []
    for figure in ("expected_hours", "cost", "price"):
        before, after = first["totals"][figure], second["totals"][figure]
        assert diff["totals"][figure]["change"] == pytest.approx(after - before, abs=0.005)
    assert diff["totals"]["expected_hours"]["change"] > 17.7  # the item plus its PM and QA overheads
    backwards = (await client.get(f"{base}/1/diff", params={"against": 2})).json()
    assert [i["id"] for i in backwards["items"]["removed"]] == ["WI-STRIPE"]
    assert (await client.get(f"{base}/2/diff", headers={"If-None-Match": default.headers["etag"]})).status_code == 304


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/revisions/3", 404),
        ("/revisions/0", 404),
        ("/revisions/01", 404),
        ("/revisions/-1", 404),
        ("/revisions/two", 404),
        ("/revisions/99999999999", 404),
        ("/revisions/1/diff", 404),  # revision 1 has none before it
        ("/revisions/2/diff?against=3", 404),
        ("/revisions/2/diff?against=0", 422),
        ("/revisions/2/diff?against=x", 422),
        ("/revisions?limit=0", 422),
        ("/revisions?cursor=garbage", 422),
    ],
)
async def test_unknown_or_malformed_revisions(
    client: httpx.AsyncClient, second: dict[str, Any], path: str, status: int
) -> None:
    response = await client.get(f"/api/saves/{second['save_id']}{path}")
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] in {"not_found", "validation_error", "invalid_cursor"}


async def test_another_owner_gets_404_on_every_revision_route_even_with_the_etag(
    client: httpx.AsyncClient, intruder: httpx.AsyncClient, second: dict[str, Any]
) -> None:
    base = f"/api/saves/{second['save_id']}/revisions"
    for path in (base, f"{base}/2", f"{base}/2/diff"):
        own = await client.get(path)
        assert own.status_code == 200
        for headers in ({}, {"If-None-Match": own.headers["etag"]}):
            stolen = await intruder.get(path, headers=headers)
            assert (stolen.status_code, stolen.json()["error"]["code"]) == (404, "not_found"), path


async def test_a_deleted_saves_revisions_are_gone(client: httpx.AsyncClient, second: dict[str, Any]) -> None:
    base = f"/api/saves/{second['save_id']}/revisions"
    paths = (base, f"{base}/1", f"{base}/2", f"{base}/2/diff")
    for path in paths:  # every answer is now in the read model
        assert (await client.get(path)).status_code == 200

    assert (await client.delete(f"/api/saves/{second['save_id']}")).status_code == 204

    for path in paths:
        assert (await client.get(path)).status_code == 404, path
