"""The markdown report a client reads: Claude's judgement and the code's figures, side by side.

Every number printed here is read from `Financials`, `CrossCheck` or `Usage`; the report does no
arithmetic of its own, so it can never disagree with the figures saved next to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from services.estimation.models import ClaudeEstimate, CrossCheck, Financials, RepoFacts
from services.shared.contracts import Usage


def _h(value: float) -> str:
    return f"{value:,.1f}"


def _money(value: float, currency: str) -> str:
    return f"{value:,.2f} {currency}"


def _cell(text: str) -> str:
    """Keep client text from breaking the table it sits in."""
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], align: str, rows: Iterable[Sequence[str]]) -> list[str]:
    separators = ["---:" if a == "r" else "---" for a in align]
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(separators) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _bullets(title: str, notes: Sequence[str]) -> list[str]:
    return [f"## {title}", "", *([f"- {n}" for n in notes] or ["- None stated."]), ""]


def _work_breakdown(estimate: ClaudeEstimate, financials: Financials) -> list[str]:
    rows = [
        (
            i.id,
            _cell(i.title),
            i.role,
            _h(i.low_hours),
            _h(i.likely_hours),
            _h(i.high_hours),
            _h(i.expected_hours),
        )
        for i in financials.items
    ]
    rows.append(("", "**Total**", "", "", "", "", f"**{_h(financials.base_hours)}**"))
    return [
        "## Work breakdown",
        "",
        "Hours of effort; PERT expected = (low + 4 x likely + high) / 6.",
        "",
        *_table(("Id", "Item", "Role", "Low", "Likely", "High", "PERT"), "lllrrrr", rows),
        "",
        *_item_notes(estimate),
    ]


def _item_notes(estimate: ClaudeEstimate) -> list[str]:
    notes = [
        f"- **{item.id}**: " + "; ".join([*item.assumptions, *(f"risk: {r}" for r in item.risks)])
        for item in estimate.work_items
        if item.assumptions or item.risks
    ]
    return ["### Item notes", "", *notes, ""] if notes else []


def _roles(f: Financials) -> list[str]:
    rows = [
        (
            r.role,
            _h(r.item_hours),
            _h(r.overhead_hours),
            _h(r.hours),
            _money(r.cost_per_hour, f.currency),
            _money(r.cost, f.currency),
            _money(r.bill_rate_per_hour, f.currency),
            _money(r.billed, f.currency),
        )
        for r in f.roles
    ]
    return [
        "## Totals by role",
        "",
        *_table(
            ("Role", "Item h", "Overhead h", "Hours", "Cost/h", "Cost", "Bill rate/h", "Billed"),
            "lrrrrrrr",
            rows,
        ),
        "",
        "## Overheads",
        "",
        f"- Project management: {f.pm_overhead_pct:.0%} of {_h(f.base_hours)} item hours = "
        f"{_h(f.pm_overhead_hours)} h (pm rate)",
        f"- QA: {f.qa_overhead_pct:.0%} of {_h(f.base_hours)} item hours = {_h(f.qa_overhead_hours)} h (qa rate)",
        f"- **Expected effort: {_h(f.expected_hours)} h**",
        "",
    ]


def _risks(f: Financials) -> list[str]:
    rows = [
        (
            _cell(r.title),
            f"{r.probability:.0%}",
            _h(r.impact_hours),
            _h(r.exposure_hours),
            _cell(r.mitigation),
        )
        for r in f.risks
    ]
    body = (
        _table(("Risk", "Probability", "Impact h", "Exposure h", "Mitigation"), "lrrrl", rows)
        if rows
        else ["No project-level risks were identified."]
    )
    return [
        "## Risks",
        "",
        *body,
        "",
        f"Risk reserve (sum of exposures): **{_h(f.risk_reserve_hours)} h**",
        "",
    ]


def _contingency(f: Financials) -> list[str]:
    return [
        "## Contingency",
        "",
        f"- Standard deviation of the total (items independent, overheads included): {_h(f.std_dev_hours)} h",
        f"- Contingency at P{f.confidence_level} (z = {f.confidence_z:g}): {_h(f.contingency_hours)} h",
        f"- P{f.confidence_level} effort: {_h(f.percentile_hours)} h",
        f"- Committed hours (expected + contingency + risk reserve): **{_h(f.committed_hours)} h**",
        "",
    ]


def _financials(f: Financials) -> list[str]:
    c = f.currency
    floor = (
        f"The rate card's bill rates gave {_money(f.list_price, c)}, below the {f.target_margin_pct:.0%} "
        "margin floor, so the price was raised to reach it."
        if f.margin_floor_applied
        else f"The price is the committed hours at the rate card's bill rates (margin floor {f.target_margin_pct:.0%})."
    )
    schedule = [(_cell(m.name), f"{m.fraction:.0%}", _money(m.amount, c)) for m in f.payment_schedule]
    return [
        "## Financials",
        "",
        *_table(
            ("Line", "Amount"),
            "lr",
            [
                ("Delivery cost (expected hours)", _money(f.delivery_cost, c)),
                (
                    f"Contingency cost ({_h(f.contingency_hours)} h at {_money(f.blended_cost_rate, c)}/h)",
                    _money(f.contingency_cost, c),
                ),
                (
                    f"Risk reserve cost ({_h(f.risk_reserve_hours)} h at {_money(f.blended_cost_rate, c)}/h)",
                    _money(f.risk_reserve_cost, c),
                ),
                ("**Total cost**", f"**{_money(f.cost, c)}**"),
                ("**Price**", f"**{_money(f.price, c)}**"),
                ("Margin", f"{f.margin_pct:.1%}"),
            ],
        ),
        "",
        floor,
        "",
        "### Payment schedule",
        "",
        *_table(("Milestone", "Share", "Amount"), "lrr", schedule),
        "",
    ]


def _cross_check(check: CrossCheck) -> list[str]:
    fp = check.function_points
    rows = [(m.label, _h(m.hours), f"{m.difference_pct:+.1f}%", m.verdict, _cell(m.basis)) for m in check.methods]
    return [
        "## Cross-check",
        "",
        f"Claude's expected effort of {_h(check.claude_expected_hours)} h compared with parametric models "
        f"(consistent within ±{check.tolerance_pct:.0f}%).",
        "",
        f"Function points counted from the requirements: {fp.external_inputs} inputs, {fp.external_outputs} "
        f"outputs, {fp.external_inquiries} inquiries, {fp.internal_logical_files} internal files, "
        f"{fp.external_interface_files} interface files = {fp.unadjusted_fp} unadjusted FP.",
        "",
        *(
            _table(("Method", "Hours", "Claude vs method", "Verdict", "Basis"), "lrrll", rows)
            if rows
            else ["No parametric figure could be computed."]
        ),
        "",
        f"**Verdict: {check.verdict}**: {check.summary}.",
        "",
    ]


def _usage(usage: Usage) -> list[str]:
    return [
        "## Claude usage",
        "",
        f"- Calls: {usage.calls}",
        f"- Input tokens: {usage.input_tokens:,}; output tokens: {usage.output_tokens:,}",
        f"- Cache writes: {usage.cache_creation_input_tokens:,} tokens; "
        f"cache reads: {usage.cache_read_input_tokens:,} tokens",
        f"- Cost: {usage.cost_usd:.4f} USD",
        "",
    ]


def render_report(
    name: str,
    estimate: ClaudeEstimate,
    financials: Financials,
    cross_check: CrossCheck,
    usage: Usage | None,
    repo: RepoFacts | None,
    revision: int,
) -> str:
    """The full markdown report for one revision of a save."""
    f = financials
    header = [
        f"# {name}",
        "",
        f"Revision {revision}" + (f" · repository `{repo.full_name}`" if repo else ""),
        "",
        f"**Expected effort {_h(f.expected_hours)} h · committed {_h(f.committed_hours)} h · "
        f"price {_money(f.price, f.currency)}**",
        "",
        "## Summary",
        "",
        estimate.summary,
        "",
    ]
    sections = [
        header,
        _work_breakdown(estimate, f),
        _roles(f),
        _risks(f),
        _contingency(f),
        _financials(f),
        _cross_check(cross_check),
        _bullets("Assumptions", estimate.assumptions),
        _bullets("Out of scope", estimate.out_of_scope),
        _bullets("Open questions", estimate.open_questions),
        _usage(usage) if usage else [],
    ]
    return "\n".join(line for section in sections for line in section).rstrip() + "\n"
