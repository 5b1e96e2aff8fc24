"""Model registry, integrity checks and ONNX Runtime sessions.

One ``ModelSession`` per (model, device, threads) per process: sessions are
expensive to build and safe to share between threads. Every model file is
checked against the sha256 in models/manifest.json once per process before
its first session. The execution provider comes from a small backend table
(``BACKENDS``) instead of if/else around the code; asking for CUDA when it is
not really active raises ModelError instead of silently running on the CPU.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from service.config import Settings, get_settings
from service.errors import ModelError

try:
    import onnxruntime as ort
except ImportError as exc:  # the flavour is an extra (one of two that install one module)
    raise ModelError(
        "onnxruntime is not installed: pip install 'kneecave[cpu]' (or 'kneecave[gpu]')"
    ) from exc

Array = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What the pipeline needs to know about a model besides its weights."""

    name: str
    filename: str
    input_name: str
    input_size: int
    outputs: tuple[str, ...]


DETECTOR = ModelSpec("pose_detection", "pose_detection.onnx", "image", 224, ("boxes", "scores"))
LANDMARK_FULL = ModelSpec(
    "pose_landmark_full",
    "pose_landmark_full.onnx",
    "image",
    256,
    ("landmarks", "pose_flag", "heatmap", "world"),
)
REGISTRY: dict[str, ModelSpec] = {m.name: m for m in (DETECTOR, LANDMARK_FULL)}
LANDMARK_MODELS: dict[str, ModelSpec] = {"full": LANDMARK_FULL}


class InferenceBackend(Protocol):
    """How to build an ONNX Runtime session for one kind of device."""

    name: str

    def providers(self) -> list[str | tuple[str, dict[str, Any]]]: ...

    def check(self, session: ort.InferenceSession) -> None:
        """Raise ModelError if the session does not run where it was asked to."""


class CpuBackend:
    name = "cpu"

    def providers(self) -> list[str | tuple[str, dict[str, Any]]]:
        return ["CPUExecutionProvider"]

    def check(self, session: ort.InferenceSession) -> None:
        return None


class CudaBackend:
    name = "cuda"

    def providers(self) -> list[str | tuple[str, dict[str, Any]]]:
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ModelError(
                "KNEECAVE_DEVICE=cuda but this onnxruntime has no CUDAExecutionProvider "
                f"(available: {ort.get_available_providers()}); install kneecave[gpu] "
                "(onnxruntime-gpu) on a machine with a CUDA device"
            )
        return [("CUDAExecutionProvider", {"device_id": 0}), "CPUExecutionProvider"]

    def check(self, session: ort.InferenceSession) -> None:
        # ORT falls back to the CPU quietly when CUDA cannot start; refuse that.
        if session.get_providers()[0] != "CUDAExecutionProvider":
            raise ModelError(
                f"CUDA was requested but the session runs on {session.get_providers()}; "
                "check the CUDA/cuDNN libraries that onnxruntime-gpu needs"
            )


BACKENDS: dict[str, InferenceBackend] = {"cpu": CpuBackend(), "cuda": CudaBackend()}


class ModelSession:
    """An ONNX Runtime session for one model: ``run(batch)`` → named outputs."""

    def __init__(self, spec: ModelSpec, session: ort.InferenceSession, device: str) -> None:
        self.spec = spec
        self.device = device
        self._session = session

    @property
    def providers(self) -> list[str]:
        return list(self._session.get_providers())

    def run(self, batch: Array) -> dict[str, Array]:
        """Named outputs for ``batch``; ModelError when ONNX Runtime fails.

        Inputs are fixed-size crops, so no video can make a run fail: a failure is
        the device or the runtime (CUDA error, out of device memory, a broken
        provider), which the worker treats as fatal rather than as the job's fault.
        ORT's exceptions share no base class but Exception, hence the broad catch.
        """
        try:
            outputs = self._session.run(list(self.spec.outputs), {self.spec.input_name: batch})
        except Exception as exc:
            raise ModelError(f"{self.spec.name} failed on {self.device}: {exc}") from exc
        return dict(zip(self.spec.outputs, outputs, strict=True))

    def warmup(self) -> None:
        """One inference on a blank input: the provider allocates and tunes now, not on a job."""
        size = self.spec.input_size
        self.run(np.zeros((1, size, size, 3), np.float32))


