from __future__ import annotations

from services.estimation.calculator import calculate
from services.estimation.cross_check import cross_check
from services.estimation.models import ClaudeEstimate, RepoFacts
from services.estimation.rate_card import RateCard, RoleRate
from services.estimation.report import render_report
from services.shared.contracts import Usage

REQUIREMENTS = "# Booking\n- Patients book appointments\n- Staff see the day's agenda\n"


def _report(estimate: ClaudeEstimate, rate_card: RateCard, usage: Usage | None = None) -> str:
    financials = calculate(estimate, rate_card)
    check = cross_check(REQUIREMENTS, None, financials.expected_hours)
    repo = RepoFacts(full_name="acme/booking", languages={"Python": 1000}, size_kb=10)
    return render_report("Booking site", estimate, financials, check, usage, repo, revision=2)


def test_report_shows_the_breakdown_and_the_computed_figures(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    report = _report(estimate, rate_card)

    assert report.startswith("# Booking site\n")
    assert "Revision 2" in report and "acme/booking" in report
    assert "| WI-03 | Calendar sync job | backend | 12.0 | 18.0 | 30.0 | 19.0 |" in report
    assert "**41.0**" in report
    assert "| pm | 0.0 | 4.1 | 4.1 |" in report
    assert "Contingency at P84 (z = 1): 6.0 h" in report
    assert "| Calendar provider rate limits | 50% | 10.0 | 5.0 | Batch requests |" in report
    assert "**Total cost** | **2,909.48 EUR**" in report
    assert "**Price** | **5,716.92 EUR**" in report
    assert "| Margin | 49.1% |" in report
    assert "| Acceptance | 40% | 2,286.76 EUR |" in report


def test_report_lists_the_cross_check_and_the_notes(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    report = _report(estimate, rate_card)

    assert "## Cross-check" in report
    assert "function points (COCOMO II)" in report
    assert "**Verdict: review**" in report
    assert "- One practice location" in report
    assert "- Payments" in report
    assert "- Do patients need accounts?" in report
    assert "- **WI-01**: REST over JSON" in report


def test_report_explains_a_raised_price(estimate: ClaudeEstimate) -> None:
    thin = RateCard(
        roles={r: RoleRate(cost_per_hour=100, bill_rate_per_hour=101) for r in ("backend", "frontend", "pm", "qa")}
    )

    assert "so the price was raised to reach it" in _report(estimate, thin)


def test_token_usage_appears_only_when_given(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    usage = Usage(calls=2, input_tokens=12_000, output_tokens=3_000, cache_read_input_tokens=6_000, cost_usd=0.0912)

    assert "## Claude usage" not in _report(estimate, rate_card)
    with_usage = _report(estimate, rate_card, usage)
    assert "Input tokens: 12,000; output tokens: 3,000" in with_usage
    assert "cache reads: 6,000 tokens" in with_usage
    assert "Cost: 0.0912 USD" in with_usage


def test_table_cells_cannot_break_the_table(estimate: ClaudeEstimate, rate_card: RateCard) -> None:
    estimate.work_items[0].title = "Booking | API"

    assert "| WI-01 | Booking \\| API | backend |" in _report(estimate, rate_card)
