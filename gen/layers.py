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

from typing import Any, Callable

import numpy as np

from dnncost.encoding import ACT_CODES, ACT_NAMES
from dnncost.gen.nas_blocks import walk_cell, walk_res
from dnncost.gen.spec import (ActSpec, BlockSpec, CellSpec, ConvSpec, DwSpec, FireSpec,
                              NetworkSpec, PoolSpec, ResSpec)
from dnncost.gen.walker import COMPUTE_OPS, Op, Value, Walker
from dnncost.records import Layer


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
    groups = getattr(block, "groups", 1)
    if block.kind == "ir":
        walker.conv(1, 1, block.hidden, act, groups=groups)
        walker.shuffle(groups, groups > 1)
    if block.kind == "fr":
        walker.conv(block.kernel, block.stride, block.hidden, act)
    else:
        walker.conv(block.kernel, block.stride, 0, act, depthwise=True)
    walker.squeeze_excite(block.se, block.se > 0)
    walker.conv(1, 1, block.cout, 0, groups=groups)
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


def walk_act(walker: Walker, stage: ActSpec) -> None:
    walker.activation(_act(stage))


STAGE_WALKERS: dict[type, Callable[[Walker, Any], None]] = {
    ConvSpec: walk_conv, DwSpec: walk_dw, PoolSpec: walk_pool, BlockSpec: walk_block,
    FireSpec: walk_fire, ActSpec: walk_act, CellSpec: walk_cell, ResSpec: walk_res}


# ---- one network: Op records -----------------------------------------------------
_OP_TYPES = {"avgpool": "pool", "maxpool": "pool", "mean": "pool", "zeros": "mul"}


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
        op_type = _OP_TYPES.get(kind, kind)
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
