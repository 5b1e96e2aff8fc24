"""What FastAPI cannot infer for /openapi.json: response headers, the 500 every operation
may answer, error codes as enums, examples, bodies routes read themselves, and webhooks.

`complete_openapi` runs once on FastAPI's document (service.api.app); tests/test_openapi.py
checks each addition against the served document.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from service.api.openapi_codes import JOB_ERROR_CODES, PROBLEM_CODES
from service.api.openapi_examples import job_examples, score_result_example
from service.api.openapi_webhooks import EVENT_MODELS, add_webhooks
from service.api.problems import PROBLEM_JSON, TYPE_BASE
from service.api.routes.webhooks import WebhookTestRequest

HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-Id": {
        "description": "This request's id: the client's own `X-Request-Id` when it is 1-128 of"
        " `A-Z a-z 0-9 . _ : -`, else a new `req_…`. In every log line of the request and in"
        " problem bodies (`request_id`).",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
    },
    "RateLimit-Policy": {
        "description": "The quota policy this request was counted against (IETF"
        ' draft-ietf-httpapi-ratelimit-headers), e.g. `"submit";q=120;w=60`: q requests per'
        " w seconds. Policies: `submit` (POST, DELETE), `poll` (GET, HEAD; a budget of its"
        " own) per tenant, and `auth` (failed authentications per client address).",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of that quota, e.g. `"submit";r=119;t=42`: r requests'
        " remain for the next t seconds.",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait: before the next poll (202, a running job) or before"
        " retrying (429).",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Location": {
        "description": "The new job: `/v1/jobs/{id}`.",
        "schema": {"type": "string", "format": "uri-reference"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when the `Idempotency-Key` named an earlier job: this is that"
        " job, no new one was made.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "WWW-Authenticate": {
        "description": '`Bearer realm="kneecave"`',
        "schema": {"type": "string"},
    },
}
# Headers of particular responses: (operationId, status) -> header -> required.
_RESPONSE_HEADERS: dict[tuple[str, str], dict[str, bool]] = {
    ("jobs-create_job", "202"): {
        "Location": True,
        "Retry-After": True,
        "Idempotent-Replayed": False,
    },
    ("jobs-get_job", "200"): {"Retry-After": False},  # while the job is not finished
}
_RATE_LIMITED_PREFIX = "/v1/"

_INTERNAL_ERROR_EXAMPLE = {
    "type": f"{TYPE_BASE}internal_error",
    "title": "Internal error",
    "status": 500,
    "detail": "unexpected error",
    "code": "internal_error",
    "instance": "/v1/jobs",
    "request_id": "req_9d1c3e0f5a7b4c2d8e6f1a3b5c7d9e0f",
}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def add_models(spec: dict[str, Any], *models: type[BaseModel]) -> None:
    """Component schemas for models no route signature names (bodies read by hand, events)."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            schemas.setdefault(name, sub)  # FastAPI's own rendering of a shared model wins
        schemas[model.__name__] = schema


def _operations(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(path, op) for path, ops in spec.get("paths", {}).items() for op in ops.values()]


def _add_code_enums(schemas: dict[str, Any]) -> None:
    schemas["ProblemCode"] = {
        "type": "string",
        "enum": list(PROBLEM_CODES),
        "description": "Stable code of a failed request (docs/api.md, Errors). New codes may"
        " be added: treat an unknown one by its HTTP status.",
    }
    schemas["JobErrorCode"] = {
        "type": "string",
        "enum": list(JOB_ERROR_CODES),
        "description": "Stable code of a failed or canceled job (docs/api.md, Errors). New"
        " codes may be added.",
    }
    schemas["Problem"]["properties"]["code"] = _ref("schemas", "ProblemCode")
    schemas["JobError"]["properties"]["code"] = _ref("schemas", "JobErrorCode")


def _add_internal_error(operation: dict[str, Any]) -> None:
    # Any request the HTTP parser cannot read (a bad Content-Length, a NUL in a header)
    # is answered 400 `bad_request` before it reaches an operation.
    operation["responses"].setdefault(
        "400",
        {
            "description": "Bad Request: the HTTP parser could not read the request"
            " (`bad_request`). The connection is closed.",
            "content": {PROBLEM_JSON: {"schema": _ref("schemas", "Problem")}},
        },
    )
    operation["responses"].setdefault(
        "500",
        {
            "description": "Internal Server Error: a bug, logged with a traceback under the"
            " request id. The connection is closed (`Connection: close`).",
            "content": {
                PROBLEM_JSON: {
                    "schema": _ref("schemas", "Problem"),
                    "example": _INTERNAL_ERROR_EXAMPLE,
                }
            },
        },
    )


def _add_headers(path: str, operation: dict[str, Any]) -> None:
    for status, response in operation["responses"].items():
        headers = response.setdefault("headers", {})
        names = ["X-Request-Id"]
        if path.startswith(_RATE_LIMITED_PREFIX):
            names += ["RateLimit-Policy", "RateLimit"]
        for name in names:
            headers.setdefault(name, _ref("headers", name))
        if status == "429":
            headers["Retry-After"] = {**HEADERS["Retry-After"], "required": True}
        if status == "401":
            headers["WWW-Authenticate"] = {**HEADERS["WWW-Authenticate"], "required": True}
        for name, required in _RESPONSE_HEADERS.get((operation["operationId"], status), {}).items():
            headers[name] = {**HEADERS[name], "required": required}


def _add_examples(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    score_result = score_result_example()
    schemas["ScoreResult"]["examples"] = [score_result]
    for _path, operation in _operations(spec):
        ok = operation["responses"].get("200", {}).get("content", {}).get("application/json")
        if ok is None:
            continue
        if operation["operationId"] == "jobs-get_job":
            ok["examples"] = job_examples()
        elif operation["operationId"] == "scoring-score_landmarks":
            ok["example"] = score_result


def complete_openapi(spec: dict[str, Any]) -> dict[str, Any]:
    add_models(spec, WebhookTestRequest, *EVENT_MODELS)
    schemas = spec["components"]["schemas"]
    _add_code_enums(schemas)
    spec["components"]["headers"] = {name: dict(h) for name, h in HEADERS.items()}
    for path, operation in _operations(spec):
        _add_internal_error(operation)
        _add_headers(path, operation)
    _add_examples(spec)
    add_webhooks(spec)
    tags = spec.setdefault("tags", [])
    if not any(t.get("name") == "webhooks" for t in tags):
        tags.append(
            {"name": "webhooks", "description": "Signed events sent to a client's URL, and a test"}
        )
    return spec
