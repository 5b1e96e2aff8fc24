"""The ONNX pose models: pinned bytes, I/O contract, batching, and the converter's pieces.

The Makefile builds models/*.onnx before pytest runs, so missing files are a failure.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from tests.clips import REPO

MODELS_DIR = REPO / "models"


def _load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kneecave_models_build", MODELS_DIR / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


build = _load_build()
MANIFEST: dict[str, Any] = build.load_manifest()
SPECS = {s["name"]: s for s in MANIFEST["models"]}


@pytest.fixture(scope="module")
def sessions() -> dict[str, ort.InferenceSession]:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return {
        name: ort.InferenceSession(
            str(MODELS_DIR / s["onnx"]), so, providers=["CPUExecutionProvider"]
        )
        for name, s in SPECS.items()
    }


def _inputs(spec: dict[str, Any], batch: int, seed: int = 0) -> np.ndarray:
    size = spec["inputs"][0]["shape"][1]
    return np.random.default_rng(seed).random((batch, size, size, 3), dtype=np.float32)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_onnx_matches_pinned_hash(name: str) -> None:
    spec = SPECS[name]
    assert spec["onnx_sha256"], "manifest has no ONNX hash: run models/build.py --record-hashes"
    assert build.sha256_file(MODELS_DIR / spec["onnx"]) == spec["onnx_sha256"]


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("batch", [1, 3])
def test_io_contract(sessions: dict[str, ort.InferenceSession], name: str, batch: int) -> None:
    spec, sess = SPECS[name], sessions[name]
    assert [i.name for i in sess.get_inputs()] == [i["name"] for i in spec["inputs"]]
    assert [o.name for o in sess.get_outputs()] == [o["name"] for o in spec["outputs"]]
    assert sess.get_inputs()[0].shape[0] == "N"  # dynamic batch, by name
    outs = sess.run(None, {"image": _inputs(spec, batch)})
    for out, o in zip(outs, spec["outputs"], strict=True):
        assert out.dtype == np.float32
        assert out.shape == (batch, *o["shape"][1:]), o["name"]
        assert np.isfinite(out).all()


def test_landmark_outputs_exclude_segmentation() -> None:
    names = [o["name"] for o in SPECS["pose_landmark_full"]["outputs"]]
    assert names == ["landmarks", "pose_flag", "heatmap", "world"]


def test_pose_flag_is_a_probability(sessions: dict[str, ort.InferenceSession]) -> None:
    spec = SPECS["pose_landmark_full"]
    (flag,) = sessions["pose_landmark_full"].run(["pose_flag"], {"image": _inputs(spec, 3)})
    assert ((flag >= 0) & (flag <= 1)).all()


@pytest.mark.parametrize("name", sorted(SPECS))
def test_batched_equals_per_image(sessions: dict[str, ort.InferenceSession], name: str) -> None:
    spec, sess = SPECS[name], sessions[name]
    x = _inputs(spec, 3, seed=1)
    batched = sess.run(None, {"image": x})
    for k in range(len(x)):
        single = sess.run(None, {"image": x[k : k + 1]})
        for b, s, o in zip(batched, single, spec["outputs"], strict=True):
            scale = max(float(np.abs(s).max()), 1.0)
            np.testing.assert_allclose(
                b[k : k + 1], s, rtol=0, atol=1e-5 * scale, err_msg=o["name"]
            )


# --------------------------------------------------------------------------- DENSIFY


def test_densify_csr_rows() -> None:
    expected = np.array([[1, 0, 2, 0], [0, 0, 0, 0], [0, 3, 0, 0], [0, 0, 0, 4]], np.float32)
    dims = [
        build.DimMeta(dense_size=4),
        build.DimMeta(segments=np.array([0, 2, 2, 3, 4]), indices=np.array([0, 2, 1, 3])),
    ]
    got = build.densify(np.array([1, 2, 3, 4], np.float32), (4, 4), [0, 1], [], dims)
    np.testing.assert_array_equal(got, expected)


def test_densify_column_major_traversal() -> None:
    # Traversal order [1, 0]: columns outermost, CSR over rows within each column.
    expected = np.array([[1, 0, 2], [0, 0, 5], [3, 0, 0]], np.float16)
    dims = [
        build.DimMeta(dense_size=3),
        build.DimMeta(segments=np.array([0, 2, 2, 4]), indices=np.array([0, 2, 0, 1])),
    ]
    got = build.densify(np.array([1, 3, 2, 5], np.float16), (3, 3), [1, 0], [], dims)
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, expected)


def test_densify_block_sparse() -> None:
    # 4x4 in 2x2 blocks; block rows are CSR over block columns, blocks stored densely.
    expected = np.array([[1, 0, 2, 3], [0, 4, 0, 0], [0, 0, 5, 0], [0, 0, 0, 6]], np.float32)
    values = np.array([1, 0, 0, 4, 2, 3, 0, 0, 5, 0, 0, 6], np.float32)
    dims = [
        build.DimMeta(dense_size=2),
        build.DimMeta(segments=np.array([0, 2, 3]), indices=np.array([0, 1, 1])),
        build.DimMeta(dense_size=2),
        build.DimMeta(dense_size=2),
    ]
    got = build.densify(values, (4, 4), [0, 1, 2, 3], [0, 1], dims)
    np.testing.assert_array_equal(got, expected)


def test_densify_rejects_value_count_mismatch() -> None:
    dims = [
        build.DimMeta(dense_size=2),
        build.DimMeta(segments=np.array([0, 1, 2]), indices=np.array([0, 1])),
    ]
    with pytest.raises(build.BuildError):
        build.densify(np.array([1, 2, 3], np.float32), (2, 2), [0, 1], [], dims)


def test_same_padding_matches_tflite() -> None:
    # TF puts the odd pixel after: 224 -> 112 with a 3x3/2 kernel pads (0, 1).
    assert build.same_pads(224, 3, 2, 1) == (0, 1)
    assert build.same_pads(7, 5, 1, 1) == (2, 2)
    assert build.same_pads(8, 2, 2, 1) == (0, 0)


# --------------------------------------------------------------------------- build driver


def test_build_is_idempotent() -> None:
    paths = [MODELS_DIR / s["onnx"] for s in MANIFEST["models"]]
    before = [p.stat().st_mtime_ns for p in paths]
    assert build.build() is False
    assert [p.stat().st_mtime_ns for p in paths] == before


def test_tflite_hash_mismatch_is_an_error(tmp_path: Path) -> None:
    wheel = build.fetch_wheel(MANIFEST)
    spec = {**SPECS["pose_detection"], "tflite_sha256": "0" * 64}
    with pytest.raises(build.BuildError, match="sha256 mismatch"):
        build.read_tflite(wheel, spec)


def test_conversion_reproduces_pinned_bytes() -> None:
    # Rebuilding in memory must give the manifest's hash: the build is deterministic.
    wheel = build.fetch_wheel(MANIFEST)
    for spec in MANIFEST["models"]:
        data, _ = build.build_model(wheel, spec, MANIFEST)
        assert build.sha256_bytes(data) == spec["onnx_sha256"], spec["onnx"]
