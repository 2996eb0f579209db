"""The read-path benchmark runs end to end at a small load and writes a complete report and chart.

The numbers of a small run on a shared machine mean nothing, so nothing here looks at them: the test
guards the benchmark itself (seeding, every k6 scenario, the bare app, the report's sections), which
is otherwise only exercised by a run of many minutes.
"""

from __future__ import annotations

from pathlib import Path

from loadtests.read_path import parse_args, run

SECTIONS = (
    "## Targets",
    "## Mixed run: 20 users",
    "## Maximum throughput: status vs bare",
    "## Single-route capacity",
    "## Gateway memory",
    "## Load and CPU per phase",
)
MIX_ROWS = (
    "status",
    "saves_list",
    "save_detail",
    "chat_history",
    "all reads",
    "chat",
    "chat, answered (200)",
    "estimate",
    "estimate, accepted (202)",
    "bare baseline",
)
TARGETS = (
    "reads p99 < 200 ms (must)",
    "reads p99 ≤ 20 ms (aim)",
    "no non-429 errors on reads (must)",
    "status throughput ≥ 0.7x bare",
    "saves list capacity ≥ 0.5x status",
    "save detail capacity ≥ 0.5x status",
    "gateway memory growth ≤ 5 %",
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def table_rows(text: str, section: str) -> list[str]:
    body = text.split(section, 1)[1].split("\n## ", 1)[0]
    return [line for line in body.splitlines() if line.startswith("| ") and not line.startswith("| ---")]


async def test_a_small_run_writes_every_section_of_the_report_and_the_chart(tmp_path: Path) -> None:
    report = tmp_path / "read_path.md"
    args = parse_args(
        [
            *("--vus", "20", "--ramp", "1", "--steady", "2"),
            *("--throughput-seconds", "1", "--warmup-seconds", "1", "--capacity-seconds", "1"),
            *("--memory-requests", "300", "3000", "--owners", "2", "--jobs-per-owner", "1"),
            *("--pause", "0.2", "--report", str(report)),
        ]
    )

    returned = await run(args)

    text = report.read_text()
    assert returned == text
    assert text.startswith("# Read-path benchmark — ")
    assert "Machine: " in text and " cores, " in text and "load " in text
    for section in SECTIONS:
        assert section in text, section
    mix = table_rows(text, "## Mixed run")
    assert "gateway-side p99 ms" in mix[0]
    assert "The gateway runs as 2 processes sharing one port" in text, "the chart's default replica count"
    all_reads = next(row for row in mix if row.startswith("| all reads |"))
    assert all_reads.split(" | ")[6].startswith("≤ "), "what the gateway's processes measured, read from each"
    assert "The gateway's event loops woke a task due every 0.25 s late by p99 ≤ " in text, "their own lag, measured"
    assert "full garbage collection" in text
    for route in MIX_ROWS:
        assert any(row.startswith(f"| {route} ") for row in mix), route
    targets = table_rows(text, "## Targets")
    for target in TARGETS:
        rows = [row for row in targets if target in row]
        assert rows and all(row.rstrip(" |").endswith(("met", "**not met**")) for row in rows), target
    assert len(table_rows(text, "## Maximum throughput")) == 4  # header and three pairs
    assert {row.split(" | ")[0] for row in table_rows(text, "## Single-route capacity")[1:]} == {
        "| status",
        "| saves_list",
        "| save_detail",
        "| chat_history",
    }
    assert len(table_rows(text, "## Gateway memory")) == 3  # header, after 300 and after 3000 requests
    assert "Status / bare (median of the pairs)" in text and "Growth from the first to the last point" in text

    chart = tmp_path / "read_path_latency.png"
    assert f"]({chart.name})" in text
    assert chart.read_bytes().startswith(PNG_SIGNATURE) and chart.stat().st_size > 10_000
