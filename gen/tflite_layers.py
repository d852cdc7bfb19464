"""The layer table of ANY .tflite file, read straight from its flatbuffer.

Uses only the ``flatbuffers`` runtime (no TensorFlow, no generated schema package):
the handful of TFLite schema fields needed are read by their slot numbers below
(schema.fbs of TensorFlow Lite; field slot i lives at vtable offset 4 + 2 i).
Rows follow the conventions of :mod:`dnncost.gen.layers` (a pool's padding is what TFLite
pads before its input; a TRANSPOSE of a ``[1, h, w, g, c/g]`` reshape is a channel
shuffle).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any

from flatbuffers import encode, number_types, packer
from flatbuffers.table import Table

from dnncost.errors import InputError
from dnncost.records import Layer

# BuiltinOperator codes (schema.fbs)
_CONV, _DWCONV, _FC, _TRANSPOSE = 3, 4, 9, 39
_POOLS = {1: "avg", 17: "max"}  # AVERAGE_POOL_2D, MAX_POOL_2D
_REDUCTIONS = {40, 74, 82}  # MEAN, SUM, REDUCE_MAX: global pooling when over H, W
_ELEMENTWISE = {0: "add", 18: "mul", 19: "relu", 21: "relu6", 117: "hswish",
                14: "sigmoid", 2: "concat"}  # ADD MUL RELU RELU6 HARD_SWISH LOGISTIC CONCATENATION
_SKIPPED = {6, 22, 34, 43, 60, 70, 114}  # DEQUANTIZE RESHAPE PAD SQUEEZE PADV2 EXPAND_DIMS QUANTIZE
_FUSED = {0: None, 1: "relu", 2: "relu_n1_to_1", 3: "relu6", 4: "tanh", 5: "sign_bit"}
_SAME = 0  # Padding enum

# Field slots: Model, OperatorCode, SubGraph, Tensor, Operator, options tables.
_MODEL_CODES, _MODEL_SUBGRAPHS = 1, 2
_CODE_DEPRECATED, _CODE_BUILTIN = 0, 3
_GRAPH_TENSORS, _GRAPH_OPERATORS = 0, 3
_TENSOR_SHAPE, _TENSOR_TYPE = 0, 1
_OP_CODE, _OP_INPUTS, _OP_OUTPUTS, _OP_OPTIONS = 0, 1, 2, 4
# (padding, stride_h, fused activation) slots in Conv2D / DepthwiseConv2D / Pool2D options
_OPTION_SLOTS = {_CONV: (0, 2, 3), _DWCONV: (0, 2, 4), 1: (0, 2, 5), 17: (0, 2, 5)}
_POOL_FILTER_H = 4
_FC_ACT, _ELEMENTWISE_ACT = 0, 0  # FullyConnectedOptions, AddOptions / MulOptions


class _Reader:
    """Field access on flatbuffer tables by slot number."""

    def __init__(self, data: bytes) -> None:
        self.buf = bytearray(data)

    def root(self) -> Table:
        return Table(self.buf, encode.Get(packer.uoffset, self.buf, 0))

    @staticmethod
    def scalar(table: Table, slot: int, flags: Any, default: int = 0) -> int:
        offset = table.Offset(4 + 2 * slot)
        return table.Get(flags, offset + table.Pos) if offset else default

    def tables(self, table: Table, slot: int) -> list[Table]:
        offset = table.Offset(4 + 2 * slot)
        if not offset:
            return []
        start = table.Vector(offset)
        return [Table(self.buf, table.Indirect(start + 4 * i))
                for i in range(table.VectorLen(offset))]

    @staticmethod
    def ints(table: Table, slot: int) -> list[int]:
        offset = table.Offset(4 + 2 * slot)
        if not offset:
            return []
        start = table.Vector(offset)
        return [table.Get(number_types.Int32Flags, start + 4 * i)
                for i in range(table.VectorLen(offset))]

    def subtable(self, table: Table, slot: int) -> Table | None:
        offset = table.Offset(4 + 2 * slot)
        return Table(self.buf, table.Indirect(offset + table.Pos)) if offset else None


def _hwc(shape: list[int]) -> tuple[int | None, int | None, int | None]:
    if len(shape) == 4:
        return shape[1], shape[2], shape[3]
    return None, None, (shape[-1] if shape else None)


def tflite_layer_table(path: str | Path) -> list[Layer]:
    """Layer table of the .tflite file at ``path`` (first subgraph, execution order)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror}): pass a .tflite file") from None
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise InputError(f"{path} is not a TFLite model (no TFL3 identifier): "
                         "pass a .tflite file")
    try:
        return _layers(_Reader(data))
    except InputError:
        raise
    except Exception as exc:  # truncated or corrupt buffers raise struct/index errors
        what = "a read past its end" if isinstance(exc, (struct.error, IndexError)) \
            else type(exc).__name__
        raise InputError(f"{path} is a corrupt TFLite model (truncated, or its tables point "
                         f"outside the file: {what}): re-export or re-download it") from None


