"""The direct .tflite builder against TensorFlow's converter, the reference: the same ops,
shapes and quantization, the same outputs in LiteRT, for a sample of every space it
writes (the converter gets the direct builder's weights)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from dnncost.gen import tflite_build
from dnncost.gen.layers import decode
from dnncost.gen.spaces import iiswc_networks, sample_specs
from dnncost.gen.spec import NetworkSpec, parse_spec
from dnncost.gen.tflite_plan import weights

SEED = 5
SCALE_TOLERANCE, ZERO_POINT_TOLERANCE = 0.03, 8  # a range's ends within 3 % of its span


def _smallest(space: str, count: int = 4) -> NetworkSpec:
    return min(sample_specs(space, count, 1), key=lambda s: sum(o.layer.macs or 0
                                                                  for o in decode(s)))


def _fire_network() -> NetworkSpec:
    return next(spec for _, _, spec in iiswc_networks()
                if {"concat", "maxpool"} <= {op.kind for op in decode(spec)})


# Written by hand: SAME pools, VALID convolutions, standalone activations, a ReLU fused
# into a residual ADD and into pools, squeeze-excite, grouped blocks, fire modules.
HAND = ("r64 conv_k3_s2_c16_arelu6 maxpool_k3_s2_psame dw_k3_s1 relu6 conv_k1_s1_c32 "
        "avgpool_k3_s1_psame ds_k3_s1_c32_se8_arelu relu conv_k3_s1_c32_pvalid gap "
        "conv_k1_s1_c10",
        "r48 conv_k3_s1_c16 hswish ir_k3_s1_h32_c16_se8_arelu6 ir_k5_s2_h48_c24_ahswish "
        "fr_k3_s1_h48_c24_arelu conv_k1_s1_c64_ahswish gap conv_k1_s1_c10",
        "r40 conv_k3_s2_c24_arelu ir_k3_s1_h48_c24_g2_arelu ir_k3_s1_h72_c24_g3_arelu "
        "ir_k5_s2_h48_c32_g2_arelu6 avgpool_k5_s2_psame conv_k1_s1_c10",
        "r56 conv_k5_s2_c32_arelu_pvalid maxpool_k3_s2 fire_h8_c32_arelu avgpool_k2_s2_psame "
        "fire_h8_c32 relu6 conv_k1_s1_c10",
        "r32 conv_k3_s1_c16 avgpool_k3_s1_psame relu conv_k3_s1_c16 maxpool_k3_s2 relu6 gap "
        "conv_k1_s1_c10")
SPECS = {"mobileopt": lambda: _smallest("mobileopt"), "efficient": lambda: _smallest("efficient"),
         "fbnet": lambda: _smallest("fbnet"), "iiswc-fire": _fire_network,
         **{f"hand{i}": (lambda text=text: parse_spec(text)) for i, text in enumerate(HAND)}}


def _structure(data: bytes) -> list[tuple[Any, ...]]:
    """Per op: (builtin, version, options, [(shape, type, scales, zero points, axis)])."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(data, 0)
    graph = model.subgraphs[0]
    ops = []
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        tensors = []
        for index in [*op.inputs, *op.outputs]:
            tensor, quant = graph.tensors[index], graph.tensors[index].quantization
            scales = None if quant is None or quant.scale is None else np.asarray(quant.scale)
            tensors.append((tuple(tensor.shape), tensor.type, scales,
                            None if scales is None else np.asarray(quant.zeroPoint),
                            None if scales is None else quant.quantizedDimension))
        options = sorted(vars(op.builtinOptions).items()) if op.builtinOptions else []
        ops.append((code.builtinCode, code.version, options, tensors))
    return ops


def _output(data: bytes, sample: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=data)
    interpreter.allocate_tensors()
    given = interpreter.get_input_details()[0]
    if given["dtype"] == np.int8:
        scale, zero = given["quantization"]
        sample = np.clip(np.round(sample / scale + zero), -128, 127).astype(np.int8)
    interpreter.set_tensor(given["index"], sample)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.fixture(scope="module", params=sorted(SPECS))
def built(request) -> tuple[NetworkSpec, dict[str, bytes], dict[str, bytes]]:
    from dnncost.gen import tf_build

    spec = SPECS[request.param]()
    direct = tflite_build.spec_to_tflite(spec, ("fp32", "int8"), SEED)
    model = tf_build.keras_model(spec, SEED, weights(spec, SEED))
    return spec, direct, {p: tf_build.convert(model, p, SEED) for p in ("fp32", "int8")}


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_same_ops_shapes_and_quantization_as_the_converter(built, precision):
    _, direct, reference = built
    ours, theirs = _structure(direct[precision]), _structure(reference[precision])
    assert [op[:3] for op in ours] == [op[:3] for op in theirs]
    for op, (mine, ref) in enumerate(zip(ours, theirs)):
        for (shape, kind, scales, zeros, axis), (shape_r, kind_r, scales_r, zeros_r, axis_r) \
                in zip(mine[3], ref[3]):
            assert (shape, kind) == (shape_r, kind_r), op
            assert (scales is None) == (scales_r is None), op
            if scales is None:
                continue
            assert len(scales) == len(scales_r) and axis == axis_r, op
            assert np.abs(scales / scales_r - 1).max() <= SCALE_TOLERANCE, op
            if kind != 2:  # int32 biases: zero points are 0 in both
                assert np.abs(zeros.astype(int) - zeros_r).max() <= ZERO_POINT_TOLERANCE, op


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_same_outputs_in_litert(built, precision):
    spec, direct, reference = built
    sample = np.random.default_rng(0).uniform(
        -1, 1, (1, spec.resolution, spec.resolution, spec.in_channels)).astype(np.float32)
    ours, theirs = _output(direct[precision], sample), _output(reference[precision], sample)
    if precision == "fp32":
        assert np.abs(ours - theirs).max() <= 1e-4 * np.abs(theirs).max()
    else:  # within int8 rounding
        assert np.abs(ours.astype(int) - theirs).max() <= 2


def test_same_layer_table_read_back(built, tmp_path):
    from dnncost.gen.tflite_layers import tflite_layer_table

    _, direct, reference = built
    for name, data in (("direct", direct["int8"]), ("reference", reference["int8"])):
        (tmp_path / f"{name}.tflite").write_bytes(data)
    assert tflite_layer_table(tmp_path / "direct.tflite") == \
        tflite_layer_table(tmp_path / "reference.tflite")


def test_builds_are_deterministic_and_nasbench201_cells_go_to_the_converter():
    from dnncost.errors import ToolError
    from dnncost.gen.pipeline import build_tflite

    spec = _smallest("mobileopt", 2)
    assert tflite_build.spec_to_tflite(spec, ("int8",), 3) == \
        tflite_build.spec_to_tflite(spec, ("int8",), 3)
    cells = sample_specs("nasbench201", 1, 0)[0]
    assert "NAS-Bench-201 cells" in (tflite_build.unsupported(cells) or "")
    with pytest.raises(ToolError, match="use --builder tf"):
        tflite_build.spec_to_tflite(cells, ("int8",), 0)
    assert b"MLIR Converted" in build_tflite(cells, ("int8",), 0, "direct")["int8"]
    assert b"dnncost direct" in build_tflite(spec, ("int8",), 0, "direct")["int8"]


def test_the_direct_builder_imports_no_tensorflow():
    import subprocess
    import sys

    code = ("import sys; from dnncost.gen.spaces import sample_specs; "
            "from dnncost.gen.pipeline import build_tflite; "
            "build_tflite(sample_specs('efficient', 1, 0)[0], ('fp32', 'int8'), 0); "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
