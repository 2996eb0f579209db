"""Every rendered manifest passes kubernetes-validate --strict (the Kubernetes OpenAPI schemas)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.charts.chart import VALUE_SETS, render

# Validated against their CRDs: ServiceMonitor, PrometheusRule in test_monitoring.py, LLMBudget in test_operator.py.
CRD_KINDS = {"ServiceMonitor", "PrometheusRule", "LLMBudget"}
ALL_ON = (
    "simulator.enabled=true",
    "ingress.enabled=true",
    "methodology.override=# Ours",
    "serviceMonitor.enabled=true",
    "prometheusRule.enabled=true",
    "grafanaDashboard.enabled=true",
    "worker.autoscaling.enabled=true",
    "postgresql.persistence.size=1Gi",
    "operator.enabled=true",
    "operator.exampleBudget.enabled=true",
)


@pytest.mark.parametrize("value_set", VALUE_SETS)
@pytest.mark.parametrize("all_on", [False, True], ids=["as-is", "all-features"])
def test_kubernetes_validate_strict(value_set: str, all_on: bool, tmp_path: Path) -> None:
    sets: tuple[str, ...] = ALL_ON if all_on else ()
    if all_on and value_set != "dev":
        sets = tuple(s for s in sets if not s.startswith("postgresql."))
    manifests = [m for m in render(value_set, *sets) if m["kind"] not in CRD_KINDS]
    path = tmp_path / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(manifests))
    validator = Path(sys.executable).parent / "kubernetes-validate"
    if not validator.exists():
        pytest.fail("kubernetes-validate is not installed: run `make chart-tools`")
    result = subprocess.run([str(validator), "--strict", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed for resource") == len(manifests), result.stdout
