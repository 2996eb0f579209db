"""The OpenAPI is the truth: schemathesis sends what the gateway's own document allows, and what it forbids.

Every operation is exercised with a valid API key (of an owner of its own, so other tests' data is
untouched): with examples that fit the schema (positive), examples that break it (negative), and, for
operations on a job, a save or a methodology version, positive examples on ids that exist (a finished
estimate of that owner), so that they answer more than 404. No answer may be a 5xx, and every answer must
be documented: its status, its content type and its body's schema.

`POST /api/estimate` queues a real job (on the simulator) for every example it accepts, and a chat on a
known estimate runs a real turn: both get few examples; every other operation a few dozen. The known save
is never deleted (`DELETE` is fuzzed on unknown ids only). Hypothesis is derandomised, so a run repeats.

The schema is loaded from the running gateway through schemathesis' Python API (`as_strategy` per
operation, run by Hypothesis), not its lazy pytest fixture, which fails under pytest 9.2 (`_nodeid`).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.devstack.supervisor import Stack, create_demo_key
from services.gateway.app import create_app
from tests.api import bearer, estimate, requirements

EXAMPLES_PER_OPERATION = 40
ESTIMATE = ("POST", "/api/estimate")
CHAT = ("POST", "/api/estimate/{job_id}/chat")
FEW_EXAMPLES = 6
"""For `POST /api/estimate`, and for a chat on the known estimate: each accepted example is paid work (simulated)."""
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
DOCUMENT = create_app().openapi()
"""The document the gateway serves, built in-process here only to name the tests."""
OPERATIONS = [(method.upper(), path) for path, ops in DOCUMENT["paths"].items() for method in ops]
BREAKABLE = [
    (method.upper(), path)
    for path, ops in DOCUMENT["paths"].items()
    for method, op in ops.items()
    if "requestBody" in op or any(p["in"] != "path" for p in op.get("parameters", []))
]
"""Operations a request can break; one whose only parameters are path segments (any text) has no negative case."""
KNOWN = ("job_id", "save_id", "revision", "version")
ON_KNOWN_IDS = [(m, p) for m, p in OPERATIONS if m != "DELETE" and any(f"{{{name}}}" in p for name in KNOWN)]
CASES = (
    [(m, p, "positive") for m, p in OPERATIONS]
    + [(m, p, "negative") for m, p in BREAKABLE]
    + [(m, p, "known ids") for m, p in ON_KNOWN_IDS]
)


@pytest.fixture(scope="module")
async def fuzzer_key(stack: Stack) -> str:
    return await create_demo_key(stack.env_used, owner="schemathesis")


@pytest.fixture(scope="module")
async def known_ids(stack: Stack, fuzzer_key: str) -> dict[str, str]:
    """A finished estimate of the fuzzing owner: its job, its save, its first revision and its methodology version."""
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=bearer(fuzzer_key), timeout=30) as client:
        status = await estimate(client, {"requirements_md": requirements("Fuzzed", "login", "export")})
        assert status["status"] == "succeeded", status
        save = (await client.get(f"/api/saves/{status['save_id']}")).json()
    return {
        "job_id": status["job_id"],
        "save_id": save["save_id"],
        "revision": "1",
        "version": save["methodology_version"],
    }


@pytest.fixture(scope="module")
def gateway_schema(stack: Stack, fuzzer_key: str) -> Any:
    config = schemathesis.Config.from_dict({"headers": {"Authorization": f"Bearer {fuzzer_key}"}})
    return schemathesis.openapi.from_url(f"{stack.gateway_url}/openapi.json", config=config)


def test_every_operation_of_the_served_document_is_fuzzed(gateway_schema: Any) -> None:
    served = {(method.upper(), path) for path, ops in gateway_schema.raw_schema["paths"].items() for method in ops}
    assert served == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path", "kind"), CASES, ids=[f"{m} {p} {kind}" for m, p, kind in CASES])
def test_every_answer_is_documented_and_none_is_a_server_error(
    gateway_schema: Any, fuzzer_key: str, known_ids: dict[str, str], method: str, path: str, kind: str
) -> None:
    operation = gateway_schema[path][method]
    paid = (method, path) == ESTIMATE or ((method, path) == CHAT and kind == "known ids")
    ids = {name: value for name, value in known_ids.items() if f"{{{name}}}" in path} if kind == "known ids" else None
    mode = GenerationMode.NEGATIVE if kind == "negative" else GenerationMode.POSITIVE
    authorization = {"Authorization": f"Bearer {fuzzer_key}"}

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=ids))
    @settings(
        max_examples=FEW_EXAMPLES if paid else EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case[Any]) -> None:
        response = case.call_and_validate(headers=authorization, checks=CHECKS, timeout=30)
        statuses.add(response.status_code)

    statuses: set[int] = set()
    fuzz()
    # The key was accepted: the operation itself was exercised, not only the authentication in front of it.
    assert statuses - {401}, statuses
    assert not any(status >= 500 for status in statuses), statuses
