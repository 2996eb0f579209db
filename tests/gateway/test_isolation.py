"""Every record belongs to the owner of the key that created it; others get 404, never 403."""

from __future__ import annotations

import httpx
import pytest

from tests.api import estimate, requirements


@pytest.fixture
async def alices_job(client: httpx.AsyncClient) -> dict[str, str]:
    status = await estimate(client, {"requirements_md": requirements("Private plan", "secret feature")})
    assert status["status"] == "succeeded"
    return {"job_id": status["job_id"], "save_id": status["save_id"]}


@pytest.mark.parametrize(
    ("method", "template", "body"),
    [
        ("GET", "/api/estimate/{job_id}/status", None),
        ("GET", "/api/estimate/{job_id}/events", None),
        ("POST", "/api/estimate/{job_id}/chat", {"message": "what is the price?"}),
        ("GET", "/api/estimate/{job_id}/chat", None),
        ("GET", "/api/saves/{save_id}", None),
        ("PATCH", "/api/saves/{save_id}", {"name": "stolen"}),
        ("DELETE", "/api/saves/{save_id}", None),
        ("GET", "/api/saves/{save_id}/revisions", None),
        ("GET", "/api/saves/{save_id}/revisions/1", None),
        ("GET", "/api/saves/{save_id}/revisions/1/diff?against=1", None),
    ],
)
async def test_another_owner_gets_404_everywhere(
    intruder: httpx.AsyncClient,
    client: httpx.AsyncClient,
    alices_job: dict[str, str],
    method: str,
    template: str,
    body: dict[str, str] | None,
) -> None:
    response = await intruder.request(method, template.format(**alices_job), json=body)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    save = await client.get(f"/api/saves/{alices_job['save_id']}")
    assert save.status_code == 200 and save.json()["name"] == "Private plan"


async def test_listing_shows_only_your_own_saves(intruder: httpx.AsyncClient, alices_job: dict[str, str]) -> None:
    listed = (await intruder.get("/api/saves", params={"limit": 100})).json()
    assert alices_job["save_id"] not in {item["save_id"] for item in listed["items"]}
