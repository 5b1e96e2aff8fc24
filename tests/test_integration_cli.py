"""The commands a deployer types: `kneecave keys …` and `kneecave serve` with no keys."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from tests.service_support import Env, Server, make_env


def kneecave(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    return env.kneecave(*args)


def test_keys_create_list_revoke_over_http(tmp_path: Path) -> None:
    with make_env("redis", tmp_path) as env:
        created = kneecave(env, "keys", "create", "--tenant", "acme")
        assert created.returncode == 0, created.stderr
        api_key = re.search(r"api key:\s+(\S+)", created.stdout)
        key_id = re.search(r"key id:\s+(\S+)", created.stdout)
        secret = re.search(r"webhook secret:\s+(whsec_\S+)", created.stdout)
        assert api_key
        assert key_id
        assert secret
        listed = kneecave(env, "keys", "list")
        assert key_id[1] in listed.stdout
        assert "acme" in listed.stdout
        assert api_key[1].split("_", 2)[2] not in listed.stdout  # never the secret
        server = Server(env, tmp_path, workers=0)
        try:
            with server.client(api_key[1]) as c:
                assert c.get("/v1/jobs").status_code == 200
                assert c.get("/v1/webhook-secret").json()["secret"] == secret[1]
                assert kneecave(env, "keys", "revoke", key_id[1]).returncode == 0
                assert c.get("/v1/jobs").status_code == 401
            assert kneecave(env, "keys", "revoke", "nosuchkey").returncode == 1
            time.sleep(0.2)
            assert api_key[1] not in server.log()  # keys never reach the logs
        finally:
            server.stop()


def _dev_key_of(server: Server) -> str | None:
    found = re.search(r"Authorization: Bearer (kc_\S+)", server.log())
    return None if found is None else found[1]


def test_serve_without_keys_prints_a_dev_key_kept_across_restarts(tmp_path: Path) -> None:
    with make_env("sqlite", tmp_path) as env:
        server = Server(env, tmp_path, workers=0)
        try:
            key = _dev_key_of(server)
            assert key, server.log()
            assert "DEV key" in server.log()
            with server.client(key) as c:
                assert c.get("/v1/jobs").status_code == 200
        finally:
            server.stop()
        # uvicorn re-raises SIGTERM after a clean shutdown, so the exit status says -15.
        assert server.popen.returncode in (0, -15)
        assert "Application shutdown complete" in server.log()
        saved = env.data_dir / "dev-api-key"
        assert saved.read_text().strip() == key
        assert saved.stat().st_mode & 0o777 == 0o600

        # A restart (or a second process on the same store) shows the same, working key.
        again = Server(env, tmp_path, workers=0)
        try:
            assert _dev_key_of(again) == key
            with again.client(key) as c:
                assert c.get("/v1/jobs").status_code == 200
        finally:
            again.stop()

        # Turned off: no key printed, and the one handed out no longer works.
        off = Server(env, tmp_path, workers=0, dev_key="false")
        try:
            assert _dev_key_of(off) is None
            assert "DEV key" not in off.log()
            with off.client(key) as c:
                assert c.get("/v1/jobs").status_code == 401
            assert not saved.exists()
        finally:
            off.stop()


def test_keys_create_refuses_unsafe_tenant_names_and_files_are_owner_only(
    tmp_path: Path,
) -> None:
    with make_env("sqlite", tmp_path) as env:
        for name in ("", "../../evil<script>", "a:b", "-x", "a" * 65, "a..b"):
            r = kneecave(env, "keys", "create", f"--tenant={name}")
            assert r.returncode == 2, (name, r.stdout)
            assert "tenant names are" in r.stderr
            assert "api key" not in r.stdout
        ok = kneecave(env, "keys", "create", "--tenant", "acme-gym_2.eu")
        assert ok.returncode == 0, ok.stderr
        db = [p for p in env.data_dir.rglob("*") if p.is_file()]
        assert db  # the job store (and its WAL files) exist now
        for path in (*db, env.data_dir):
            assert path.stat().st_mode & 0o077 == 0, path
