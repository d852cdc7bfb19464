"""The agg-v2 featurizer as ONNX nodes: encoded layer rows in, network features out.

Inputs ``layers`` float32 ``[L, 14]`` (dnncost.encoding, ``lt-v1``) and
``network_index`` int64 ``[L]`` (each row's network, 0 .. N-1, a network's rows
together and in execution order); output the internal tensor ``features`` float32
``[N, F]``, computed as ``dnncost.learn.features.agg_features`` computes it: in float64,
sums per network and per (network, op class) by ScatterElements (exact: integers below
2**53; the largest channel count by its max reduction, opset 18), ``log(1 + x)`` for
numpy's log1p, cast to float32 at the end.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from dnncost.encoding import COLUMNS, OP_CODES, OP_NAMES
from dnncost.learn.features import (ACTIVATION_OPS, CLASS_OF_OP, CLASSES, FEATURE_NAMES,
                                    HEAD_NAMES, LOWRES_PIXELS, PAD_CHANNELS, PER_CLASS)

LAYERS, NETWORK_INDEX, FEATURES = "layers", "network_index", "features"
OPSET = 18
_K = len(CLASSES)


def featurizer_nodes(const: Callable[[str, np.ndarray], str]) -> list[Any]:
    """Nodes from (``layers``, ``network_index``) to ``features``."""
    from onnx import TensorProto, helper

    nodes: list[Any] = []
    made: set[str] = set()

    def node(op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def c(name: str, value: Any, dtype: Any = np.float64) -> str:
        """A constant (made once a name)."""
        if name not in made:
            made.add(name)
            const("fxc_" + name, np.asarray(value, dtype))
        return "fxc_" + name

    double = TensorProto.DOUBLE
    x = node("Cast", [LAYERS], "fx_x", to=double)
    col = dict(zip(COLUMNS, [f"fx_col_{name}" for name in COLUMNS]))  # [L] each
    nodes.append(helper.make_node("Split", [x, c("split", [1] * len(COLUMNS), np.int64)],
                                  [name + "_2d" for name in col.values()], name="fx_split",
                                  axis=1))
    for name in col.values():
        node("Reshape", [name + "_2d", c("flat", [-1], np.int64)], name)
    op = node("Cast", [col["op"]], "fx_op", to=TensorProto.INT64)
    real_b = node("Greater", [op, c("zero_i", 0, np.int64)], "fx_real_b")
    real = node("Cast", [real_b], "fx_real", to=double)
    is_conv = node("Equal", [op, c("conv", OP_CODES["conv"], np.int64)], "fx_is_conv")
    is_dw = node("Equal", [op, c("dwconv", OP_CODES["dwconv"], np.int64)], "fx_is_dw")
    kxk = node("And", [is_conv, node("Greater", [col["kernel"], c("one", 1.0)], "fx_k_gt1")],
               "fx_kxk")
    cls = node("Where", [kxk, c("kxk", CLASSES.index("convkxk"), np.int64),
                         node("Gather", [c("class_of_op", CLASS_OF_OP, np.int64), op],
                              "fx_class0")], "fx_class")
    out_el = node("Mul", [node("Mul", [col["out_h"], col["out_w"]], "fx_out_hw"), col["cout"]],
                  "fx_out_el")
    in_el = node("Mul", [node("Mul", [col["in_h"], col["in_w"]], "fx_in_hw"), col["cin"]],
                 "fx_in_el")
    macs = col["macs"]
    act_ops = np.zeros(len(OP_NAMES), bool)
    act_ops[list(ACTIVATION_OPS)] = True
    fused = node("Cast", [node("And", [node("And", [real_b, node("Greater", [
        col["activation"], c("zero", 0.0)], "fx_has_act")], "fx_real_act"), node("Not", [
            node("Gather", [c("act_ops", act_ops, bool), op], "fx_act_op")], "fx_not_act_op")],
        "fx_fused_b")], "fx_fused", to=double)

    # N networks; sums per network ([N]) and per (network, class) ([N * K]) by scatter
    n = node("Add", [node("ReduceMax", [NETWORK_INDEX], "fx_last", keepdims=1),
                     c("one_i", [1], np.int64)], "fx_n")
    zero = helper.make_tensor("zero", double, [1], [0.0])
    zeros_n = node("ConstantOfShape", [n], "fx_zeros_n", value=zero)
    zeros_nk = node("ConstantOfShape", [node("Mul", [n, c("k", [_K], np.int64)], "fx_nk")],
                    "fx_zeros_nk", value=zero)
    slot = node("Add", [node("Mul", [NETWORK_INDEX, c("k_i", _K, np.int64)], "fx_net_k"), cls],
                "fx_slot")

    def per_net(values: str, name: str, reduction: str = "add") -> str:
        return node("ScatterElements", [zeros_n, NETWORK_INDEX, values], name,
                    reduction=reduction)

    act_column = np.zeros((1, _K))
    act_column[0, CLASSES.index("act")] = 1.0

    def per_class(own: str, act_share: str, name: str) -> str:
        """[N, K]: ``own`` summed by the row's class, plus ``act_share`` in the act class."""
        summed = node("Reshape", [node("ScatterElements", [zeros_nk, slot, own], name + "_flat",
                                       reduction="add"), c("nk_shape", [-1, _K], np.int64)],
                      name + "_own")
        share = node("Unsqueeze", [per_net(act_share, name + "_act"), c("axis1", [1], np.int64)],
                     name + "_act_col")
        return node("Add", [summed, node("Mul", [share, c("act_column", act_column)],
                                         name + "_act_k")], name)

    count_c = per_class(real, fused, "fx_count_c")
    macs_c = per_class(node("Mul", [macs, real], "fx_macs_real"),
                       node("Mul", [out_el, fused], "fx_macs_fused"), "fx_macs_c")
    bytes_c = per_class(node("Mul", [node("Add", [in_el, out_el], "fx_moved"), real],
                             "fx_moved_real"),
                        node("Mul", [out_el, node("Mul", [fused, c("two_f", 2.0)],
                                                  "fx_fused_2")], "fx_moved_fused"),
                        "fx_bytes_c")

    def total(per_class_sums: str, name: str) -> str:
        return node("ReduceSum", [per_class_sums, c("axis1", [1], np.int64)], name, keepdims=1)

    def masked(mask: str, name: str) -> str:
        return node("Unsqueeze", [per_net(node("Mul", [macs, node(
            "Cast", [mask], name + "_m", to=double)], name + "_v"), name + "_n"),
            c("axis1", [1], np.int64)], name)

    k_le3 = node("LessOrEqual", [col["kernel"], c("three", 3.0)], "fx_k_le3")
    out_h = col["out_h"]
    previous = node("Concat", [c("minus_one", [-1], np.int64), node(
        "Slice", [NETWORK_INDEX, c("s0", [0], np.int64), c("s_end", [-1], np.int64)],
        "fx_prev_raw")], "fx_prev", axis=0)
    first = node("Cast", [node("Not", [node("Equal", [NETWORK_INDEX, previous], "fx_same")],
                               "fx_first_b")], "fx_first", to=double)
    totals = {name: total(table, f"fx_total_{name}") for name, table in
              (("count", count_c), ("macs", macs_c), ("bytes", bytes_c))}

    def column(values: str, name: str, reduction: str = "add") -> str:
        return node("Unsqueeze", [per_net(values, name + "_n", reduction),
                                  c("axis1", [1], np.int64)], name)

    raw = {
        "log_macs_total": totals["macs"], "layers": totals["count"],
        "log_params_total": column(node("Mul", [col["params"], real], "fx_params_real"),
                                   "fx_params"),
        "log_bytes_total": totals["bytes"],
        "log_input_pixels": column(node("Mul", [node("Mul", [col["in_h"], col["in_w"]],
                                                     "fx_in_pixels"), first], "fx_pixels_first"),
                                   "fx_pixels"),
        "log_macs_per_byte": node("Div", [totals["macs"], node("Max", [
            totals["bytes"], c("one", 1.0)], "fx_bytes_floor")], "fx_per_byte"),
        "log_macs_stride2": masked(node("And", [node("Or", [is_conv, is_dw], "fx_conv_dw"),
                                                node("GreaterOrEqual", [col["stride"], c(
                                                    "two", 2.0)], "fx_s2")], "fx_m_s2"),
                                   "fx_stride2"),
        "log_dw_macs_k3": masked(node("And", [is_dw, k_le3], "fx_m_dw3"), "fx_dw_k3"),
        "log_dw_macs_k5plus": masked(node("And", [is_dw, node("Not", [k_le3], "fx_k_gt3")],
                                          "fx_m_dw5"), "fx_dw_k5"),
        "log_max_channels": column(node("Mul", [col["cout"], real], "fx_cout_real"),
                                   "fx_max_channels", "max"),
        "log_conv_macs_lowres": masked(node("And", [is_conv, node("And", [node("Not", [node(
            "Equal", [out_h, c("zero", 0.0)], "fx_h0")], "fx_h_any"), node("LessOrEqual", [
                out_h, c("lowres", float(LOWRES_PIXELS))], "fx_h_low")], "fx_h_lowres")],
            "fx_m_lowres"), "fx_lowres"),
    }
    raw["log_pad4_macs"] = column(node("Mul", [padding_macs(node, c, col, is_conv, is_dw, op),
                                               real], "fx_pad_real"), "fx_pad")
    stacked = node("Concat", [node("Unsqueeze", [t, c("axis2", [2], np.int64)], t + "_3d")
                              for t in (count_c, macs_c, bytes_c)], "fx_per_class", axis=2)
    tail = node("Reshape", [stacked, c("tail_shape", [-1, 3 * _K], np.int64)], "fx_tail")
    table = node("Concat", [raw[name] for name in HEAD_NAMES] + [tail], "fx_raw_features",
                 axis=1)  # [N, F] before the logs
    unlogged = [name == "layers" for name in HEAD_NAMES] + [p == "count" for _ in CLASSES
                                                            for p in PER_CLASS]
    logged = node("Log", [node("Add", [table, c("one", 1.0)], "fx_plus1")], "fx_log1p")
    features = node("Where", [c("unlogged", [unlogged], bool), table, logged], "fx_features64")
    node("Cast", [features], FEATURES, to=TensorProto.FLOAT)
    assert len(unlogged) == len(FEATURE_NAMES)
    return nodes


