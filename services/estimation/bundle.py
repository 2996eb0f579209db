"""Turns Claude's judgement into everything that is stored: computed financials, cross-check, report.

The worker (first revision) and the chat service (later revisions) both go through here, so a revised
estimate is priced, cross-checked and reported exactly like the original one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.estimation.calculator import calculate, totals
from services.estimation.cross_check import cross_check
from services.estimation.models import ClaudeEstimate, RepoFacts
from services.estimation.rate_card import RateCard
from services.estimation.report import render_report
from services.shared.contracts import Totals, Usage


@dataclass(frozen=True)
class EstimateBundle:
    estimate_data: dict[str, Any]
    financials_data: dict[str, Any]
    cross_check: dict[str, Any]
    report_markdown: str
    totals: Totals


def build_bundle(
    *,
    name: str,
    estimate: ClaudeEstimate,
    requirements_md: str,
    repo: RepoFacts | None,
    rate_card: RateCard,
    usage: Usage | None,
    revision: int,
) -> EstimateBundle:
    financials = calculate(estimate, rate_card)
    check = cross_check(requirements_md, repo, financials.expected_hours)
    report = render_report(name, estimate, financials, check, usage, repo, revision)
    return EstimateBundle(
        estimate_data=estimate.model_dump(mode="json"),
        financials_data=financials.model_dump(mode="json"),
        cross_check=check.model_dump(mode="json"),
        report_markdown=report,
        totals=totals(financials),
    )


def stored_fields(bundle: EstimateBundle) -> dict[str, Any]:
    """What a save and a revision both store of an estimate, so the two can never drift apart."""
    return {
        "estimate_data": bundle.estimate_data,
        "financials_data": bundle.financials_data,
        "cross_check": bundle.cross_check,
        "report_markdown": bundle.report_markdown,
        "totals": bundle.totals,
    }
