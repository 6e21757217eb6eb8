"""kokoro-onnx exports of Kokoro-82M v1.0 (fp32 or int8) -> an official-layout checkpoint.

kokoro-onnx traced hexgrad's `KModel` with the TorchScript `torch.onnx` exporter (constant folding
on); its int8 file then went through onnxruntime's `quantize_dynamic` and graph optimizer. Each
change that made to the weights is undone here:

- Weight norm was folded: constant folding replaced `g * v / ||v||` by one tensor W, usually under
  an anonymous name (`/encoder/F0.0/Mul_output_0`). We set `v = W` and `g = ||W||` over every dim
  but 0, so that `g * v / ||v|| == W` exactly (rows int8 rounded to all zeros get g = 0, v = 1).
- Anonymous initializers (`onnx::MatMul_6547`, `onnx::LSTM_6930`) get their module from the NAME
  of the node that consumes them: TorchScript names a node by its module scope
  (`/encoder/predictor/text_encoder/lstms.0/LSTM`), matched here against the official module
  paths by their longest common dotted suffix (the export wraps the model as `encoder.*` and
  `decoder.decoder.*`, and scopes reached through a method call such as `predictor.F0Ntrain`
  lose the `predictor` level: `/encoder/F0.0/conv1`); a suffix shared by several modules is
  settled by the tensor's shape. Anonymous biases are found where they are added downstream.
- int8: ConvInteger, MatMulInteger, DynamicQuantizeLSTM and Gather + DequantizeLinear hold
  (u)int8 `q` with a zero point and a scale, `W = (q - zero_point) * scale` per tensor or per
  channel. The zero point is read from the consuming node (the quantizer merged equal zero points
  across tensors, so names lie); the scale from the node itself, or by walking to the Mul that
  rescales the integer output, or by the `<name>_quantized` -> `<name>_scale` convention.
- Layouts: MatMul stores `[in, out]` (torch Linear wants `[out, in]`); ONNX LSTM gates are
  i, o, f, c (torch: i, f, g, o) and `B = W_b || R_b`; direction 1 is torch's `*_reverse`;
  DynamicQuantizeLSTM stores W and R transposed, `[dir, in, 4 * hidden]`.
- Parameters an export cannot contain come from the `FILLS` table, and are logged.

Axes: d LSTM direction, g gates stacked (4 x hidden), h hidden, i input features or channels,
o output channels, k kernel taps.
"""

from __future__ import annotations

import logging
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from einops import rearrange
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from kokoro_lab.checkpoint import COMPONENTS
from kokoro_lab.config import KokoroConfig
from kokoro_lab.errors import UserFileError, UserValueError

log = logging.getLogger(__name__)

Shape = tuple[int, ...]


# ---------------------------------------------------------------------------------------------
# What the official checkpoint holds (hexgrad/Kokoro-82M kokoro-v1_0.pth, old-style weight norm)
# ---------------------------------------------------------------------------------------------


def official_shapes(cfg: KokoroConfig | None = None) -> dict[str, dict[str, Shape]]:
    """Key -> shape of each official `KModel` submodule's state dict, for the sizes in `cfg`:
    read off `KokoroModel(cfg)` built on the meta device (no memory, no weights), whose
    attribute names are the official checkpoint's (tests prove it loads strictly)."""
    from kokoro_lab.model import KokoroModel

    with torch.device("meta"):
        model = KokoroModel(cfg or KokoroConfig())
    state = model.state_dict()
    return {
        part: {
            k[len(part) + 1 :]: tuple(v.shape) for k, v in state.items() if k.startswith(f"{part}.")
        }
        for part in COMPONENTS
    }


# ---------------------------------------------------------------------------------------------
# Parameters no export contains: the only values not read from the file
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fill:
    """Keys matching `pattern` (a regex over "part.key") absent from the file get `value`."""

    pattern: str
    value: float
    reason: str


FILLS: tuple[Fill, ...] = (
    Fill(
        r"^bert\.pooler\.(weight|bias)$",
        0.0,
        "PL-BERT pooler: Kokoro reads the last hidden state only, so the export drops it",
    ),
    Fill(
        r"\.norm\.weight$",
        1.0,
        "AdaIN InstanceNorm affine scale: identity at inference, absent from the official "
        "checkpoint too (hexgrad/kokoro#175), so KModel runs it at its init value 1",
    ),
    Fill(
        r"\.norm\.bias$",
        0.0,
        "AdaIN InstanceNorm affine shift: as above, init value 0",
    ),
)


