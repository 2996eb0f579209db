"""The OpenAPI document describes the API as it is served."""

from __future__ import annotations

import json
import re

import httpx

from services.devstack.supervisor import Stack
from services.shared.contracts import STORABLE_TEXT_PATTERN
from services.worker.github import GITHUB_URL_PATTERN

EXPECTED = {
    "/api/estimate": {"post"},
    "/api/estimate/{job_id}/status": {"get"},
    "/api/estimate/{job_id}/events": {"get"},
    "/api/estimate/{job_id}/chat": {"get", "post"},
    "/api/estimate/{job_id}/chat/turns/{turn_id}": {"get"},
    "/api/saves": {"get"},
    "/api/saves/{save_id}": {"get", "patch", "delete"},
    "/api/saves/{save_id}/revisions": {"get"},
    "/api/saves/{save_id}/revisions/{revision}": {"get"},
    "/api/saves/{save_id}/revisions/{revision}/diff": {"get"},
    "/api/methodology/{version}": {"get"},
}


async def test_openapi_lists_every_route_with_bearer_security_and_error_shapes(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        doc = (await client.get("/openapi.json")).json()
    paths = {p: set(ops) for p, ops in doc["paths"].items() if p.startswith("/api")}
    assert paths == EXPECTED
    for path, ops in doc["paths"].items():
        for op in ops.values():
            if path.startswith("/api"):
                assert op.get("security"), f"{path} is not marked as authenticated"
                assert "401" in op["responses"]
    submit = doc["paths"]["/api/estimate"]["post"]
    assert "202" in submit["responses"]
    assert "Idempotency-Key" in {p["name"] for p in submit["parameters"]}
    assert "text/event-stream" in doc["paths"]["/api/estimate/{job_id}/events"]["get"]["responses"]["200"]["content"]
    schema = doc["components"]["schemas"]["EstimateRequest"]
    assert schema["properties"]["requirements_md"]["maxLength"] == 200_000
    revisions = "/api/saves/{save_id}/revisions"
    for path, model in [
        (revisions, "RevisionPage"),
        (revisions + "/{revision}", "RevisionDetail"),
        (revisions + "/{revision}/diff", "RevisionDiff"),
    ]:
        responses = doc["paths"][path]["get"]["responses"]
        assert responses["200"]["content"]["application/json"]["schema"]["$ref"].endswith(f"/{model}")
        assert {"304", "401", "404", "503"} <= set(responses)


async def test_every_error_is_documented_with_the_envelope_and_the_limits_the_code_applies(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        doc = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in json.dumps(doc)  # FastAPI's 422 shape, which this API never sends
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            assert {"401", "503"} <= set(responses), (method, path)
            if "requestBody" in op:
                assert {"400", "413", "422"} <= set(responses), (method, path)
            for status, response in responses.items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema["$ref"].endswith("/ErrorEnvelope"), (method, path, status)
    schemas = doc["components"]["schemas"]
    texts = [
        schemas["EstimateRequest"]["properties"]["requirements_md"],
        schemas["EstimateRequest"]["properties"]["name"]["anyOf"][0],
        schemas["ChatRequest"]["properties"]["message"],
        schemas["SaveRename"]["properties"]["name"],
    ]
    assert all(text["pattern"] == STORABLE_TEXT_PATTERN for text in texts)
    github_url = schemas["EstimateRequest"]["properties"]["github_url"]["anyOf"][0]
    assert github_url["pattern"] == GITHUB_URL_PATTERN and not re.search(github_url["pattern"], "")


async def test_every_route_documents_the_limits_applied_before_it_and_when_to_retry(stack: Stack) -> None:
    """An oversized head (414, 431) and throttled failed logins (429) can reach any route: all are listed."""
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        doc = (await client.get("/openapi.json")).json()
    for path, ops in doc["paths"].items():
        if not path.startswith("/api"):
            continue
        for method, op in ops.items():
            responses = op["responses"]
            assert {"414", "429", "431", "503"} <= set(responses), f"{method} {path}"
            for status in ("429", "503"):
                assert "Retry-After" in responses[status].get("headers", {}), f"{method} {path} {status}"
