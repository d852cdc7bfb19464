"""The spec walker's primitives: :class:`Walker` emits convolutions, pools, elementwise
ops, shuffles and concatenations over the current tensor, and is the one place where an
op's shapes, MACs and parameters are computed (stage handlers: gen/layers.py and
gen/nas_blocks.py; the module docstring of gen/layers.py says what the rows follow).

Every value may be an int or a numpy array over many stages; a condition that decides
whether an op exists (``on``) masks it instead of branching, so both run the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from dnncost.encoding import ACT_CODES, ACT_NAMES, OP_CODES
from dnncost.errors import InputError
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

    kind: str  # conv dwconv add mul concat shuffle zeros relu relu6 hswish sigmoid
    #            avgpool maxpool mean
    inputs: tuple[int, ...]
    layer: Layer
    same: bool = True


class Emitter(Protocol):
    """Where a walker's ops go: ``emit`` returns the new op's reference."""

    def emit(self, kind: str, inputs: tuple[Any, ...], on: Value, fields: dict[str, Value]
             ) -> Any: ...


def _ceil_div(a: Value, b: Value) -> Value:
    return -(-a // b)


def choose(condition: Value, then: Any, otherwise: Any) -> Any:
    """``then`` where ``condition`` holds: the reference an op's consumers read. Over many
    stages references are not used (only rows are), so any one does."""
    if np.ndim(condition) == 0:
        return then if bool(condition) else otherwise
    return then


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
             depthwise: bool = False, on: Value = True, groups: Value = 1) -> None:
        """A convolution with bias (dense, grouped or depthwise); ReLU/ReLU6 fused, any
        other activation a row after."""
        h, w, c = self.h, self.w, self.c
        if np.ndim(c) == 0 and on and not depthwise and groups > 1 and c % groups:
            raise InputError(f"a convolution in {groups} groups takes {c} input channels: "
                             "the channels before a grouped block must divide into its groups")
        valid_h, valid_w = (h - kernel) // stride + 1, (w - kernel) // stride + 1
        out_h = same * _ceil_div(h, stride) + (1 - same) * valid_h
        out_w = same * _ceil_div(w, stride) + (1 - same) * valid_w
        per_group = 1 if depthwise else c // groups
        cout = c if depthwise else cout
        self.x = self._emit("dwconv" if depthwise else "conv", (self.x,), (out_h, out_w, cout),
                            on, same=same, kernel=kernel, stride=stride,
                            padding=same * ((kernel - 1) // 2),
                            groups=c if depthwise else groups, activation=act * (act <= RELU6),
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

    def shuffle(self, groups: Value, on: Value = True) -> None:
        """ShuffleNet's channel shuffle over ``groups`` (reshape, transpose, reshape)."""
        shape = (self.h, self.w, self.c)
        self.x = self._emit("shuffle", (self.x,), shape, on, groups=groups,
                            macs=self.h * self.w * self.c, params=0)

    def zeros(self, on: Value = True) -> None:
        """The current tensor times zero (a NAS-Bench-201 `none` edge)."""
        shape = (self.h, self.w, self.c)
        self.x = self._emit("zeros", (self.x,), shape, on, macs=self.h * self.w * self.c,
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
