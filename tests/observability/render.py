"""`make dashboards`: PNG renders of the chart's three Grafana dashboards from a real Prometheus.

Runs the stack of test_live_prometheus.py (its own Redis and exporter, Prometheus scraping everything with
a ServiceMonitor's labels), serves a few minutes of mixed traffic (bursts of estimations that queue up,
some through Claude 429/529s and some failing, saves reads, continued chat turns, refused logins), then
draws every panel from `query_range` at the panels' grid positions into docs/img/dashboard-<name>.png.

    python -m tests.observability.render --seconds 180
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import shutil
import time
from pathlib import Path
from typing import Any

from services.saves.db import run_migrations
from tests.api import wait_for_job
from tests.github_stub import ThreadServer, create_app
from tests.observability.live import Observed, observed_stack, until_scraped
from tests.observability.promql import DASHBOARDS, dashboard, substitute
from tests.stores import isolated_stores

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "img"
RATE_INTERVAL = "30s"
STEP_S = 5
AXIS_UNITS = {"percentunit": "%", "reqps": "req/s", "currencyUSD": "USD/h", "bytes": "MiB"}


async def burst(observed: Observed, round_no: int, jobs: int) -> list[dict[str, Any]]:
    """`jobs` estimations at once (they queue behind the worker's slots), some meeting Claude's limits."""
    if round_no % 2 == 1:
        await observed.arm("rate_limited", retry_after=2)
    if round_no % 3 == 2:
        await observed.arm("overloaded", retry_after=1)
    if round_no % 4 == 3:
        await observed.arm("spend_limit", after=jobs - 1)
    ids = [await observed.submit(f"Render {round_no}.{index}") for index in range(jobs)]
    return list(await asyncio.gather(*(wait_for_job(observed.api, job_id, attempts=3000) for job_id in ids)))


async def traffic(observed: Observed, seconds: float) -> None:
    await observed.tighten_chat_allowance()
    deadline = time.monotonic() + seconds
    round_no = 0
    finished: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        done = await burst(observed, round_no, jobs=6)
        finished += [job for job in done if job["status"] == "succeeded"]
        for job in finished[-3:]:
            await observed.read_saves(job["save_id"], times=4)
        if finished:
            await observed.chat_turn(finished[-1]["job_id"], "Why is the search work that many hours?")
        if round_no % 3 == 0:
            await observed.refused_authentications()
        round_no += 1
    await asyncio.sleep(10)


def fmt(unit: str, value: float) -> str:
    if unit == "percentunit":
        return f"{value * 100:.1f} %"
    if unit == "currencyUSD":
        return f"${value:.4f}"
    if unit == "bytes":
        return f"{value / 2**20:.1f} MiB"
    if unit == "s":
        return f"{value:.3g} s"
    return f"{value:.3g}"


def legend(template: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template) or "value"


async def series(observed: Observed, expr: str, start: float, end: float) -> list[dict[str, Any]]:
    prometheus = observed.prometheus
    response = await prometheus.http.get(
        f"{prometheus.url}/api/v1/query_range",
        params={"query": substitute(expr, RATE_INTERVAL), "start": start, "end": end, "step": STEP_S},
    )
    body: dict[str, Any] = response.json()
    assert body["status"] == "success", (expr, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


async def draw(observed: Observed, name: str, start: float, end: float) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    board = dashboard(name)
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in board["panels"])
    unit_w, unit_h, header = 0.55, 0.32, 0.5  # inches per grid unit, and for the title
    fig_w, fig_h = 24 * unit_w, rows * unit_h + header
    figure = plt.figure(figsize=(fig_w, fig_h), dpi=72)
    figure.suptitle(f"{board['title']} (a local run: namespace estimator, release estimator)", fontsize=11)
    for panel in board["panels"]:
        grid = panel["gridPos"]
        left = (grid["x"] * unit_w + 0.55) / fig_w
        width = (grid["w"] * unit_w - 0.8) / fig_w
        bottom = (fig_h - header - (grid["y"] + grid["h"]) * unit_h + 0.4) / fig_h
        height = (grid["h"] * unit_h - 0.75) / fig_h
        axes = figure.add_axes((left, bottom, width, height))
        axes.set_title(panel["title"], fontsize=8, loc="left")
        axes.tick_params(labelsize=6)
        unit = panel["fieldConfig"]["defaults"].get("unit", "short")
        if panel["type"] == "stat":
            values = [
                float(result["values"][-1][1])
                for target in panel["targets"]
                for result in await series(observed, target["expr"], start, end)
                if result["values"]
            ]
            shown = fmt(unit, values[0]) if values and not math.isnan(values[0]) else "n/a"
            axes.text(0.5, 0.45, shown, ha="center", va="center", fontsize=18, color="tab:green")
            axes.set_axis_off()
            continue
        lines = 0
        for target in panel["targets"]:
            for result in await series(observed, target["expr"], start, end):
                points = [((t - start) / 60, float(v)) for t, v in result["values"] if not math.isnan(float(v))]
                if not points or lines >= 10:
                    continue
                xs, ys = zip(*points, strict=True)
                if unit == "percentunit":
                    ys = tuple(y * 100 for y in ys)
                elif unit == "bytes":
                    ys = tuple(y / 2**20 for y in ys)
                axes.plot(xs, ys, linewidth=1, label=legend(target["legendFormat"], result["metric"])[:40])
                lines += 1
        axes.set_xlim(0, (end - start) / 60)
        axes.set_xlabel("minutes", fontsize=6)
        axes.set_ylabel(AXIS_UNITS.get(unit, unit), fontsize=6)
        if lines:
            axes.legend(fontsize=5, loc="upper left", frameon=False, ncol=2)
        axes.grid(alpha=0.3)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"dashboard-{name}.png"
    figure.savefig(path)
    plt.close(figure)
    return path


async def main(seconds: float, workdir: Path) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    async with isolated_stores("dashboards") as (_, database_url):
        await run_migrations(database_url)
        with ThreadServer(create_app()) as github:
            async with observed_stack(
                workdir, database_url, github.url, SIM_TOKENS_PER_SECOND="1500", WORKER_MAX_JOBS="2"
            ) as observed:
                start = time.time()
                await traffic(observed, seconds)
                await until_scraped(observed.prometheus, 'estimator_llm_budget_capacity{namespace="estimator"}')
                end = time.time()
                for name in DASHBOARDS:
                    print(await draw(observed, name, start, end))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=180, help="how long to serve traffic")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".estimator" / "dashboards")
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.workdir))
