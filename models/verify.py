"""Dev tool: compare models/*.onnx against the original TFLite models, and time them.

Not part of the test suite: it needs a TFLite interpreter, which the project venv does
not carry. Make a side venv once and this script re-runs itself there:

    python3 -m venv /tmp/tflite-venv
    /tmp/tflite-venv/bin/pip install ai-edge-litert onnxruntime opencv-python-headless numpy
    .venv/bin/python models/verify.py            # numeric diff per output
    .venv/bin/python models/verify.py --bench    # plus ms/frame, ORT vs TFLite, 2 threads

(KNEECAVE_TFLITE_PYTHON overrides the side interpreter's path.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zipfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort

MODELS_DIR = Path(__file__).resolve().parent
REPO = MODELS_DIR.parent
CLIP = REPO.parent / "shared" / "clips" / "front_valgus_then_correct.mp4"
SIDE_PYTHON = Path(os.environ.get("KNEECAVE_TFLITE_PYTHON", "/tmp/tflite-venv/bin/python"))


def _reexec_in_side_venv() -> None:
    try:
        import ai_edge_litert  # noqa: F401, PLC0415 (only in the side venv)
    except ImportError:
        if not SIDE_PYTHON.exists():
            sys.exit(f"no TFLite interpreter here and no side venv at {SIDE_PYTHON}; see --help")
        os.execv(str(SIDE_PYTHON), [str(SIDE_PYTHON), __file__, *sys.argv[1:]])


def letterbox(frame_bgr: np.ndarray, size: int) -> np.ndarray:
    """RGB float32 in [0, 1], aspect kept, zero borders (as MediaPipe's ImageToTensor)."""
    h, w = frame_bgr.shape[:2]
    s = size / max(h, w)
    nh, nw = round(h * s), round(w * s)
    small = cv2.resize(frame_bgr, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.zeros((size, size, 3), np.float32)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top : top + nh, left : left + nw] = small[:, :, ::-1] / 255.0
    return out


def person_crop(frame_bgr: np.ndarray, size: int) -> np.ndarray:
    """A square crop around the frame's middle: a landmark-model-like input with a body in it."""
    h, w = frame_bgr.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    return letterbox(frame_bgr[y0 : y0 + side, x0 : x0 + side], size)


def clip_frames(n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(CLIP))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    frames = []
    for k in range(n):
        cap.set(cv2.CAP_PROP_POS_FRAMES, int((k + 0.5) * total / n))
        ok, frame = cap.read()
        if ok:
            frames.append(frame)
    cap.release()
    if not frames:
        sys.exit(f"could not read frames from {CLIP}")
    return frames


def model_inputs(name: str, size: int, n_frames: int) -> np.ndarray:
    """Random inputs over the model's value range, then real frames, scaled as the model wants."""
    rng = np.random.default_rng(0)
    frames = clip_frames(n_frames)
    prep: Callable[[np.ndarray, int], np.ndarray] = (
        letterbox if name == "pose_detection" else person_crop
    )
    real = np.stack([prep(f, size) for f in frames])
    rand = rng.random((3, size, size, 3), dtype=np.float32)
    x = np.concatenate([rand, real])
    # Detector wants [-1, 1], landmark model [0, 1] (models/README.md).
    return (x * 2.0 - 1.0).astype(np.float32) if name == "pose_detection" else x


def tflite_runner(
    buf: bytes, threads: int = 2
) -> tuple[Any, Callable[[np.ndarray], dict[str, np.ndarray]]]:
    from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415 (side venv only)

    interp = Interpreter(model_content=buf, num_threads=threads)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]["index"]
    outs = interp.get_output_details()

    def run(x: np.ndarray) -> dict[str, np.ndarray]:
        interp.set_tensor(inp, x[None])
        interp.invoke()
        return {o["name"]: interp.get_tensor(o["index"])[0].copy() for o in outs}

    return interp, run


def ort_session(path: Path, threads: int = 2) -> Any:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def compare(spec: dict[str, Any], buf: bytes, n_frames: int) -> None:
    size = spec["inputs"][0]["shape"][1]
    x = model_inputs(spec["name"], size, n_frames)
    _, run_tfl = tflite_runner(buf)
    ref = [run_tfl(xi) for xi in x]
    sess = ort_session(MODELS_DIR / spec["onnx"])
    got = dict(
        zip(
            [o.name for o in sess.get_outputs()],
            sess.run(None, {spec["inputs"][0]["name"]: x}),
            strict=True,
        )
    )
    print(
        f"{spec['onnx']}: {len(x)} inputs (3 random, {len(x) - 3} frames of {CLIP.name}),"
        f" ORT batch {len(x)} vs TFLite one by one"
    )
    for o in spec["outputs"]:
        r = np.stack([ri[o["tflite"]] for ri in ref])
        g = got[o["name"]]
        assert g.shape == r.shape, (o["name"], g.shape, r.shape)
        parts = []
        for label, sl in (("random", slice(0, 3)), ("frames", slice(3, None))):
            diff = float(np.abs(g[sl] - r[sl]).max())
            scale = float(np.abs(r[sl]).max())
            parts.append(
                f"{label}: max|diff| {diff:8.2g} (max|ref| {scale:6.3g}, "
                f"rel {diff / max(scale, 1e-12):7.1e})"
            )
        print(f"  {o['name']:10s} {g.shape!s:16s} " + "; ".join(parts))


def time_it(fn: Callable[[], Any], per: int, seconds: float = 3.0) -> float:
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return (time.perf_counter() - t0) / n / per * 1e3


def bench(spec: dict[str, Any], buf: bytes, batches: Sequence[int], threads: int) -> None:
    size = spec["inputs"][0]["shape"][1]
    name = spec["inputs"][0]["name"]
    sess = ort_session(MODELS_DIR / spec["onnx"], threads)
    rng = np.random.default_rng(1)
    for b in batches:
        x = rng.random((b, size, size, 3), dtype=np.float32)
        ms = time_it(partial(sess.run, None, {name: x}), b)
        print(f"  {threads} thr  ORT CPU          {spec['onnx']:24s} batch {b}: {ms:6.2f} ms/frame")
    _, run_tfl = tflite_runner(buf, threads)
    x1 = rng.random((size, size, 3), dtype=np.float32)
    ms = time_it(lambda: run_tfl(x1), 1)
    print(
        f"  {threads} thr  TFLite (XNNPACK) {spec['onnx']:24s} batch 1: {ms:6.2f} ms/frame"
        " (TFLite graph: all outputs, incl. dropped ones)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5, help="real frames per model")
    parser.add_argument("--bench", action="store_true", help="also time ORT and TFLite")
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1, 2], help="thread counts to time"
    )
    args = parser.parse_args()
    _reexec_in_side_venv()
    manifest = json.loads((MODELS_DIR / "manifest.json").read_text())
    wheel = MODELS_DIR / "build" / manifest["source"]["wheel"]
    if not wheel.exists():
        sys.exit(f"{wheel} missing: run `.venv/bin/python models/build.py` first")
    with zipfile.ZipFile(wheel) as zf:
        tflites = {s["name"]: zf.read(s["member"]) for s in manifest["models"]}
    for spec in manifest["models"]:
        compare(spec, tflites[spec["name"]], args.frames)
    if args.bench:
        print(f"timings on {os.cpu_count()} CPUs (shared machines are noisy):")
        for threads in args.threads:
            for spec in manifest["models"]:
                batches = (1, 8) if spec["name"] != "pose_detection" else (1,)
                bench(spec, tflites[spec["name"]], batches, threads)


if __name__ == "__main__":
    main()
