"""The graph the TFLite converter makes of a spec, as plain tensors and nodes (no I/O).

:class:`Plan` turns ``decode(spec)`` into what the converter leaves after its graph
passes (:func:`simplified`: shared weightless ops, fused ReLU/ReLU6, dead ops dropped):
the same ops in the same order, MEAN for a global average, RESHAPE-TRANSPOSE-RESHAPE for
a channel shuffle, a closing RESHAPE to ``[1, classes]``; seeded Glorot-uniform weights
in TFLite layout, zero biases. gen/tflite_build.py quantizes and writes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dnncost.gen.layers import Op, decode
from dnncost.gen.spec import NetworkSpec

CALIBRATION_SAMPLES = 4
SAME, VALID = 0, 1  # Padding
FUSED = {None: 0, "relu": 1, "relu6": 3}  # ActivationFunctionType
_FUSES_RELU = ("conv", "dwconv", "add", "mul", "avgpool", "maxpool")  # options with one


def calibration_inputs(shape: tuple[int, ...], seed: int) -> list[np.ndarray]:
    """The seeded uniform [-1, 1) inputs int8 is calibrated on (both builders)."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.0, 1.0, shape).astype(np.float32)
            for _ in range(CALIBRATION_SAMPLES)]


@dataclass
class Tensor:
    shape: tuple[int, ...]
    data: np.ndarray | None = None  # float32 weights / int32 constants; None: activation
    channel_axis: int | None = None  # per-channel quantization axis of a weight
    bias_of: tuple[int, int] | None = None  # (input tensor, weight tensor) of a bias


@dataclass
class Node:
    kind: str
    inputs: list[int]
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)


