"""The chart's alerts under promtool: the rendered rules are valid, and each alert fires on its condition
and stays quiet otherwise (tests/observability/alerts_test.yaml writes the input series)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.charts.chart import ROOT, render
from tests.observability.promql import alert_rules, write_rules_file

UNIT_TESTS = Path(__file__).parent / "alerts_test.yaml"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: it comes with Debian's `prometheus` package (.ci/run installs it)")
    return found


def run_unit_tests(workdir: Path) -> subprocess.CompletedProcess[str]:
    shutil.copy(UNIT_TESTS, workdir / "alerts_test.yaml")
    return subprocess.run(
        [promtool(), "test", "rules", str(workdir / "alerts_test.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_promtool_checks_the_rendered_rules_with_their_annotations(tmp_path: Path) -> None:
    rules = write_rules_file(tmp_path / "rules.yml")
    result = subprocess.run(
        [promtool(), "check", "rules", str(rules)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_each_alert_fires_on_its_condition_and_not_otherwise(tmp_path: Path) -> None:
    # promtool compares annotations verbatim; the check above validates their templates.
    write_rules_file(tmp_path / "rules.yml", annotations=False)
    result = run_unit_tests(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # Every alert has a case where it fires and one where it must not.
    cases = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in cases:
        for check in case["alert_rule_test"]:
            (fires if check["exp_alerts"] else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert fires == names, f"no firing case for {names - fires}"
    assert quiet == names, f"no quiet case for {names - quiet}"


def test_the_unit_tests_fail_when_a_threshold_moves(tmp_path: Path) -> None:
    """The unit tests depend on the chart's thresholds: raised ones make the firing cases fail."""
    (rule,) = [
        m
        for m in render("production", "prometheusRule.queueBacklogJobs=500", "prometheusRule.oldestJobAgeSeconds=6000")
        if m["kind"] == "PrometheusRule"
    ]
    for group in rule["spec"]["groups"]:
        for alert in group["rules"]:
            alert.pop("annotations")
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    result = run_unit_tests(tmp_path)
    assert result.returncode != 0
    failed = set(re.findall(r"alertname: (\w+),", result.stdout + result.stderr))
    assert failed == {"EstimatorQueueBacklog", "EstimatorOldestJobTooOld"}, result.stdout


def test_every_alert_has_a_severity_a_summary_a_description_and_a_runbook_section() -> None:
    runbooks = (ROOT / "docs" / "runbooks.md").read_text()
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        anchor = annotations["runbook_url"].partition("#")[2]
        section = re.search(rf"^### {rule['alert']}\n(.*?)(?=^### |\Z)", runbooks, re.MULTILINE | re.DOTALL)
        assert anchor == rule["alert"].lower() and section, f"docs/runbooks.md has no section for {rule['alert']}"
        body = section.group(1)
        for part in ("**Means**", "**Confirm**", "**Do**"):
            assert part in body, f"runbook of {rule['alert']} lacks {part}"
