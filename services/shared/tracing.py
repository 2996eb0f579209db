"""Traces: one per estimation and per chat turn, from the gateway's request to Claude's answer and the save.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set (spans nobody receives cost CPU on the hottest routes).
When on, each process exports over OTLP/HTTP as `estimator-<service>`; the sampler is the SDK's, set by
the standard `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` (default: parent-based, always on), behind
one rule of ours: a Redis command with no parent is not recorded (ARQ polls its queue twice a second, and
each poll would otherwise be a trace of its own). The context crosses processes in `traceparent` headers
(httpx is instrumented) and, for a queued job, in the job itself (`job_carrier` / `job_context`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult, _get_from_env_or_default
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

from services.shared.settings import get_service_settings


class _NoOrphanStoreCalls(Sampler):
    """The configured sampler, except that a store command outside any request or job is dropped."""

    def __init__(self, delegate: Sampler) -> None:
        self.delegate = delegate

    def should_sample(
        self,
        parent_context: context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        parent = trace.get_current_span(parent_context).get_span_context()
        if not parent.is_valid and attributes and attributes.get("db.system") == "redis":
            return SamplingResult(Decision.DROP)
        return self.delegate.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"NoOrphanStoreCalls{{{self.delegate.get_description()}}}"


def configure_tracing(service: str) -> bool:
    """Sets up this process's tracer provider and client instrumentations once; False when tracing is off."""
    if not get_service_settings().otel_exporter_otlp_endpoint:
        return False
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return True
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    provider = TracerProvider(
        resource=Resource.create({"service.name": f"estimator-{service}"}),
        sampler=_NoOrphanStoreCalls(_get_from_env_or_default()),
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument()
    RedisInstrumentor().instrument()
    return True


def job_carrier() -> dict[str, str]:
    """The current trace context, to travel with a queued job."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def job_context(carrier: Mapping[str, str] | None) -> context.Context:
    """The context of the request that queued the job, so the worker's spans join its trace."""
    return propagate.extract(dict(carrier or {}))
