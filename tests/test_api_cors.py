"""CORS for browser apps on other origins: off unless CORS_ORIGINS names the origin; then the
preflight allows our request headers and the answer exposes the headers an app reads."""

from __future__ import annotations

from pathlib import Path

from tests.service_support import Server, make_env

APP = "https://app.example.com"


def _preflight(server: Server, origin: str) -> dict[str, str]:
    with server.client(None) as c:
        r = c.options(
            "/v1/jobs",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, idempotency-key",
            },
        )
    return dict(r.headers)


def test_cors_only_for_the_configured_origins(tmp_path: Path) -> None:
    with make_env("sqlite", tmp_path) as env:
        key = env.create_key("acme").api_key
        closed = Server(env, tmp_path, workers=0)
        try:
            assert "access-control-allow-origin" not in _preflight(closed, APP)
        finally:
            closed.stop()
        server = Server(env, tmp_path, workers=0, cors_origins=f"{APP}, https://b.example")
        try:
            allowed = _preflight(server, APP)
            assert allowed["access-control-allow-origin"] == APP
            asked = allowed["access-control-allow-headers"].lower()
            assert "authorization" in asked
            assert "idempotency-key" in asked
            assert "POST" in allowed["access-control-allow-methods"]
            assert "access-control-allow-origin" not in _preflight(server, "https://evil.example")
            with server.client(key) as c:
                r = c.get("/v1/jobs", headers={"Origin": APP})
            assert r.status_code == 200
            assert r.headers["access-control-allow-origin"] == APP
            exposed = {
                h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")
            }
            assert {
                "x-request-id",
                "ratelimit",
                "ratelimit-policy",
                "retry-after",
                "location",
            } <= exposed
        finally:
            server.stop()
