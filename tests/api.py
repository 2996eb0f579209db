"""A thin client for black-box tests of the public API."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

TERMINAL = ("succeeded", "failed")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def requirements(title: str, *features: str) -> str:
    lines = [f"# {title}", "", "## Features"] + [f"- {f}" for f in features]
    return "\n".join(lines) + "\n"


async def wait_for_job(client: httpx.AsyncClient, job_id: str, attempts: int = 600) -> dict[str, Any]:
    """Polls the status route until the job ends (bounded; the simulator answers in well under a second)."""
    status: dict[str, Any] = {}
    for _ in range(attempts):
        response = await client.get(f"/api/estimate/{job_id}/status")
        assert response.status_code == 200, response.text
        status = response.json()
        if status["status"] in TERMINAL:
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {status}")


async def estimate(client: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = await client.post("/api/estimate", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return await wait_for_job(client, response.json()["job_id"])