def padding_macs(node: Callable[..., str], c: Callable[..., str], col: dict[str, str],
                 is_conv: str, is_dw: str, op: str) -> str:
    """[L]: the MACs each row's GEMM adds with depth and width rounded up to multiples of
    PAD_CHANNELS (``features.padding_macs``)."""
    pad = c("pad", float(PAD_CHANNELS))

    def up(x: str, name: str) -> str:
        return node("Mul", [node("Ceil", [node("Div", [x, pad], name + "_q")], name + "_c"),
                            pad], name)

    groups = node("Where", [node("Greater", [col["groups"], c("one", 1.0)], "fx_pad_grouped"),
                            col["groups"], c("one", 1.0)], "fx_pad_g")  # as numpy and C
    kk = node("Mul", [col["kernel"], col["kernel"]], "fx_pad_kk")
    out_hw = node("Mul", [col["out_h"], col["out_w"]], "fx_pad_hw")
    depth = node("Div", [node("Mul", [kk, col["cin"]], "fx_pad_kkc"), groups], "fx_pad_depth")
    width = node("Div", [col["cout"], groups], "fx_pad_width")

    def extra(a: str, b: str, name: str) -> str:  # up(a) * up(b) - a * b
        return node("Sub", [node("Mul", [up(a, name + "_ua"), up(b, name + "_ub")],
                                 name + "_padded"), node("Mul", [a, b], name + "_plain")], name)

    dense = node("Mul", [node("Mul", [out_hw, groups], "fx_pad_hwg"),
                         extra(depth, width, "fx_pad_gemm")], "fx_pad_dense")
    depthwise = node("Mul", [node("Mul", [out_hw, kk], "fx_pad_hwkk"), node(
        "Sub", [up(col["cout"], "fx_pad_uc"), col["cout"]], "fx_pad_dc")], "fx_pad_dw")
    fc = extra(col["cin"], col["cout"], "fx_pad_fc")
    is_fc = node("Equal", [op, c("fc", OP_CODES["fc"], np.int64)], "fx_is_fc")
    zero = c("zero", 0.0)
    return node("Where", [is_conv, dense, node("Where", [is_dw, depthwise, node(
        "Where", [is_fc, fc, zero], "fx_pad_fc_or_0")], "fx_pad_dw_or")], "fx_pad_rows")


def features_input(model_bytes: bytes) -> bytes:
    """The same model with the featurizer cut off: ``features`` float32 [N, F] in,
    ``latency_ms`` out (what the Python runtime feeds when it has the features already:
    a spec's features are sums of its stages', faster than its rows)."""
    import onnx
    from onnx import TensorProto, helper

    proto = onnx.load_from_string(model_bytes)
    graph = proto.graph
    featurizer = {o for n in graph.node if n.name.startswith("fx_") or n.name == FEATURES
                  for o in n.output}
    kept = [n for n in graph.node if not set(n.output) & featurizer]
    inits = [i for i in graph.initializer if not i.name.startswith("fxc_")]
    width = len(FEATURE_NAMES)
    cut = helper.make_graph(
        kept, graph.name, [helper.make_tensor_value_info(FEATURES, TensorProto.FLOAT,
                                                         ["N", width])],
        [o for o in graph.output if o.name != FEATURES], inits)
    model = helper.make_model(cut, opset_imports=list(proto.opset_import),
                              producer_name=proto.producer_name)
    model.ir_version = proto.ir_version
    return model.SerializeToString()
