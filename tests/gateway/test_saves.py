"""Browsing, renaming and deleting saves through the gateway."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api import estimate, requirements


async def test_saves_are_listed_newest_first_with_keyset_pages(client: httpx.AsyncClient) -> None:
    made = []
    for i in range(3):
        status = await estimate(client, {"requirements_md": requirements(f"Paged {i}", "thing"), "name": f"Paged {i}"})
        made.append(status["save_id"])
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/saves", params=params)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    ids = [item["save_id"] for item in seen]
    assert len(ids) == len(set(ids))
    assert ids.index(made[2]) < ids.index(made[1]) < ids.index(made[0])
    stamps = [item["updated_at"] for item in seen]
    assert stamps == sorted(stamps, reverse=True)
    first = next(item for item in seen if item["save_id"] == made[0])
    assert set(first["totals"]) >= {"expected_hours", "cost", "price", "currency"}


async def test_rename_and_delete(client: httpx.AsyncClient) -> None:
    status = await estimate(client, {"requirements_md": requirements("To rename", "x")})
    save_id = status["save_id"]
    renamed = await client.patch(f"/api/saves/{save_id}", json={"name": "Renamed"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed"
    assert (await client.patch(f"/api/saves/{save_id}", json={"name": ""})).status_code == 422
    assert (await client.delete(f"/api/saves/{save_id}")).status_code == 204
    assert (await client.get(f"/api/saves/{save_id}")).status_code == 404
    assert (await client.delete(f"/api/saves/{save_id}")).status_code == 404
