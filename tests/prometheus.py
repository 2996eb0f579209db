"""A real Prometheus server for tests: Debian's `prometheus`, started on loopback with a config of the test's.

Tests that prove what an SRE or an autoscaler would read (a PromQL query over series our code exports)
run the real server rather than parsing `/metrics` text, so a rule's query is evaluated as it will be
in the cluster. `.ci/run` installs the package; a missing binary fails the test with that hint.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

READY_WITHIN_S = 30


@dataclass(frozen=True)
class Target:
    """One scrape target and the labels the ServiceMonitor would put on its series in a cluster."""

    address: str
    labels: Mapping[str, str]


@dataclass
class Prometheus:
    url: str
    http: httpx.AsyncClient

    async def query(self, promql: str) -> list[dict[str, Any]]:
        response = await self.http.get(f"{self.url}/api/v1/query", params={"query": promql})
        body: dict[str, Any] = response.json()
        assert body.get("status") == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def value(self, promql: str) -> float | None:
        """The query's one value, or None when it returns nothing."""
        result = await self.query(promql)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(workdir: Path, targets: list[Target], interval_s: float) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("prometheus")
    assert binary, "Debian's `prometheus` package is not installed: run .ci/run, or apt-get install prometheus"
    workdir.mkdir(parents=True, exist_ok=True)
    config = {
        "global": {"scrape_interval": f"{interval_s}s", "evaluation_interval": f"{interval_s}s"},
        "scrape_configs": [
            {
                "job_name": f"target-{index}",
                "static_configs": [{"targets": [target.address], "labels": dict(target.labels)}],
            }
            for index, target in enumerate(targets)
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    with (workdir / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return process, f"http://127.0.0.1:{port}"


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s; reaped either way."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@asynccontextmanager
async def running_prometheus(
    workdir: Path, targets: list[Target], *, interval_s: float = 1
) -> AsyncIterator[Prometheus]:
    """Prometheus scraping `targets` every `interval_s`, ready to query; stopped whatever happens."""
    process, url = _start(workdir, targets, interval_s)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(READY_WITHIN_S * 10):
                try:
                    if (await http.get(f"{url}/-/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, f"Prometheus exited; see {workdir / 'prometheus.log'}"
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"Prometheus not ready in {READY_WITHIN_S} s")
            yield Prometheus(url, http)
    finally:
        stop_process(process)
