"""The LLMBudget CRD: one definition, in k8s/ and in the chart, that matches what the operator reads."""

from __future__ import annotations

from pathlib import Path

import yaml

from estimator_operator.desired import MIX_FIELDS
from estimator_operator.settings import GROUP, KIND, PLURAL, VERSION

ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "k8s" / "crds" / "llmbudgets.estimator.dev.yaml"
CHART_CRD = ROOT / "charts" / "estimator" / "crds" / "llmbudgets.estimator.dev.yaml"


def test_the_chart_ships_the_same_crd_as_k8s() -> None:
    assert CHART_CRD.read_bytes() == CRD.read_bytes(), "copy k8s/crds/llmbudgets.estimator.dev.yaml to the chart"


def test_the_crd_names_what_the_operator_watches_and_reads() -> None:
    crd = yaml.safe_load(CRD.read_text())
    assert crd["spec"]["group"] == GROUP and crd["spec"]["names"]["plural"] == PLURAL
    assert crd["spec"]["names"]["kind"] == KIND and crd["spec"]["scope"] == "Namespaced"
    (version,) = crd["spec"]["versions"]
    assert version["name"] == VERSION and version["subresources"] == {"status": {}}
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert set(spec["properties"]["mix"]["properties"]) == set(MIX_FIELDS)
    assert spec["properties"]["tier"]["enum"] == ["1", "2", "3", "4"]
    assert spec["properties"]["chatReserve"]["maximum"] == 0.9
    assert {c["name"] for c in version["additionalPrinterColumns"]} >= {"Tier", "Concurrency", "Workers", "Ready"}
