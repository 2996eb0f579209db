"""The internal HTTP API as the gateway, worker and chat service call it."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.saves import keys
from services.saves.models import Save
from services.shared.apikeys import hash_key
from services.shared.contracts import SaveCreate
from services.shared.internal import OWNER_HEADER, TOKEN_HEADER
from tests.saves.factories import chat_turn, new_owner, save_create

# Fixed, not uuid4(): parameters make test ids, which every pytest-xdist worker must collect alike.
UNKNOWN_ID = uuid.UUID("36c42759-7076-48a8-a716-aa6b33c17feb")


def as_owner(owner: str) -> dict[str, str]:
    return {OWNER_HEADER: owner}


async def put_save(client: httpx.AsyncClient, save: SaveCreate) -> httpx.Response:
    return await client.put(
        f"/internal/saves/by-job/{save.job_id}",
        json=save.model_dump(mode="json"),
        headers=as_owner(save.owner),
    )


async def test_putting_a_job_twice_creates_it_once(client: httpx.AsyncClient, session: AsyncSession) -> None:
    save = save_create(new_owner())

    created = await put_save(client, save)
    again = await put_save(client, save)

    assert (created.status_code, again.status_code) == (201, 200)
    assert created.json() == again.json()
    assert created.json()["revision"] == 1
    rows = await session.scalar(select(func.count()).select_from(Save).where(Save.job_id == save.job_id))
    assert rows == 1


async def test_a_save_can_only_be_put_for_the_calling_owner(client: httpx.AsyncClient) -> None:
    save = save_create(new_owner())
    response = await client.put(
        f"/internal/saves/by-job/{save.job_id}",
        json=save.model_dump(mode="json"),
        headers=as_owner("mallory"),
    )
    assert response.status_code == 422


async def test_listing_pages_newest_first(client: httpx.AsyncClient) -> None:
    owner = new_owner()
    created = [(await put_save(client, save_create(owner))).json()["save_id"] for _ in range(25)]

    seen: list[str] = []
    sizes: list[int] = []
    params: dict[str, str | int] = {"limit": 10}
    while True:
        page = (await client.get("/internal/saves", params=params, headers=as_owner(owner))).json()
        sizes.append(len(page["items"]))
        seen += [item["save_id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]

    assert sizes == [10, 10, 5]
    assert seen == list(reversed(created))


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": 0}, "validation_error"),
        ({"limit": 101}, "validation_error"),
        ({"cursor": "definitely-not-a-cursor"}, "invalid_cursor"),
    ],
)
async def test_bad_listing_parameters_are_422(
    client: httpx.AsyncClient, params: dict[str, str | int], code: str
) -> None:
    response = await client.get("/internal/saves", params=params, headers=as_owner(new_owner()))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code


async def test_save_reads_and_rename(client: httpx.AsyncClient) -> None:
    owner = new_owner()
    save = (await put_save(client, save_create(owner))).json()

    by_id = await client.get(f"/internal/saves/{save['save_id']}", headers=as_owner(owner))
    by_job = await client.get(f"/internal/saves/by-job/{save['job_id']}", headers=as_owner(owner))
    renamed = await client.patch(
        f"/internal/saves/{save['save_id']}", json={"name": "Webshop, phase 2"}, headers=as_owner(owner)
    )

    assert by_id.json() == by_job.json() == save
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Webshop, phase 2"


@pytest.mark.parametrize("name", ["", "x" * 201])
async def test_rename_rejects_empty_and_overlong_names(client: httpx.AsyncClient, name: str) -> None:
    owner = new_owner()
    save = (await put_save(client, save_create(owner))).json()
    response = await client.patch(f"/internal/saves/{save['save_id']}", json={"name": name}, headers=as_owner(owner))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_another_owner_gets_404_everywhere(client: httpx.AsyncClient) -> None:
    save = (await put_save(client, save_create(new_owner()))).json()
    stranger = as_owner(new_owner())

    responses = [
        await client.get(f"/internal/saves/{save['save_id']}", headers=stranger),
        await client.patch(f"/internal/saves/{save['save_id']}", json={"name": "mine"}, headers=stranger),
        await client.delete(f"/internal/saves/{save['save_id']}", headers=stranger),
        await client.get(f"/internal/saves/by-job/{save['job_id']}", headers=stranger),
        await client.get(f"/internal/saves/by-job/{save['job_id']}/chat", headers=stranger),
        await client.post(
            f"/internal/saves/by-job/{save['job_id']}/chat",
            json=chat_turn("hi", "hello").model_dump(mode="json"),
            headers=stranger,
        ),
    ]

    assert [r.status_code for r in responses] == [404] * 6
    assert {r.json()["error"]["code"] for r in responses} == {"not_found"}


@pytest.mark.parametrize("save_id", ["not-a-uuid", "1", str(UNKNOWN_ID)])
async def test_unknown_or_malformed_ids_are_404(client: httpx.AsyncClient, save_id: str) -> None:
    response = await client.get(f"/internal/saves/{save_id}", headers=as_owner(new_owner()))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_delete_answers_204_and_the_save_is_gone(client: httpx.AsyncClient) -> None:
    owner = new_owner()
    save = (await put_save(client, save_create(owner))).json()

    deleted = await client.delete(f"/internal/saves/{save['save_id']}", headers=as_owner(owner))
    after = await client.get(f"/internal/saves/{save['save_id']}", headers=as_owner(owner))

    assert deleted.status_code == 204
    assert after.status_code == 404


async def test_chat_turn_then_history(client: httpx.AsyncClient) -> None:
    owner = new_owner()
    save = (await put_save(client, save_create(owner))).json()
    chat_url = f"/internal/saves/by-job/{save['job_id']}/chat"

    turn = await client.post(
        chat_url, json=chat_turn("Cheaper?", "Yes.", 15000.0).model_dump(mode="json"), headers=as_owner(owner)
    )
    history = await client.get(chat_url, headers=as_owner(owner))

    assert turn.status_code == 200
    assert turn.json()["revision"] == 2
    assert turn.json()["updated_at"] > save["updated_at"]
    assert [(m["role"], m["content"]) for m in history.json()["messages"]] == [
        ("user", "Cheaper?"),
        ("assistant", "Yes."),
    ]


async def test_key_lookup_answers_the_owner_of_a_live_key(client: httpx.AsyncClient, session: AsyncSession) -> None:
    owner = new_owner()
    key_id, key = await keys.create_key(session, owner)

    found = await client.post("/internal/keys/lookup", json={"key_hash": hash_key(key)})
    await keys.revoke_key(session, key_id)
    revoked = await client.post("/internal/keys/lookup", json={"key_hash": hash_key(key)})

    assert found.status_code == 200
    assert found.json() == {"owner": owner}
    assert revoked.status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/internal/saves"),
        ("GET", f"/internal/saves/{UNKNOWN_ID}"),
        ("POST", "/internal/keys/lookup"),
    ],
)
async def test_internal_token_is_required(client: httpx.AsyncClient, method: str, path: str) -> None:
    for token in (None, "wrong-token"):
        headers = {OWNER_HEADER: new_owner()}
        client.headers.pop(TOKEN_HEADER, None)
        if token is not None:
            headers[TOKEN_HEADER] = token
        response = await client.request(method, path, headers=headers, json={"key_hash": "0" * 64})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


async def test_owner_header_is_required(client: httpx.AsyncClient) -> None:
    response = await client.get("/internal/saves")
    assert response.status_code == 401