# ---------------------------------------------------------------------------------------------
# Reading the graph
# ---------------------------------------------------------------------------------------------

# Ops between an integer op and its float result: the int32 -> float cast and the rescale.
_RESCALE_OPS = ("Cast", "Mul", "Reshape", "Identity", "Transpose", "Squeeze", "Unsqueeze")
# Ops that turn a float bias into the int32 one added before the rescale (bias / scale, floor).
_BIAS_QUANT_OPS = ("Reshape", "Cast", "Floor", "Round", "Div", "Unsqueeze", "Identity")


def _const_ops() -> dict:
    def unsqueeze(x, axes):
        for ax in sorted(int(a) for a in axes):
            x = np.expand_dims(x, ax)
        return x

    def dequantize(x, scale, zp=None, axis=1):
        zp = np.zeros((), dtype=np.int32) if zp is None else zp
        return _dequantize(x, zp, scale, axis)

    return {
        "Identity": lambda x, **_: x,
        "Cast": lambda x, to, **_: x.astype(onnx.helper.tensor_dtype_to_np_dtype(to)),
        "Transpose": lambda x, perm=None, **_: np.transpose(x, perm),
        "Reshape": lambda x, shape, **_: x.reshape(
            [x.shape[i] if n == 0 else int(n) for i, n in enumerate(shape)]
        ),
        "Unsqueeze": lambda x, axes, **_: unsqueeze(x, axes),
        "Squeeze": lambda x, axes=None, **_: np.squeeze(
            x, tuple(int(a) for a in axes) if axes is not None else None
        ),
        "Mul": lambda a, b, **_: a * b,
        "Div": lambda a, b, **_: a / b,
        "Add": lambda a, b, **_: a + b,
        "Sub": lambda a, b, **_: a - b,
        "Neg": lambda x, **_: -x,
        "Reciprocal": lambda x, **_: 1 / x,
        "Sqrt": lambda x, **_: np.sqrt(x),
        "DequantizeLinear": dequantize,
    }


_CONST_OPS = _const_ops()


def _dequantize(q: np.ndarray, zero_point: np.ndarray, scale: np.ndarray, axis: int) -> np.ndarray:
    """`(q - zero_point) * scale`, a 1-D zero point or scale laid along `axis` of q."""

    def along(x: np.ndarray, what: str) -> np.ndarray:
        x = np.asarray(x)
        if x.size == 1:
            return x.reshape(())
        if x.ndim != 1 or x.size != q.shape[axis]:
            raise UserValueError(
                f"int8 {what} of shape {list(x.shape)} does not fit weight {list(q.shape)} "
                f"along axis {axis}: not a per-tensor or per-channel quantization"
            )
        shape = [1] * q.ndim
        shape[axis] = x.size
        return x.reshape(shape)

    diff = q.astype(np.int32) - along(zero_point, "zero point").astype(np.int32)
    return (diff * along(scale, "scale").astype(np.float32)).astype(np.float32)


def _scope(node_name: str) -> list[str]:
    """`/encoder/F0.0/conv1/Conv_quant` -> ["encoder", "F0.0", "conv1"]: the module scopes.

    The last component is the op; `_3`-style suffixes count repeated calls of one module (the
    shared ALBERT layer runs 12 times) and are dropped: no official name ends in `_<digits>`.
    Fused nodes (`FastGelu_token_145`) carry no scope.
    """
    parts = [p for p in node_name.split("/") if p]
    return [re.sub(r"_\d+$", "", p) for p in parts[:-1]]


def _dotted_suffixes(scope: list[str]) -> list[str]:
    """Longest first: "a.b.c", "b.c", "c" for the scope [a, b, c]."""
    return [".".join(scope[i:]) for i in range(len(scope))]


