"""Saves reads served from the read model: every write is seen by the next read on any replica, a
conditional read is answered 304, another owner never sees a cached copy, and the methodology is a
resource of its own."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.devstack.supervisor import Stack
from services.estimation.methodology import METHODOLOGY_VERSION, MODEL_DOCUMENT
from tests.api import estimate, requirements


@pytest.fixture
async def finished(client: httpx.AsyncClient) -> dict[str, Any]:
    return await estimate(client, {"requirements_md": requirements("Cached", "login", "search"), "name": "Cached"})


async def _names(client: httpx.AsyncClient) -> dict[str, str]:
    return {item["save_id"]: item["name"] for item in (await client.get("/api/saves")).json()["items"]}


async def test_a_rename_is_seen_by_the_next_read_on_every_replica(
    client: httpx.AsyncClient, replica: httpx.AsyncClient, finished: dict[str, Any]
) -> None:
    save_id = finished["save_id"]
    for gateway in (client, replica):  # both now have the list and the detail in the read model
        assert (await _names(gateway))[save_id] == "Cached"
        assert (await gateway.get(f"/api/saves/{save_id}")).json()["name"] == "Cached"

    assert (await client.patch(f"/api/saves/{save_id}", json={"name": "Renamed"})).status_code == 200

    for gateway in (replica, client):
        assert (await gateway.get(f"/api/saves/{save_id}")).json()["name"] == "Renamed"
        assert (await _names(gateway))[save_id] == "Renamed"


async def test_a_delete_is_seen_by_the_next_read_on_every_replica(
    client: httpx.AsyncClient, replica: httpx.AsyncClient, finished: dict[str, Any]
) -> None:
    save_id = finished["save_id"]
    assert (await replica.get(f"/api/saves/{save_id}")).status_code == 200
    assert save_id in await _names(replica)

    assert (await client.delete(f"/api/saves/{save_id}")).status_code == 204

    assert (await replica.get(f"/api/saves/{save_id}")).status_code == 404
    assert save_id not in await _names(replica)


async def test_a_chat_revision_is_seen_by_the_next_read_on_every_replica(
    client: httpx.AsyncClient, replica: httpx.AsyncClient, finished: dict[str, Any]
) -> None:
    save_id, job_id = finished["save_id"], finished["job_id"]
    assert (await replica.get(f"/api/saves/{save_id}")).json()["revision"] == 1
    assert (await replica.get(f"/api/estimate/{job_id}/chat")).json()["messages"] == []

    turn = await client.post(f"/api/estimate/{job_id}/chat", json={"message": "Please add a payment integration"})
    assert turn.status_code == 200 and turn.json()["revised"], turn.text

    assert (await replica.get(f"/api/saves/{save_id}")).json()["revision"] == 2
    history = (await replica.get(f"/api/estimate/{job_id}/chat")).json()
    assert [m["role"] for m in history["messages"]] == ["user", "assistant"]


async def test_a_conditional_read_is_304_until_the_save_changes(
    client: httpx.AsyncClient, finished: dict[str, Any]
) -> None:
    url = f"/api/saves/{finished['save_id']}"
    first = await client.get(url)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"

    again = await client.get(url, headers={"If-None-Match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    assert (await client.get(url, headers={"If-None-Match": f'"other", W/{etag}'})).status_code == 304

    await client.patch(url, json={"name": "Changed"})
    changed = await client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["name"] == "Changed"

    listing = await client.get("/api/saves")
    assert (await client.get("/api/saves", headers={"If-None-Match": listing.headers["etag"]})).status_code == 304


async def test_another_owner_never_gets_a_cached_copy(
    client: httpx.AsyncClient, intruder: httpx.AsyncClient, finished: dict[str, Any]
) -> None:
    save_id, job_id = finished["save_id"], finished["job_id"]
    own = await client.get(f"/api/saves/{save_id}")
    await client.get(f"/api/estimate/{job_id}/chat")

    assert (await intruder.get(f"/api/saves/{save_id}")).status_code == 404
    stolen = await intruder.get(f"/api/saves/{save_id}", headers={"If-None-Match": own.headers["etag"]})
    assert stolen.status_code == 404
    assert (await intruder.get(f"/api/estimate/{job_id}/chat")).status_code == 404
    assert save_id not in await _names(intruder)


async def test_the_methodology_is_a_resource_of_its_own(client: httpx.AsyncClient, finished: dict[str, Any]) -> None:
    save = (await client.get(f"/api/saves/{finished['save_id']}")).json()
    assert "methodology_md" not in save
    assert save["methodology_version"] == METHODOLOGY_VERSION

    document = await client.get(f"/api/methodology/{save['methodology_version']}")
    assert document.status_code == 200
    assert document.json() == {"version": METHODOLOGY_VERSION, "content": MODEL_DOCUMENT}
    assert "immutable" in document.headers["cache-control"]
    revalidated = await client.get(
        f"/api/methodology/{METHODOLOGY_VERSION}", headers={"If-None-Match": document.headers["etag"]}
    )
    assert revalidated.status_code == 304

    whole = await client.get(f"/api/saves/{finished['save_id']}", params={"include": "methodology"})
    assert whole.json() == {**save, "methodology_md": MODEL_DOCUMENT}
    assert whole.headers["etag"] != (await client.get(f"/api/saves/{finished['save_id']}")).headers["etag"]


@pytest.mark.parametrize("version", ["0123456789abcdef", "not-a-version", "A" * 65])
async def test_an_unknown_methodology_version_is_404(client: httpx.AsyncClient, version: str) -> None:
    response = await client.get(f"/api/methodology/{version}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_the_methodology_needs_a_key(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway_url) as anonymous:
        assert (await anonymous.get(f"/api/methodology/{METHODOLOGY_VERSION}")).status_code == 401


async def test_every_spelling_of_a_save_id_sees_a_rename(client: httpx.AsyncClient, finished: dict[str, Any]) -> None:
    spellings = [finished["save_id"], finished["save_id"].upper(), finished["save_id"].replace("-", "")]
    for spelling in spellings:
        assert (await client.get(f"/api/saves/{spelling}")).json()["name"] == "Cached"
    await client.patch(f"/api/saves/{finished['save_id']}", json={"name": "Respelt"})
    for spelling in spellings:
        assert (await client.get(f"/api/saves/{spelling}")).json()["name"] == "Respelt"


async def test_plain_reads_and_their_long_forms_answer_alike(
    client: httpx.AsyncClient, finished: dict[str, Any]
) -> None:
    """The plain form of each hot read is served by a fast route; every other form by FastAPI."""
    save_id, job_id = finished["save_id"], finished["job_id"]
    pairs = [
        ("/api/saves", "/api/saves?limit=20&unused=1"),
        ("/api/saves?limit=5", "/api/saves?unused=1&limit=5"),
        (f"/api/saves/{save_id}", f"/api/saves/{save_id}?unused=1"),
        (f"/api/estimate/{job_id}/status", f"/api/estimate/{job_id}/status?unused=1"),
        (f"/api/estimate/{job_id}/chat", f"/api/estimate/{job_id}/chat?unused=1"),
    ]
    for plain, long in pairs:
        fast, slow = await client.get(plain), await client.get(long)
        assert (fast.status_code, fast.json()) == (slow.status_code, slow.json()), plain
        assert fast.headers.get("etag") == slow.headers.get("etag")
    for bad in ("0", "101", "x"):
        assert (await client.get(f"/api/saves?limit={bad}")).status_code == 422
    assert (await client.get("/api/saves", headers={"If-None-Match": "x" * 1001})).status_code == 422
    async with httpx.AsyncClient(base_url=str(client.base_url)) as anonymous:
        assert (await anonymous.get(f"/api/estimate/{job_id}/status")).status_code == 401


async def test_fast_reads_are_counted_under_their_route_template(
    client: httpx.AsyncClient, finished: dict[str, Any]
) -> None:
    def served(metrics: str) -> float:
        label = 'method="GET",route="/api/estimate/{job_id}/status",service="gateway",status="200"'
        line = next(
            (x for x in metrics.splitlines() if x.startswith("estimator_http_requests_total{") and label in x), ""
        )
        return float(line.rsplit(" ", 1)[1]) if line else 0.0

    before = served((await client.get("/metrics")).text)
    await client.get(f"/api/estimate/{finished['job_id']}/status")
    assert served((await client.get("/metrics")).text) == before + 1


async def test_an_id_ending_in_a_newline_names_nothing(client: httpx.AsyncClient, finished: dict[str, Any]) -> None:
    for path in (f"/api/estimate/{finished['job_id']}%0A/chat", f"/api/saves/{finished['save_id']}%0A"):
        answer = await client.get(path)
        assert answer.status_code == 404, (path, answer.text)
