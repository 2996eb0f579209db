"""`python -m services.simulator` serves over real TCP, configured from SIM_* variables like in a pod."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import anthropic
import httpx2
import pytest

from tests.prometheus import stop_process
from tests.simulator.conftest import MODEL, REQUIREMENTS

STARTUP_DEADLINE_S = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def served_url() -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "SIM_HOST": "127.0.0.1",
        "SIM_PORT": str(port),
        "SIM_TOKENS_PER_SECOND": "1000000",
        "SIM_FIRST_TOKEN_LATENCY_S": "0",
        "SIM_FAULTS": json.dumps([{"kind": "overloaded", "count": 1}]),
    }
    process = subprocess.Popen([sys.executable, "-m", "services.simulator"], env=env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


async def _wait_until_healthy(url: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_DEADLINE_S
    async with httpx2.AsyncClient(base_url=url) as http:
        while True:
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx2.TransportError:
                if loop.time() > deadline:
                    raise
            await asyncio.sleep(0.1)


async def test_sdk_talks_to_the_served_simulator_over_tcp(served_url: str) -> None:
    await _wait_until_healthy(served_url)
    claude = anthropic.AsyncAnthropic(api_key="sk-test", base_url=served_url, max_retries=0)
    try:
        with pytest.raises(anthropic.OverloadedError):
            await claude.messages.create(model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "Hi"}])
        async with claude.messages.stream(
            model=MODEL, max_tokens=500, messages=[{"role": "user", "content": f"{REQUIREMENTS}\nHow long?"}]
        ) as stream:
            streamed = "".join([text async for text in stream.text_stream])
            final = await stream.get_final_message()
    finally:
        await claude.close()

    assert final.content[0].type == "text"
    assert streamed == final.content[0].text
    assert "How long?" in streamed
    assert final.stop_reason == "end_turn"
