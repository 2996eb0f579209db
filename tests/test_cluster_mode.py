"""How a process behaves in a pod (`ESTIMATOR_ENV=production`): what a platform engineer relies on.

Admin commands use the stores they are given or refuse; the migration Job waits for its database; a
server listens on every interface, logs JSON lines, and on SIGTERM says "not ready" while it still
serves, before it drains and exits; with `REUSE_PORT`, replicas on one machine share a port.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

from tests.github_stub import free_port
from tests.test_secure_default import START_DEADLINE_S, TOKEN, production_env

DATABASE_LATE_S = 2.0


async def _cli(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=START_DEADLINE_S)
    return process.returncode or 0, out.decode()


async def test_admin_commands_in_a_pod_refuse_to_fall_back_to_laptop_stores(tmp_path: Path) -> None:
    env = {**production_env(), "PYTHONPATH": str(Path(__file__).parents[1])}
    results = {
        command: await _cli(*args, env=env, cwd=tmp_path)
        for command, args in {
            "migrate": ("migrate",),
            "keys": ("keys", "list"),
            "budget": ("budget", "show"),
        }.items()
    }

    assert results["migrate"][0] == 2 and "DATABASE_URL is not set" in results["migrate"][1]
    assert results["keys"][0] == 2 and "DATABASE_URL is not set; REDIS_URL is not set" in results["keys"][1]
    assert results["budget"][0] == 2 and "REDIS_URL is not set" in results["budget"][1]
    assert os.listdir(tmp_path) == [], "no throwaway SQLite file or embedded Redis was made"


@asynccontextmanager
async def late_port(target: tuple[str, int]) -> AsyncIterator[tuple[int, Callable[[], Awaitable[None]]]]:
    """A port that refuses connections until `start` is awaited, then forwards them to `target` (a database
    starting). The test starts it on a condition, not a timer: on a busy machine the job's own start-up
    could outlast any fixed delay and find the database already up."""
    port = free_port()
    servers: list[asyncio.Server] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def forward(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(*target)
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    async def start() -> None:
        servers.append(await asyncio.start_server(forward, "127.0.0.1", port))

    try:
        yield port, start
    finally:
        for server in servers:
            server.close()


async def test_the_migration_job_waits_for_a_database_that_starts_late(database_url: str, tmp_path: Path) -> None:
    parts = urlsplit(database_url)
    assert parts.hostname and parts.port
    async with late_port((parts.hostname, parts.port)) as (port, start_database):
        late_url = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))
        env = {
            **production_env(DATABASE_URL=late_url, LOG_LEVEL="INFO"),
            "PYTHONPATH": str(Path(__file__).parents[1]),
        }
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "services.cli", "migrate", "--wait-s", "30"),
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert process.stdout is not None
        lines: list[str] = []
        database_up = False
        async with asyncio.timeout(START_DEADLINE_S):
            async for raw in process.stdout:
                lines.append(raw.decode())
                if not database_up and "waiting for the database" in lines[-1]:
                    await asyncio.sleep(DATABASE_LATE_S)  # it keeps waiting while the database comes up
                    await start_database()
                    database_up = True
            code = await process.wait()

    out = "".join(lines)
    assert code == 0, out
    assert database_up, out
    assert any("waiting for the database" in json.loads(line)["message"] for line in lines), out


def _listening_addresses(pid: int) -> set[str]:
    return {conn.laddr.ip for conn in psutil.Process(pid).net_connections("tcp") if conn.status == psutil.CONN_LISTEN}


async def _gateway_pod(redis_url: str, port: int, log: Path, **settings: str) -> subprocess.Popen[bytes]:
    """A production gateway logging at INFO into `log`; saves and chat are down for its whole life."""
    env = production_env(
        REDIS_URL=redis_url,
        INTERNAL_TOKEN=TOKEN,
        SAVES_URL=f"http://127.0.0.1:{free_port()}",
        CHAT_URL=f"http://127.0.0.1:{free_port()}",
        LOG_LEVEL="INFO",
        **settings,
    )
    with log.open("wb") as output:
        return await asyncio.to_thread(
            subprocess.Popen,
            [sys.executable, "-m", "services.cli", "serve", "gateway", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=output,
        )


async def test_a_gateway_pod_listens_everywhere_logs_json_and_drains_after_saying_not_ready(
    redis_url: str, tmp_path: Path
) -> None:
    port, log = free_port(), tmp_path / "gateway.log"
    process = await _gateway_pod(redis_url, port, log, METRICS_PORT=str(free_port()), SHUTDOWN_DELAY_S="2")
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            await _until_ready(client, process, log)
            addresses = _listening_addresses(process.pid)
            unreachable_save = await client.get("/api/saves/00000000-0000-4000-8000-000000000000")

            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            draining = await client.get("/readyz")
            still_live = await client.get("/healthz")
            exit_code = await asyncio.to_thread(process.wait, 30)
    finally:
        if process.poll() is None:
            process.kill()

    assert addresses == {"0.0.0.0"}, "the API and metrics ports listen on every interface"
    assert unreachable_save.status_code in (401, 503)  # no key: 401 before saves is even asked
    assert (draining.status_code, draining.json()["error"]["code"]) == (503, "shutting_down")
    assert still_live.status_code == 200, "requests are still served while the endpoints update"
    # uvicorn re-raises the SIGTERM it caught once it has drained, so the process ends by that signal.
    assert exit_code == -signal.SIGTERM
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert lines and all(json.loads(line)["level"] for line in lines), log.read_text()
    messages = [json.loads(line)["message"] for line in lines]
    assert any("draining in 2 s" in message for message in messages)
    assert "Finished server process" in messages[-1], "it drained and stopped, not killed"
    assert not any('"GET /healthz' in message for message in messages), "no line per request by default"


async def test_access_log_is_a_json_line_per_request_when_turned_on(redis_url: str, tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "gateway.log"
    process = await _gateway_pod(redis_url, port, log, METRICS_PORT="0", SHUTDOWN_DELAY_S="0", ACCESS_LOG="true")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            await _until_ready(client, process, log)
            await client.get("/healthz")
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 30)
    finally:
        if process.poll() is None:
            process.kill()

    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    access = [r for r in records if r["logger"] == "uvicorn.access" and '"GET /healthz' in r["message"]]
    assert access and access[0]["level"] == "INFO", log.read_text()


async def test_replicas_on_one_machine_share_its_port_when_reuse_port_is_on(redis_url: str, tmp_path: Path) -> None:
    port, metrics = free_port(), [free_port(), free_port()]
    url = f"http://127.0.0.1:{port}"
    logs = [tmp_path / f"gateway-{index}.log" for index in range(3)]
    replicas = [
        await _gateway_pod(redis_url, port, logs[index], METRICS_PORT=str(metrics[index]), REUSE_PORT="true")
        for index in range(2)
    ]
    try:
        for replica, log in zip(replicas, logs[:2], strict=True):
            async with httpx.AsyncClient(base_url=url, timeout=5) as client:
                await _until_ready(client, replica, log)
        answers = [await _on_a_new_connection(url) for _ in range(60)]
        served = [await _requests_counted(f"http://127.0.0.1:{metrics_port}") for metrics_port in metrics]
        exclusive = await _gateway_pod(redis_url, port, logs[2], METRICS_PORT="0")
        exclusive_exit = await asyncio.to_thread(exclusive.wait, START_DEADLINE_S)

        replicas[0].send_signal(signal.SIGTERM)
        await asyncio.to_thread(replicas[0].wait, 30)
        after_one_left = [await _on_a_new_connection(url) for _ in range(10)]
    finally:
        for replica in replicas:
            if replica.poll() is None:
                replica.kill()

    assert answers == [401] * 60
    assert sum(served) == 60 and min(served) > 0, f"the kernel spread the connections: {served}"
    assert exclusive_exit != 0, "without REUSE_PORT a process still refuses a port that is taken"
    assert after_one_left == [401] * 10, "the replica left serves the port alone"


async def _on_a_new_connection(url: str) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        return (await client.get("/api/saves")).status_code


async def _requests_counted(metrics_url: str) -> int:
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"{metrics_url}/metrics")).text
    return sum(
        int(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "estimator_http_requests_total" and sample.labels["route"] == "/api/saves"
    )


async def _until_ready(client: httpx.AsyncClient, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the gateway exited; see {log}"
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError(f"not ready in {START_DEADLINE_S} s; see {log}")
