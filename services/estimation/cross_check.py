"""An independent, deterministic second opinion on Claude's expected hours.

A language model can be confidently wrong by a factor of three and still sound reasonable; published
parametric models cannot read intent but they do not drift either. Comparing the two tells a reader when
an estimate deserves a second look. The models are deliberately classic and well documented:

- IFPUG function points at average weights, counted from the structure of the requirements (each
  bullet is one candidate function, classified by keywords), sized into code with a language-neutral
  backfiring ratio and turned into effort with COCOMO II early design at nominal settings. This answers
  "what would a typical team need to build what is written here".
- Basic COCOMO (organic mode) from the size of the repository, when one is given. It answers "what did
  the existing code base cost to build", a scale reference: work on a large system carries more
  integration and regression effort than a greenfield count suggests. It never decides the verdict,
  because the repository's size is not the size of the change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.estimation.models import CrossCheck, FunctionPointCount, MethodCheck, RepoFacts, Verdict

TOLERANCE_PCT = 35.0
HOURS_PER_PERSON_MONTH = 152.0

# IFPUG average-complexity weights.
FP_WEIGHTS = {"EI": 4, "EO": 5, "EQ": 4, "ILF": 10, "EIF": 7}

# Source lines per function point when the language is unknown: the middle of the published backfiring
# tables for today's mainstream languages (Java/C# ~53, JavaScript/TypeScript ~47, Python ~40-50).
SLOC_PER_FP = 50

# COCOMO II.2000 early design: A, B and the five scale factors at their nominal ratings
# (PREC, FLEX, RESL, TEAM, PMAT); effort multipliers are nominal (1.0) and therefore omitted.
COCOMO2_A = 2.94
COCOMO2_B = 0.91
COCOMO2_NOMINAL_SCALE_FACTORS = (3.72, 3.04, 4.24, 3.29, 4.68)
COCOMO2_E = COCOMO2_B + 0.01 * sum(COCOMO2_NOMINAL_SCALE_FACTORS)

# Basic COCOMO (Boehm 1981), organic mode: small teams, familiar problem.
BASIC_COCOMO_A = 2.4
BASIC_COCOMO_B = 1.05

# Average bytes per physical source line, blank and comment lines included. Measured code bases sit
# between ~30 (terse scripting) and ~45 (verbose, deeply indented) bytes a line; 35 is the common middle.
BYTES_PER_LINE = 35


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]


def _words(alternation: str) -> re.Pattern[str]:
    """Stems match at a word start, so "report" also finds "reports" and "reporting"."""
    return re.compile(rf"\b(?:{alternation})", re.IGNORECASE)


# First match wins, so the order matters: an integration is an interface file even if it also says
# "send"; a report is an output even if it is also "listed".
_RULES = (
    _Rule(
        "EIF",
        _words(
            r"integrat|third[- ]party|external (?:api|service|system)|webhook|oauth|sso\b|saml|stripe|"
            r"paypal|github|gitlab|slack|salesforce|sap\b|erp\b|crm\b|google|microsoft|sync|feed|provider"
        ),
    ),
    _Rule(
        "EO",
        _words(
            r"report|export|generat|notif|e-?mail|sms\b|dashboard|chart|graph|invoice|calculat|comput|"
            r"statistic|analytic|pdf|print|send|alert|summar|forecast|aggregat"
        ),
    ),
    _Rule(
        "EQ",
        _words(
            r"search|view|list|filter|browse|show|display|look ?up|query|find|history|see\b|sort|detail|"
            r"read\b|download|retriev"
        ),
    ),
    _Rule(
        "EI",
        _words(
            r"creat|add(?:s|ed|ing)?\b|submit|upload|edit|updat|delet|remov|regist|sign ?up|sign ?in|log ?in|"
            r"enter|import|form\b|input|approv|reject|assign|configur|set\b|chang|cancel|book|pay|order|"
            r"invite|comment|rate\b"
        ),
    ),
    _Rule(
        "ILF",
        _words(
            r"store|persist|database|record|entit|catalog|inventory|profile|account|master data|"
            r"audit (?:log|trail)|keep track|maintain"
        ),
    ),
)

# Statements that constrain how the system behaves rather than what it does carry no function points.
_NON_FUNCTIONAL = _words(
    r"performance|latenc|response time|availab|uptime|scalab|scaling|secur|encrypt|accessib|wcag|gdpr|"
    r"complian|browser|responsive|\d+ ?(?:ms|s|seconds|%)|p9\d|rpo\b|rto\b|backup|monitor|logging"
)
_SKIPPED_SECTIONS = _words(
    r"out of scope|non[- ]goal|not in scope|exclu|future|later phase|won't|non[- ]functional|constraint|"
    r"glossary|background|context|open question|assumption"
)
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?(.*\S)")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _functional_statements(requirements_md: str) -> list[str]:
    """Bullets outside skipped sections; if the document has no bullets at all, its prose sentences."""
    bullets: list[str] = []
    prose: list[str] = []
    skip_level: int | None = None
    in_fence = False
    for line in requirements_md.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            if skip_level is None or level <= skip_level:
                skip_level = level if _SKIPPED_SECTIONS.search(heading.group(2)) else None
            continue
        if in_fence or skip_level is not None:
            continue
        bullet = _BULLET.match(line)
        if bullet:
            bullets.append(bullet.group(1))
        elif line.strip():
            prose.extend(s for s in _SENTENCE.split(line.strip()) if s)
    return bullets or prose


def count_function_points(requirements_md: str) -> FunctionPointCount:
    """Classify each functional statement as one IFPUG function at average complexity.

    Statements that match no keyword still describe behaviour, so they count as an external inquiry,
    the lightest transaction: vague lines add size without dominating it.
    """
    counts = dict.fromkeys(FP_WEIGHTS, 0)
    for statement in _functional_statements(requirements_md):
        if _NON_FUNCTIONAL.search(statement):
            continue
        kind = next((rule.kind for rule in _RULES if rule.pattern.search(statement)), "EQ")
        counts[kind] += 1
    return FunctionPointCount(
        external_inputs=counts["EI"],
        external_outputs=counts["EO"],
        external_inquiries=counts["EQ"],
        internal_logical_files=counts["ILF"],
        external_interface_files=counts["EIF"],
        unadjusted_fp=sum(counts[kind] * weight for kind, weight in FP_WEIGHTS.items()),
    )


def repository_kloc(repo: RepoFacts) -> float:
    """Thousands of source lines, from GitHub's bytes-per-language (which already excludes vendored and
    generated files) at `BYTES_PER_LINE`; the repository's `size_kb` is not used because it counts the
    whole git history and binary assets."""
    return sum(repo.languages.values()) / BYTES_PER_LINE / 1000


def _difference_pct(claude_hours: float, method_hours: float) -> float:
    return round((claude_hours - method_hours) / method_hours * 100, 1)


def _verdict(difference_pct: float) -> Verdict:
    return "consistent" if abs(difference_pct) <= TOLERANCE_PCT else "review"


def _method(method: str, label: str, hours: float, claude_hours: float, basis: str) -> MethodCheck:
    difference = _difference_pct(claude_hours, hours)
    return MethodCheck(
        method=method,
        label=label,
        hours=round(hours, 1),
        difference_pct=difference,
        verdict=_verdict(difference),
        basis=basis,
    )


def _describe(check: MethodCheck) -> str:
    if check.verdict == "consistent":
        return f"within {TOLERANCE_PCT:.0f}% of {check.label} ({check.difference_pct:+.0f}%)"
    side = "higher" if check.difference_pct > 0 else "lower"
    return f"Claude is {abs(check.difference_pct):.0f}% {side} than {check.label}"


def cross_check(requirements_md: str, repo: RepoFacts | None, claude_expected_hours: float) -> CrossCheck:
    """Compare Claude's expected hours (pass `Financials.expected_hours`, overheads included, as the
    parametric models also cover management and testing) with the parametric figures."""
    fp = count_function_points(requirements_md)
    methods: list[MethodCheck] = []
    if fp.unadjusted_fp:
        ksloc = fp.unadjusted_fp * SLOC_PER_FP / 1000
        person_months = COCOMO2_A * ksloc**COCOMO2_E
        methods.append(
            _method(
                "function_points_cocomo2",
                "function points (COCOMO II)",
                person_months * HOURS_PER_PERSON_MONTH,
                claude_expected_hours,
                f"{fp.unadjusted_fp} UFP x {SLOC_PER_FP} SLOC/FP = {ksloc:.1f} KSLOC; "
                f"{COCOMO2_A} x KSLOC^{COCOMO2_E:.4f} = {person_months:.1f} person-months",
            )
        )
    kloc = repository_kloc(repo) if repo else 0.0
    if repo and kloc > 0:
        person_months = BASIC_COCOMO_A * kloc**BASIC_COCOMO_B
        methods.append(
            _method(
                "repository_cocomo_basic",
                f"the size of {repo.full_name} (basic COCOMO)",
                person_months * HOURS_PER_PERSON_MONTH,
                claude_expected_hours,
                f"{sum(repo.languages.values())} bytes / {BYTES_PER_LINE} bytes per line = {kloc:.1f} KLOC; "
                f"{BASIC_COCOMO_A} x KLOC^{BASIC_COCOMO_B} = {person_months:.1f} person-months",
            )
        )

    deciding = methods[0] if methods and methods[0].method == "function_points_cocomo2" else None
    if deciding is None:
        verdict: Verdict = "review"
        summary = "the requirements hold no countable functional statements to compare against"
    else:
        verdict = deciding.verdict
        summary = "; ".join(_describe(check) for check in methods)
    return CrossCheck(
        claude_expected_hours=round(claude_expected_hours, 1),
        tolerance_pct=TOLERANCE_PCT,
        function_points=fp,
        methods=methods,
        verdict=verdict,
        summary=summary,
    )