class _Names:
    """Official dotted names ("predictor.F0.0.conv1"), matched by longest common dotted suffix."""

    def __init__(self, names: Iterable[str]):
        self.names = sorted(set(names))

    def match(self, candidates: Iterable[str], fits: Callable[[str], bool] = bool) -> str | None:
        """The one official name a candidate ends with (or that ends with it), longest first.

        A name several official ones end with (the scope `/lstm` of `predictor.lstm`, called
        from KModel itself, vs `text_encoder.lstm`) is settled by which of them `fits` the
        tensor's shape.
        """
        for cand in candidates:
            hits = [
                n
                for n in self.names
                if cand == n or cand.endswith("." + n) or n.endswith("." + cand)
            ]
            if len(hits) > 1:
                hits = [n for n in hits if fits(n)]
            if len(hits) == 1:
                return hits[0]
            if hits:
                log.debug("ambiguous ONNX name %r matches %s", cand, hits)
                return None
        return None


class _Graph:
    """An ONNX graph indexed for walking: constants, the producer and consumers of each tensor."""

    def __init__(self, model: onnx.ModelProto):
        graph = model.graph
        self.nodes = list(graph.node)
        self.inits = {t.name: t for t in graph.initializer}
        self.producer = {out: node for node in self.nodes for out in node.output}
        self.consumers: dict[str, list[tuple[onnx.NodeProto, int]]] = defaultdict(list)
        for node in self.nodes:
            for idx, name in enumerate(node.input):
                self.consumers[name].append((node, idx))
        self._values: dict[str, np.ndarray] = {}

    def const(self, name: str, depth: int = 8) -> np.ndarray | None:
        """The value of `name` when it is an initializer or a small constant subgraph over them."""
        if not name:
            return None
        if name in self._values:
            return self._values[name]
        value = None
        if name in self.inits:
            value = numpy_helper.to_array(self.inits[name])
        elif depth > 0 and (node := self.producer.get(name)) is not None:
            value = self._fold(node, depth - 1)
        if value is not None:
            self._values[name] = value
        return value

    def _fold(self, node: onnx.NodeProto, depth: int) -> np.ndarray | None:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Constant":
            return numpy_helper.to_array(attrs["value"]) if "value" in attrs else None
        op = _CONST_OPS.get(node.op_type)
        if op is None or len(node.output) != 1:
            return None
        args = [self.const(name, depth) if name else None for name in node.input]
        if any(a is None for a, name in zip(args, node.input, strict=True) if name):
            return None
        if node.op_type in ("Reshape", "Unsqueeze", "Squeeze") and len(args) > 1:
            key = "shape" if node.op_type == "Reshape" else "axes"
            return op(args[0], **{key: args[1].tolist()})
        return op(*args, **attrs)

    def attr(self, node: onnx.NodeProto, name: str, default=None):
        for a in node.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default

    def input(self, node: onnx.NodeProto, idx: int) -> str:
        return node.input[idx] if idx < len(node.input) else ""

    def only_consumer(self, name: str) -> tuple[onnx.NodeProto, int] | None:
        cons = self.consumers.get(name, [])
        return cons[0] if len(cons) == 1 else None

    def integer_scale(self, node: onnx.NodeProto) -> np.ndarray | None:
        """The weight scale of a ConvInteger / MatMulInteger.

        Its int32 output is cast and multiplied by `x_scale * w_scale` (a Mul of the dynamic
        activation scale and the constant weight scale); the `_quantized` -> `_scale` naming is
        the fallback.
        """
        out = node.output[0]
        for _ in range(6):
            step = self.only_consumer(out)
            if step is None:
                break
            nxt, idx = step
            if nxt.op_type == "Mul":
                other = nxt.input[1 - idx]
                if (c := self.const(other)) is not None:
                    return c
                prod = self.producer.get(other)
                if prod is not None and prod.op_type == "Mul":
                    consts = [c for c in map(self.const, prod.input) if c is not None]
                    if len(consts) == 1:
                        return consts[0]
                break
            if nxt.op_type not in _RESCALE_OPS + ("Add",):
                break
            out = nxt.output[0]
        weight = self.input(node, 1)
        if weight.endswith("_quantized"):
            return self.const(weight.removesuffix("_quantized") + "_scale")
        return None

    def bias_after(self, node: onnx.NodeProto, size: int) -> np.ndarray | None:
        """The bias added to `node`'s output downstream, for biases with anonymous names.

        Walks through the int8 rescale (Cast, Mul) to the first Add (or a fused op that takes
        the bias: FastGelu, BiasGelu); under ConvInteger the Add holds the bias already divided
        by the scale and floored, traced back here to the float original.
        """
        out = node.output[0]
        for _ in range(6):
            step = self.only_consumer(out)
            if step is None:
                return None
            nxt, idx = step
            if nxt.op_type == "Add":
                return self._float_source(nxt.input[1 - idx], size)
            if nxt.op_type in ("FastGelu", "BiasGelu") and idx == 0:
                return self._float_source(self.input(nxt, 1), size)
            if nxt.op_type not in _RESCALE_OPS:
                return None
            out = nxt.output[0]
        return None

    def _float_source(self, name: str, size: int) -> np.ndarray | None:
        for _ in range(6):
            value = self.const(name)
            if value is not None and value.size == size and value.dtype.kind == "f":
                return value.reshape(size)
            node = self.producer.get(name)
            if node is None or node.op_type not in _BIAS_QUANT_OPS:
                return None
            name = node.input[0]
        return None


