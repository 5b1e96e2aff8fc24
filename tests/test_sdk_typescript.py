"""The TypeScript SDK (sdk/typescript, `@kneecave/sdk`): its node tests (`npm test`: unit tests
against local HTTP servers, then the live ones) against a real `kneecave serve` with an embedded
worker, and its checks: eslint, `tsc --noEmit`, OpenAPI drift, and what `npm pack` ships.

`make test` installs the node modules (`npm ci`) before pytest runs.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service.pipeline.keypoints import Keypoints
from service.pipeline.scoring import score_keypoints
from tests.clips import REPO, reference_path
from tests.service_support import SHORT_CLIP, Server, make_env

SDK = REPO / "sdk" / "typescript"
NPM = shutil.which("npm") or "npm"
KEYPOINTS_CLIP = "front_highbar_backsquat_1rep"
# Budgets of the test server, given explicitly so the live tests can check RateLimit exactly.
LIMITS = {"poll_rate_limit_per_minute": 3000, "rate_limit_per_minute": 600}


def npm(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Runs npm in sdk/typescript and returns its stdout; fails the test (with all of its
    output) when it exits non-zero."""
    if not (SDK / "node_modules" / ".package-lock.json").exists():
        pytest.fail("sdk/typescript/node_modules is missing: run `make test` (or npm ci there)")
    proc = subprocess.run(
        [NPM, *args],
        cwd=SDK,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = proc.stdout + proc.stderr
    # node --test prints every test: show the failed ones (a YAML block after "not ok").
    failed = re.findall(r"^ *not ok .*?(?=^ *(?:ok|not ok|# Subtest) |\Z)", output, re.M | re.S)
    shown = "\n".join(block[:3000] for block in failed) or output[-8000:]
    assert proc.returncode == 0, f"npm {' '.join(args)} exited {proc.returncode}:\n{shown}"
    return proc.stdout


def _nested(array: np.ndarray) -> list[Any]:
    return [
        [[None if math.isnan(v) else float(v) for v in lm] for lm in frame]
        for frame in array.tolist()
    ]


def _keypoints_files(tmp: Path) -> tuple[Path, Path]:
    """A keypoints request from the reference landmarks, and what the scorer makes of it."""
    kp = Keypoints.load(reference_path(KEYPOINTS_CLIP))
    body = {
        "landmarks": _nested(kp.landmarks),
        "fps": kp.fps,
        "width": kp.width,
        "height": kp.height,
        "t_s": kp.t_s.tolist(),
        "world": _nested(kp.world),
    }
    expected = score_keypoints(kp, view="auto", pose_model="client").model_dump(mode="json")
    request, result = tmp / "keypoints.json", tmp / "expected.json"
    request.write_text(json.dumps(body))
    result.write_text(json.dumps(expected))
    return request, result


@pytest.fixture(scope="module")
def live_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("sdk_ts")
    with make_env("sqlite", tmp) as env:
        key = env.create_key("acme")
        # One embedded worker; webhooks to the test's receiver on 127.0.0.1; a 1 s poll hint.
        server = Server(env, tmp, workers=1, webhook_allow_private=True, retry_after_s=1, **LIMITS)
        keypoints, expected = _keypoints_files(tmp)
        try:
            yield {
                **os.environ,
                "KNEECAVE_BASE_URL": server.url,
                "KNEECAVE_API_KEY": key.api_key,
                "KNEECAVE_TEST_WEBHOOK_SECRET": key.webhook_secret,
                "KNEECAVE_TEST_CLIP": str(SHORT_CLIP),
                "KNEECAVE_TEST_KEYPOINTS": str(keypoints),
                "KNEECAVE_TEST_EXPECTED": str(expected),
                "KNEECAVE_TEST_POLL_RATE": str(LIMITS["poll_rate_limit_per_minute"]),
                "KNEECAVE_TEST_SUBMIT_RATE": str(LIMITS["rate_limit_per_minute"]),
            }
        finally:
            server.stop()


def test_node_tests_pass_against_the_real_server(live_env: dict[str, str]) -> None:
    output = npm("test", env=live_env)
    summary = re.findall(r"^# (pass|fail|skipped|cancelled) (\d+)", output, re.M)
    counts = {k: int(v) for k, v in summary}
    # Every test ran: a live test skips without KNEECAVE_BASE_URL, and a skip here is a failure.
    assert counts.get("fail") == 0, output[-4000:]
    assert counts.get("cancelled") == 0, output[-4000:]
    assert counts.get("skipped") == 0, output[-4000:]
    assert counts.get("pass", 0) >= 34, output[-4000:]
    for name in (
        "score() a real clip",
        "iterJobs() pages",
        "the README's TypeScript example",
        "getLandmarks() of a scored clip",
        "lastRateLimit reports the poll and submit budgets",
    ):
        assert re.search(rf"^ok \d+ - {re.escape(name)}", output, re.M), f"{name!r} did not pass"


def test_lint_and_types_are_clean() -> None:
    npm("run", "lint")
    npm("run", "typecheck")


def test_generated_types_match_the_servers_openapi() -> None:
    output = npm("run", "drift")
    assert "matches the server's OpenAPI document" in output


def test_the_package_ships_only_dist_readme_and_package_json() -> None:
    npm("run", "build")
    packed = json.loads(npm("pack", "--dry-run", "--json", "--ignore-scripts"))
    files = {f["path"] for f in packed[0]["files"]}
    assert {"package.json", "README.md", "dist/index.js", "dist/index.d.ts"} <= files
    stray = {f for f in files - {"package.json", "README.md"} if not f.startswith("dist/")}
    assert not stray, f"npm pack would ship {sorted(stray)}"
    # Zero runtime dependencies: the platform's fetch, FormData, Blob and Web Crypto only.
    manifest = json.loads((SDK / "package.json").read_text())
    assert "dependencies" not in manifest
    assert "peerDependencies" not in manifest
