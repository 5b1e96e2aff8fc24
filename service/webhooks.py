"""Signed webhook delivery (Standard Webhooks) with retries and an SSRF guard.

The API calls ``validate_webhook_url`` when a job is created (a bad URL is a 422, not a failed
delivery later); the worker calls ``WebhookSender.deliver`` once a job reaches a terminal state.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import ipaddress
import json
import math
import random
import secrets
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx
from pydantic import BaseModel
from standardwebhooks import Webhook

from service.errors import WebhookURLError

__all__ = [
    "DeliveryAttempt",
    "WebhookSender",
    "generate_webhook_secret",
    "validate_webhook_url",
]

MAX_URL_LENGTH = 2048
# A receiver asking for a longer pause than this would stall a worker slot; cap it.
MAX_RETRY_AFTER_S = 60.0
MAX_BACKOFF_S = 60.0
USER_AGENT = "kneecave-webhooks/1"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_CHECKS = (
    ("loopback", "is_loopback"),
    ("private", "is_private"),
    ("link-local", "is_link_local"),
    ("multicast", "is_multicast"),
    ("reserved", "is_reserved"),
    ("unspecified", "is_unspecified"),
)


def generate_webhook_secret() -> str:
    """A signing secret in the Standard Webhooks format: ``whsec_`` + base64(24 random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def _embedded_v4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses inside an IPv6 one (::ffff:a.b.c.d, 6to4, NAT64): they reach v4 hosts."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be a webhook target, or None when it is a public address."""
    for inner in _embedded_v4(ip):
        reason = _refusal(inner)
        if reason is not None:
            return f"{reason} (embedded in {ip})"
    for name, attr in _CHECKS:
        if getattr(ip, attr):
            return name
    # Catch-all for ranges none of the above name (e.g. 100.64.0.0/10 carrier-grade NAT).
    if not ip.is_global:
        return "non-global"
    return None


def _parse(url: str) -> tuple[str, str, int]:
    """Syntax checks only: (normalised URL, host, port). Raises WebhookURLError."""
    if len(url) > MAX_URL_LENGTH:
        raise WebhookURLError(f"webhook URL longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise WebhookURLError("webhook URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        explicit_port = parts.port
    except ValueError as exc:
        raise WebhookURLError(f"malformed webhook URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise WebhookURLError(f"webhook URL scheme must be http or https, not {scheme or 'none'!r}")
    if "@" in parts.netloc:
        # Credentials in the URL would be logged and stored with the job; use the signature instead.
        raise WebhookURLError("webhook URL must not contain user info")
    if not parts.hostname:
        raise WebhookURLError("webhook URL has no host")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise WebhookURLError(f"webhook host is not a valid name: {exc}") from exc
    netloc = f"[{host}]" if ":" in host else host
    if explicit_port is not None:
        netloc += f":{explicit_port}"
    normalised = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    port = explicit_port or (443 if scheme == "https" else 80)
    return normalised, host, port


def _check_addresses(host: str, addresses: Iterable[str]) -> list[str]:
    """Refuse the host if ANY address is non-public (a resolver may rotate between them)."""
    checked: list[str] = []
    for address in addresses:
        ip = ipaddress.ip_address(address)
        reason = _refusal(ip)
        if reason is not None:
            raise WebhookURLError(f"webhook host {host} resolves to {ip}, a {reason} address")
        checked.append(str(ip))
    if not checked:
        raise WebhookURLError(f"webhook host {host} resolved to no address")
    return checked


def _addresses(infos: Iterable[tuple[Any, ...]]) -> list[str]:
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def _resolve(host: str, port: int) -> list[str]:
    """Async DNS lookup (module-level so tests can stand in for a rebinding resolver)."""
    loop = asyncio.get_running_loop()
    return _addresses(await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM))


def validate_webhook_url(url: str, *, allow_private: bool) -> str:
    """Return the normalised URL, or raise WebhookURLError (bad syntax or a non-public target)."""
    normalised, host, port = _parse(url.strip())
    if allow_private:
        return normalised
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise WebhookURLError(f"webhook host {host} cannot be resolved: {exc}") from exc
    _check_addresses(host, _addresses(infos))
    return normalised


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves and checks at connect time, then connects to the checked IP itself.

    This closes the DNS-rebinding window between the pre-flight check and the TCP connect;
    TLS still verifies the certificate against the original host name (httpcore passes SNI).
    """

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await _resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        last: Exception = httpcore.ConnectError(f"no address for {host}")
        for ip in _check_addresses(host, addresses):
            try:
                return await self._inner.connect_tcp(
                    ip, port, timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise WebhookURLError("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _guarded_transport() -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(retries=0)
    # httpx does not expose httpcore's network_backend, so swap the pool for one that uses the
    # guard (covered by the DNS-rebinding test: it fails if a httpx upgrade drops `_pool`).
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(), network_backend=_GuardedBackend()
    )
    return transport


class _Borrowed(httpx.AsyncBaseTransport):
    """An injected transport outlives each delivery's client; closing the client must spare it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        return None


class DeliveryAttempt(BaseModel):
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    ok: bool


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None = None
    error: str | None = None
    retry: bool = False
    retry_after_s: float | None = None


def _retry_after_s(value: str | None) -> float | None:
    """Retry-After as seconds (delta or HTTP date), clamped to [0, MAX_RETRY_AFTER_S]."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


class WebhookSender:
    """Delivers one event with retries; one ``msg_id`` on every attempt lets receivers dedupe."""

    def __init__(
        self,
        secret: str,
        *,
        timeout_s: float,
        max_attempts: int,
        allow_private: bool,
        backoff_s: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self._webhook = Webhook(secret)
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._allow_private = allow_private
        self._backoff_s = backoff_s
        self._transport = transport

    async def deliver(
        self, url: str, *, msg_id: str, event_type: str, payload: dict[str, Any]
    ) -> list[DeliveryAttempt]:
        body = json.dumps(
            {"type": event_type, "timestamp": datetime.now(UTC).isoformat(), "data": payload},
            separators=(",", ":"),
        )
        attempts: list[DeliveryAttempt] = []
        async with self._client() as client:
            for number in range(1, self._max_attempts + 1):
                at = datetime.now(UTC)
                outcome = await self._attempt(client, url, msg_id, body)
                ok = outcome.error is None
                attempts.append(
                    DeliveryAttempt(
                        attempt=number,
                        at=at,
                        status_code=outcome.status_code,
                        error=outcome.error,
                        ok=ok,
                    )
                )
                if ok or not outcome.retry or number == self._max_attempts:
                    break
                await asyncio.sleep(self._delay_s(number, outcome.retry_after_s))
        return attempts

    def _client(self) -> httpx.AsyncClient:
        transport: httpx.AsyncBaseTransport
        if self._transport is not None:
            transport = _Borrowed(self._transport)
        elif self._allow_private:
            transport = httpx.AsyncHTTPTransport(retries=0)
        else:
            transport = _guarded_transport()
        # trust_env=False: an env proxy would connect on our behalf and bypass the address check,
        # and .netrc credentials must never be sent to a customer's endpoint.
        return httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(self._timeout_s),
        )

    def _delay_s(self, attempt: int, retry_after_s: float | None) -> float:
        if retry_after_s is not None:
            return retry_after_s
        # "Equal jitter": at least half the exponential step, so retries from many jobs spread out.
        step = min(self._backoff_s * 2.0 ** (attempt - 1), MAX_BACKOFF_S)
        return step / 2 + random.uniform(0, step / 2)

    async def _preflight(self, url: str) -> str:
        """Re-validate at delivery time: DNS may have changed since the job was created."""
        target, host, port = _parse(url.strip())
        if not self._allow_private:
            _check_addresses(host, await _resolve(host, port))
        return target

    async def _attempt(
        self, client: httpx.AsyncClient, url: str, msg_id: str, body: str
    ) -> _Outcome:
        try:
            target = await self._preflight(url)
        except WebhookURLError as exc:
            return _Outcome(error=f"{exc.code}: {exc.detail}")
        except OSError as exc:
            return _Outcome(error=f"dns: {exc}", retry=True)
        now = datetime.now(UTC)
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._webhook.sign(msg_id, now, body),
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }
        try:
            # asyncio.timeout bounds the whole attempt; httpx's timeout is per read/write/connect,
            # so a receiver dripping one byte at a time would otherwise hold the worker.
            async with (
                asyncio.timeout(self._timeout_s),
                client.stream("POST", target, content=body.encode(), headers=headers) as response,
            ):
                # The body is never read: only the status matters, and it could be huge.
                status = response.status_code
                retry_after = response.headers.get("retry-after")
        except WebhookURLError as exc:
            return _Outcome(error=f"{exc.code}: {exc.detail}")
        except TimeoutError:
            return _Outcome(error=f"timeout after {self._timeout_s:g}s", retry=True)
        except httpx.TransportError as exc:
            return _Outcome(error=f"{type(exc).__name__}: {exc}", retry=True)
        if 200 <= status < 300:
            return _Outcome(status_code=status)
        return _Outcome(
            status_code=status,
            error=f"HTTP {status}",
            retry=status == 429 or status >= 500,
            retry_after_s=_retry_after_s(retry_after),
        )
