"""Traces leave a service only when an OTLP collector is configured, and then they do."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI, Request

from tests.github_stub import ThreadServer, free_port


@pytest.fixture
def collector() -> Iterator[tuple[str, list[str]]]:
    received: list[str] = []
    app = FastAPI()

    @app.post("/v1/traces")
    async def traces(request: Request) -> dict[str, str]:
        received.append(request.headers.get("content-type", ""))
        return {}

    with ThreadServer(app) as server:
        yield server.url, received


async def test_spans_are_exported_to_the_configured_collector(collector: tuple[str, list[str]]) -> None:
    url, received = collector
    port = free_port()
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "serve",
        "simulator",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(100):
                try:
                    await client.post("/v1/messages/count_tokens", json={}, headers={"x-api-key": "k"})
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)
            for _ in range(50):
                if received:
                    break
                await asyncio.sleep(0.1)
    finally:
        process.terminate()
        await process.wait()
    assert received and received[0].startswith("application/x-protobuf")