_lock = threading.Lock()
_sessions: dict[tuple[str, Path, str, int], ModelSession] = {}


def load_session(spec: ModelSpec, settings: Settings | None = None) -> ModelSession:
    """The process-wide session for ``spec`` on the configured device (built on first use)."""
    settings = settings or get_settings()
    key = (spec.name, settings.models_dir.resolve(), settings.device, settings.threads)
    with _lock:
        if key not in _sessions:
            path = settings.models_dir / spec.filename
            verify_model(path, _manifest_sha256(settings.models_dir, spec.name))
            backend = BACKENDS[settings.device]
            options = ort.SessionOptions()
            options.intra_op_num_threads = settings.threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3
            # Idle pool threads sleep instead of spinning: the frame decoder thread
            # (and, on a shared box, other work) needs the cores ORT would burn.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            try:
                session = ort.InferenceSession(
                    str(path), sess_options=options, providers=backend.providers()
                )
            except ModelError:
                raise
            except Exception as exc:  # ORT raises bare RuntimeErrors/Fail for corrupt files
                raise ModelError(f"cannot load {path.name}: {exc}") from exc
            backend.check(session)
            _sessions[key] = ModelSession(spec, session, settings.device)
        return _sessions[key]


def read_manifest(models_dir: Path) -> Mapping[str, Any]:
    path = models_dir / "manifest.json"
    try:
        data: Mapping[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
    return data


def _manifest_sha256(models_dir: Path, name: str) -> str:
    for entry in read_manifest(models_dir).get("models", []):
        if entry.get("name") == name:
            sha = str(entry.get("onnx_sha256") or "")
            if sha:
                return sha
    raise ModelError(f"models/manifest.json has no onnx_sha256 for {name}; run models/build.py")


@cache
def _file_sha256(path: Path, mtime_ns: int, size: int) -> str:
    # Keyed on mtime and size so a rebuilt file is hashed again, an unchanged one once.
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    stat = path.stat()
    return _file_sha256(path.resolve(), stat.st_mtime_ns, stat.st_size)


def verify_model(path: Path, expected_sha256: str) -> None:
    if not path.is_file():
        raise ModelError(f"model file {path} is missing; run `make setup` (models/build.py)")
    actual = file_sha256(path)
    if actual != expected_sha256:
        raise ModelError(
            f"{path.name} sha256 {actual[:12]}… does not match the manifest's "
            f"{expected_sha256[:12]}…; rebuild it with models/build.py"
        )


def models_fingerprint(settings: Settings | None = None) -> str:
    """Short hash of the manifest sha256s of the models the engine uses (cache keys, results)."""
    settings = settings or get_settings()
    names = [DETECTOR.name, LANDMARK_MODELS[settings.landmark_model].name]
    joined = ":".join(_manifest_sha256(settings.models_dir, n) for n in names)
    return hashlib.sha256(joined.encode()).hexdigest()[:12]


def models_command(args: argparse.Namespace) -> int:
    """`kneecave models [--verify]`: list the models, their hashes and the providers."""
    settings = get_settings()
    print(f"models dir: {settings.models_dir}")
    print(
        f"device: {settings.device}; onnxruntime {ort.__version__}, "
        f"providers available: {', '.join(ort.get_available_providers())}"
    )
    failed = False
    for spec in REGISTRY.values():
        path = settings.models_dir / spec.filename
        try:
            expected = _manifest_sha256(settings.models_dir, spec.name)
            verify_model(path, expected)
            status = f"ok  sha256 {expected[:16]}"
        except ModelError as exc:
            status = f"BAD {exc.detail}"
            failed = True
        print(f"  {spec.name:<20} {spec.filename:<26} {status}")
    if failed and args.verify:
        print("model verification failed", file=sys.stderr)
        return 1
    return 0
