"""Model registry, integrity checks and execution-provider selection."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from service.config import REPO_MODELS_DIR, Settings
from service.errors import ModelError
from service.pipeline.pose.models import (
    DETECTOR,
    LANDMARK_FULL,
    file_sha256,
    load_session,
    models_command,
    models_fingerprint,
)

HAS_CUDA = "CUDAExecutionProvider" in ort.get_available_providers()


def _models_copy(tmp_path: Path, *, corrupt: bool = False, wrong_sha: bool = False) -> Path:
    out = tmp_path / "models"
    out.mkdir()
    manifest = json.loads((REPO_MODELS_DIR / "manifest.json").read_text())
    target = out / DETECTOR.filename
    if corrupt:
        target.write_bytes(b"\x08\x07not an onnx graph" * 100)
    else:
        shutil.copy(REPO_MODELS_DIR / DETECTOR.filename, target)
    for entry in manifest["models"]:
        if entry["name"] == DETECTOR.name:
            entry["onnx_sha256"] = "0" * 64 if wrong_sha else file_sha256(target)
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def test_cpu_is_the_default_device() -> None:
    settings = Settings()
    assert settings.device == "cpu"
    session = load_session(DETECTOR, settings)
    assert session.providers[0] == "CPUExecutionProvider"
    assert load_session(DETECTOR, settings) is session  # one session per process


def test_env_selects_cuda_and_fails_loudly_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    if HAS_CUDA:
        pytest.skip("this machine has CUDA; the failure path cannot be exercised")
    monkeypatch.setenv("KNEECAVE_DEVICE", "cuda")
    settings = Settings()
    assert settings.device == "cuda"
    with pytest.raises(ModelError, match="CUDAExecutionProvider") as err:
        load_session(LANDMARK_FULL, settings)
    assert err.value.code == "model_unavailable"


def test_wrong_hash_is_refused(tmp_path: Path) -> None:
    settings = Settings(models_dir=_models_copy(tmp_path, wrong_sha=True))
    with pytest.raises(ModelError, match="does not match"):
        load_session(DETECTOR, settings)


def test_corrupt_model_is_a_model_error(tmp_path: Path) -> None:
    settings = Settings(models_dir=_models_copy(tmp_path, corrupt=True))
    with pytest.raises(ModelError, match="cannot load"):
        load_session(DETECTOR, settings)


def test_missing_model_and_manifest(tmp_path: Path) -> None:
    models = _models_copy(tmp_path)
    (models / DETECTOR.filename).unlink()
    with pytest.raises(ModelError, match="missing"):
        load_session(DETECTOR, Settings(models_dir=models))
    with pytest.raises(ModelError, match="manifest"):
        load_session(LANDMARK_FULL, Settings(models_dir=tmp_path))


def test_models_command_verifies(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert models_command(argparse.Namespace(verify=True)) == 0
    out = capsys.readouterr().out
    assert "pose_detection" in out
    assert "ok" in out
    assert len(models_fingerprint()) == 12


def test_models_command_fails_on_bad_hash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.config import get_settings  # noqa: PLC0415 (cache cleared around the env change)

    monkeypatch.setenv("KNEECAVE_MODELS_DIR", str(_models_copy(tmp_path, wrong_sha=True)))
    get_settings.cache_clear()
    try:
        assert models_command(argparse.Namespace(verify=True)) == 1
    finally:
        get_settings.cache_clear()
    assert "BAD" in capsys.readouterr().out


@pytest.mark.gpu
def test_cuda_session_runs_on_the_gpu() -> None:
    if not HAS_CUDA:
        pytest.skip("no CUDAExecutionProvider in this onnxruntime")
    gpu = load_session(LANDMARK_FULL, Settings(device="cuda"))
    assert gpu.providers[0] == "CUDAExecutionProvider"
    cpu = load_session(LANDMARK_FULL, Settings(device="cpu"))
    x = np.random.default_rng(0).random((4, 256, 256, 3), dtype=np.float32)
    a, b = gpu.run(x), cpu.run(x)
    np.testing.assert_allclose(a["landmarks"], b["landmarks"], rtol=1e-2, atol=0.5)
