"""Secure by default: services started as a deployment starts them (`ESTIMATOR_ENV=production`, real processes).

A process that lacks a secret refuses to start with one clear line; a running one keeps its internal
docs to itself, serves `/metrics` only on its metrics port, and refuses an oversized request head.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.shared.internal import OWNER_HEADER, TOKEN_HEADER
from tests.github_stub import free_port

TOKEN = "production-test-internal-token"
START_DEADLINE_S = 60.0
OWN_SETTINGS = ("ESTIMATOR_ENV", "INTERNAL_TOKEN", "REDIS_URL", "DATABASE_URL", "METRICS_PORT", "SAVES_URL")


def production_env(**values: str) -> dict[str, str]:
    """This machine's environment without the settings under test, marked as a deployment."""
    env = {name: value for name, value in os.environ.items() if name not in OWN_SETTINGS}
    return {**env, "ESTIMATOR_ENV": "production", "LOG_LEVEL": "WARNING", **values}


def command(service: str, port: int) -> list[str]:
    args = ["worker"] if service == "worker" else ["serve", service, "--host", "127.0.0.1", "--port", str(port)]
    return [sys.executable, "-m", "services.cli", *args]


@pytest.mark.parametrize("service", ["saves", "chat", "gateway", "worker"])
async def test_a_service_without_its_internal_token_does_not_start(
    service: str, redis_url: str, database_url: str
) -> None:
    env = production_env(
        REDIS_URL=redis_url,
        DATABASE_URL=database_url,
        SAVES_URL="http://127.0.0.1:1",
        CHAT_URL="http://127.0.0.1:1",
        ANTHROPIC_API_KEY="sk-unused",
    )
    process = await asyncio.create_subprocess_exec(
        *command(service, free_port()), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=START_DEADLINE_S)
    text = out.decode()
    assert process.returncode == 2, text
    assert f"estimator {command(service, 0)[3]}: {service} refuses to start with ESTIMATOR_ENV=production" in text
    assert "INTERNAL_TOKEN is not set" in text
    assert "Traceback" not in text, "a clear message, not a wall of traceback"


async def test_every_missing_setting_is_named_at_once() -> None:
    env = production_env(INTERNAL_TOKEN="too-short")
    process = await asyncio.create_subprocess_exec(
        *command("saves", free_port()), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=START_DEADLINE_S)
    text = out.decode()
    assert process.returncode == 2, text
    for problem in ("REDIS_URL is not set", "DATABASE_URL is not set", "INTERNAL_TOKEN is shorter than 16"):
        assert problem in text


async def test_the_local_stack_starts_without_being_given_a_token(
    redis_url: str, database_url: str, tmp_path: Path
) -> None:
    """Development (what `make run` and the tests set) still starts on the laptop's defaults."""
    env = production_env(ESTIMATOR_ENV="development", DATABASE_URL=database_url, REDIS_URL=redis_url)
    async with served({"saves": env}, tmp_path) as running:
        assert (await running.get("saves", "/readyz")).status_code == 200


@dataclass
class Served:
    """Processes on their own API and metrics ports."""

    ports: dict[str, tuple[int, int]]
    client: httpx.AsyncClient

    def url(self, service: str, path: str, *, metrics: bool = False) -> str:
        api, metrics_port = self.ports[service]
        return f"http://127.0.0.1:{metrics_port if metrics else api}{path}"

    async def get(
        self,
        service: str,
        path: str,
        *,
        metrics: bool = False,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await self.client.get(self.url(service, path, metrics=metrics), headers=headers, params=params)


@dataclass
class _Process:
    popen: subprocess.Popen[bytes]
    log: Path


def _stop(processes: dict[str, _Process]) -> None:
    for process in processes.values():
        if process.popen.poll() is None:
            process.popen.terminate()
    for process in processes.values():
        try:
            process.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait()


@asynccontextmanager
async def served(
    envs: dict[str, dict[str, str]], log_dir: Path, ports: dict[str, tuple[int, int]] | None = None
) -> AsyncIterator[Served]:
    """Starts each service with its env (in order, each healthy before the next) and stops them all after."""
    ports = ports or {name: (free_port(), free_port()) for name in envs}
    processes: dict[str, _Process] = {}
    async with httpx.AsyncClient(timeout=10) as client:
        try:
            for name, env in envs.items():
                api, metrics = ports[name]
                log = log_dir / f"{name}.log"
                with log.open("ab") as output:
                    popen = await asyncio.to_thread(
                        subprocess.Popen,
                        command(name, api),
                        env={**env, "METRICS_PORT": str(metrics)},
                        stdout=output,
                        stderr=output,
                    )
                processes[name] = _Process(popen, log)
                await _wait_healthy(client, name, processes[name], f"http://127.0.0.1:{api}/healthz")
            yield Served(ports, client)
        finally:
            await asyncio.to_thread(_stop, processes)


async def _wait_healthy(client: httpx.AsyncClient, name: str, process: _Process, url: str) -> None:
    deadline = time.monotonic() + START_DEADLINE_S
    while True:
        if process.popen.poll() is not None:
            raise AssertionError(f"{name} exited with {process.popen.returncode}: {process.log.read_text()}")
        try:
            if (await client.get(url)).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} did not start: {process.log.read_text()}")
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
async def deployed(
    redis_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Served]:
    """saves, chat and the gateway as a deployment runs them: every secret given, ESTIMATOR_ENV=production."""
    ports = {name: (free_port(), free_port()) for name in ("saves", "chat", "gateway")}
    common = production_env(REDIS_URL=redis_url, INTERNAL_TOKEN=TOKEN)
    saves_url = f"http://127.0.0.1:{ports['saves'][0]}"
    envs = {
        "saves": {**common, "DATABASE_URL": database_url},
        "chat": {**common, "SAVES_URL": saves_url, "ANTHROPIC_API_KEY": "sk-unused"},
        "gateway": {**common, "SAVES_URL": saves_url, "CHAT_URL": f"http://127.0.0.1:{ports['chat'][0]}"},
    }
    async with served(envs, tmp_path_factory.mktemp("deployed"), ports) as running:
        yield running


