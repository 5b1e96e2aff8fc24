"""The served OpenAPI document (issue 11): examples that match the models, every response
header documented (and every header the server sends in the document), the `webhooks`
section, error codes as enums that cover every code in the code base, and 500 on every
operation.

Regenerate the stored ScoreResult example after a result-schema change with
    .venv/bin/python -m tests.test_openapi
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from schemathesis.specs.openapi import definitions

from service.api import problems
from service.api.openapi_codes import JOB_ERROR_CODES, NOT_SENT, PROBLEM_CODES
from service.api.openapi_examples import (
    SCORE_RESULT_FILE,
    failed_job_example,
    score_result_example,
    succeeded_job_example,
)
from service.api.openapi_webhooks import JobEvent, WebhookTestEvent
from service.errors import KneecaveError
from service.jobs.public import JobPublic
from service.pipeline.scoring import ScoreResult, score_keypoints
from tests.clips import REPO
from tests.service_support import Server, make_env, upload
from tests.synthetic import RepSpec, make_squats

EXAMPLE_PATH = REPO / "service" / "api" / SCORE_RESULT_FILE
REGENERATE = "run `.venv/bin/python -m tests.test_openapi` to regenerate it"


def scored_example() -> ScoreResult:
    """A real scorer output: two synthetic front-view reps, the second with a mild cave."""
    kp, _ = make_squats([RepSpec(), RepSpec(fppa_mid=(30.0, 18.0))], noise_px=1.0, seed=7)
    return score_keypoints(kp, view="auto", pose_model="client")


def regenerate() -> None:
    data = scored_example().model_dump(mode="json")
    EXAMPLE_PATH.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    tmp = tmp_path_factory.mktemp("openapi")
    with make_env("sqlite", tmp) as env:
        key = env.create_key("acme").api_key
        server = Server(env, tmp, workers=0)
        try:
            yield server, key
        finally:
            server.stop()


@pytest.fixture(scope="module")
def spec(live: tuple[Server, str]) -> dict[str, Any]:
    """The document as a client gets it (the example file read from the package)."""
    server, _ = live
    r = httpx.get(f"{server.url}/openapi.json", timeout=30)
    assert r.status_code == 200
    document: dict[str, Any] = r.json()
    return document


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield path, method, op


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow `#/components/<kind>/<name>` references."""
    while "$ref" in node:
        kind, name = node["$ref"].removeprefix("#/components/").split("/")
        node = spec["components"][kind][name]
    return node


def header(spec: dict[str, Any], response: dict[str, Any], name: str) -> dict[str, Any] | None:
    headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
    found = headers.get(name.lower())
    return None if found is None else resolve(spec, found)


# --- examples -------------------------------------------------------------------------


def extras(model: BaseModel, where: str = "result") -> list[str]:
    """Fields the models do not declare (they allow extras, so validation alone misses them)."""
    found = [f"{where}.{k}" for k in model.model_extra or {}]
    for name in type(model).model_fields:
        value = getattr(model, name)
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            if isinstance(item, BaseModel):
                found += extras(item, f"{where}.{name}" + (f"[{i}]" if value is items else ""))
    return found


def test_score_result_example_matches_the_models_exactly() -> None:
    stored = json.loads(EXAMPLE_PATH.read_text())
    parsed = ScoreResult.model_validate(stored)
    assert extras(parsed) == [], f"fields the models no longer declare; {REGENERATE}"
    # A field added to the models (with a default) would be missing from the example.
    assert parsed.model_dump(mode="json") == stored, f"the example is stale; {REGENERATE}"


def keys_of(value: Any, where: str = "") -> set[str]:
    if isinstance(value, dict):
        out = set()
        for k, v in value.items():
            out |= {f"{where}.{k}"} | keys_of(v, f"{where}.{k}")
        return out
    if isinstance(value, list):
        return set().union(*(keys_of(v, f"{where}[]") for v in value)) if value else set()
    return set()


def test_score_result_example_is_what_the_scorer_returns_now() -> None:
    """Same fields at every depth as a fresh scoring of the same input (values may move)."""
    fresh = scored_example().model_dump(mode="json")
    stored = score_result_example()
    assert keys_of(stored) == keys_of(fresh), REGENERATE
    assert stored["rep_count"] == fresh["rep_count"] == 2
    severities = [rep["knee_cave"]["severity"] for rep in stored["reps"]]
    assert severities[0] == "none", "rep 1 is the correct one"
    assert severities[1] != "none", "rep 2 is the cave one"


def test_job_and_event_examples_validate() -> None:
    for job in (succeeded_job_example(), failed_job_example()):
        JobPublic.model_validate(job)
    assert JobPublic.model_validate(succeeded_job_example()).result is not None


