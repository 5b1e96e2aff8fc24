"""Request ids end to end over real HTTP: taken from the client or made, echoed on every
answer (errors and parse failures included), in every problem body, and on the access-log
line with the tenant and the job id (issue 11)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bad_inputs import raw_http
from tests.service_support import Server, make_env, upload, wait_for

MADE = re.compile(r"req_[0-9a-f]{32}")


@pytest.fixture(scope="module")
def server_and_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    tmp = tmp_path_factory.mktemp("request-ids")
    with make_env("sqlite", tmp) as env:
        key = env.create_key("acme").api_key
        server = Server(env, tmp, workers=0)
        yield server, key
        server.stop()


def _log_lines(server: Server, request_id: str) -> list[dict[str, object]]:
    time.sleep(0.2)  # the access line is written as the answer leaves
    lines = [json.loads(x) for x in server.log().splitlines() if x.startswith("{")]
    return [x for x in lines if x.get("request_id") == request_id]


def test_client_id_is_echoed_and_logged_with_tenant_and_job(
    server_and_key: tuple[Server, str],
) -> None:
    server, key = server_and_key
    with server.client(key) as c:
        c.headers["X-Request-Id"] = "app-42.upload"
        r = upload(c)
    assert r.status_code == 202
    assert r.headers["x-request-id"] == "app-42.upload"
    access = [x for x in _log_lines(server, "app-42.upload") if x.get("status") == 202]
    assert access, "no access-log line carries the request id"
    assert access[0]["tenant"] == "acme"
    assert access[0]["job_id"] == r.json()["id"]


def test_made_when_absent_or_unusable_and_in_problem_bodies(
    server_and_key: tuple[Server, str],
) -> None:
    server, key = server_and_key
    with server.client(key) as c:
        ok = c.get("/v1/jobs")
        missing = c.get("/v1/jobs/job_0123456789abcdef0123456789abcdef")
        odd = c.get("/v1/jobs", headers={"X-Request-Id": "has spaces and <tags>"})
    with server.client(None) as anon:
        denied = anon.get("/v1/jobs", headers={"X-Request-Id": "mine-1"})
    assert MADE.fullmatch(ok.headers["x-request-id"])
    assert MADE.fullmatch(odd.headers["x-request-id"])
    assert missing.json()["request_id"] == missing.headers["x-request-id"]
    assert denied.status_code == 401
    assert denied.json()["request_id"] == "mine-1" == denied.headers["x-request-id"]


def test_requests_the_parser_refuses_get_an_id_too(server_and_key: tuple[Server, str]) -> None:
    server, _ = server_and_key
    answer = raw_http(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    rid = json.loads(body)["request_id"]
    assert MADE.fullmatch(rid)
    assert f"x-request-id: {rid}".encode() in head.lower()


def test_the_worker_logs_the_upload_request_id(tmp_path: Path) -> None:
    """One id finds the upload and the analysis it started: the worker's lines carry it."""
    with make_env("sqlite", tmp_path) as env:
        key = env.create_key("acme").api_key
        server = Server(env, tmp_path, workers=1)
        try:
            with server.client(key) as c:
                c.headers["X-Request-Id"] = "app-7.upload"
                job_id = upload(c).json()["id"]
                del c.headers["X-Request-Id"]
                assert wait_for(c, job_id)["status"] == "succeeded"
            lines = _log_lines(server, "app-7.upload")
        finally:
            server.stop()
    worker = [x for x in lines if x.get("msg") in ("job started", "job finished")]
    assert {x["msg"] for x in worker} == {"job started", "job finished"}, lines
    assert all(x["job_id"] == job_id and x["tenant"] == "acme" for x in worker)
