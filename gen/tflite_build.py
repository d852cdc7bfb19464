"""Spec -> .tflite bytes without TensorFlow: the flatbuffer written from the decoded ops.

The graph is the one the TFLite converter makes of the Keras build (gen/tf_build.py, the
reference), as gen/tflite_plan.py lays it out. int8 is full-integer post-training
quantization as the converter does it: activations per tensor from their range over the
calibration inputs (the fp32 model run in LiteRT with every tensor kept; a range under
1e-6 widened by 1e-6), weights symmetric per output channel, biases int32 at input scale
x weight scale, LOGISTIC's output at 1/256, pools, reshapes, transposes and
concatenations sharing their input's scale, and the first ADD input that only the ADD
reads quantized over its range and the ADD's together. The schema is ai_edge_litert's
generated object API; only ``flatbuffers`` packs it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dnncost.errors import ToolError
from dnncost.gen.layers import decode
from dnncost.gen.spec import CellSpec, NetworkSpec, ResSpec
from dnncost.gen.tflite_plan import Node, Plan, Tensor, calibration_inputs

FLOAT32, INT32, INT8 = 0, 2, 9  # TensorType
# Op kind -> (BuiltinOperator, fp32 version, int8 version)
_CODES = {"conv": (3, 1, 3), "dwconv": (4, 1, 3), "add": (0, 1, 2), "mul": (18, 1, 2),
          "avgpool": (1, 1, 2), "maxpool": (17, 1, 2), "mean": (40, 1, 2),
          "relu": (19, 1, 2), "relu6": (21, 1, 2), "hswish": (117, 1, 1),
          "sigmoid": (14, 1, 2), "concat": (2, 1, 2), "reshape": (22, 1, 1),
          "transpose": (39, 4, 4)}
_GROUPED_CONV_VERSION = 6
_NEAR_ZERO = 1e-6  # a calibrated range narrower than this is widened by it
_SAME_SCALE = {"avgpool", "maxpool", "reshape", "transpose", "concat"}
SUPPORTED_KINDS = frozenset(_CODES) - {"reshape", "transpose"} | {"shuffle"}


def unsupported(spec: NetworkSpec) -> str | None:
    """Why this builder does not write ``spec`` (the converter must), or None."""
    if any(isinstance(stage, (CellSpec, ResSpec)) for stage in spec.stages):
        return ("NAS-Bench-201 cells (the converter orders their branches and shares "
                "their scales by rules not matched yet)")
    kinds = {op.kind for op in decode(spec)} - SUPPORTED_KINDS
    return f"op kind(s) {', '.join(sorted(kinds))}" if kinds else None


# ---- int8 quantization parameters --------------------------------------------------
def _round(x: float) -> int:
    """std::round: half away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def _activation_params(low: float, high: float) -> tuple[float, int]:
    """(scale, zero point) of an int8 tensor holding [low, high]: a range under 1e-6
    widened by 1e-6 each way, zero representable (the converter's rules)."""
    if high - low < _NEAR_ZERO:
        low, high = low - _NEAR_ZERO, high + _NEAR_ZERO
    low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        return 1.0, -128
    scale = (high - low) / 255.0
    return scale, max(-128, min(127, _round(-128 - low / scale)))