def _layers(reader: _Reader) -> list[Layer]:
    model = reader.root()
    codes = [max(reader.scalar(c, _CODE_DEPRECATED, number_types.Int8Flags),
                 reader.scalar(c, _CODE_BUILTIN, number_types.Int32Flags))
             for c in reader.tables(model, _MODEL_CODES)]
    graphs = reader.tables(model, _MODEL_SUBGRAPHS)
    if not graphs:
        raise InputError("model has no subgraph")
    graph = graphs[0]
    shapes = [reader.ints(t, _TENSOR_SHAPE) for t in reader.tables(graph, _GRAPH_TENSORS)]
    rows: list[Layer] = []
    for op in reader.tables(graph, _GRAPH_OPERATORS):
        code = codes[reader.scalar(op, _OP_CODE, number_types.Uint32Flags)]
        if code in _SKIPPED:
            continue
        inputs = [shapes[i] if i >= 0 else [] for i in reader.ints(op, _OP_INPUTS)]
        outputs = [shapes[i] for i in reader.ints(op, _OP_OUTPUTS)]
        row = _row(reader, code, op, inputs, outputs[0] if outputs else [])
        rows.append(Layer(len(rows), **row))
    return rows


def _row(reader: _Reader, code: int, op: Table, inputs: list[list[int]],
         output: list[int]) -> dict[str, Any]:
    in_h, in_w, cin = _hwc(inputs[0] if inputs else [])
    out_h, out_w, cout = _hwc(output)
    out_elements = math.prod(output) if output else 0
    options = reader.subtable(op, _OP_OPTIONS)

    def get(slot: int) -> int:  # an int32 field of the operator's options table
        return reader.scalar(options, slot, number_types.Int32Flags) if options else 0

    def get8(slot: int) -> int:  # a byte (enum) field of the options table
        return reader.scalar(options, slot, number_types.Int8Flags) if options else 0

    base = dict(in_h=in_h, in_w=in_w, out_h=out_h, out_w=out_w, cin=cin, cout=cout)
    if code in (_CONV, _DWCONV):
        pad_slot, stride_slot, act_slot = _OPTION_SLOTS[code]
        weights = inputs[1]
        kernel = weights[1]
        bias = math.prod(inputs[2]) if len(inputs) > 2 and inputs[2] else 0
        per_group = 1 if code == _DWCONV else weights[3]
        return dict(base, op_type="dwconv" if code == _DWCONV else "conv", kernel=kernel,
                    stride=get(stride_slot),
                    padding=(kernel - 1) // 2 if get8(pad_slot) == _SAME else 0,
                    groups=cin if code == _DWCONV else (cin or per_group) // per_group,
                    activation=_FUSED.get(get8(act_slot), "other"),
                    macs=out_elements * kernel * weights[2] * per_group,
                    params=math.prod(weights) + bias)
    if code == _FC:
        weights = inputs[1]
        bias = math.prod(inputs[2]) if len(inputs) > 2 and inputs[2] else 0
        return dict(base, op_type="fc", cin=weights[1], cout=weights[0],
                    activation=_FUSED.get(get8(_FC_ACT), "other"),
                    macs=out_elements * weights[1], params=math.prod(weights) + bias)
    if code in _POOLS:
        pad_slot, stride_slot, act_slot = _OPTION_SLOTS[code]
        kernel, stride = get(_POOL_FILTER_H), get(stride_slot)
        pad = max(((out_h or 0) - 1) * stride + kernel - (in_h or 0), 0) // 2  # SAME: before
        return dict(base, op_type="pool", kernel=kernel, stride=stride,
                    padding=pad if get8(pad_slot) == _SAME else 0,
                    activation=_FUSED.get(get8(act_slot), "other"), macs=out_elements,
                    params=0)
    if code == _TRANSPOSE and len(inputs[0]) == 5:  # [1, h, w, g, c/g]: a channel shuffle
        _, h, w, groups, per_group = inputs[0]
        return dict(op_type="shuffle", in_h=h, in_w=w, out_h=h, out_w=w,
                    cin=groups * per_group, cout=groups * per_group, groups=groups,
                    macs=out_elements, params=0)
    if code in _REDUCTIONS and len(inputs[0]) == 4:
        return dict(base, op_type="pool", out_h=out_h or 1, out_w=out_w or 1, kernel=in_h,
                    stride=1, padding=0, macs=out_elements, params=0)
    activation = _FUSED.get(get8(_ELEMENTWISE_ACT), "other") if code in (0, 18) else None
    return dict(base, in_h=out_h, in_w=out_w, cin=cout,
                op_type=_ELEMENTWISE.get(code, "other"), activation=activation,
                macs=out_elements, params=0)
