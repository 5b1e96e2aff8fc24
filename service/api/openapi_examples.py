"""Examples in the OpenAPI document: a real `ScoreResult` and jobs in each state.

The result is a stored output of the scorer (openapi_score_result.json, made by
`python -m tests.test_openapi` from a synthetic two-rep squat, the second with a
mild cave); tests/test_openapi.py fails once it no longer matches the models.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files
from typing import Any

from service.jobs.public import JOB_EXAMPLE

SCORE_RESULT_FILE = "openapi_score_result.json"

_JOB_ID = "job_3f2a9c1e7b4d4e0f8a6b5c4d3e2f1a0b"
_FINISHED = {
    "created_at": "2026-11-24T23:40:00Z",
    "started_at": "2026-11-24T23:40:01Z",
    "finished_at": "2026-11-24T23:40:09Z",
    "expires_at": "2026-12-01T23:40:09Z",
    "attempts": 1,
    "view": "auto",
    "exercise": "squat",
}
WEBHOOK_URL = "https://app.example.com/hooks/kneecave"


@lru_cache(maxsize=1)
def score_result_example() -> dict[str, Any]:
    text = files("service.api").joinpath(SCORE_RESULT_FILE).read_text(encoding="utf-8")
    example: dict[str, Any] = json.loads(text)
    return example


def succeeded_job_example() -> dict[str, Any]:
    return {
        "id": _JOB_ID,
        "status": "succeeded",
        "progress": 1.0,
        **_FINISHED,
        "webhook_url": WEBHOOK_URL,
        "result": score_result_example(),
        "error": None,
        "webhook_deliveries": [
            {
                "attempt": 1,
                "at": "2026-11-24T23:40:09Z",
                "status_code": 200,
                "error": None,
                "ok": True,
            }
        ],
    }


def failed_job_example() -> dict[str, Any]:
    return {
        "id": _JOB_ID,
        "status": "failed",
        "progress": 0.35,
        **_FINISHED,
        "webhook_url": None,
        "result": None,
        "error": {"code": "no_person", "detail": "no person found in any frame"},
        "webhook_deliveries": [],
    }


def job_examples() -> dict[str, dict[str, Any]]:
    """OpenAPI `examples` (name -> Example Object) for a response that is a job."""
    return {
        "processing": {
            "summary": "Still running (poll again after Retry-After)",
            "value": JOB_EXAMPLE,
        },
        "succeeded": {
            "summary": "Succeeded: `result` is the scoring result",
            "value": succeeded_job_example(),
        },
        "failed": {"summary": "Failed: `error.code` says why", "value": failed_job_example()},
    }
