"""The chat benchmark runs end to end at a tiny load and writes a complete report, its JSON and its chart.

A few users for a few seconds against a fast simulator say nothing about the product, so no figure is
checked: the test guards the benchmark itself (seeding, the streaming chatters and estimation users,
both phases and the restart between them, the baseline, the report's sections), which is otherwise only
exercised by a run of a quarter of an hour.
"""

from __future__ import annotations

import json
from pathlib import Path

from loadtests.chat_load import parse_args, run

SECTIONS = (
    "## Targets",
    "## Settings",
    "## Within budget (Tier 2)",
    "## Over budget (output limit lowered)",
    "## Baseline: re-emitting the whole estimate for a scope change",
    "## How the figures are taken",
)
PHASE_ROWS = ("time to first token", "turn duration", "output tokens per turn", "Claude calls per turn")
TARGETS = (
    "revision: ≥ 5x fewer output tokens than re-emission",
    "revision: ≥ 5x faster than re-emission",
    "within budget: answers' time to first token p95 ≤ 2 s",
    "within budget: answer turns p95 ≤ 10 s",
    "within budget: revision turns p95 ≤ 20 s",
    "over budget: every waiting user told within 1 s",
    "over budget: wait p95 ≤ 2x median",
    "over budget: estimations complete",
    "within budget: zero upstream 429s",
    "over budget: zero upstream 429s",
    "over budget: ≥ 85 % of the output-token limit used",
    "within budget: reservation waste ≤ 30 % (chat)",
    "over budget: reservation waste ≤ 30 % (all)",
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def section(text: str, title: str) -> str:
    return text.split(title, 1)[1].split("\n## ", 1)[0]


async def test_a_tiny_run_writes_every_section_of_the_report_its_json_and_its_chart(tmp_path: Path) -> None:
    report = tmp_path / "chat.md"
    args = parse_args(
        [
            *("--users", "4", "--estimators", "1", "--ramp", "1", "--steady", "2", "--drain", "3"),
            *("--think", "0.5", "1", "--tokens-per-second", "5000", "--first-token-latency", "0"),
            *("--baseline-requests", "2", "--workers", "1", "--report", str(report)),
        ]
    )

    returned = await run(args)

    text = report.read_text()
    assert returned == text
    assert text.startswith("# Chat benchmark — ")
    assert "Machine: " in text and " cores, " in text and "load " in text
    for title in SECTIONS:
        assert title in text, title
    for title in SECTIONS[2:4]:
        body = section(text, title)
        for row in PHASE_ROWS:
            assert f"| {row}, p50 / p95 |" in body, (title, row)
        for bullet in (
            "- Turns:",
            "- Waiting:",
            "- Output tokens in the window",
            "- Reservation waste",
            "- Estimations",
        ):
            assert bullet in body, (title, bullet)
    targets = [line for line in section(text, "## Targets").splitlines() if line.startswith("| ") and "---" not in line]
    for target in TARGETS:
        rows = [row for row in targets if target in row]
        assert rows and all(row.rstrip(" |").endswith(("PASS", "**FAIL**")) for row in rows), target
    baseline = section(text, "## Baseline")
    assert "| Please add a mobile app for iOS and Android |" in baseline

    figures = json.loads(report.with_suffix(".json").read_text())
    assert {"within", "over", "baseline", "settings", "targets", "machine"} <= set(figures)
    assert figures["settings"]["users"] == 4 and figures["over"]["output_tpm"] == args.over_output_tpm
    # The driver really drove the stack: turns were answered, estimations submitted, the baseline answered.
    assert figures["within"]["turns"]["done"] > 0 and figures["over"]["turns"]["done"] > 0
    assert figures["within"]["estimations"]["submitted"] > 0
    assert len(figures["baseline"]["calls"]) == 2 and not figures["baseline"]["errors"]

    chart = report.with_suffix(".png")
    assert f"]({chart.name})" in text
    assert chart.read_bytes().startswith(PNG_SIGNATURE) and chart.stat().st_size > 10_000
