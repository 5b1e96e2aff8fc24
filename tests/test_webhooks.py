"""Webhook delivery against a real HTTP receiver on 127.0.0.1 that verifies Standard Webhooks
signatures, plus the SSRF guard (syntax, resolved addresses, and DNS rebinding at connect time)."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from service import webhooks
from service.errors import WebhookURLError
from service.webhooks import (
    DeliveryAttempt,
    WebhookSender,
    generate_webhook_secret,
    validate_webhook_url,
)

SECRET = generate_webhook_secret()


@dataclass
class Step:
    """One scripted reply of the receiver."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    at: float
    verified: bool


class Receiver:
    """A threaded http.server that replies from a script and checks every signature it gets."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.plan: list[Step] = []
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/kneecave"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, body: bytes, headers: dict[str, str]) -> tuple[Step, bool]:
        try:
            Webhook(self.secret).verify(body, headers)
            verified = True
        except WebhookVerificationError:
            verified = False
        with self._lock:
            self.received.append(Received(body, headers, time.monotonic(), verified))
            step = self.plan.pop(0) if self.plan else Step()
        return step, verified

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                step, verified = receiver._record(body, dict(self.headers.items()))
                time.sleep(step.delay_s)
                try:
                    # An unverifiable request is refused the way a real receiver would (401).
                    self.send_response(step.status if verified else 401)
                    for name, value in step.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender timed out and hung up; that is the point of the test

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(SECRET) as r:
        yield r


def sender(**overrides: Any) -> WebhookSender:
    options: dict[str, Any] = {
        "timeout_s": 2.0,
        "max_attempts": 3,
        "allow_private": True,  # the receiver is on loopback
        "backoff_s": 0.01,
    }
    options.update(overrides)
    secret = options.pop("secret", SECRET)
    return WebhookSender(secret, **options)


def deliver(
    s: WebhookSender, url: str, payload: dict[str, Any] | None = None
) -> list[DeliveryAttempt]:
    return asyncio.run(
        s.deliver(
            url,
            msg_id="msg_job123_succeeded",
            event_type="job.succeeded",
            payload=payload or {"id": "job123", "status": "succeeded"},
        )
    )


# --- signing -------------------------------------------------------------------------------------


def test_signature_verifies_and_body_is_the_event(receiver: Receiver) -> None:
    attempts = deliver(sender(), receiver.url, {"id": "job123", "rep_count": 5})
    assert [a.ok for a in attempts] == [True]
    assert attempts[0].status_code == 200
    (got,) = receiver.received
    assert got.verified
    event = Webhook(SECRET).verify(got.body, got.headers)
    assert event["type"] == "job.succeeded"
    assert event["data"] == {"id": "job123", "rep_count": 5}
    assert event["timestamp"].endswith("+00:00")
    assert got.headers["webhook-id"] == "msg_job123_succeeded"
    assert got.headers["content-type"] == "application/json"


def test_tampered_body_fails_verification(receiver: Receiver) -> None:
    deliver(sender(), receiver.url)
    (got,) = receiver.received
    tampered = got.body.replace(b'"succeeded"}', b'"failed"}')
    assert tampered != got.body
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(tampered, got.headers)


def test_wrong_secret_is_rejected_by_receiver_and_not_retried(receiver: Receiver) -> None:
    attempts = deliver(sender(secret=generate_webhook_secret()), receiver.url)
    assert [(a.status_code, a.ok) for a in attempts] == [(401, False)]
    assert [r.verified for r in receiver.received] == [False]


def test_generate_webhook_secret_format() -> None:
    a, b = generate_webhook_secret(), generate_webhook_secret()
    assert a != b
    assert a.startswith("whsec_")
    assert len(base64.b64decode(a.removeprefix("whsec_"), validate=True)) == 24
    Webhook(a)  # the reference library accepts it


# --- retry policy --------------------------------------------------------------------------------


def test_500_then_200_is_retried_with_the_same_message_id(receiver: Receiver) -> None:
    receiver.plan = [Step(500), Step(200)]
    attempts = deliver(sender(), receiver.url)
    assert [(a.attempt, a.status_code, a.ok) for a in attempts] == [(1, 500, False), (2, 200, True)]
    assert attempts[0].error == "HTTP 500"
    assert all(r.verified for r in receiver.received)
    assert {r.headers["webhook-id"] for r in receiver.received} == {"msg_job123_succeeded"}
    # The event body is identical on every attempt (only the signed timestamp header may move).
    assert receiver.received[0].body == receiver.received[1].body


def test_400_is_not_retried(receiver: Receiver) -> None:
    receiver.plan = [Step(400), Step(200)]
    attempts = deliver(sender(), receiver.url)
    assert [(a.status_code, a.ok) for a in attempts] == [(400, False)]
    assert len(receiver.received) == 1


def test_timeout_is_retried(receiver: Receiver) -> None:
    receiver.plan = [Step(200, delay_s=1.5), Step(200)]
    attempts = deliver(sender(timeout_s=0.3), receiver.url)
    assert [a.ok for a in attempts] == [False, True]
    assert attempts[0].status_code is None
    assert attempts[0].error is not None
    assert "timeout" in attempts[0].error.lower()


def test_429_honours_retry_after(receiver: Receiver) -> None:
    receiver.plan = [Step(429, {"Retry-After": "1"}), Step(200)]
    attempts = deliver(sender(), receiver.url)
    assert [a.status_code for a in attempts] == [429, 200]
    first, second = receiver.received
    assert second.at - first.at >= 0.9  # backoff_s is 0.01, so only Retry-After explains the gap


def test_gives_up_after_max_attempts(receiver: Receiver) -> None:
    receiver.plan = [Step(503)] * 5
    attempts = deliver(sender(max_attempts=3), receiver.url)
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert not any(a.ok for a in attempts)
    assert len(receiver.received) == 3


def test_redirects_are_not_followed(receiver: Receiver) -> None:
    receiver.plan = [Step(307, {"Location": "http://169.254.169.254/latest/meta-data/"})]
    attempts = deliver(sender(), receiver.url)
    assert [(a.status_code, a.ok) for a in attempts] == [(307, False)]
    assert len(receiver.received) == 1


def test_connection_refused_is_retried() -> None:
    with Receiver(SECRET) as gone:
        url = gone.url
    attempts = deliver(sender(max_attempts=2), url)  # nothing listens on that port any more
    assert [(a.status_code, a.ok) for a in attempts] == [(None, False), (None, False)]


def test_retry_after_parsing() -> None:
    assert webhooks._retry_after_s("2") == 2.0
    assert webhooks._retry_after_s("100000") == webhooks.MAX_RETRY_AFTER_S
    assert webhooks._retry_after_s("-5") == 0.0
    assert webhooks._retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert webhooks._retry_after_s("soon") is None
    assert webhooks._retry_after_s("nan") is None


# --- SSRF guard ----------------------------------------------------------------------------------

REFUSED = [
    "http://127.0.0.1/hook",
    "http://localhost:8080/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:169.254.169.254]/hook",
    "http://[fe80::1]/hook",
    "http://0.0.0.0/hook",
    "http://2130706433/hook",  # 127.0.0.1 as a decimal integer
    "http://100.64.0.1/hook",  # carrier-grade NAT
    "http://224.0.0.1/hook",
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "https://user:pass@example.com/hook",
    "http:///no-host",
    "http://example.com:99999/hook",
]


@pytest.mark.parametrize("url", REFUSED)
def test_refused_urls(url: str) -> None:
    with pytest.raises(WebhookURLError) as info:
        validate_webhook_url(url, allow_private=False)
    assert info.value.code == "webhook_url_refused"
    assert info.value.status == 422


def test_allow_private_permits_loopback_and_normalises() -> None:
    assert validate_webhook_url("http://127.0.0.1:9000/h", allow_private=True) == (
        "http://127.0.0.1:9000/h"
    )
    assert validate_webhook_url("http://[::1]/h", allow_private=True) == "http://[::1]/h"
    assert (
        validate_webhook_url("HTTPS://Hooks.Example.COM:8443/p?q=1#frag", allow_private=True)
        == "https://hooks.example.com:8443/p?q=1"
    )
    # Scheme and user-info rules still hold when private targets are allowed.
    with pytest.raises(WebhookURLError):
        validate_webhook_url("ftp://127.0.0.1/h", allow_private=True)
    with pytest.raises(WebhookURLError):
        validate_webhook_url("http://u@127.0.0.1/h", allow_private=True)


def test_public_address_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_getaddrinfo(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        return [(2, 1, 6, "", ("93.184.215.14", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    assert validate_webhook_url("https://hooks.example.com/x", allow_private=False) == (
        "https://hooks.example.com/x"
    )


def test_host_with_any_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_getaddrinfo(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        return [(2, 1, 6, "", ("93.184.215.14", port)), (2, 1, 6, "", ("10.0.0.5", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(WebhookURLError, match=r"10\.0\.0\.5"):
        validate_webhook_url("https://hooks.example.com/x", allow_private=False)


def test_delivery_to_loopback_is_refused_without_allow_private(receiver: Receiver) -> None:
    attempts = deliver(sender(allow_private=False), receiver.url)
    assert len(attempts) == 1
    assert not attempts[0].ok
    assert attempts[0].error is not None
    assert attempts[0].error.startswith("webhook_url_refused")
    assert receiver.received == []


def test_dns_rebinding_is_caught_at_connect_time(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pre-flight lookup sees a public address, the connect-time lookup sees loopback.
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])

    async def rebinding_resolve(host: str, port: int) -> list[str]:
        return next(answers)

    monkeypatch.setattr(webhooks, "_resolve", rebinding_resolve)
    url = f"http://rebind.example:{receiver.port}/hook"
    attempts = deliver(sender(allow_private=False, max_attempts=1), url)
    assert [a.ok for a in attempts] == [False]
    assert attempts[0].error is not None
    assert "127.0.0.1" in attempts[0].error
    assert receiver.received == []


def test_guarded_transport_connects_to_the_checked_address(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Treat loopback as public for this test only, to prove the guarded path really connects to
    # the resolved IP while the request keeps the original Host (what TLS/SNI also relies on).
    async def resolve(host: str, port: int) -> list[str]:
        assert host == "hooks.example"
        return ["127.0.0.1"]

    monkeypatch.setattr(webhooks, "_resolve", resolve)
    monkeypatch.setattr(webhooks, "_refusal", lambda ip: None)
    url = f"http://hooks.example:{receiver.port}/hook"
    attempts = deliver(sender(allow_private=False), url)
    assert [a.ok for a in attempts] == [True]
    (got,) = receiver.received
    assert got.verified
    assert got.headers["Host"] == f"hooks.example:{receiver.port}"
    assert json.loads(got.body)["type"] == "job.succeeded"
