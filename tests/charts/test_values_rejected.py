"""Wrong values are refused by values.schema.json or a `fail` in the templates, with a message naming them."""

from __future__ import annotations

import json

import pytest

from tests.charts.chart import CHART, SECRET_SETTINGS, reads, render_error

BAD_VALUES = [
    # (value set, --set assignments, what the message must say)
    ("default", ("gateway.replicaCount=-1",), "at '/gateway/replicaCount': minimum: got -1, want 0"),
    ("default", ("worker.maxJobs=0",), "at '/worker/maxJobs': minimum: got 0, want 1"),
    ("default", ("bogus=1",), "additional properties 'bogus' not allowed"),
    ("default", ("gateway.bogus=1",), "additional properties 'bogus' not allowed"),
    ("default", ("config.logFormat=xml",), "at '/config/logFormat'"),
    ("default", ("service.type=ExternalName",), "at '/service/type'"),
    ("default", ("gateway.settings.NOT_A_SETTING=1",), "invalid propertyName 'NOT_A_SETTING'"),
    ("default", ("saves.settings.DATABASE_URL=postgresql://u:p@db/x",), "invalid propertyName 'DATABASE_URL'"),
    ("default", ("chat.settings.ESTIMATOR_ENV=development",), "invalid propertyName 'ESTIMATOR_ENV'"),
    (
        "production",
        ("secrets.existingSecret=",),
        "secrets.existingSecret is required: name the Secret holding DATABASE_URL, REDIS_URL",
    ),
    ("production", ("secrets.keys.databaseUrl=",), "secrets.keys.databaseUrl is empty"),
    ("production", ("secrets.keys.redisUrl=",), "secrets.keys.redisUrl is empty"),
    (
        "production",
        ("redis.enabled=true",),
        "the in-chart redis/postgresql (development only) need secrets.create=true",
    ),
    ("dev", ("postgresql.enabled=false",), "DATABASE_URL has no source"),
    ("dev", ("redis.enabled=false",), "REDIS_URL has no source"),
    ("dev", ("secrets.values.internalToken=short",), "internalToken must be at least 16 characters"),
    ("dev", ("postgresql.password=",), "postgresql.password is required"),
    (
        "production",
        ("worker.autoscaling.maxReplicas=6",),
        "worker: 6 replicas x maxJobs 5 = 30 concurrent estimations, above the 20",
    ),
    ("production", ("chat.autoscaling.minReplicas=9",), "chat.autoscaling.minReplicas (9) is above maxReplicas (6)"),
    ("production", ("prometheusAdapter.workerMetric=nope",), 'prometheusAdapter.workerMetric "nope" is not served'),
]


@pytest.mark.parametrize(("value_set", "sets", "message"), BAD_VALUES, ids=[" ".join(b[1]) for b in BAD_VALUES])
def test_bad_values_are_refused_with_a_clear_message(value_set: str, sets: tuple[str, ...], message: str) -> None:
    assert message in render_error(value_set, *sets)


def test_schema_closes_the_top_level_and_every_block() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    for name, block in schema["properties"].items():
        if block.get("type") == "object" and "properties" in block:
            assert block["additionalProperties"] is False, name


@pytest.mark.parametrize("service", ["gateway", "chat", "saves", "worker", "simulator"])
def test_schema_allows_exactly_the_settings_each_service_reads(service: str) -> None:
    """`<service>.settings` accepts the service's own variables, never a secret or ESTIMATOR_ENV."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    allowed = set(schema["properties"][service]["properties"]["settings"]["propertyNames"]["enum"])
    expected = set(reads(service)) - SECRET_SETTINGS - {"ESTIMATOR_ENV"}
    if service == "simulator":
        expected -= {"SIM_HOST", "SIM_PORT"}  # `estimator serve` takes --host/--port
    assert allowed == expected, (
        f"values.schema.json {service}.settings propertyNames: add {sorted(expected - allowed)},"
        f" remove {sorted(allowed - expected)}"
    )