# ---------------------------------------------------------------------------------------------
# Weights from weight-bearing nodes, in torch layout
# ---------------------------------------------------------------------------------------------

# torch stacks LSTM gates i, f, g(=c), o; ONNX stacks i, o, f, c.
_ONNX_TO_TORCH_GATES = [0, 2, 3, 1]


def _torch_gates(x: np.ndarray) -> np.ndarray:
    """(g ...) in ONNX gate order -> torch gate order."""
    x = rearrange(x, "(gate h) ... -> gate h ...", gate=4)[_ONNX_TO_TORCH_GATES]
    return rearrange(x, "gate h ... -> (gate h) ...")


@dataclass
class _Found:
    """Tensors read off one node: kind "weight" (weight, bias?), "lstm" (W, R, B), or "norm"
    (weight, bias?: a LayerNorm / InstanceNorm affine)."""

    kind: str
    tensors: dict[str, np.ndarray]


def _integer_weight(g: _Graph, node: onnx.NodeProto, axis: int) -> np.ndarray | None:
    q = g.const(g.input(node, 1))
    if q is None:
        return None
    zero_point = g.const(g.input(node, 3))
    if zero_point is None:
        zero_point = np.zeros((), dtype=np.int32)
    scale = g.integer_scale(node)
    if scale is None:
        raise UserValueError(
            f"cannot find the weight scale of {node.op_type} node {node.name!r} "
            f"(weight {g.input(node, 1)!r}): not an onnxruntime dynamic-quantized export?"
        )
    return _dequantize(q, zero_point, scale, axis)


def _lstm_tensors(g: _Graph, node: onnx.NodeProto) -> dict[str, np.ndarray] | None:
    """W (d, g, i), R (d, g, h), B (d, 2g) in ONNX gate order, for LSTM or DynamicQuantizeLSTM."""
    w, r = g.const(g.input(node, 1)), g.const(g.input(node, 2))
    if w is None or r is None:
        return None
    if node.op_type == "DynamicQuantizeLSTM":
        # com.microsoft inputs 8..11: W_scale, W_zero_point, R_scale, R_zero_point, each one
        # value per direction (or per direction and gate column); W and R are stored
        # transposed, (d, i, g) and (d, h, g).
        def deq(q: np.ndarray, scale_idx: int) -> np.ndarray:
            scale = g.const(g.input(node, scale_idx))
            zero_point = g.const(g.input(node, scale_idx + 1))
            if scale is None:
                raise UserValueError(f"DynamicQuantizeLSTM {node.name!r} has no constant scale")
            zero_point = np.zeros_like(scale, dtype=np.int32) if zero_point is None else zero_point
            per = (q.shape[0], 1, -1)  # one value per direction, or per direction and column
            diff = q.astype(np.int32) - zero_point.astype(np.int32).reshape(per)
            return (diff * scale.astype(np.float32).reshape(per)).astype(np.float32)

        w = rearrange(deq(w, 8), "d i g -> d g i")
        r = rearrange(deq(r, 10), "d h g -> d g h")
    if not g.input(node, 3):  # ONNX: no B input means zero biases
        b = np.zeros((w.shape[0], 2 * w.shape[1]), dtype=np.float32)
    elif (b := g.const(g.input(node, 3))) is None:
        return None
    return {"W": w, "R": r, "B": b}