@pytest.mark.parametrize("service", ["saves", "chat"])
async def test_internal_services_keep_their_docs_to_themselves(deployed: Served, service: str) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert (await deployed.get(service, path)).status_code == 404, path


async def test_the_gateway_still_publishes_its_openapi(deployed: Served) -> None:
    assert (await deployed.get("gateway", "/openapi.json")).json()["info"]["title"] == "Estimator API"
    assert (await deployed.get("gateway", "/docs")).status_code == 200


@pytest.mark.parametrize("service", ["saves", "chat", "gateway"])
async def test_metrics_are_served_on_the_metrics_port_only(deployed: Served, service: str) -> None:
    assert (await deployed.get(service, "/healthz")).status_code == 200
    assert (await deployed.get(service, "/metrics")).status_code == 404
    scraped = await deployed.get(service, "/metrics", metrics=True)
    assert scraped.status_code == 200
    assert f'service="{service}"' in scraped.text and "estimator_http_requests_total" in scraped.text
    assert (await deployed.get(service, "/healthz", metrics=True)).status_code == 404, "the metrics port is metrics"


async def test_internal_calls_need_the_token(deployed: Served) -> None:
    url = deployed.url("saves", "/internal/saves")
    assert (await deployed.client.get(url, headers={OWNER_HEADER: "alice"})).status_code == 401
    wrong = {OWNER_HEADER: "alice", TOKEN_HEADER: "not-the-token"}
    assert (await deployed.client.get(url, headers=wrong)).status_code == 401
    right = {OWNER_HEADER: "alice", TOKEN_HEADER: TOKEN}
    assert (await deployed.client.get(url, headers=right)).status_code == 200


async def test_a_megabyte_of_headers_gets_431(deployed: Served) -> None:
    headers = {f"x-filler-{i}": "a" * 1000 for i in range(1024)}
    response = await deployed.get("gateway", "/api/saves", headers=headers)
    assert response.status_code == 431
    error = response.json()["error"]
    assert error["code"] == "headers_too_large"
    assert error["message"] == "the request head is over 24576 bytes", "refused by the server, before buffering it all"


async def test_a_single_megabyte_header_gets_431(deployed: Served) -> None:
    response = await deployed.get("gateway", "/api/saves", headers={"x-big": "a" * 1_048_576})
    assert response.status_code == 431
    assert response.json()["error"]["message"] == "the request head is over 24576 bytes"
    assert (await deployed.get("gateway", "/healthz")).status_code == 200, "and the server carries on"


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"x-long": "a" * 9000}, "one header over 8 KiB"),
        ({f"x-filler-{i}": "a" * 4000 for i in range(5)}, "20 KB of headers, each under 8 KiB"),
    ],
)
async def test_headers_over_the_limits_get_431_from_every_service(
    deployed: Served, headers: dict[str, str], why: str
) -> None:
    for service in ("gateway", "saves", "chat"):
        response = await deployed.get(service, "/healthz", headers=headers)
        assert response.status_code == 431, (service, why)
        assert response.json()["error"]["code"] == "headers_too_large"


async def test_a_request_target_over_8_kib_gets_414_and_a_normal_one_passes(deployed: Served) -> None:
    long = await deployed.get("gateway", "/api/saves", params={"cursor": "a" * 9000})
    assert long.status_code == 414 and long.json()["error"]["code"] == "uri_too_long"
    normal = await deployed.get("gateway", "/api/saves", headers={"x-filler": "a" * 4000})
    assert normal.status_code == 401, "under the limits, the request reaches authentication"


async def test_a_large_body_is_not_mistaken_for_a_large_head(deployed: Served) -> None:
    """The body arrives in the same reads as the head; only the head counts against the head's limits."""
    body = {"requirements_md": "# Big\n\n" + "- a feature\n" * 80_000}  # about 1 MB, under the 2 MiB body limit
    response = await deployed.client.post(deployed.url("gateway", "/api/estimate"), json=body)
    assert response.status_code == 401, response.text
    saved = await deployed.client.post(
        deployed.url("saves", "/internal/keys/lookup"),
        headers={TOKEN_HEADER: TOKEN, "Content-Type": "application/json"},
        content=b'{"key_hash": "' + b"0" * 64 + b'", "padding": "' + b"x" * 200_000 + b'"}',
    )
    assert saved.status_code in (200, 404), saved.text
