"""Write an ExportableModel as one self-describing .onnx file, checked for parity first.

The file is written only when ONNX Runtime's predictions equal the Python reference
(:meth:`ExportableModel.predict_ms`) within ``rtol`` on every given feature row.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from dnncost.artifacts import write_atomic
from dnncost.errors import ModelError
from dnncost.export.metadata import INPUT_NAME, build_metadata
from dnncost.export.trees import trimmed

PARITY_RTOL = 1e-4
FEATURE_RTOL = 1e-6  # the graph's features against the Python featurizer's (bit equal so far)
# ONNX IR version written: 8 (ONNX 1.10, opset 17) loads in ONNX Runtime 1.10 and later,
# mobile and web builds included; onnx's own default follows the newest runtime.
IR_VERSION = 8


@dataclass(frozen=True)
class ExportResult:
    """Where the model went and how close it came to the Python reference."""

    path: str
    kind: str
    rows_checked: int
    max_relative_error: float


def reference_model(model: Any) -> Any:
    """The model as it predicts: boosters cut at best_iteration (early stopping)."""
    if model.module is not None:
        return model
    terms = tuple(replace(t, booster=trimmed(t.booster)) for t in model.trees)
    return replace(model, trees=terms)


def takes_layers(model: Any) -> bool:
    """Whether the exported graph takes the layer table (tree models of agg-v2 features;
    the LSTM takes its seq-v1 feature rows)."""
    from dnncost.learn.features import FEATURE_SET

    return model.module is None and model.feature_set == FEATURE_SET


def build_onnx(model: Any) -> Any:
    """The onnx.ModelProto of ``model`` (tree or neural form) with its metadata_props."""
    import onnx

    n_features = len(model.feature_names)
    layers = takes_layers(model)
    if model.module is not None:
        from dnncost.export.neural import neural_graph

        kind, proto = "neural", neural_graph(model.module, n_features)
    else:
        from dnncost.export.onnx_trees import tree_graph

        kind, proto = "trees", tree_graph(tuple(model.trees), n_features, model.bias_log_ms,
                                           model.cost_sum, layer_input=layers)
    proto.ir_version = IR_VERSION
    props = build_metadata(model.feature_set, tuple(model.feature_names), kind,
                           dict(model.metadata), layers)
    del proto.metadata_props[:]
    for key, value in props.items():
        proto.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    proto.doc_string = props["dnncost.input"] + " -> " + props["dnncost.output"]
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"the exported graph fails onnx.checker: {exc}") from exc
    return proto


def relative_error(predicted: np.ndarray, reference: np.ndarray) -> float:
    """Largest |predicted - reference| / |reference| over rows (inf on non-finite)."""
    predicted = np.asarray(predicted, np.float64).ravel()
    reference = np.asarray(reference, np.float64).ravel()
    if predicted.shape != reference.shape:
        return float("inf")
    if not (np.isfinite(predicted).all() and np.isfinite(reference).all()):
        return float("inf")
    return float(np.max(np.abs(predicted - reference) / np.maximum(np.abs(reference), 1e-30)))


Networks = Any  # layer tables (a list of lists of Layer), or feature rows float32 [N, F]


def check_networks(model: Any, networks: Networks, allow_rows: bool = False
                   ) -> tuple[list[Any] | None, np.ndarray]:
    """The layer tables (None when feature rows were given) and feature rows float32
    [N, F] an export is checked on; refuse none, the wrong width or the wrong kind (feature
    rows for a graph that takes layer tables, unless ``allow_rows``)."""
    if isinstance(networks, np.ndarray):
        if takes_layers(model) and not allow_rows:
            raise ModelError("this model's graph takes layer tables: check it on the "
                             "networks' layer tables, not on feature rows")
        rows, tables = np.asarray(networks, np.float32), None
    else:
        from dnncost.learn.device_model import exportable_features

        tables = list(networks or ())
        try:
            rows = np.asarray(exportable_features(model, tables), np.float32) if tables \
                else np.zeros((0, len(model.feature_names)), np.float32)
        except (ValueError, KeyError) as exc:
            raise ModelError(f"cannot compute the model's features ({exc}); re-adapt the "
                             "model with this dnncost") from None
    if len(rows) == 0:
        raise ModelError("no networks to check export parity on; give a store with "
                         "networks (--store)")
    if rows.ndim != 2 or rows.shape[1] != len(model.feature_names):
        raise ModelError(f"parity rows have shape {rows.shape}, the model takes "
                         f"{len(model.feature_names)} features")
    return tables, rows


def _run(session: Any, model: Any, tables: Sequence[Sequence[Any]] | None, rows: np.ndarray
         ) -> list[np.ndarray]:
    if not takes_layers(model):
        return session.run(None, {INPUT_NAME: rows})
    from dnncost.encoding import encode_many
    from dnncost.export.onnx_features import LAYERS, NETWORK_INDEX

    layers, index = encode_many(tables)
    return session.run(None, {LAYERS: layers, NETWORK_INDEX: index})


def onnx_parity(model_bytes: bytes, model: Any, networks: Networks,
                rtol: float = PARITY_RTOL) -> float:
    """Max relative error of ONNX Runtime vs the Python model (and, for a layer-table
    graph, of its features vs the Python featurizer's); ModelError above the limits."""
    import onnxruntime as ort

    tables, rows = check_networks(model, networks)
    reference = reference_model(model).predict_ms(rows)
    try:
        session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
        outputs = _run(session, model, tables, rows)
        single = _run(session, model, tables and tables[:1], rows[:1])  # batch stays free
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"ONNX Runtime cannot run the exported graph ({exc}); not writing "
                         "the file, please report") from None
    if takes_layers(model):
        feature_error = relative_error(outputs[1], rows)
        if not feature_error <= FEATURE_RTOL:
            raise ModelError(f"the graph's features differ from the Python featurizer's by "
                             f"{feature_error:.3g} relative (limit {FEATURE_RTOL:g}); not "
                             "writing the file, please report")
    error = max(relative_error(outputs[0], reference), relative_error(single[0], reference[:1]))
    if not error <= rtol:
        raise ModelError(f"ONNX predictions differ from the Python model by {error:.3g} "
                         f"relative (limit {rtol:g}); not writing the file, please report")
    return error


def export_onnx(model: Any, path: str | os.PathLike[str], networks: Networks,
                rtol: float = PARITY_RTOL) -> ExportResult:
    """Write ``model`` to ``path`` as .onnx after checking parity on ``networks`` (their
    layer tables; a model that takes features may be checked on feature rows)."""
    _, rows = check_networks(model, networks)
    proto = build_onnx(model)
    data = proto.SerializeToString()
    error = onnx_parity(data, model, networks, rtol)
    write_atomic(path, data)
    kind = "neural" if model.module is not None else "trees"
    return ExportResult(str(path), kind, len(rows), error)