def _read_node(g: _Graph, node: onnx.NodeProto) -> _Found | None:
    """The parameters a weight-bearing node holds, in torch layout, or None."""
    op = node.op_type
    if op in ("Conv", "ConvTranspose"):
        # Conv W is (o, i/groups, k) and ConvTranspose W is (i, o/groups, k), as in torch.
        w = g.const(g.input(node, 1))
        if w is None:
            return None
        tensors = {"weight": w}
        if (b := g.const(g.input(node, 2))) is not None:
            tensors["bias"] = b
        return _Found("weight", tensors)
    if op == "ConvInteger":
        w = _integer_weight(g, node, axis=0)
        return None if w is None else _Found("weight", {"weight": w})
    if op == "MatMulInteger":
        w = _integer_weight(g, node, axis=1)
        return None if w is None else _Found("weight", {"weight": rearrange(w, "i o -> o i")})
    if op in ("MatMul", "FusedMatMul", "Gemm"):
        w = g.const(g.input(node, 1))
        if w is None or w.ndim != 2 or g.attr(node, "transA", 0):
            return None
        w = w * g.attr(node, "alpha", 1.0)
        w = w if g.attr(node, "transB", 0) else rearrange(w, "i o -> o i")
        tensors = {"weight": w}
        if op == "Gemm" and (b := g.const(g.input(node, 2))) is not None:
            tensors["bias"] = b * g.attr(node, "beta", 1.0)
        return _Found("weight", tensors)
    if op == "Gather":
        table = g.const(g.input(node, 0))
        if table is None or table.ndim != 2:
            return None
        if table.dtype.kind != "f":  # a quantized table: the DequantizeLinear after the Gather
            step = g.only_consumer(node.output[0])
            if step is None or step[0].op_type != "DequantizeLinear":
                return None
            deq = step[0]
            scale, zero_point = g.const(g.input(deq, 1)), g.const(g.input(deq, 2))
            if scale is None:
                return None
            zero_point = np.zeros((), dtype=np.int32) if zero_point is None else zero_point
            table = _dequantize(table, zero_point, scale, axis=1)
        return _Found("weight", {"weight": table})
    if op in ("LSTM", "DynamicQuantizeLSTM"):
        tensors = _lstm_tensors(g, node)
        return None if tensors is None else _Found("lstm", tensors)
    if op in ("LayerNormalization", "SkipLayerNormalization", "InstanceNormalization"):
        first = 2 if op == "SkipLayerNormalization" else 1  # SkipLayerNorm: (x, skip, gamma, ...)
        gamma, beta = g.const(g.input(node, first)), g.const(g.input(node, first + 1))
        if gamma is None:
            return None
        tensors = {"weight": gamma} | ({} if beta is None else {"bias": beta})
        return _Found("norm", tensors)
    return None


def _fits(found: _Found, shapes: dict[str, Shape]) -> Callable[[str], bool]:
    """Whether an official module's parameters have the shapes of what a node holds."""
    if found.kind == "lstm":
        w = found.tensors["W"]
        return lambda m: shapes.get(f"{m}.weight_ih_l0") == tuple(w.shape[1:])
    shape = tuple(found.tensors["weight"].shape)
    names = ("weight", "weight_v", "gamma")
    return lambda m: any(shapes.get(f"{m}.{n}") == shape for n in names)


# ---------------------------------------------------------------------------------------------
# Assembly
# ---------------------------------------------------------------------------------------------


