"""The one spec walker: a network spec decoded into primitive ops.

:class:`Walker` expands each stage into primitive ops (convolutions, pools, elementwise
ops, concatenations) and is the one place where an op's shapes, MACs and parameters are
computed. It runs on plain ints, for one network (:func:`decode`: :class:`Op` records,
whose ``layer`` rows are the layer table and whose ``inputs`` are the graph), and on
numpy arrays, for many stages at once (:mod:`dnncost.gen.fast_layers`, which emits
encoded rows). Everything that needs a network's structure walks this expansion: the
layer table and MAC count below, the Keras build (gen/tf_build.py), the torch build
of the tests and the vectorised featurizer.

Rows follow what the TFLite converter emits for the Keras build: ReLU/ReLU6 fuse into
the op before them (``activation``), h-swish and sigmoid are their own rows, reshapes are
not rows. Convolutions carry a bias; their ``padding`` is the nominal (kernel - 1) // 2
when SAME, 0 when VALID; a pool's is what TFLite pads before its input. Elementwise,
concat and pool rows count one operation per output element in ``macs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np

from dnncost.encoding import ACT_CODES, ACT_NAMES, OP_CODES
from dnncost.gen.spec import BlockSpec, ConvSpec, DwSpec, FireSpec, NetworkSpec, PoolSpec
from dnncost.records import Layer

FUSED_ACTIVATIONS: tuple[str, ...] = ("relu", "relu6")
COMPUTE_OPS: tuple[str, ...] = ("conv", "dwconv", "fc")
RELU6, HSWISH, SIGMOID = ACT_CODES["relu6"], ACT_CODES["hswish"], ACT_CODES["sigmoid"]
# The layer op of an activation row, by activation code.
ACT_OPS: tuple[int, ...] = tuple(OP_CODES.get(str(name), 0) for name in ACT_NAMES)

Value = Any  # an int, or a numpy array of ints over many stages


@dataclass(frozen=True)
class Op:
    """A primitive op: what builders make (``kind``), the ops whose outputs it reads
    (``inputs``; -1 is the network input), its layer-table row and its padding mode."""

    kind: str  # conv dwconv add mul concat relu relu6 hswish sigmoid avgpool maxpool mean
    inputs: tuple[int, ...]
    layer: Layer
    same: bool = True


class Emitter(Protocol):
    """Where a walker's ops go: ``emit`` returns the new op's reference."""

    def emit(self, kind: str, inputs: tuple[Any, ...], on: Value, fields: dict[str, Value]
             ) -> Any: ...


def _ceil_div(a: Value, b: Value) -> Value:
    return -(-a // b)


class Walker:
    """Walks stages over the current tensor (``h``, ``w``, ``c``, reference ``x``).

    Every value may be an int or an array over many stages; a condition that decides
    whether an op exists (``on``) masks it instead of branching, so both run the same
    code. Structure that differs (block kinds) is decided by the stage's type."""

    def __init__(self, emitter: Emitter, h: Value, w: Value, c: Value, x: Any = -1) -> None:
        self.emitter, self.h, self.w, self.c, self.x = emitter, h, w, c, x

    def _emit(self, kind: str, inputs: tuple[Any, ...], out: tuple[Value, Value, Value],
              on: Value = True, **fields: Value) -> Any:
        out_h, out_w, cout = out
        return self.emitter.emit(kind, inputs, on, dict(
            in_h=self.h, in_w=self.w, cin=self.c, out_h=out_h, out_w=out_w, cout=cout,
            **fields))

    def conv(self, kernel: Value, stride: Value, cout: Value, act: Value, same: Value = True,
             depthwise: bool = False, on: Value = True) -> None:
        """A convolution with bias; ReLU/ReLU6 fused, any other activation a row after."""
        h, w, c = self.h, self.w, self.c
        valid_h, valid_w = (h - kernel) // stride + 1, (w - kernel) // stride + 1
        out_h = same * _ceil_div(h, stride) + (1 - same) * valid_h
        out_w = same * _ceil_div(w, stride) + (1 - same) * valid_w
        per_group = 1 if depthwise else c
        cout = c if depthwise else cout
        self.x = self._emit("dwconv" if depthwise else "conv", (self.x,), (out_h, out_w, cout),
                            on, same=same, kernel=kernel, stride=stride,
                            padding=same * ((kernel - 1) // 2),
                            groups=c if depthwise else 1, activation=act * (act <= RELU6),
                            macs=out_h * out_w * cout * kernel * kernel * per_group,
                            params=kernel * kernel * per_group * cout + cout)
        self.h, self.w, self.c = out_h, out_w, cout
        self.activation(act, on & (act > RELU6))

    def activation(self, act: Value, on: Value = True) -> None:
        """An activation row (``act`` a code of dnncost.encoding.ACT_CODES)."""
        shape = (self.h, self.w, self.c)
        self.x = self._emit("act", (self.x,), shape, on, act=act, macs=self.h * self.w * self.c,
                            params=0)

    def elementwise(self, kind: str, other: Any, on: Value = True) -> None:
        """``add`` or ``mul`` of the current tensor and ``other`` (same shape or 1x1)."""
        shape = (self.h, self.w, self.c)
        self.x = self._emit(kind, (self.x, other), shape, on, macs=self.h * self.w * self.c,
                            params=0)

    def pool(self, kernel: Value, stride: Value = 0, kind: str = "avg", same: Value = False,
             on: Value = True) -> None:
        """Global mean (kernel 0) or windowed ``avg``/``max`` pooling."""
        h, w, c = self.h, self.w, self.c
        window = 1 * (kernel > 0)
        step = stride + (stride < 1)  # a global mean has no stride: avoid dividing by 0
        sizes = []
        for size in (h, w):
            out = same * _ceil_div(size, step) + (1 - same) * ((size - kernel) // step + 1)
            pad = same * (((out - 1) * step + kernel - size) // 2)
            sizes.append((window * out + (1 - window), window * pad * (pad > 0)))
        (out_h, pad_h), (out_w, _) = sizes
        self.x = self._emit(f"{kind}pool", (self.x,), (out_h, out_w, c), on, same=same,
                            window=window, kernel=window * kernel + (1 - window) * h,
                            stride=window * stride + (1 - window), padding=pad_h,
                            macs=out_h * out_w * c, params=0)
        self.h, self.w = out_h, out_w

    def squeeze_excite(self, reduced: Value, on: Value = True) -> None:
        """Global mean, 1x1 to ``reduced`` + ReLU, 1x1 back + sigmoid, times the input."""
        h, w, c, x = self.h, self.w, self.c, self.x
        self.pool(0, on=on)
        self.conv(1, 1, reduced, ACT_CODES["relu"], on=on)
        self.conv(1, 1, c, 0, on=on)
        self.activation(SIGMOID, on)
        gate = self.x
        self.h, self.w, self.c, self.x = h, w, c, x
        self.elementwise("mul", gate, on)

    def residual(self, shortcut: Any, shape: tuple[Value, Value, Value], stride: Value) -> None:
        """Add the block's input (of ``shape`` h, w, c) where the block keeps its shape."""
        h, w, c = shape
        self.elementwise("add", shortcut, (stride == 1) & (c == self.c) & (h == self.h)
                         & (w == self.w))

    def concat(self, refs: tuple[Any, ...], channels: Value) -> None:
        """Channel concatenation of ``refs`` (the current tensor's h and w)."""
        self.c = channels
        self.x = self._emit("concat", refs, (self.h, self.w, channels),
                            macs=self.h * self.w * channels, params=0)


# ---- stages: one handler per stage type, all over the Walker ---------------------
def _act(stage: Any) -> Value:
    """The activation code of a stage (an int, or already codes over many stages)."""
    act = stage.act
    return ACT_CODES[act] if act is None or isinstance(act, str) else act


def walk_conv(walker: Walker, stage: ConvSpec) -> None:
    walker.conv(stage.kernel, stage.stride, stage.cout, _act(stage), stage.same)


def walk_dw(walker: Walker, stage: DwSpec) -> None:
    walker.conv(stage.kernel, stage.stride, 0, _act(stage), stage.same, depthwise=True)


def walk_pool(walker: Walker, stage: PoolSpec) -> None:
    walker.pool(stage.kernel, stage.stride, stage.kind, stage.same)


def walk_block(walker: Walker, block: BlockSpec) -> None:
    """ir: 1x1 expand, depthwise; fr: dense kxk expand; ds: depthwise. Then optional
    squeeze-excite, a linear 1x1 projection and the residual."""
    shortcut, shape, act = walker.x, (walker.h, walker.w, walker.c), _act(block)
    if block.kind == "ir":
        walker.conv(1, 1, block.hidden, act)
    if block.kind == "fr":
        walker.conv(block.kernel, block.stride, block.hidden, act)
    else:
        walker.conv(block.kernel, block.stride, 0, act, depthwise=True)
    walker.squeeze_excite(block.se, block.se > 0)
    walker.conv(1, 1, block.cout, 0)
    walker.residual(shortcut, shape, block.stride)


def walk_fire(walker: Walker, fire: FireSpec) -> None:
    """Squeeze 1x1, then a 1x1 and a 3x3 expand of cout / 2 channels each, concatenated."""
    act, half = _act(fire), fire.cout // 2
    walker.conv(1, 1, fire.squeeze, act)
    squeezed = (walker.h, walker.w, walker.c, walker.x)
    walker.conv(1, 1, half, act)
    expand1 = walker.x
    walker.h, walker.w, walker.c, walker.x = squeezed
    walker.conv(3, 1, half, act)
    walker.concat((expand1, walker.x), fire.cout)


STAGE_WALKERS: dict[type, Callable[[Walker, Any], None]] = {
    ConvSpec: walk_conv, DwSpec: walk_dw, PoolSpec: walk_pool, BlockSpec: walk_block,
    FireSpec: walk_fire}


# ---- one network: Op records -----------------------------------------------------
class _Ops:
    """The emitter of :func:`decode`: Op records, skipping those whose ``on`` is false
    (a skipped op passes its first input through)."""

    def __init__(self) -> None:
        self.ops: list[Op] = []

    def emit(self, kind: str, inputs: tuple[Any, ...], on: Value, fields: dict[str, Value]
             ) -> Any:
        if not on:
            return inputs[0]
        same = bool(fields.pop("same", False))
        act, window = fields.pop("act", 0), fields.pop("window", 1)
        if kind == "act":
            kind = str(ACT_NAMES[act])
        elif kind.endswith("pool") and not window:
            kind = "mean"
        fields = {k: int(v) for k, v in fields.items()}
        fields["activation"] = ACT_NAMES[fields.get("activation", 0)]
        op_type = "pool" if kind in ("avgpool", "maxpool", "mean") else kind
        layer = Layer(len(self.ops), op_type, **fields)
        self.ops.append(Op(kind, tuple(inputs), layer, same))
        return len(self.ops) - 1


def decode(spec: NetworkSpec) -> list[Op]:
    """The primitive ops of ``spec`` in execution order."""
    emitter = _Ops()
    walker = Walker(emitter, spec.resolution, spec.resolution, spec.in_channels)
    for stage in spec.stages:
        STAGE_WALKERS[type(stage)](walker, stage)
    return emitter.ops


def layer_table(spec: NetworkSpec) -> list[Layer]:
    """The layer table of ``spec``, rows in execution order."""
    return [op.layer for op in decode(spec)]


def total_macs(layers: list[Layer]) -> int:
    """Multiply-accumulates of the convolution and fully connected rows."""
    return sum(layer.macs or 0 for layer in layers if layer.op_type in COMPUTE_OPS)


def total_params(layers: list[Layer]) -> int:
    """Weights and biases of all rows."""
    return sum(layer.params or 0 for layer in layers)


def as_array(value: Value) -> np.ndarray:
    """``value`` as an int64 array (for emitters over many stages)."""
    return np.asarray(value, np.int64)