def _quantized(plan: Plan, ranges: dict[int, tuple[float, float]]
               ) -> dict[int, tuple[np.ndarray, np.ndarray, int]]:
    """(scales, zero points, axis) of every int8/int32 tensor of ``plan`` (``ranges``:
    from :func:`_ranges`)."""
    params: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}

    def one(scale: float, zero: int) -> tuple[np.ndarray, np.ndarray, int]:
        return np.asarray([scale], np.float32), np.asarray([zero], np.int64), 0

    params[plan.input] = one(*_activation_params(*ranges[plan.input]))
    producer: dict[int, Node] = {}
    for node in plan.nodes:
        out = node.outputs[0]
        producer[out] = node
        if node.kind == "sigmoid":
            params[out] = one(1.0 / 256.0, -128)
        elif node.kind in _SAME_SCALE - {"concat"}:
            params[out] = params[node.inputs[0]]
        else:
            params[out] = one(*_activation_params(*ranges[out]))
    uses: dict[int, int] = {}
    for node in plan.nodes:
        for tensor in node.inputs:
            uses[tensor] = uses.get(tensor, 0) + 1
    for node in plan.nodes:  # the first input that an ADD alone reads is quantized over
        out = node.outputs[0]  # its own range and the ADD's together
        for tensor in node.inputs if node.kind == "add" else ():
            if uses[tensor] == 1 and tensor in producer \
                    and producer[tensor].kind not in _SAME_SCALE | {"sigmoid"}:
                (low, high), (low_sum, high_sum) = ranges[tensor], ranges[out]
                params[tensor] = one(*_activation_params(min(low, low_sum),
                                                         max(high, high_sum)))
                break
    for node in plan.nodes:  # a concatenation's inputs take its scale, up same-scale ops
        if node.kind == "concat":
            stack = list(node.inputs)
            while stack:
                tensor = stack.pop()
                params[tensor] = params[node.outputs[0]]
                if tensor in producer and producer[tensor].kind in _SAME_SCALE - {"concat"}:
                    stack.append(producer[tensor].inputs[0])
    for node in plan.nodes:  # what reads a rewritten scale through a same-scale op
        if node.kind in _SAME_SCALE - {"concat"}:
            params[node.outputs[0]] = params[node.inputs[0]]
    for index, tensor in enumerate(plan.tensors):
        if tensor.channel_axis is not None:
            assert tensor.data is not None
            moved = np.moveaxis(tensor.data, tensor.channel_axis, 0).reshape(
                tensor.data.shape[tensor.channel_axis], -1)
            scales = np.maximum(np.abs(moved).max(axis=1), 1e-12) / 127.0
            params[index] = (scales.astype(np.float32), np.zeros(len(scales), np.int64),
                             tensor.channel_axis)
    for index, tensor in enumerate(plan.tensors):
        if tensor.bias_of is not None:
            source, weight = tensor.bias_of
            scales = params[source][0].astype(np.float64) * params[weight][0]
            params[index] = (scales.astype(np.float32), np.zeros(len(scales), np.int64), 0)
    return params


def _int8_data(tensor: Tensor, scales: np.ndarray) -> np.ndarray:
    assert tensor.data is not None
    if tensor.bias_of is not None:
        return np.round(tensor.data / scales).astype(np.int32)
    shape = [1] * tensor.data.ndim
    shape[tensor.channel_axis or 0] = -1
    return np.clip(np.round(tensor.data / scales.reshape(shape)), -127, 127).astype(np.int8)


# ---- writing -----------------------------------------------------------------------
def _schema() -> Any:
    from ai_edge_litert import schema_py_generated as schema

    return schema


def _options(schema: Any, node: Node) -> tuple[int, Any]:
    """(BuiltinOptions type, options object) of a node."""
    kinds, o = schema.BuiltinOptions, node.options
    if node.kind in ("conv", "dwconv"):
        opts = schema.Conv2DOptionsT() if node.kind == "conv" else \
            schema.DepthwiseConv2DOptionsT()
        opts.padding, opts.strideW = o["padding"], o["stride"]
        opts.strideH, opts.fusedActivationFunction = o["stride"], o["fused"]
        opts.dilationWFactor = opts.dilationHFactor = 1
        if node.kind == "dwconv":
            opts.depthMultiplier = 1
            return kinds.DepthwiseConv2DOptions, opts
        return kinds.Conv2DOptions, opts
    if node.kind in ("avgpool", "maxpool"):
        opts = schema.Pool2DOptionsT()
        opts.padding, opts.strideW, opts.strideH = o["padding"], o["stride"], o["stride"]
        opts.filterWidth = opts.filterHeight = o["kernel"]
        opts.fusedActivationFunction = o.get("fused", 0)
        return kinds.Pool2DOptions, opts
    if node.kind == "add":
        opts = schema.AddOptionsT()
        opts.potScaleInt16, opts.fusedActivationFunction = True, o.get("fused", 0)
        return kinds.AddOptions, opts
    if node.kind == "mul":
        opts = schema.MulOptionsT()
        opts.fusedActivationFunction = o.get("fused", 0)
        return kinds.MulOptions, opts
    if node.kind == "mean":
        opts = schema.ReducerOptionsT()
        opts.keepDims = True
        return kinds.ReducerOptions, opts
    if node.kind == "concat":
        opts = schema.ConcatenationOptionsT()
        opts.axis = -1
        return kinds.ConcatenationOptions, opts
    return kinds.NONE, None