class _Checkpoint:
    """Collects official "part.key" -> float32 array, refusing contradictory sources."""

    def __init__(self, shapes: dict[str, Shape]):
        self.shapes = shapes
        self.values: dict[str, np.ndarray] = {}
        self.sources: dict[str, str] = {}
        self.mismatched: list[str] = []

    def put(self, key: str, value: np.ndarray, source: str, overwrite: bool = True) -> bool:
        if key not in self.shapes:
            return False
        value = np.asarray(value, dtype=np.float32)
        if tuple(value.shape) != self.shapes[key]:
            if value.size == int(np.prod(self.shapes[key])) and value.squeeze().ndim <= 1:
                value = value.reshape(self.shapes[key])  # a bias or scale kept as (1, c, 1)
            else:
                self.mismatched.append(
                    f"{key}: {list(value.shape)} in {source}, expected {list(self.shapes[key])}"
                )
                return False
        if key in self.values:
            if not overwrite:
                return False
            if not np.allclose(self.values[key], value, rtol=1e-6, atol=1e-7):
                raise UserValueError(
                    f"{key} has two different values in the export: {self.sources[key]} "
                    f"and {source}"
                )
        self.values[key] = value
        self.sources[key] = source
        return True

    def put_weight(self, module: str, w: np.ndarray, source: str) -> bool:
        """A module's (possibly weight-normed) weight; weight norm was folded by the exporter."""
        if f"{module}.weight_v" in self.shapes:
            g = np.linalg.norm(rearrange(w.astype(np.float64), "o ... -> o (...)"), axis=1)
            g = g.reshape((-1,) + (1,) * (w.ndim - 1))
            # int8 rounds some small rows to all zeros: g = 0 keeps them zero, and any nonzero
            # direction v avoids weight norm's 0 / 0 = NaN.
            w = np.where(g == 0, np.float32(1), w)
            ok = self.put(f"{module}.weight_v", w, source)
            return self.put(f"{module}.weight_g", g, source) and ok
        return self.put(f"{module}.weight", w, source)

    def put_lstm(
        self, module: str, t: dict[str, np.ndarray], source: str, reverse_only: bool
    ) -> None:
        """ONNX W (d, g, i), R (d, g, h), B (d, 2g) -> torch `*_l0` and `*_l0_reverse`."""
        sfxs = ["_reverse"] if reverse_only else ["", "_reverse"][: t["W"].shape[0]]
        hidden4 = t["W"].shape[1]
        for d, sfx in enumerate(sfxs):
            self.put(f"{module}.weight_ih_l0{sfx}", _torch_gates(t["W"][d]), source)
            self.put(f"{module}.weight_hh_l0{sfx}", _torch_gates(t["R"][d]), source)
            self.put(f"{module}.bias_ih_l0{sfx}", _torch_gates(t["B"][d, :hidden4]), source)
            self.put(f"{module}.bias_hh_l0{sfx}", _torch_gates(t["B"][d, hidden4:]), source)


def _load(path: str | os.PathLike) -> onnx.ModelProto:
    path = Path(path)
    if not path.is_file():
        raise UserFileError(f"no ONNX file at {str(path)!r}")
    try:
        return onnx.load(str(path))
    except DecodeError as err:
        raise UserValueError(
            f"{str(path)!r} is not an ONNX model ({err}); expected a kokoro-onnx export of "
            "Kokoro-82M v1.0 (kokoro-v1.0.onnx or kokoro-v1.0.int8.onnx)"
        ) from err


def _list(names: list[str], limit: int = 40) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... and {len(names) - limit} more" if len(names) > limit else "")


def _read_weight_nodes(g: _Graph, ckpt: _Checkpoint) -> dict[str, onnx.NodeProto]:
    """Step 1, weight-bearing nodes (MatMul, Conv, Gather, LSTM, norms): the module comes from
    the node's scope, else the weight's name. Returns the node of each module's weight."""
    shapes = ckpt.shapes
    modules = _Names(k.rsplit(".", 1)[0] for k in shapes)
    weight_nodes: dict[str, onnx.NodeProto] = {}
    for node in g.nodes:
        found = _read_node(g, node)
        if found is None:
            continue
        weight_name = g.input(node, 1 if node.op_type != "Gather" else 0)
        named = weight_name.removesuffix("_quantized").removesuffix(".weight")
        fits = _fits(found, shapes)
        module = modules.match(_dotted_suffixes(_scope(node.name)), fits) or modules.match(
            [named], fits
        )
        if module is None:
            log.debug("no official module for %s node %r", node.op_type, node.name)
            continue
        source = f"{node.op_type} node {node.name!r}"
        if found.kind == "lstm":
            reverse_only = g.attr(node, "direction", b"forward") in (b"reverse", "reverse")
            ckpt.put_lstm(module, found.tensors, source, reverse_only)
        elif found.kind == "norm":
            for ours, theirs in (("weight", "gamma"), ("bias", "beta")):
                if ours in found.tensors:
                    for name in (ours, theirs):
                        ckpt.put(f"{module}.{name}", found.tensors[ours], source)
        else:
            if ckpt.put_weight(module, found.tensors["weight"], source):
                weight_nodes[module] = node
            if "bias" in found.tensors:
                ckpt.put(f"{module}.bias", found.tensors["bias"], source)
    return weight_nodes


