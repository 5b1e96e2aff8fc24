"""The Python SDK's types: its models equal the server's OpenAPI schemas (a renamed server field
fails here), the SDK is mypy --strict clean, and an app's code type-checks against the SDK as
installed from its wheel (not only as this checkout's editable source)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import ModuleType

import pytest

from tests.clips import REPO

SDK = REPO / "sdk" / "python"
BIN = Path(sys.executable).parent

# An app's code: attribute access all the way down must type-check, with no Any in between.
CONSUMER = """
from __future__ import annotations

import asyncio

from kneecave_sdk import (
    AsyncClient,
    Client,
    Job,
    JobEvent,
    JobFailedError,
    JobLandmarks,
    RateLimit,
    RateLimitError,
    ScoreResult,
    verify_webhook,
)
from kneecave_sdk.types import KneeSide, Rep, Severity


def show(job: Job) -> None:
    print(f"{job.status} {job.progress:.0%}")


def first_rep(path: str) -> tuple[Severity | None, float | None]:
    with Client(poll_interval=0.5) as kc:
        job = kc.wait(kc.create_job(path, view="front"), on_progress=show, timeout=60)
        assert job.result is not None
        rep: Rep = job.result.reps[0]
        left: KneeSide | None = rep.knee_cave.left
        return rep.knee_cave.severity, left.deviation_leg if left else None


def cues(path: str) -> list[str]:
    with Client() as kc:
        try:
            result: ScoreResult = kc.score(path, on_progress=show)
        except JobFailedError as exc:
            return [f"{exc.code}: {exc.detail}"]
        return [cue.text for cue in result.summary.cues]


def knees(job: Job) -> tuple[list[int | None] | None, int | None]:
    with Client() as kc:
        try:
            marks: JobLandmarks = kc.get_landmarks(job)
        except RateLimitError as exc:
            return None, exc.rate_limit.reset_s if exc.rate_limit else None
        budget: RateLimit | None = kc.last_rate_limit
        left = marks.names.index("left_knee")
        frame = marks.points[0]
        remaining = budget.remaining if budget else None
        return (frame[2 * left : 2 * left + 2] if frame else None), remaining


async def score_async(path: str) -> int:
    async with AsyncClient() as kc:
        async for job in kc.iter_jobs(limit=10):
            print(job.id, job.created_at.isoformat())
        result = await kc.score(path)
        return result.rep_count


def on_webhook(body: bytes, headers: dict[str, str], secret: str) -> str | None:
    event = verify_webhook(body, headers, secret)
    if isinstance(event, JobEvent) and event.data.error is not None:
        return event.data.error.code
    return None


asyncio.run(score_async("squat.mp4"))
"""
# The same app with a typo: mypy must catch it, or the types above were Any.
TYPO = "from kneecave_sdk import ScoreResult\n\n\ndef f(r: ScoreResult) -> object:\n"
TYPO += "    return r.reps[0].knee_cav\n"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_models", SDK / "scripts" / "generate_models.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_models_equal_the_servers_openapi(capsys: pytest.CaptureFixture[str]) -> None:
    code = _load_generator().main(["--check"])
    assert code == 0, capsys.readouterr().err[-6000:]


def _run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_sdk_is_mypy_strict_clean() -> None:
    proc = _run([str(BIN / "mypy"), "src"], SDK)  # sdk/python/pyproject.toml: strict
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def _install_wheel(tmp_path: Path) -> Path:
    """A venv whose only kneecave_sdk is the built wheel; httpx and pydantic come from ours."""
    source = tmp_path / "src"
    shutil.copytree(SDK, source, ignore=shutil.ignore_patterns("*.egg-info", "build", ".*"))
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    proc = _run([*build, "-w", str(wheels), str(source)], tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (wheel,) = wheels.glob("kneecave_sdk-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            tmp_path,
        ).stdout.strip()
    )
    # A plain path line: our site-packages' own .pth files (the editable SDK) are not read.
    (purelib / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(purelib)]
    proc = _run([*install, str(wheel)], tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    where = _run([str(python), "-c", "import kneecave_sdk; print(kneecave_sdk.__file__)"], tmp_path)
    assert where.stdout.startswith(str(purelib)), where.stdout + where.stderr
    assert (purelib / "kneecave_sdk" / "py.typed").exists()
    return python


@pytest.mark.parametrize("install", ["wheel", "editable"])
def test_an_app_type_checks_against_the_installed_sdk(tmp_path: Path, install: str) -> None:
    python = _install_wheel(tmp_path) if install == "wheel" else Path(sys.executable)
    app = tmp_path / "app"
    app.mkdir()
    (app / "consumer.py").write_text(CONSUMER)
    (app / "typo.py").write_text(TYPO)
    mypy = [str(BIN / "mypy"), "--strict", "--python-executable", str(python)]
    mypy += ["--cache-dir", str(tmp_path / "mypy-cache"), "consumer.py", "typo.py"]
    proc = _run(mypy, app)
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    assert errors == [
        'typo.py:5: error: "Rep" has no attribute "knee_cav"; maybe "knee_cave"?  [attr-defined]'
    ], proc.stdout[-4000:] + proc.stderr[-2000:]
