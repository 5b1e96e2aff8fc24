"""The dev key stops working once a real key exists (docs/api.md, the serve banner), on a
running server too: it is printed on stderr and kept in a file, so it must not outlive
the switch to real keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.service_support import Server, make_env


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_dev_key_stops_working_when_a_real_key_is_created(tmp_path: Path, kind: str) -> None:
    with make_env(kind, tmp_path) as env:
        server = Server(env, tmp_path, workers=0)
        try:
            found = re.search(r"Authorization: Bearer (kc_\S+)", server.log())
            assert found, server.log()
            dev_key = found[1]
            with server.client(dev_key) as c:
                assert c.get("/v1/jobs").status_code == 200
            created = env.kneecave("keys", "create", "--tenant", "acme")
            assert created.returncode == 0, created.stderr
            real_key = re.search(r"api key:\s+(\S+)", created.stdout)
            assert real_key
            with server.client(dev_key) as c:
                assert c.get("/v1/jobs").status_code == 401
            with server.client(real_key[1]) as c:
                assert c.get("/v1/jobs").status_code == 200
        finally:
            server.stop()
        # The next start shows no dev key and removes the saved (revoked) one.
        saved = env.data_dir / "dev-api-key"
        assert saved.exists()
        again = Server(env, tmp_path, workers=0)
        try:
            assert "DEV key" not in again.log()
            assert not saved.exists()
        finally:
            again.stop()
