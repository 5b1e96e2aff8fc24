"""Build models/*.onnx from the TFLite pose models inside the pinned MediaPipe wheel.

Run as ``python models/build.py`` (``make setup`` does). Every input and output is
pinned by sha256 in models/manifest.json, so the result is the same bytes on any
machine. When the ONNX files already match, nothing is downloaded or written.

The converter is direct (TFLite flatbuffer -> ONNX graph) because generic converters
choke on the detector's sparse (DENSIFY) fp16 weights. It handles exactly the op set
these models use and fails loudly on anything else.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tflite
from onnx import TensorProto, checker, helper, numpy_helper

MODELS_DIR = Path(__file__).resolve().parent
MANIFEST_PATH = MODELS_DIR / "manifest.json"
BUILD_DIR = MODELS_DIR / "build"


class BuildError(RuntimeError):
    """A pinned hash, a download or a conversion step did not check out."""


# --------------------------------------------------------------------------- hashing / manifest


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


# --------------------------------------------------------------------------- wheel


def fetch_wheel(manifest: dict[str, Any], build_dir: Path = BUILD_DIR) -> Path:
    """Return the pinned wheel, downloading it with pip (never installing it) if absent."""
    src = manifest["source"]
    wheel: Path = build_dir / src["wheel"]
    if not wheel.exists():
        build_dir.mkdir(parents=True, exist_ok=True)
        plat = src["pip_platform"]
        # Pin interpreter/ABI/platform so every host resolves the very same wheel file.
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            plat["python_version"],
            "--implementation",
            plat["implementation"],
            "--abi",
            plat["abi"],
            "--platform",
            plat["platform"],
            f"{src['package']}=={src['version']}",
            "-d",
            str(build_dir),
        ]
        print(f"downloading {src['package']}=={src['version']} wheel ...", flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not wheel.exists():
            raise BuildError(
                f"pip download of {src['wheel']} failed (rc={proc.returncode}):\n{proc.stderr}"
            )
    got = sha256_file(wheel)
    if got != src["sha256"]:
        raise BuildError(
            f"sha256 mismatch for {wheel}: got {got}, manifest pins {src['sha256']}; "
            "delete the file to re-download, or fix the manifest if the pin changed on purpose"
        )
    return wheel


def read_tflite(wheel: Path, spec: dict[str, Any]) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        try:
            data = zf.read(spec["member"])
        except KeyError as exc:
            raise BuildError(f"{spec['member']} is not in {wheel.name}") from exc
    got = sha256_bytes(data)
    if got != spec["tflite_sha256"]:
        raise BuildError(
            f"sha256 mismatch for {spec['member']}: got {got}, pinned {spec['tflite_sha256']}"
        )
    return data


# --------------------------------------------------------------------------- DENSIFY


@dataclass(frozen=True)
class DimMeta:
    """One traversal level of a TFLite sparse tensor (schema: DimensionMetadata)."""

    dense_size: int = 0
    segments: np.ndarray | None = None  # SPARSE_CSR only
    indices: np.ndarray | None = None  # SPARSE_CSR only

    @property
    def is_dense(self) -> bool:
        return self.segments is None


def densify(
    values: np.ndarray,
    dense_shape: Sequence[int],
    traversal_order: Sequence[int],
    block_map: Sequence[int],
    dims: Sequence[DimMeta],
) -> np.ndarray:
    """Expand TFLite's sparse encoding into a dense array.

    Mirrors tflite::internal::sparsity::FormatConverter::SparseToDense, level by level
    instead of recursively: each level multiplies the set of visited coordinates, keeping
    them in traversal order, which is exactly the order ``values`` is stored in.
    """
    rank = len(dense_shape)
    if len(traversal_order) != len(dims) or len(dims) != rank + len(block_map):
        raise BuildError("inconsistent sparsity metadata")
    coords = np.zeros((1, 0), dtype=np.int64)  # visited index tuples, one row each
    prev = np.zeros(1, dtype=np.int64)  # position of each row in its parent level
    for dim in dims:
        if dim.is_dense:
            n = dim.dense_size
            child = np.tile(np.arange(n, dtype=np.int64), len(prev))
            parent = np.repeat(np.arange(len(prev)), n)
            new_prev = prev[parent] * n + child
        else:
            assert dim.segments is not None
            assert dim.indices is not None
            seg = dim.segments.astype(np.int64)
            starts, stops = seg[prev], seg[prev + 1]
            counts = stops - starts
            parent = np.repeat(np.arange(len(prev)), counts)
            # Positions inside array_indices: a run starts..stops-1 per parent row.
            offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            new_prev = np.repeat(starts, counts) + offsets
            child = dim.indices.astype(np.int64)[new_prev]
        coords = np.concatenate([coords[parent], child[:, None]], axis=1)
        prev = new_prev
    if len(coords) != values.size:
        raise BuildError(f"sparse tensor has {values.size} values but {len(coords)} slots")

    orig = np.zeros((len(coords), rank), dtype=np.int64)
    for level in range(rank):
        orig[:, traversal_order[level]] = coords[:, level]
    for level in range(rank, len(dims)):
        block = traversal_order[level] - rank
        axis = block_map[block]
        orig[:, axis] = orig[:, axis] * dims[level].dense_size + coords[:, level]

    dense = np.zeros(tuple(dense_shape), dtype=values.dtype)
    dense[tuple(orig.T)] = values.reshape(-1)
    return dense


# --------------------------------------------------------------------------- TFLite reading


_NP_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}


def _op_names() -> dict[int, str]:
    return {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}


def _options(op: Any, cls: Any) -> Any:
    table = op.BuiltinOptions()
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    return opts


def _index_vector(kind: int, table: Any) -> np.ndarray:
    cls = {1: tflite.Int32Vector, 2: tflite.Uint16Vector, 3: tflite.Uint8Vector}[kind]
    vec = cls()
    vec.Init(table.Bytes, table.Pos)
    return np.asarray(vec.ValuesAsNumpy())


@dataclass
class TfTensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: Any
    data: np.ndarray | None  # constant payload, already densified/dequantized when folded
    sparsity: Any = None


@dataclass
class TfOp:
    index: int
    kind: str
    inputs: list[int]
    outputs: list[int]
    raw: Any


@dataclass
class TfGraph:
    tensors: list[TfTensor]
    ops: list[TfOp]
    inputs: list[int]
    outputs: list[int]
    producer: dict[int, int] = field(default_factory=dict)
    consumers: dict[int, list[int]] = field(default_factory=dict)

    def by_name(self, name: str, candidates: Sequence[int]) -> int:
        for i in candidates:
            if self.tensors[i].name == name:
                return i
        raise BuildError(f"tensor {name!r} is not among the model's inputs/outputs")


def _sparsity_dims(sp: Any) -> list[DimMeta]:
    dims = []
    for k in range(sp.DimMetadataLength()):
        dm = sp.DimMetadata(k)
        if dm.Format() == 0:  # DENSE
            dims.append(DimMeta(dense_size=int(dm.DenseSize())))
        else:  # SPARSE_CSR
            dims.append(
                DimMeta(
                    segments=_index_vector(dm.ArraySegmentsType(), dm.ArraySegments()),
                    indices=_index_vector(dm.ArrayIndicesType(), dm.ArrayIndices()),
                )
            )
    return dims


def parse_tflite(buf: bytes) -> TfGraph:
    model = tflite.Model.GetRootAsModel(buf, 0)
    if model.SubgraphsLength() != 1:
        raise BuildError("expected a single-subgraph TFLite model")
    sg = model.Subgraphs(0)
    names = _op_names()
    tensors = []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        dtype = _NP_DTYPES.get(t.Type())
        b = model.Buffers(t.Buffer())
        data = None
        if b is not None and b.DataLength() > 0:
            if dtype is None:
                raise BuildError(f"constant tensor {t.Name()!r} has unsupported type {t.Type()}")
            raw = np.frombuffer(b.DataAsNumpy().tobytes(), dtype=dtype)
            # Sparse payloads hold only the non-zeros; they get their shape in DENSIFY.
            data = raw if t.Sparsity() is not None else raw.reshape(shape)
        tensors.append(TfTensor(i, t.Name().decode(), shape, dtype, data, t.Sparsity()))
    ops = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        ins = [int(j) for j in op.InputsAsNumpy()] if op.InputsLength() else []
        outs = [int(j) for j in op.OutputsAsNumpy()]
        ops.append(TfOp(i, kind, ins, outs, op))
    g = TfGraph(
        tensors, ops, [int(j) for j in sg.InputsAsNumpy()], [int(j) for j in sg.OutputsAsNumpy()]
    )
    for op in ops:
        for o in op.outputs:
            g.producer[o] = op.index
        for j in op.inputs:
            if j >= 0:
                g.consumers.setdefault(j, []).append(op.index)
    return g


def fold_constants(g: TfGraph) -> set[int]:
    """Evaluate DENSIFY/DEQUANTIZE on constant weights; return the indices of folded ops."""
    folded = set()
    for op in g.ops:
        if op.kind not in ("DENSIFY", "DEQUANTIZE"):
            continue
        src = g.tensors[op.inputs[0]]
        if src.data is None:
            raise BuildError(f"op {op.index} {op.kind} on a non-constant tensor is not supported")
        dst = g.tensors[op.outputs[0]]
        if op.kind == "DENSIFY":
            sp = src.sparsity
            if sp is None:
                raise BuildError(f"DENSIFY input {src.name!r} has no sparsity parameters")
            block_map = list(sp.BlockMapAsNumpy()) if sp.BlockMapLength() else []
            dst.data = densify(
                src.data, src.shape, list(sp.TraversalOrderAsNumpy()), block_map, _sparsity_dims(sp)
            )
        else:
            if src.dtype is not np.float16:
                raise BuildError(f"DEQUANTIZE from {src.dtype} is not supported (fp16 only)")
            # fp16 -> fp32 is exact, so this keeps the published weights bit-for-bit.
            dst.data = src.data.astype(np.float32)
        folded.add(op.index)
    return folded


def live_ops(g: TfGraph, keep_outputs: Sequence[int]) -> list[TfOp]:
    """Ops needed for ``keep_outputs``, in original (topological) order; prunes dropped heads."""
    needed = set(keep_outputs)
    live: set[int] = set()
    stack = list(keep_outputs)
    while stack:
        t = stack.pop()
        p = g.producer.get(t)
        if p is None or p in live:
            continue
        live.add(p)
        for j in g.ops[p].inputs:
            if j >= 0 and j not in needed:
                needed.add(j)
                stack.append(j)
    return [op for op in g.ops if op.index in live]


# --------------------------------------------------------------------------- ONNX emission

_NHWC_TO_NCHW = (0, 3, 1, 2)
_NCHW_TO_NHWC = (0, 2, 3, 1)
_AXIS_NHWC_TO_NCHW = {0: 0, 1: 2, 2: 3, 3: 1}


def same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TFLite/TF SAME padding for one spatial axis: any odd pixel goes after."""
    out = -(-size // stride)
    eff = (kernel - 1) * dilation + 1
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


class OnnxEmitter:
    """Builds the ONNX graph; every rank-4 activation is kept NCHW inside the graph."""

    def __init__(self, g: TfGraph, io_names: dict[int, str]) -> None:
        self.g = g
        self.io_names = io_names
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.names: dict[int, str] = {}
        self.fused_pads: dict[int, tuple[int, tuple[int, int, int, int]]] = {}
        self._uid = 0

    # -- small helpers

    def _fresh(self, hint: str) -> str:
        self._uid += 1
        return f"{hint}_{self._uid}"

    def const(self, arr: np.ndarray, hint: str = "c") -> str:
        name = self._fresh(hint)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(
        self, op_type: str, inputs: Sequence[str], out: str | None = None, **attrs: Any
    ) -> str:
        out = out or self._fresh(op_type.lower())
        self.nodes.append(
            helper.make_node(
                op_type, list(inputs), [out], name=f"n{len(self.nodes)}_{op_type}", **attrs
            )
        )
        return out

    def tensor(self, idx: int, rank: int = 0) -> str:
        """ONNX name of a TFLite tensor; constants are laid out for a ``rank``-d activation."""
        if idx in self.names:
            return self.names[idx]
        t = self.g.tensors[idx]
        if t.data is None:
            raise BuildError(f"tensor {idx} {t.name!r} used before it is produced")
        data = self.nchw_broadcastable(t.data) if rank == 4 else t.data
        name = self.const(data, "k")
        if rank != 4 or data is t.data:
            self.names[idx] = name  # only layout-neutral constants may be shared
        return name

    @staticmethod
    def nchw_broadcastable(arr: np.ndarray) -> np.ndarray:
        """An NHWC-broadcasting constant, rewritten to broadcast against NCHW activations."""
        if arr.ndim == 4:
            return arr.transpose(_NHWC_TO_NCHW)
        if arr.ndim == 3:  # (H, W, C)
            return arr.transpose(2, 0, 1)
        if arr.ndim == 2:  # (W, C)
            return arr.T[:, None, :]
        if arr.ndim == 1 and arr.size > 1:  # (C,)
            return arr.reshape(-1, 1, 1)
        return arr

    def out_name(self, idx: int) -> str:
        """Name for an op result; graph outputs of rank != 4 take their public name directly."""
        name = self.io_names.get(idx)
        if name is None or len(self.g.tensors[idx].shape) == 4:
            name = f"t{idx}"
        self.names[idx] = name
        return name

    def activation(self, x: str, fn: int, out: str) -> str:
        if fn == 0:
            return x if x == out else self.node("Identity", [x], out)
        if fn == 1:
            return self.node("Relu", [x], out)
        if fn in (2, 3):
            lo, hi = (-1.0, 1.0) if fn == 2 else (0.0, 6.0)
            return self.node(
                "Clip",
                [x, self.const(np.array(lo, np.float32)), self.const(np.array(hi, np.float32))],
                out,
            )
        if fn == 4:
            return self.node("Tanh", [x], out)
        raise BuildError(f"fused activation {fn} is not supported")

    def _emit_with_act(
        self, op_type: str, inputs: Sequence[str], out_idx: int, fn: int, **attrs: Any
    ) -> None:
        out = self.out_name(out_idx)
        y = self.node(op_type, inputs, None if fn else out, **attrs)
        self.activation(y, fn, out)

    # -- pad fusion

    def plan_pad_fusion(self, ops: Sequence[TfOp]) -> set[int]:
        """Zero spatial PADs feeding only convolutions become the convs' own pads.

        ORT cannot fuse a standalone Pad into Conv, and the Pad copies the whole tensor.
        """
        live = {op.index for op in ops}
        skipped = set()
        for op in ops:
            if op.kind != "PAD":
                continue
            pads = self.g.tensors[op.inputs[1]].data
            out = op.outputs[0]
            users = [u for u in self.g.consumers.get(out, []) if u in live]
            if (
                pads is None
                or out in self.io_names
                or not users
                or pads[0].any()
                or pads[3].any()
                or (pads < 0).any()
                or any(
                    self.g.ops[u].kind not in ("CONV_2D", "DEPTHWISE_CONV_2D")
                    or self.g.ops[u].inputs[0] != out
                    for u in users
                )
            ):
                continue
            self.fused_pads[out] = (
                op.inputs[0],
                (int(pads[1, 0]), int(pads[1, 1]), int(pads[2, 0]), int(pads[2, 1])),
            )
            skipped.add(op.index)
        return skipped

    # -- op converters

    def _conv_input(self, idx: int) -> tuple[str, tuple[int, int, int, int], tuple[int, ...]]:
        """Input name, extra pads (top, bottom, left, right) and the padded NHWC shape."""
        if idx in self.fused_pads:
            src, extra = self.fused_pads[idx]
            return self.tensor(src), extra, self.g.tensors[idx].shape
        return self.tensor(idx), (0, 0, 0, 0), self.g.tensors[idx].shape

    def _conv_like(self, op: TfOp, weight: np.ndarray, group: int, opts: Any) -> None:
        x, extra, shape = self._conv_input(op.inputs[0])
        kh, kw = weight.shape[2], weight.shape[3]
        sh, sw = opts.StrideH(), opts.StrideW()
        dh, dw = opts.DilationHFactor(), opts.DilationWFactor()
        pt, pb = same_pads(shape[1], kh, sh, dh) if opts.Padding() == 0 else (0, 0)
        pl, pr = same_pads(shape[2], kw, sw, dw) if opts.Padding() == 0 else (0, 0)
        inputs = [x, self.const(weight.astype(np.float32), "w")]
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            bias = self.g.tensors[op.inputs[2]].data
            if bias is None:
                raise BuildError(f"op {op.index}: non-constant conv bias")
            inputs.append(self.const(bias.astype(np.float32), "b"))
        self._emit_with_act(
            "Conv",
            inputs,
            op.outputs[0],
            opts.FusedActivationFunction(),
            kernel_shape=[kh, kw],
            strides=[sh, sw],
            dilations=[dh, dw],
            group=group,
            pads=[pt + extra[0], pl + extra[2], pb + extra[1], pr + extra[3]],
        )

    def _weight(self, op: TfOp) -> np.ndarray:
        w = self.g.tensors[op.inputs[1]].data
        if w is None:
            raise BuildError(f"op {op.index} {op.kind}: non-constant weights")
        return w

    def conv_2d(self, op: TfOp) -> None:
        w = self._weight(op)  # OHWI
        cin = self.g.tensors[op.inputs[0]].shape[3]
        self._conv_like(
            op, w.transpose(0, 3, 1, 2), cin // w.shape[3], _options(op.raw, tflite.Conv2DOptions)
        )

    def depthwise_conv_2d(self, op: TfOp) -> None:
        w = self._weight(op)  # 1HW(C*M)
        cin = self.g.tensors[op.inputs[0]].shape[3]
        self._conv_like(
            op, w.transpose(3, 0, 1, 2), cin, _options(op.raw, tflite.DepthwiseConv2DOptions)
        )

    def add(self, op: TfOp) -> None:
        opts = _options(op.raw, tflite.AddOptions)
        rank = len(self.g.tensors[op.outputs[0]].shape)
        self._emit_with_act(
            "Add",
            [self.tensor(i, rank) for i in op.inputs],
            op.outputs[0],
            opts.FusedActivationFunction(),
        )

    def pad(self, op: TfOp) -> None:
        pads = self.g.tensors[op.inputs[1]].data
        if pads is None:
            raise BuildError(f"op {op.index}: dynamic PAD is not supported")
        pads = pads.astype(np.int64)
        if pads.shape[0] == 4:
            pads = pads[list(_NHWC_TO_NCHW)]
        onnx_pads = np.concatenate([pads[:, 0], pads[:, 1]])
        self.node(
            "Pad",
            [self.tensor(op.inputs[0]), self.const(onnx_pads, "pads")],
            self.out_name(op.outputs[0]),
            mode="constant",
        )

    def max_pool_2d(self, op: TfOp) -> None:
        opts = _options(op.raw, tflite.Pool2DOptions)
        shape = self.g.tensors[op.inputs[0]].shape
        kh, kw, sh, sw = opts.FilterHeight(), opts.FilterWidth(), opts.StrideH(), opts.StrideW()
        pt, pb = same_pads(shape[1], kh, sh, 1) if opts.Padding() == 0 else (0, 0)
        pl, pr = same_pads(shape[2], kw, sw, 1) if opts.Padding() == 0 else (0, 0)
        self._emit_with_act(
            "MaxPool",
            [self.tensor(op.inputs[0])],
            op.outputs[0],
            opts.FusedActivationFunction(),
            kernel_shape=[kh, kw],
            strides=[sh, sw],
            pads=[pt, pl, pb, pr],
        )

    def concatenation(self, op: TfOp) -> None:
        opts = _options(op.raw, tflite.ConcatenationOptions)
        rank = len(self.g.tensors[op.outputs[0]].shape)
        axis = opts.Axis() % rank
        if rank == 4:
            axis = _AXIS_NHWC_TO_NCHW[axis]
        self._emit_with_act(
            "Concat",
            [self.tensor(i) for i in op.inputs],
            op.outputs[0],
            opts.FusedActivationFunction(),
            axis=axis,
        )

    def depth_to_space(self, op: TfOp) -> None:
        # TFLite packs the output block as channel = (row * bs + col) * C + c: ONNX's DCR.
        bs = _options(op.raw, tflite.DepthToSpaceOptions).BlockSize()
        self.node(
            "DepthToSpace",
            [self.tensor(op.inputs[0])],
            self.out_name(op.outputs[0]),
            blocksize=bs,
            mode="DCR",
        )

    def resize_bilinear(self, op: TfOp) -> None:
        opts = _options(op.raw, tflite.ResizeBilinearOptions)
        if opts.AlignCorners():
            mode = "align_corners"
        elif opts.HalfPixelCenters():
            # TF clamps the source coordinate at the borders, as ORT's half_pixel does.
            mode = "half_pixel"
        else:
            mode = "asymmetric"
        (_, ih, iw, _), (_, oh, ow, _) = (
            self.g.tensors[op.inputs[0]].shape,
            self.g.tensors[op.outputs[0]].shape,
        )
        scales = np.array([1.0, 1.0, oh / ih, ow / iw], dtype=np.float32)
        if int(ih * scales[2]) != oh or int(iw * scales[3]) != ow:
            raise BuildError(f"op {op.index}: resize {ih}x{iw}->{oh}x{ow} is not an exact scale")
        self.node(
            "Resize",
            [self.tensor(op.inputs[0]), "", self.const(scales, "scales")],
            self.out_name(op.outputs[0]),
            mode="linear",
            coordinate_transformation_mode=mode,
        )

    def logistic(self, op: TfOp) -> None:
        self.node("Sigmoid", [self.tensor(op.inputs[0])], self.out_name(op.outputs[0]))

    def reshape(self, op: TfOp) -> None:
        src, dst = self.g.tensors[op.inputs[0]], self.g.tensors[op.outputs[0]]
        if src.shape[0] != 1 or dst.shape[0] != 1:
            raise BuildError(f"op {op.index}: RESHAPE must keep the (unit) batch axis")
        x = self.tensor(op.inputs[0])
        # NCHW and NHWC flatten identically when H*W == 1 or C == 1; skip the transpose then.
        if len(src.shape) == 4 and src.shape[1] * src.shape[2] != 1 and src.shape[3] != 1:
            x = self.node("Transpose", [x], perm=list(_NCHW_TO_NHWC))
        # 0 copies the (dynamic) batch size through; the rest comes from TFLite's static shape.
        target = self.const(np.array([0, *dst.shape[1:]], dtype=np.int64), "shape")
        if len(dst.shape) == 4:
            y = self.node("Reshape", [x, target])
            self.node("Transpose", [y], self.out_name(op.outputs[0]), perm=list(_NHWC_TO_NCHW))
        else:
            self.node("Reshape", [x, target], self.out_name(op.outputs[0]))


_HANDLERS: dict[str, Callable[[OnnxEmitter, TfOp], None]] = {
    "ADD": OnnxEmitter.add,
    "CONCATENATION": OnnxEmitter.concatenation,
    "CONV_2D": OnnxEmitter.conv_2d,
    "DEPTHWISE_CONV_2D": OnnxEmitter.depthwise_conv_2d,
    "DEPTH_TO_SPACE": OnnxEmitter.depth_to_space,
    "LOGISTIC": OnnxEmitter.logistic,
    "MAX_POOL_2D": OnnxEmitter.max_pool_2d,
    "PAD": OnnxEmitter.pad,
    "RESHAPE": OnnxEmitter.reshape,
    "RESIZE_BILINEAR": OnnxEmitter.resize_bilinear,
}


def convert(
    buf: bytes,
    *,
    inputs: Sequence[dict[str, Any]],
    outputs: Sequence[dict[str, Any]],
    opset: int,
    ir_version: int,
    graph_name: str,
) -> tuple[Any, Counter[str]]:
    """TFLite flatbuffer -> (onnx.ModelProto, counts of the TFLite ops actually converted)."""
    g = parse_tflite(buf)
    folded = fold_constants(g)
    in_idx = {g.by_name(s["tflite"], g.inputs): s["name"] for s in inputs}
    out_idx = {g.by_name(s["tflite"], g.outputs): s["name"] for s in outputs}
    ops = live_ops(g, list(out_idx))
    em = OnnxEmitter(g, {**in_idx, **out_idx})
    skipped = em.plan_pad_fusion(ops) | folded

    graph_inputs = []
    for idx, name in in_idx.items():
        shape = g.tensors[idx].shape
        if len(shape) != 4:
            raise BuildError("model inputs are expected to be NHWC images")
        graph_inputs.append(
            helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", *shape[1:]])
        )
        # One transpose at the entrance; everything after stays NCHW.
        em.names[idx] = em.node("Transpose", [name], f"t{idx}", perm=list(_NHWC_TO_NCHW))

    counts: Counter[str] = Counter()
    for op in ops:
        counts[op.kind] += 1
        if op.index in skipped:
            continue
        handler = _HANDLERS.get(op.kind)
        if handler is None:
            raise BuildError(f"TFLite op {op.kind} (op {op.index}) is not supported")
        handler(em, op)

    graph_outputs = []
    for idx, name in out_idx.items():
        shape = g.tensors[idx].shape
        if len(shape) == 4:
            em.node("Transpose", [em.names[idx]], name, perm=list(_NCHW_TO_NHWC))
        graph_outputs.append(
            helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", *shape[1:]])
        )

    graph = helper.make_graph(em.nodes, graph_name, graph_inputs, graph_outputs, em.inits)
    model = helper.make_model(
        graph,
        producer_name="kneecave-models-build",
        producer_version="1",
        ir_version=ir_version,
        opset_imports=[helper.make_opsetid("", opset)],
    )
    checker.check_model(model, full_check=True)
    return model, counts


# --------------------------------------------------------------------------- build driver


def onnx_up_to_date(manifest: dict[str, Any], models_dir: Path = MODELS_DIR) -> bool:
    for spec in manifest["models"]:
        path = models_dir / spec["onnx"]
        if not spec["onnx_sha256"] or not path.exists() or sha256_file(path) != spec["onnx_sha256"]:
            return False
    return True


def build_model(wheel: Path, spec: dict[str, Any], manifest: dict[str, Any]) -> tuple[bytes, str]:
    t0 = time.perf_counter()
    tfl = read_tflite(wheel, spec)
    conv = manifest["converter"]
    model, counts = convert(
        tfl,
        inputs=spec["inputs"],
        outputs=spec["outputs"],
        opset=conv["opset"],
        ir_version=conv["ir_version"],
        graph_name=spec["name"],
    )
    data = model.SerializeToString()
    ops = ", ".join(f"{k}x{v}" for k, v in sorted(counts.items()))
    summary = (
        f"{spec['onnx']}: {len(model.graph.node)} ONNX nodes from {sum(counts.values())} "
        f"TFLite ops ({ops}); {len(data) / 1e6:.1f} MB; "
        f"{time.perf_counter() - t0:.2f} s"
    )
    return data, summary


def build(
    manifest_path: Path = MANIFEST_PATH,
    models_dir: Path = MODELS_DIR,
    build_dir: Path = BUILD_DIR,
    record_hashes: bool = False,
) -> bool:
    """Build every model in the manifest; return False when all were already up to date."""
    manifest = load_manifest(manifest_path)
    if not record_hashes and onnx_up_to_date(manifest, models_dir):
        print("models: up to date (" + ", ".join(s["onnx"] for s in manifest["models"]) + ")")
        return False
    wheel = fetch_wheel(manifest, build_dir)
    for spec in manifest["models"]:
        data, summary = build_model(wheel, spec, manifest)
        digest = sha256_bytes(data)
        if record_hashes:
            spec["onnx_sha256"] = digest
        elif digest != spec["onnx_sha256"]:
            raise BuildError(
                f"{spec['onnx']}: converted model has sha256 {digest}, manifest pins "
                f"{spec['onnx_sha256'] or '(nothing)'}; if the converter changed on purpose, "
                "re-run with --record-hashes and commit the manifest"
            )
        target = models_dir / spec["onnx"]
        tmp = target.with_suffix(".partial.onnx")  # still covered by .gitignore
        tmp.write_bytes(data)
        tmp.replace(target)  # atomic: a reader never sees half a model
        print(f"models: built {summary}; sha256 {digest[:16]}…")
    if record_hashes:
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
        print(f"models: recorded ONNX hashes in {manifest_path}")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--record-hashes",
        action="store_true",
        help="rebuild and write the ONNX sha256s into the manifest "
        "(after an intended converter change)",
    )
    args = parser.parse_args(argv)
    try:
        build(record_hashes=args.record_hashes)
    except BuildError as exc:
        print(f"models/build.py: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