def _write(plan: Plan, precision: str,
           params: dict[int, tuple[np.ndarray, np.ndarray, int]] | None) -> bytes:
    import flatbuffers

    schema = _schema()
    model = schema.ModelT()
    model.version, model.description = 3, "dnncost direct builder"
    model.buffers = [_AlignedBuffer(None)]
    tensors = []
    for index, tensor in enumerate(plan.tensors):
        t = schema.TensorT()
        t.shape, t.name = list(tensor.shape), f"t{index}"
        quant = params.get(index) if params is not None else None
        if tensor.data is None:
            t.type, t.buffer = (INT8 if quant is not None else FLOAT32), 0
        else:
            data = tensor.data
            if quant is not None:
                data = _int8_data(tensor, quant[0])
            t.type = {np.dtype(np.float32): FLOAT32, np.dtype(np.int32): INT32,
                      np.dtype(np.int8): INT8}[data.dtype]
            t.buffer = len(model.buffers)
            model.buffers.append(_AlignedBuffer(np.ascontiguousarray(data).tobytes()))
        if quant is not None:
            q = schema.QuantizationParametersT()
            q.scale, q.zeroPoint, q.quantizedDimension = list(quant[0]), list(quant[1]), \
                quant[2]
            t.quantization = q
        tensors.append(t)
    versions: dict[int, int] = {}  # one code per builtin, at the highest version needed
    for node in plan.nodes:
        builtin, fp32_version, int8_version = _CODES[node.kind]
        version = _GROUPED_CONV_VERSION if node.options.get("grouped") else \
            fp32_version if precision == "fp32" else int8_version
        versions[builtin] = max(version, versions.get(builtin, 0))
    codes = {builtin: index for index, builtin in enumerate(versions)}
    model.operatorCodes = []
    for builtin, version in versions.items():
        code = schema.OperatorCodeT()
        code.builtinCode, code.deprecatedBuiltinCode = builtin, min(builtin, 127)
        code.version = version
        model.operatorCodes.append(code)
    operators = []
    for node in plan.nodes:
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = codes[_CODES[node.kind][0]], node.inputs, \
            node.outputs
        op.builtinOptionsType, op.builtinOptions = _options(schema, node)
        operators.append(op)
    graph = schema.SubGraphT()
    graph.tensors, graph.operators = tensors, operators
    graph.inputs, graph.outputs, graph.name = [plan.input], [plan.output], "main"
    model.subgraphs = [graph]
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


class _AlignedBuffer:
    """A schema Buffer whose bytes start on 16 (the converter's force_align)."""

    def __init__(self, data: bytes | None) -> None:
        self.data = data

    def Pack(self, builder: Any) -> int:  # noqa: N802 (the object API's name)
        schema = _schema()
        vector = None
        if self.data:
            builder.StartVector(1, len(self.data), 16)
            builder.head -= len(self.data)
            builder.Bytes[builder.head:builder.head + len(self.data)] = self.data
            vector = builder.EndVector()
        schema.BufferStart(builder)
        if vector is not None:
            schema.BufferAddData(builder, vector)
        return schema.BufferEnd(builder)


def _ranges(plan: Plan, fp32: bytes, seed: int) -> dict[int, tuple[float, float]]:
    """(min, max) of every activation tensor of ``plan`` over the calibration inputs, in
    LiteRT (``fp32``: the plan written in fp32; every tensor kept)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_content=fp32, num_threads=1,
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    active = [i for i, t in enumerate(plan.tensors) if t.data is None]
    low = dict.fromkeys(active, math.inf)
    high = dict.fromkeys(active, -math.inf)
    for sample in calibration_inputs(plan.tensors[plan.input].shape, seed):
        interpreter.set_tensor(plan.input, sample)
        interpreter.invoke()
        for index in active:
            values = interpreter.get_tensor(index)
            low[index] = min(low[index], float(values.min()))
            high[index] = max(high[index], float(values.max()))
    return {i: (low[i], high[i]) for i in active}


def spec_to_tflite(spec: NetworkSpec, precisions: tuple[str, ...], seed: int = 0
                   ) -> dict[str, bytes]:
    """``spec`` as .tflite bytes in each precision (``fp32``, ``int8``): {precision: bytes}."""
    why = unsupported(spec)
    if why is not None:
        raise ToolError(f"the direct builder does not write {why} yet: use --builder tf")
    plan = Plan(spec, seed)
    fp32 = _write(plan, "fp32", None)
    written = {}
    for precision in precisions:
        if precision == "fp32":
            written[precision] = fp32
        elif precision == "int8":
            ranges = _ranges(plan, fp32, seed)
            written[precision] = _write(plan, "int8", _quantized(plan, ranges))
        else:
            raise ToolError(f"unknown precision {precision!r}: use fp32 or int8")
    return written