def test_examples_are_in_the_document(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert schemas["ScoreResult"]["examples"] == [score_result_example()]
    get_job = spec["paths"]["/v1/jobs/{job_id}"]["get"]["responses"]["200"]
    examples = get_job["content"]["application/json"]["examples"]
    succeeded = examples["succeeded"]["value"]
    assert succeeded["status"] == "succeeded"
    assert succeeded["result"] == score_result_example()
    JobPublic.model_validate(succeeded)
    assert examples["failed"]["value"]["error"]["code"] in JOB_ERROR_CODES
    keypoints = spec["paths"]["/v1/score/keypoints"]["post"]["responses"]["200"]
    ScoreResult.model_validate(keypoints["content"]["application/json"]["example"])


# --- headers --------------------------------------------------------------------------


def test_every_response_documents_request_id_and_rate_limit_headers(
    spec: dict[str, Any],
) -> None:
    missing = []
    for path, method, op in operations(spec):
        for status, response in op["responses"].items():
            names = ["X-Request-Id"]
            if path.startswith("/v1/"):
                names += ["RateLimit", "RateLimit-Policy"]
            missing += [
                f"{method} {path} {status} {n}" for n in names if not header(spec, response, n)
            ]
    assert missing == []


def test_particular_headers_are_documented(spec: dict[str, Any]) -> None:
    created = spec["paths"]["/v1/jobs"]["post"]["responses"]["202"]
    for name, required in [
        ("Location", True),
        ("Retry-After", True),
        ("Idempotent-Replayed", False),
    ]:
        found = header(spec, created, name)
        assert found is not None, name
        assert found.get("required", False) is required, name
    polled = spec["paths"]["/v1/jobs/{job_id}"]["get"]["responses"]["200"]
    assert header(spec, polled, "Retry-After") is not None
    for path, method, op in operations(spec):
        for status, response in op["responses"].items():
            if status == "429":
                assert (header(spec, response, "Retry-After") or {}).get("required"), path
            if status == "401":
                assert header(spec, response, "WWW-Authenticate"), f"{method} {path}"


# Sent on every answer by the HTTP stack or SecurityHeaders; not per-operation contract.
GENERIC = {
    "content-type",
    "content-length",
    "date",
    "server",
    "connection",
    "cache-control",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "cross-origin-opener-policy",
    "cross-origin-resource-policy",
    "vary",
    "transfer-encoding",
}


def test_every_header_the_server_sends_is_documented(
    live: tuple[Server, str], spec: dict[str, Any]
) -> None:
    """The converse: real answers (202, a replay, a running job, 404, 401, 422) carry no
    header the document does not name for that operation and status."""
    server, key = live
    undocumented = []
    with server.client(key) as c, server.client(None) as anon:
        created = upload(c, **{})
        job_id = created.json()["id"]
        replay_key = {"Idempotency-Key": "openapi-replay"}
        c.headers.update(replay_key)
        upload(c)
        replayed = upload(c)
        del c.headers["Idempotency-Key"]
        assert replayed.headers.get("idempotent-replayed") == "true"
        answers = [
            ("/v1/jobs", "post", created),
            ("/v1/jobs", "post", replayed),
            ("/v1/jobs/{job_id}", "get", c.get(f"/v1/jobs/{job_id}")),
            ("/v1/jobs/{job_id}", "get", c.get("/v1/jobs/job_0123456789abcdef")),
            ("/v1/jobs", "get", c.get("/v1/jobs", params={"veiw": "front"})),
            ("/v1/jobs", "get", anon.get("/v1/jobs")),
            ("/v1/webhooks/test", "post", c.post("/v1/webhooks/test", json={"url": "ftp://x"})),
            ("/healthz", "get", c.get("/healthz")),
        ]
    for path, method, r in answers:
        response = spec["paths"][path][method]["responses"].get(str(r.status_code))
        assert response is not None, f"{method} {path} answered undocumented {r.status_code}"
        for name in r.headers:
            if name.lower() not in GENERIC and header(spec, response, name) is None:
                undocumented.append(f"{method} {path} {r.status_code}: {name}")
    assert undocumented == []


# --- webhooks -------------------------------------------------------------------------


def test_webhooks_section(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    expected = {
        "job.succeeded": "JobEvent",
        "job.failed": "JobEvent",
        "webhook.test": "WebhookTestEvent",
    }
    assert set(spec["webhooks"]) == set(expected)
    for event, schema_name in expected.items():
        post = spec["webhooks"][event]["post"]
        body = post["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": f"#/components/schemas/{schema_name}"}
        assert event in schemas[schema_name]["properties"]["type"].get(
            "enum", [schemas[schema_name]["properties"]["type"].get("const")]
        )
        model = JobEvent if schema_name == "JobEvent" else WebhookTestEvent
        assert model.model_validate(body["example"]).type == event
        params = [resolve(spec, p) for p in post["parameters"]]
        assert {(p["name"], p["in"], p["required"]) for p in params} == {
            ("webhook-id", "header", True),
            ("webhook-timestamp", "header", True),
            ("webhook-signature", "header", True),
        }
        assert any(s.startswith("2") for s in post["responses"])
    # The job payload is the job as GET returns it.
    data = schemas["JobEvent"]["properties"]["data"]
    assert data.get("$ref", "").endswith("/JobPublic") or any(
        x.get("$ref", "").endswith("/JobPublic") for x in data.get("allOf", [])
    )


# --- error codes and 500 --------------------------------------------------------------

SERVICE = REPO / "service"
# `code="x"`, `code = "x"` (class attributes), `code: str = "x"` and `"code": "x"` (dicts).
CODE_LITERAL = re.compile(r"""["']?\bcode["']?\s*(?::\s*str\s*)?[:=]\s*["']([a-z][a-z0-9_]*)["']""")


def code_literals() -> dict[str, set[str]]:
    """code -> files (relative to service/) where it appears as a literal."""
    found: dict[str, set[str]] = {}
    for path in SERVICE.rglob("*.py"):
        if path.name.startswith("openapi"):
            continue  # the list itself and its examples
        for code in CODE_LITERAL.findall(path.read_text()):
            found.setdefault(code, set()).add(str(path.relative_to(SERVICE)))
    return found


def _http_fallback_codes() -> set[str]:
    return set(problems._HTTP_CODES.values()) | {"http_error"}


def test_code_grep_finds_codes_at_every_kind_of_site() -> None:
    found = code_literals()
    assert "job_not_found" in found  # code="…" argument in a route
    assert "worker_lost" in found  # JobError(code="…") in the job store
    assert "unauthorized" in found  # class attribute
    assert "bad_request" in found  # "code": "…" in a hand-built body


def test_every_code_in_the_code_base_is_in_an_enum() -> None:
    published = set(PROBLEM_CODES) | set(JOB_ERROR_CODES) | set(NOT_SENT)
    unlisted = {c: sorted(f) for c, f in code_literals().items() if c not in published}
    assert unlisted == {}, "add them to service/api/openapi_codes.py and docs/api.md"
    for code, files in code_literals().items():
        if any(f.startswith("api/") for f in files):
            assert code in PROBLEM_CODES, f"{code} is sent by the API ({sorted(files)})"
        if any(f.startswith(("worker/", "jobs/")) for f in files):
            assert code in JOB_ERROR_CODES, f"{code} is set on jobs ({sorted(files)})"
    assert _http_fallback_codes() <= set(PROBLEM_CODES)
    classes: list[type[KneecaveError]] = [KneecaveError]
    while classes:
        cls = classes.pop()
        assert cls.code in published, cls.__name__
        classes += cls.__subclasses__()


def test_codes_are_enums_in_the_document(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert schemas["ProblemCode"]["enum"] == list(PROBLEM_CODES)
    assert schemas["JobErrorCode"]["enum"] == list(JOB_ERROR_CODES)
    assert schemas["Problem"]["properties"]["code"] == {"$ref": "#/components/schemas/ProblemCode"}
    assert schemas["JobError"]["properties"]["code"] == {
        "$ref": "#/components/schemas/JobErrorCode"
    }


def test_docs_list_every_code() -> None:
    docs = (REPO / "docs" / "api.md").read_text()
    errors = docs[docs.index("## Errors") :]
    missing = [c for c in {*PROBLEM_CODES, *JOB_ERROR_CODES} if f"| `{c}` |" not in errors]
    assert missing == []


def test_500_on_every_operation(spec: dict[str, Any]) -> None:
    for path, method, op in operations(spec):
        error = op["responses"].get("500")
        assert error is not None, f"{method} {path}"
        content = error["content"]["application/problem+json"]
        assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
        assert content["example"]["code"] == "internal_error"


def test_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    """Against the OpenAPI 3.1 meta-schema (the copy schemathesis ships)."""
    assert spec["openapi"].startswith("3.1")
    errors = [str(e) for e in definitions.OPENAPI_31_VALIDATOR.iter_errors(spec)]
    assert errors == []


if __name__ == "__main__":
    regenerate()
    print(f"wrote {Path(EXAMPLE_PATH).relative_to(REPO)}")
