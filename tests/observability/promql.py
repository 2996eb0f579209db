"""The PromQL the chart ships (its PrometheusRule and Grafana dashboards) as the observability tests read it.

The rules are rendered by helm (tests/charts/chart.py) for release `estimator` in namespace `estimator`,
so the series a test writes or scrapes carry `namespace="estimator"` and `service="estimator-<component>"`,
the labels a ServiceMonitor puts on them in a cluster.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.charts.chart import CHART, NAMESPACE, Manifest, of_kind, render

DASHBOARDS = ("overview", "claude-budget", "chat")
DASHBOARD_DIR = CHART / "dashboards"
# What the dashboards' template variables are set to in the tests: the chart's fullname is the release
# name here (`estimator`), so every Service is `estimator-<component>`.
TEMPLATE_VALUES = {"namespace": NAMESPACE, "release": "estimator", "datasource": "prometheus"}

# The metric families the services (and the Redis exporter, and Prometheus) export: the contract the
# dashboards and alerts may use. Histograms are named without _bucket/_sum/_count.
CONTRACT = frozenset(
    {
        "estimator_http_requests_total",
        "estimator_http_request_duration_seconds",
        "estimator_worker_jobs_total",
        "estimator_worker_job_duration_seconds",
        "estimator_worker_job_queue_wait_seconds",
        "estimator_queue_jobs",
        "estimator_queue_oldest_job_age_seconds",
        "estimator_db_query_duration_seconds",
        "estimator_llm_budget_grants_total",
        "estimator_llm_budget_wait_seconds",
        "estimator_llm_upstream_throttled_total",
        "estimator_llm_tokens_total",
        "estimator_llm_output_reserved_tokens_total",
        "estimator_llm_requests_total",
        "estimator_llm_cost_usd_total",
        "estimator_llm_time_to_first_token_seconds",
        "estimator_llm_upstream_retry_after_seconds",
        "estimator_llm_budget_available",
        "estimator_llm_budget_capacity",
        "estimator_llm_budget_in_flight",
        "estimator_llm_budget_max_in_flight",
        "estimator_llm_budget_cooldown_seconds",
        "estimator_chat_turns_total",
        "estimator_chat_continuations_total",
        "estimator_chat_turns_waiting",
        "estimator_rate_limit_rejections_total",
        "estimator_sse_connections",
        "estimator_event_loop_lag_seconds",
        "redis_memory_used_bytes",
        "redis_memory_max_bytes",
        "redis_up",
        "up",
    }
)
HISTOGRAMS = frozenset(
    {
        "estimator_http_request_duration_seconds",
        "estimator_worker_job_duration_seconds",
        "estimator_worker_job_queue_wait_seconds",
        "estimator_db_query_duration_seconds",
        "estimator_llm_budget_wait_seconds",
        "estimator_llm_time_to_first_token_seconds",
        "estimator_llm_upstream_retry_after_seconds",
        "estimator_event_loop_lag_seconds",
    }
)


def prometheus_rule() -> Manifest:
    (rule,) = of_kind(render("production"), "PrometheusRule")
    return rule


def alert_rules() -> list[Manifest]:
    return [rule for group in prometheus_rule()["spec"]["groups"] for rule in group["rules"]]


def write_rules_file(path: Path, *, annotations: bool = True) -> Path:
    """The PrometheusRule's groups as a plain Prometheus rules file (what the operator hands Prometheus)."""
    groups: list[Manifest] = json.loads(json.dumps(prometheus_rule()["spec"]["groups"]))
    if not annotations:
        for group in groups:
            for rule in group["rules"]:
                rule.pop("annotations", None)
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


def dashboard(name: str) -> dict[str, Any]:
    board: dict[str, Any] = json.loads((DASHBOARD_DIR / f"{name}.json").read_text())
    return board


def panel_queries(name: str) -> list[tuple[str, str]]:
    """(panel title / refId, PromQL) of every target of every panel of a dashboard."""
    return [
        (f"{name}: {panel['title']} [{target['refId']}]", target["expr"])
        for panel in dashboard(name)["panels"]
        for target in panel.get("targets", [])
    ]


def substitute(expr: str, rate_interval: str = "1m") -> str:
    """A dashboard query as Grafana sends it, with the test's template values."""
    expr = expr.replace("$__rate_interval", rate_interval)
    for name, value in TEMPLATE_VALUES.items():
        expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_RANGES = re.compile(r"\[[^\]]*\]")
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan"})


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads (identifiers that are not functions, keywords or labels)."""
    bare = _RANGES.sub(" ", _GROUPING.sub(" ", _MATCHERS.sub(" ", _STRINGS.sub('""', expr))))
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare):
        following = bare[match.end() :].lstrip()
        if following.startswith("(") or match.group().lower() in _KEYWORDS:
            continue
        names.add(match.group())
    return names


def family(name: str) -> str:
    """A series name's metric family: a histogram's _bucket/_sum/_count series belong to it."""
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name.removesuffix(suffix) in HISTOGRAMS:
            return name.removesuffix(suffix)
    return name


_SELECTOR = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*\{(?:[^{}"]|"(?:[^"\\]|\\.)*")*\}')
_COMPARISON = re.compile(r"\s*(?:>=|<=|==|!=|>|<)\s*(?:bool\s+)?-?[0-9.]+(?:e-?[0-9]+)?(?=\s|\)|$)")


def signal(expr: str) -> str:
    """An alert's expression without its thresholds: the value it compares, which must have data even
    when the alert does not fire (a comparison filters out every series when the system is healthy)."""
    return _COMPARISON.sub("", expr)


def selectors(expr: str) -> list[str]:
    """Every `metric{matchers}` of an expression, to query alone."""
    return _SELECTOR.findall(expr)
