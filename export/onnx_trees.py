"""The tree form of a cost model as an ONNX graph.

``layers [L, 14]`` + ``network_index [L]`` -> the agg-v2 featurizer
(export/onnx_features.py) -> ``features [N, F]`` (or ``features`` as the input) -> per term: Concat(features, Expand(device_vector, [N, D])) ->
TreeEnsembleRegressor (from onnxmltools) -> link -> * weight; the terms are summed,
with a layer-cost term if the model has one (Gather the amount columns, NaN -> 0, Exp - 1
on the logged ones, MatMul by the cost per unit, Max with the floor, Log, + the kernel
average of its training residuals (standardise, squared distances to the anchors,
Softmax, MatMul), * weight),
``bias_log_ms`` added, Exp taken: ``latency_ms [N]``. The batch size N stays dynamic.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from dnncost.errors import ModelError
from dnncost.export.metadata import INPUT_NAME, OUTPUT_NAME
from dnncost.export.trees import LINK_EXP, booster_trees, trimmed

ML_DOMAIN = "ai.onnx.ml"


def _tree_node(booster: Any, n_inputs: int, input_name: str, output_name: str,
               prefix: str, base_margin: float) -> tuple[Any, dict[str, int]]:
    """The TreeEnsembleRegressor node onnxmltools makes for ``booster``, renamed.

    onnxmltools rejects XGBoost feature names other than f0..fN, so the booster is
    converted without names (the graph takes features by position anyway). Its base
    value is set from the booster's own config, in margin space, and any output
    transform is left to the caller, so XGBoost 3.x's '[5E-1]' base_score form and
    log-link objectives come out right whatever the converter guessed.
    """
    from onnx import helper
    from onnxmltools.convert import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = convert_xgboost(trimmed(booster),
                                    initial_types=[("x", FloatTensorType([None, n_inputs]))])
    nodes = [n for n in converted.graph.node if n.op_type == "TreeEnsembleRegressor"]
    if len(nodes) != 1:
        raise ModelError("onnxmltools did not give one TreeEnsembleRegressor; "
                         "check the booster is a one-target regressor")
    source = nodes[0]
    attributes = [a for a in source.attribute
                  if a.name not in ("base_values", "post_transform", "n_targets")]
    node = helper.make_node("TreeEnsembleRegressor", [input_name], [output_name],
                            name=prefix + "trees", domain=ML_DOMAIN)
    node.attribute.extend(attributes)
    node.attribute.extend([helper.make_attribute("base_values", [float(base_margin)]),
                           helper.make_attribute("n_targets", 1),
                           helper.make_attribute("post_transform", "NONE")])
    opsets = {o.domain or "": o.version for o in converted.opset_import}
    return node, opsets


def _cost_sum_nodes(cost_sum: Any,
                    const: Callable[[str, np.ndarray], str]) -> tuple[list[Any], str]:
    """Nodes computing ``weight * log(max(amounts @ ms_per_unit, floor))`` as [N, 1]."""
    from onnx import helper

    from dnncost.learn.exportable import FLOOR_MS

    nodes, parts, order = [], [], []
    for logged in (True, False):
        picked = [i for i, flag in enumerate(cost_sum.logged) if flag == logged]
        if not picked:
            continue
        name = "cs_logged" if logged else "cs_raw"
        columns = np.asarray([cost_sum.columns[i] for i in picked], np.int64)
        nodes += [
            helper.make_node("Gather", [INPUT_NAME, const(name + "_columns", columns)],
                             [name + "_raw"], axis=1),
            helper.make_node("IsNaN", [name + "_raw"], [name + "_nan"]),
            helper.make_node("Where", [name + "_nan", const(name + "_zero", np.array(
                [[0.0]], np.float32)), name + "_raw"], [name]),
        ]
        if logged:
            nodes += [helper.make_node("Exp", [name], [name + "_exp"]),
                      helper.make_node("Sub", [name + "_exp", const("cs_one", np.array(
                          [[1.0]], np.float32))], [name + "_amounts"])]
            name += "_amounts"
        parts.append(name)
        order += picked
    per_unit = np.asarray(cost_sum.ms_per_unit, np.float32)[order].reshape(-1, 1)
    nodes += [
        helper.make_node("Concat", parts, ["cs_amounts"], axis=1),
        helper.make_node("MatMul", ["cs_amounts", const("cs_ms_per_unit", per_unit)],
                         ["cs_ms"]),
        helper.make_node("Max", ["cs_ms", const("cs_floor", np.array([[FLOOR_MS]], np.float32))],
                         ["cs_ms_floored"]),
        helper.make_node("Log", ["cs_ms_floored"], ["cs_log_ms"]),
    ]
    log_ms = "cs_log_ms"
    if cost_sum.smoother is not None:
        nodes += _smoother_nodes(cost_sum.smoother, const)
        nodes.append(helper.make_node("Add", [log_ms, "sm_value"], ["cs_corrected"]))
        log_ms = "cs_corrected"
    nodes.append(helper.make_node("Mul", [log_ms, const("cs_weight", np.array(
        [[cost_sum.weight]], np.float32))], ["cs_weighted"]))
    return nodes, "cs_weighted"


def _smoother_nodes(smoother: Any, const: Callable[[str, np.ndarray], str],
                   dtype: type = np.float32) -> list[Any]:
    """Nodes computing the AnchorSmoother's kernel average as float32 [N, 1] "sm_value"
    (squared distances as |z|^2 - 2 z.a + |a|^2, in ``dtype``: float32 keeps the graph
    within what every ONNX Runtime build runs; the export's parity check bounds the error)."""
    from onnx import TensorProto, helper

    onnx_type = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    anchors = np.asarray(smoother.anchors, np.float64)

    def typed(values: Any) -> np.ndarray:
        return np.asarray(values, np.float64).astype(dtype)

    return [
        helper.make_node("Cast", [INPUT_NAME], ["sm_x"], to=onnx_type),
        helper.make_node("Sub", ["sm_x", const("sm_centre", typed(smoother.centre)[None])],
                         ["sm_centred"]),
        helper.make_node("Div", ["sm_centred", const("sm_scale", typed(smoother.scale)[None])],
                         ["sm_z_raw"]),
        helper.make_node("IsNaN", ["sm_z_raw"], ["sm_nan"]),
        helper.make_node("Where", ["sm_nan", const("sm_zero", typed([[0.0]])), "sm_z_raw"],
                         ["sm_z"]),
        helper.make_node("ReduceSumSquare", ["sm_z", const("sm_axis1", np.array([1], np.int64))],
                         ["sm_zz"], keepdims=1),
        helper.make_node("MatMul", ["sm_z", const("sm_anchors_t", typed(anchors.T))],
                         ["sm_cross"]),
        helper.make_node("Mul", ["sm_cross", const("sm_minus_two", typed([[-2.0]]))],
                         ["sm_cross2"]),
        helper.make_node("Add", ["sm_zz", "sm_cross2"], ["sm_partial"]),
        helper.make_node("Add", ["sm_partial", const("sm_aa", typed((anchors ** 2).sum(1))[None])],
                         ["sm_squared"]),
        helper.make_node("Mul", ["sm_squared", const("sm_minus_inv_bw", typed(
            [[-1.0 / smoother.bandwidth]]))], ["sm_logits"]),
        helper.make_node("Softmax", ["sm_logits"], ["sm_weights"], axis=1),
        helper.make_node("MatMul", ["sm_weights", const("sm_values", typed(
            smoother.values).reshape(-1, 1))], ["sm_value_typed"]),
        helper.make_node("Cast", ["sm_value_typed"], ["sm_value"], to=TensorProto.FLOAT),
    ]


def tree_graph(terms: tuple[Any, ...], n_features: int, bias_log_ms: float,
               cost_sum: Any = None, layer_input: bool = False) -> Any:
    """An onnx.ModelProto computing latency_ms for the given TreeTerms (and the model's
    CostSumTerm, if any): from ``features [N, F]``, or, with ``layer_input``, from the
    layer table (``layers [L, 14]``, ``network_index [L]``; export/onnx_features.py
    computes the features inside, and gives them as a second output)."""
    from onnx import TensorProto, helper, numpy_helper

    from dnncost.export.onnx_features import LAYERS, NETWORK_INDEX, OPSET, featurizer_nodes

    if not terms:
        raise ModelError("the model has no trees and no module; nothing to export")
    nodes: list[Any] = []
    inits: list[Any] = []
    opsets: dict[str, int] = {"": OPSET}
    total = None

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, name))
        return name

    if layer_input:
        nodes += featurizer_nodes(const)
    nodes.append(helper.make_node("Shape", [INPUT_NAME], ["batch_shape"], start=0, end=1))
    for j, term in enumerate(terms):
        p = f"t{j}_"
        trees = booster_trees(term.booster)
        rows = INPUT_NAME
        n_device = 0 if term.device_vector is None else int(np.size(term.device_vector))
        if trees.n_features != n_features + n_device:
            raise ModelError(f"term {j}: booster takes {trees.n_features} features but the "
                             f"model gives {n_features} + {n_device} device values")
        if n_device:
            vector = np.asarray(term.device_vector, np.float32).reshape(1, n_device)
            nodes += [
                helper.make_node("Concat", ["batch_shape", const(p + "dev_len",
                                 np.array([n_device], np.int64))], [p + "dev_shape"], axis=0),
                helper.make_node("Expand", [const(p + "device", vector), p + "dev_shape"],
                                 [p + "dev_rows"]),
                helper.make_node("Concat", [INPUT_NAME, p + "dev_rows"], [p + "rows"], axis=1),
            ]
            rows = p + "rows"
        node, term_opsets = _tree_node(term.booster, n_features + n_device, rows,
                                       p + "margin", p, trees.base_margin)
        nodes.append(node)
        for domain, version in term_opsets.items():
            opsets[domain] = max(opsets.get(domain, 0), version)
        out = p + "margin"
        if trees.link == LINK_EXP:
            nodes.append(helper.make_node("Exp", [out], [p + "pred"]))
            out = p + "pred"
        nodes.append(helper.make_node("Mul", [out, const(p + "weight", np.array(
            [[term.weight]], np.float32))], [p + "weighted"]))
        if total is None:
            total = p + "weighted"
        else:
            nodes.append(helper.make_node("Add", [total, p + "weighted"], [p + "sum"]))
            total = p + "sum"
    if cost_sum is not None:
        cost_nodes, out = _cost_sum_nodes(cost_sum, const)
        nodes += cost_nodes + [helper.make_node("Add", [total, out], ["with_cost_sum"])]
        total = "with_cost_sum"
    nodes += [
        helper.make_node("Add", [total, const("bias_log_ms", np.array(
            [[bias_log_ms]], np.float32))], ["log_latency_ms"]),
        helper.make_node("Exp", ["log_latency_ms"], ["latency_ms_2d"]),
        helper.make_node("Reshape", ["latency_ms_2d", const("flat", np.array([-1], np.int64))],
                         [OUTPUT_NAME]),
    ]
    features = helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", n_features])
    outputs = [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N"])]
    if layer_input:
        inputs = [helper.make_tensor_value_info(LAYERS, TensorProto.FLOAT, ["L", 14]),
                  helper.make_tensor_value_info(NETWORK_INDEX, TensorProto.INT64, ["L"])]
        outputs.append(features)
    else:
        inputs = [features]
    graph = helper.make_graph(nodes, "dnncost_cost_model", inputs, outputs, inits)
    opset_list = [helper.make_opsetid(d, v) for d, v in sorted(opsets.items())]
    return helper.make_model(graph, opset_imports=opset_list, producer_name="dnncost")
