"""POST /v1/webhooks/test over real HTTP: a signed `webhook.test` event reaches a local
receiver that verifies it with the tenant's secret; one attempt only; the SSRF guard and
URL rules of a job's webhook_url; auth and the submission rate limit (issue 11)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from tests.service_support import Server, make_env, upload
from tests.test_webhooks import Receiver, Step


@dataclass
class Deployment:
    server: Server
    api_key: str
    secret: str


@contextmanager
def _deploy(tmp: Path, **settings: object) -> Iterator[Deployment]:
    with make_env("sqlite", tmp) as env:
        key = env.create_key("acme")
        server = Server(env, tmp, workers=0, **settings)
        try:
            yield Deployment(server, key.api_key, key.webhook_secret)
        finally:
            server.stop()


@pytest.fixture(scope="module")
def private_ok(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Loopback receivers allowed (as in development), a 1 s delivery timeout."""
    tmp = tmp_path_factory.mktemp("hooktest-private")
    with _deploy(tmp, webhook_allow_private=True, webhook_timeout_s=1) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The default: the SSRF guard refuses loopback and private targets."""
    with _deploy(tmp_path_factory.mktemp("hooktest-guarded")) as deployment:
        yield deployment


def test_event_is_signed_with_the_tenant_secret_and_sent_once(private_ok: Deployment) -> None:
    with Receiver(private_ok.secret) as receiver, private_ok.server.client(private_ok.api_key) as c:
        r = c.post("/v1/webhooks/test", json={"url": receiver.url})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["delivered"] is True
    assert answer["status_code"] == 200
    assert answer["error"] is None
    assert answer["webhook_id"].startswith("msg_test_")
    (got,) = receiver.received
    assert got.verified
    event = Webhook(private_ok.secret).verify(got.body, got.headers)
    assert got.headers["webhook-id"] == answer["webhook_id"]
    assert event["type"] == "webhook.test"
    assert event["data"]["request_id"] == r.headers["x-request-id"]
    assert json.loads(got.body)["timestamp"]


def test_receiver_error_is_reported_not_retried(private_ok: Deployment) -> None:
    with Receiver(private_ok.secret) as receiver, private_ok.server.client(private_ok.api_key) as c:
        receiver.plan = [Step(500), Step(200)]
        r = c.post("/v1/webhooks/test", json={"url": receiver.url})
    assert r.status_code == 200, r.text
    assert r.json() | {"webhook_id": None} == {
        "delivered": False,
        "status_code": 500,
        "error": "HTTP 500",
        "webhook_id": None,
    }
    assert len(receiver.received) == 1, "a test event is sent once, never retried"


def test_wrong_secret_shows_as_the_receiver_refusing(private_ok: Deployment) -> None:
    """A receiver holding another secret refuses (401 here): the answer says so."""
    other = "whsec_" + "A" * 32
    with Receiver(other) as receiver, private_ok.server.client(private_ok.api_key) as c:
        r = c.post("/v1/webhooks/test", json={"url": receiver.url})
    assert (r.json()["delivered"], r.json()["status_code"]) == (False, 401)
    assert [x.verified for x in receiver.received] == [False]


def test_slow_receiver_times_out(private_ok: Deployment) -> None:
    with Receiver(private_ok.secret) as receiver, private_ok.server.client(private_ok.api_key) as c:
        receiver.plan = [Step(200, delay_s=2.5)]
        r = c.post("/v1/webhooks/test", json={"url": receiver.url})
        assert r.elapsed.total_seconds() < 2.5
    answer = r.json()
    assert answer["delivered"] is False
    assert answer["status_code"] is None
    assert "timeout" in answer["error"]


def test_unreachable_receiver(private_ok: Deployment) -> None:
    with Receiver(private_ok.secret) as receiver:
        url = receiver.url  # closed on leaving the block: nothing listens there any more
    with private_ok.server.client(private_ok.api_key) as c:
        r = c.post("/v1/webhooks/test", json={"url": url})
    assert r.status_code == 200
    assert r.json()["delivered"] is False
    assert r.json()["status_code"] is None
    assert r.json()["error"]


def test_no_api_key_is_401_and_sends_nothing(private_ok: Deployment) -> None:
    with Receiver(private_ok.secret) as receiver, private_ok.server.client(None) as anon:
        r = anon.post("/v1/webhooks/test", json={"url": receiver.url})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "unauthorized"
    assert receiver.received == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"url": "ftp://example.com/hook"}, 422, "webhook_url_refused"),
        ({"url": "https://user:pw@example.com/hook"}, 422, "webhook_url_refused"),
        ({"url": 5}, 422, "invalid_request"),
        ({}, 422, "invalid_request"),
        ({"url": "https://example.com/", "extra": 1}, 422, "invalid_request"),
        ("not json", 422, "invalid_request"),
    ],
)
def test_bad_bodies(private_ok: Deployment, body: object, status: int, code: str) -> None:
    with private_ok.server.client(private_ok.api_key) as c:
        if isinstance(body, str):
            r = c.post(
                "/v1/webhooks/test", content=body, headers={"content-type": "application/json"}
            )
        else:
            r = c.post("/v1/webhooks/test", json=body)
    assert (r.status_code, r.json()["code"]) == (status, code), r.text


def test_other_content_type_is_415(private_ok: Deployment) -> None:
    with private_ok.server.client(private_ok.api_key) as c:
        r = c.post("/v1/webhooks/test", content=b"url=x", headers={"content-type": "text/plain"})
    assert (r.status_code, r.json()["code"]) == (415, "unsupported_media_type")


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "10.0.0.7", "169.254.169.254", "[::1]", "localhost", "[::ffff:7f00:1]"]
)
def test_ssrf_guard_refuses_private_targets(guarded: Deployment, host: str) -> None:
    with Receiver(guarded.secret) as receiver:
        url = receiver.url.replace("127.0.0.1", host)
        with guarded.server.client(guarded.api_key) as c:
            r = c.post("/v1/webhooks/test", json={"url": url})
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "webhook_url_refused"
        assert receiver.received == []


def test_counts_against_the_submission_rate_limit(tmp_path: Path) -> None:
    with (
        _deploy(tmp_path, rate_limit_per_minute=3) as limited,
        limited.server.client(limited.api_key) as c,
    ):
        answers = [
            c.post("/v1/webhooks/test", json={"url": "http://127.0.0.1:9/"}) for _ in range(4)
        ]
        then_upload = upload(c)
    codes = [r.status_code for r in answers]
    assert codes == [422, 422, 422, 429], codes  # loopback is refused, then the budget is out
    assert answers[0].headers["ratelimit-policy"] == '"submit";q=3;w=60'
    assert answers[2].headers["ratelimit"].startswith('"submit";r=0;')
    refused = answers[codes.index(429)]
    assert refused.json()["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    assert then_upload.status_code == 429, "one budget with submissions"
