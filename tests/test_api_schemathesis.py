"""schemathesis against the live app's OpenAPI: every operation with schema-valid and
schema-invalid inputs, then stateful (upload → get → cancel/delete through the links),
on a real `kneecave serve` for each backend (issue 9).

Checks are schemathesis's defaults, with two exceptions: `positive_data_acceptance`
is not applied where the schema cannot say what is acceptable — an upload's bytes
must be a video (415 otherwise), keypoints must make sense as a body (422), a
webhook URL must resolve to a public address, and a list cursor must be one the
API gave out (an opaque token: 422 `invalid_cursor`), which no JSON Schema
expresses; and 413 counts as a rejection of schema-invalid input (an over-long
field can make the body larger than the server reads before it parses).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.generation import GenerationMode

from service.api.app import create_app
from service.config import Settings
from tests.service_support import Server, make_env

EXAMPLES = 30
SEMANTIC_INPUTS = {
    "POST /v1/jobs",
    "POST /v1/score/keypoints",
    "POST /v1/webhooks/test",
    "GET /v1/jobs",
}
FAST = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _cases() -> list[tuple[str, GenerationMode]]:
    """(operation, mode); negative inputs only where an operation takes any input."""
    spec = create_app(Settings()).openapi()
    out = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            label = f"{method.upper()} {path}"
            out.append((label, GenerationMode.POSITIVE))
            if op.get("parameters") or op.get("requestBody"):
                out.append((label, GenerationMode.NEGATIVE))
    return out


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp(f"schemathesis-{request.param}")
    with make_env(request.param, tmp) as env:
        key = env.create_key("acme").api_key
        server = Server(env, tmp, workers=0, max_active_jobs_per_tenant=10_000)
        try:
            schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
            rejection = schema.config.checks.negative_data_rejection
            rejection.expected_statuses = [*rejection.expected_statuses, "413"]
            yield schema, {"Authorization": f"Bearer {key}"}
        finally:
            server.stop()


def _excluded(label: str) -> list[Any]:
    return [positive_data_acceptance] if label in SEMANTIC_INPUTS else []


@pytest.mark.parametrize(("label", "mode"), _cases())
def test_operation_conforms(
    live: tuple[Any, dict[str, str]], label: str, mode: GenerationMode
) -> None:
    schema, headers = live
    method, path = label.split(" ", 1)
    operation = schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @FAST
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, excluded_checks=_excluded(label))

    run()


def test_stateful_through_links(live: tuple[Any, dict[str, str]]) -> None:
    schema, headers = live

    calls: list[str] = []

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            calls.append(f"{case.method.upper()} {case.path}")
            return {"headers": headers}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            label = f"{case.method.upper()} {case.path}"
            case.validate_response(response, excluded_checks=_excluded(label))

    Machine.run(settings=settings(FAST, max_examples=15, stateful_step_count=6))
    # The links were followed: uploads, then reads of the jobs they made.
    assert "POST /v1/jobs" in calls
    assert "GET /v1/jobs/{job_id}" in calls