class Plan:
    """The graph as tensors and nodes, before it is written in one precision."""

    def __init__(self, spec: NetworkSpec, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.tensors: list[Tensor] = []
        self.nodes: list[Node] = []
        size, channels = spec.resolution, spec.in_channels
        self.input = self._tensor((1, size, size, channels))
        ops = decode(spec)
        kept, alias, fused = simplified(ops)
        out = {-1: self.input}
        self.weighted: dict[int, Node] = {}  # op index -> its convolution node
        for index in kept:
            out[index] = self._op(ops[index], [out[resolve(alias, i)] for i in ops[index].inputs],
                                  fused.get(index))
            if ops[index].kind in ("conv", "dwconv"):
                self.weighted[index] = self.nodes[-1]
        last = out[resolve(alias, len(ops) - 1)]
        shape = self.tensors[last].shape
        if len(shape) == 4 and shape[1] == shape[2] == 1:
            last = self._node("reshape", [last, self._const([1, shape[3]])], (1, shape[3]))
        self.output = last

    def _tensor(self, shape: tuple[int, ...], **kwargs: Any) -> int:
        self.tensors.append(Tensor(tuple(int(d) for d in shape), **kwargs))
        return len(self.tensors) - 1

    def _const(self, values: list[int]) -> int:
        return self._tensor((len(values),), data=np.asarray(values, np.int32))

    def _node(self, kind: str, inputs: list[int], shape: tuple[int, ...], **options: Any
              ) -> int:
        output = self._tensor(shape)
        self.nodes.append(Node(kind, inputs, [output], options))
        return output

    def _glorot(self, shape: tuple[int, ...], fan_in: int, fan_out: int) -> np.ndarray:
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return self.rng.uniform(-limit, limit, shape).astype(np.float32)

    def _op(self, op: Op, inputs: list[int], fused: str | None = None) -> int:
        layer = op.layer
        shape = (1, layer.out_h, layer.out_w, layer.cout)
        padding = SAME if op.same else VALID
        if op.kind in ("conv", "dwconv"):
            k, cin, cout = layer.kernel, layer.cin, layer.cout
            if op.kind == "conv":
                per_group = cin // (layer.groups or 1)
                weight = self._glorot((cout, k, k, per_group), k * k * per_group, k * k * cout)
                axis = 0
            else:
                weight = self._glorot((1, k, k, cin), k * k * cin, k * k)
                axis = 3
            w = self._tensor(weight.shape, data=weight, channel_axis=axis)
            b = self._tensor((cout,), data=np.zeros(cout, np.float32), bias_of=(inputs[0], w))
            return self._node(op.kind, [inputs[0], w, b], shape, padding=padding,
                              stride=layer.stride, fused=FUSED[fused or layer.activation],
                              grouped=op.kind == "conv" and (layer.groups or 1) > 1)
        if op.kind in ("avgpool", "maxpool"):
            return self._node(op.kind, inputs[:1], shape, padding=padding,
                              stride=layer.stride, kernel=layer.kernel, fused=FUSED[fused])
        if op.kind == "mean":
            return self._node("mean", [inputs[0], self._const([1, 2])], shape)
        if op.kind == "shuffle":
            h, w, c, groups = layer.out_h, layer.out_w, layer.cout, layer.groups
            x = self._node("reshape", [inputs[0], self._const([1, h, w, groups, c // groups])],
                           (1, h, w, groups, c // groups))
            x = self._node("transpose", [x, self._const([0, 1, 2, 4, 3])],
                           (1, h, w, c // groups, groups))
            return self._node("reshape", [x, self._const([1, h, w, c])], shape)
        return self._node(op.kind, inputs, shape, fused=FUSED[fused])


def resolve(alias: dict[int, int], index: int) -> int:
    while index in alias:
        index = alias[index]
    return index


def simplified(ops: list[Op]) -> tuple[list[int], dict[int, int], dict[int, str]]:
    """What the converter's graph passes leave of ``ops``: (kept op indices, op -> the op
    standing for it, op -> the ReLU/ReLU6 fused into it). Identical weightless ops on
    the same inputs are one (NAS-Bench-201's edges share their node's ReLU), a ReLU/ReLU6
    fuses into the convolution, ADD, MUL or pool before it when it is that op's only
    reader, and ops whose output reaches nothing are dropped."""
    alias: dict[int, int] = {}
    seen: dict[tuple[Any, ...], int] = {}
    inputs: dict[int, tuple[int, ...]] = {}
    for index, op in enumerate(ops):
        resolved = tuple(resolve(alias, i) for i in op.inputs)
        if op.kind not in ("conv", "dwconv"):
            key = (op.kind, resolved, op.layer.kernel, op.layer.stride, op.same)
            if key in seen:
                alias[index] = seen[key]
                continue
            seen[key] = index
        inputs[index] = resolved
    readers: dict[int, int] = {}
    for resolved in inputs.values():
        for i in resolved:
            readers[i] = readers.get(i, 0) + 1
    fused: dict[int, str] = {}
    for index in inputs:
        source = inputs[index][0]
        if ops[index].kind in ("relu", "relu6") and source >= 0 and readers[source] == 1 \
                and ops[source].kind in _FUSES_RELU and source not in fused \
                and ops[source].layer.activation is None:
            fused[source], alias[index] = ops[index].kind, source
    live = {resolve(alias, len(ops) - 1)}  # what reaches the output (the rest is dead)
    for index in sorted(inputs, reverse=True):
        if index in live:
            live.update(resolve(alias, i) for i in inputs[index])
    kept = [i for i in inputs if i not in alias and i in live]
    return _scheduled(kept, {i: tuple(resolve(alias, j) for j in inputs[i]) for i in kept}), \
        alias, fused


def _scheduled(kept: list[int], inputs: dict[int, tuple[int, ...]]) -> list[int]:
    """``kept`` in the converter's order: depth first, an op as soon as its inputs are
    there, the first-made of several ready ops first (NAS-Bench-201's cells show it)."""
    readers: dict[int, list[int]] = {-1: []}
    for index in kept:
        readers[index] = []
        for source in dict.fromkeys(inputs[index]):
            readers[source].append(index)
    done, order = {-1}, []
    stack = sorted((i for i in readers[-1] if set(inputs[i]) <= done), reverse=True)
    while stack:
        index = stack.pop()
        order.append(index)
        done.add(index)
        stack.extend(sorted((r for r in readers[index] if set(inputs[r]) <= done),
                            reverse=True))
    return order


def weights(spec: NetworkSpec, seed: int = 0) -> dict[int, list[np.ndarray]]:
    """The float weights this builder writes, per op index of ``decode(spec)``, in TFLite
    layout ([filter, bias]; filters OHWI, depthwise 1HWC): for the reference build."""
    plan = Plan(spec, seed)
    return {index: [plan.tensors[node.inputs[1]].data, plan.tensors[node.inputs[2]].data]
            for index, node in plan.weighted.items()}
