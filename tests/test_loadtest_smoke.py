"""The locust scenarios run, headless and briefly, against a real `kneecave serve`.

Not a performance test: it proves the locustfile works against the current API
(every request it makes succeeds) so the figures in loadtests/README.md can be
reproduced.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from tests.clips import REPO
from tests.service_support import Server, make_env

LOCUSTFILE = REPO / "loadtests" / "locustfile.py"


def test_locust_scenarios_run_without_failures(tmp_path: Path) -> None:
    with make_env("sqlite", tmp_path) as env:
        key = env.create_key("load-smoke").api_key
        server = Server(env, tmp_path)
        try:
            prefix = tmp_path / "locust"
            # One AppUser (upload + poll to terminal) and one KeypointsClient; the
            # synthetic video has no person in it, so its job ends quickly.
            args = ["--headless", "--only-summary", "-u", "2", "-r", "2", "-t", "10s"]
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "locust",
                    "-f",
                    str(LOCUSTFILE),
                    *args,
                    "--host",
                    server.url,
                    "--csv",
                    str(prefix),
                    "AppUser",
                    "KeypointsClient",
                ],
                cwd=REPO,
                env={**os.environ, "KNEECAVE_API_KEY": key},
                capture_output=True,
                text=True,
                timeout=90,
                check=False,
            )
        finally:
            server.stop()
    output = proc.stdout + proc.stderr
    # locust exits 1 when any request failed.
    assert proc.returncode == 0, output

    with (tmp_path / "locust_stats.csv").open() as f:
        rows = {r["Name"]: r for r in csv.DictReader(f)}
    counts = {name: int(r["Request Count"]) for name, r in rows.items() if name != "Aggregated"}
    failures = {name: int(r["Failure Count"]) for name, r in rows.items()}
    assert all(n == 0 for n in failures.values()), (failures, output)
    for name in ("POST /v1/jobs", "GET /v1/jobs/{id}", "POST /v1/score/keypoints"):
        assert counts.get(name, 0) >= 1, (name, counts, output)
