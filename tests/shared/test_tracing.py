"""One trace per estimation and per chat turn, across the stack's real processes, and logs that point to it.

The stack exports its spans over OTLP/HTTP to a receiver in this test (what a collector would be), so
every process (gateway, worker, saves, chat) is traced as it runs in a deployment.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tests.api import wait_for_job
from tests.github_stub import ThreadServer
from tests.worker.test_queue_semantics import Running, running_stack


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, kind) if kind else None


@dataclass
class Receiver:
    """A minimal OTLP/HTTP trace receiver: keeps every span it is sent."""

    spans: list[Span] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/traces")
        async def traces(request: Request) -> Response:
            export = ExportTraceServiceRequest.FromString(await request.body())
            for resource_spans in export.resource_spans:
                resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(
                            Span(
                                service=str(resource.get("service.name")),
                                name=span.name,
                                trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(),
                                parent_id=span.parent_span_id.hex(),
                                attributes={a.key: _value(a.value) for a in span.attributes},
                            )
                        )
            return Response(b"", media_type="application/x-protobuf")

        return app

    def trace_of(self, service: str, name: str) -> list[Span]:
        roots = [s for s in self.spans if s.service == service and s.name == name]
        assert len(roots) == 1, [(s.service, s.name) for s in self.spans if s.service == service]
        return [s for s in self.spans if s.trace_id == roots[0].trace_id]


@contextmanager
def receiving() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    with ThreadServer(receiver.app()) as server:
        yield receiver, server.url


async def _until(receiver: Receiver, check: Any, within_s: float = 20) -> None:
    for _ in range(int(within_s * 10)):
        if check():
            return
        await asyncio.sleep(0.1)


def _log_lines(running: Running, process: str) -> list[dict[str, Any]]:
    assert running.stack.log_dir is not None
    text = (running.stack.log_dir / f"{process}.log").read_text()
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_an_estimation_and_a_chat_turn_are_each_one_trace_from_request_to_claude_to_the_save(
    tmp_path: Path, redis_url: str, database_url: str, github_stub: str
) -> None:
    with receiving() as (receiver, collector):
        async with running_stack(
            tmp_path,
            redis_url,
            database_url,
            github_stub,
            OTEL_EXPORTER_OTLP_ENDPOINT=collector,
            OTEL_BSP_SCHEDULE_DELAY="100",
            LOG_FORMAT="json",
        ) as running:
            submitted = await running.api.post(
                "/api/estimate",
                json={
                    "requirements_md": "# Shop\n\n- cart\n- checkout\n",
                    "github_url": "https://github.com/octo/shop",
                },
            )
            job_id = submitted.json()["job_id"]
            assert (await wait_for_job(running.api, job_id))["status"] == "succeeded"
            turn = await running.api.post(f"/api/estimate/{job_id}/chat", json={"message": "Which item is riskiest?"})
            assert turn.status_code == 200, turn.text
            await _until(receiver, lambda: any(s.name == "chat claude-sonnet-4-6" for s in receiver.spans[-50:]))
            await asyncio.sleep(1)  # the last batches of every process
            secrets = [running.stack.env_used["INTERNAL_TOKEN"], running.api.headers["Authorization"].split()[1]]
            worker_logs = _log_lines(running, "worker-0")
            assert running.stack.log_dir is not None
            every_log = "".join(path.read_text() for path in running.stack.log_dir.glob("*.log"))

    estimation = receiver.trace_of("estimator-gateway", "POST /api/estimate")
    services = {span.service for span in estimation}
    assert {"estimator-gateway", "estimator-worker", "estimator-saves"} <= services
    names = {span.name for span in estimation}
    assert "estimation job" in names
    claude = [span for span in estimation if span.name.startswith("chat ")]
    assert len(claude) == 1 and claude[0].service == "estimator-worker"
    attributes = claude[0].attributes
    assert attributes["gen_ai.request.model"] == "claude-sonnet-4-6"
    assert attributes["gen_ai.usage.output_tokens"] > 0
    assert attributes["gen_ai.response.finish_reasons"] == ["tool_use"]
    urls = [str(span.attributes.get("url.full", span.attributes.get("http.url", ""))) for span in estimation]
    assert any(url.endswith("/repos/octo/shop") for url in urls), "the GitHub call"
    assert any("/internal/saves/by-job/" in url for url in urls), "the save write"
    assert any(span.attributes.get("db.system") == "postgresql" for span in estimation), "the save's SQL"

    status_reads = [s for s in receiver.spans if s.name == "GET /api/estimate/{job_id}/status"]
    assert any(s.service == "estimator-gateway" for s in status_reads), "a plain status read is traced too"

    chat = receiver.trace_of("estimator-gateway", "POST /api/estimate/{job_id}/chat")
    assert {"estimator-gateway", "estimator-chat", "estimator-saves"} <= {span.service for span in chat}
    assert any(span.name.startswith("chat ") and span.service == "estimator-chat" for span in chat)

    trace_id = estimation[0].trace_id
    job_lines = [line for line in worker_logs if line.get("job_id") == job_id]
    assert job_lines and all(line.get("trace_id") == trace_id for line in job_lines)
    assert all(secret not in every_log for secret in secrets), "a key or token reached the logs"