def _read_named_initializers(g: _Graph, ckpt: _Checkpoint) -> None:
    """Step 2, float initializers named after their parameter (biases, norms, Snake alphas,
    unfolded weight_g / weight_v). Layout-bearing weights were read off their nodes in step 1,
    so a name never overrides a node."""
    keys = _Names(ckpt.shapes)
    for name, init in g.inits.items():
        if init.data_type not in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16):
            continue
        if (key := keys.match([name])) is not None and key not in ckpt.values:
            ckpt.put(key, g.const(name), f"initializer {name!r}", overwrite=False)


def _read_anonymous_biases(
    g: _Graph, ckpt: _Checkpoint, weight_nodes: dict[str, onnx.NodeProto]
) -> None:
    """Step 3, biases with anonymous names: walk from the weight's node to where the bias is
    added."""
    for module, node in weight_nodes.items():
        key = f"{module}.bias"
        if key in ckpt.shapes and key not in ckpt.values:
            bias = g.bias_after(node, ckpt.shapes[key][0])
            if bias is not None:
                ckpt.put(key, bias, f"bias after {node.op_type} node {node.name!r}")


def _check_found(path, ckpt: _Checkpoint) -> int:
    """A Kokoro export holds most official parameters, each of its official shape: the number
    read, or a UserValueError naming what is missing or misshapen."""
    shapes = ckpt.shapes
    missing = [k for k in shapes if k not in ckpt.values]
    read = len(shapes) - len(missing)
    if read < len(shapes) // 2:
        raise UserValueError(
            f"{str(path)!r} is not a kokoro-onnx export of Kokoro-82M v1.0: only {read} of "
            f"{len(shapes)} official parameters found in it; missing: {_list(missing, 10)}"
        )
    if ckpt.mismatched:
        raise UserValueError(
            f"{str(path)!r} holds Kokoro parameters of unexpected shapes (a different model "
            f"size? pass its KokoroConfig): {_list(ckpt.mismatched)}"
        )
    return read


def _fill_absent(path, ckpt: _Checkpoint) -> None:
    """Step 4, parameters no export holds, from the FILLS table; any other absence is an
    error naming the parameters."""
    shapes = ckpt.shapes
    filled: dict[str, list[str]] = defaultdict(list)
    for key in [k for k in shapes if k not in ckpt.values]:
        fill = next((f for f in FILLS if re.search(f.pattern, key)), None)
        if fill is not None:
            ckpt.values[key] = np.full(shapes[key], fill.value, dtype=np.float32)
            filled[fill.pattern].append(key)
    for fill in FILLS:
        if filled[fill.pattern]:
            log.info(
                "filled %d parameters absent from the export with %g (%s): %s",
                len(filled[fill.pattern]),
                fill.value,
                fill.reason,
                _list(filled[fill.pattern], 4),
            )
    missing = [k for k in shapes if k not in ckpt.values]
    if missing:
        raise UserValueError(
            f"{str(path)!r} lacks {len(missing)} parameters of Kokoro-82M v1.0 that no fill "
            f"covers: {_list(missing)}"
        )


def convert_onnx(
    path: str | os.PathLike, config: KokoroConfig | None = None
) -> dict[str, dict[str, torch.Tensor]]:
    """A kokoro-onnx Kokoro-82M export (fp32 or int8) -> official `KModel` state dicts.

    Returns {"bert", "bert_encoder", "predictor", "text_encoder", "decoder"} -> float32 state
    dict, keys and shapes exactly those of hexgrad's KModel submodules (old-style weight norm
    `weight_g` / `weight_v`). Raises ValueError, naming the parameters, when the file is not a
    Kokoro export or lacks any parameter that `FILLS` does not cover.
    """
    g = _Graph(_load(path))
    shapes = {
        f"{part}.{k}": v for part, sd in official_shapes(config).items() for k, v in sd.items()
    }
    ckpt = _Checkpoint(shapes)
    weight_nodes = _read_weight_nodes(g, ckpt)
    _read_named_initializers(g, ckpt)
    _read_anonymous_biases(g, ckpt, weight_nodes)
    read = _check_found(path, ckpt)
    _fill_absent(path, ckpt)
    out: dict[str, dict[str, torch.Tensor]] = {part: {} for part in COMPONENTS}
    for key in shapes:
        part, name = key.split(".", 1)
        out[part][name] = torch.from_numpy(np.array(ckpt.values[key], dtype=np.float32))
    log.info("converted %s: %d parameters read, %d filled", path, read, len(shapes) - read)
    return out
