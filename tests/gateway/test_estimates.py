"""Submitting and following estimations through the public API, against the real running stack."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx

from tests.api import estimate, requirements, wait_for_job


async def test_estimate_succeeds_and_its_save_holds_report_financials_and_cross_check(
    client: httpx.AsyncClient,
) -> None:
    body = {"requirements_md": requirements("Shop", "list products", "search products", "checkout"), "name": "Shop"}
    status = await estimate(client, body)
    assert status["status"] == "succeeded" and status["progress"] == 1.0
    assert status["usage"]["output_tokens"] > 0 and status["usage"]["cost_usd"] > 0

    save = (await client.get(f"/api/saves/{status['save_id']}")).json()
    assert save["name"] == "Shop" and save["revision"] == 1 and save["job_id"] == status["job_id"]
    titles = [item["title"] for item in save["estimate_data"]["work_items"]]
    assert any("checkout" in t.lower() for t in titles)
    assert save["financials_data"]["price"] > save["financials_data"]["cost"] > 0
    assert save["cross_check"]["methods"]
    assert "Cross-check" in save["report_markdown"] or "cross-check" in save["report_markdown"].lower()
    assert save["methodology_version"] and save["requirements_md"] == body["requirements_md"]


async def test_five_estimates_at_once_each_get_their_own_result(client: httpx.AsyncClient) -> None:
    topics = [f"Product {i} {uuid.uuid4().hex[:6]}" for i in range(5)]
    submitted = await asyncio.gather(
        *(client.post("/api/estimate", json={"requirements_md": requirements(t, f"feature of {t}")}) for t in topics)
    )
    job_ids = [r.json()["job_id"] for r in submitted]
    assert len(set(job_ids)) == 5
    statuses = await asyncio.gather(*(wait_for_job(client, j) for j in job_ids))
    for topic, status in zip(topics, statuses, strict=True):
        assert status["status"] == "succeeded"
        save = (await client.get(f"/api/saves/{status['save_id']}")).json()
        assert topic in save["requirements_md"] and save["name"] == topic
        assert all(
            topic in item["title"] or "feature" in item["title"].lower() or item["title"]
            for item in save["estimate_data"]["work_items"]
        )
        assert save["job_id"] == status["job_id"]


async def test_idempotency_key_returns_the_same_job(client: httpx.AsyncClient) -> None:
    body = {"requirements_md": requirements("Idempotent", "one thing")}
    key = uuid.uuid4().hex
    first = await client.post("/api/estimate", json=body, headers={"Idempotency-Key": key})
    second = await client.post("/api/estimate", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == second.status_code == 202
    assert first.json()["job_id"] == second.json()["job_id"]
    reused = await client.post(
        "/api/estimate", json={"requirements_md": "# Something else"}, headers={"Idempotency-Key": key}
    )
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency_key_reused"
    await wait_for_job(client, first.json()["job_id"])


async def test_events_stream_every_change_and_close_after_the_terminal_one(client: httpx.AsyncClient) -> None:
    accepted = (await client.post("/api/estimate", json={"requirements_md": requirements("Events", "a", "b")})).json()
    events: list[dict[str, object]] = []
    async with client.stream("GET", accepted["events_url"]) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
    assert events[-1]["status"] == "succeeded"
    assert len(events) >= 2
    assert all(e["job_id"] == accepted["job_id"] for e in events)


async def test_repeated_estimation_reads_the_model_document_from_the_prompt_cache(client: httpx.AsyncClient) -> None:
    await estimate(client, {"requirements_md": requirements("Cache warm-up", "x")})
    second = await estimate(client, {"requirements_md": requirements("Cache hit", "y")})
    assert second["usage"]["cache_read_input_tokens"] >= 4096


async def test_estimate_with_a_github_repository_reports_on_it(client: httpx.AsyncClient) -> None:
    status = await estimate(
        client, {"requirements_md": requirements("Shop v2", "wishlists"), "github_url": "https://github.com/octo/shop"}
    )
    assert status["status"] == "succeeded", status
    save = (await client.get(f"/api/saves/{status['save_id']}")).json()
    assert save["github_url"] == "https://github.com/octo/shop"
    assert "octo/shop" in save["report_markdown"]
    assert any(m["method"].startswith("cocomo_basic") or "basic" in m["method"] for m in save["cross_check"]["methods"])


async def test_a_missing_repository_fails_the_job_with_a_clear_code(client: httpx.AsyncClient) -> None:
    status = await estimate(
        client, {"requirements_md": requirements("Ghost", "x"), "github_url": "https://github.com/octo/does-not-exist"}
    )
    assert status["status"] == "failed"
    assert status["error"]["code"] == "repository_not_found"
    assert "save_id" not in status


async def test_a_renamed_repository_is_followed_to_its_new_name(client: httpx.AsyncClient) -> None:
    """GitHub answers 301 to /repositories/{id} for a repository's old name; the job follows it on the API host."""
    status = await estimate(
        client, {"requirements_md": requirements("Renamed", "x"), "github_url": "https://github.com/octo/old-shop"}
    )
    assert status["status"] == "succeeded", status
    save = (await client.get(f"/api/saves/{status['save_id']}")).json()
    assert save["github_url"] == "https://github.com/octo/old-shop"
    assert save["repository"]["full_name"] == "octo/shop"
    assert "octo/shop" in save["report_markdown"]


async def test_a_redirect_off_the_github_api_host_is_not_followed(client: httpx.AsyncClient) -> None:
    status = await estimate(
        client, {"requirements_md": requirements("Moved", "x"), "github_url": "https://github.com/octo/moved-away"}
    )
    assert status["status"] == "failed"
    assert status["error"]["code"] == "repository_not_found"
    assert "not followed" in status["error"]["message"]
