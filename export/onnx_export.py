"""Write an ExportableModel as one self-describing .onnx file, checked for parity first.

The file is written only when ONNX Runtime's predictions equal the Python reference
(:meth:`ExportableModel.predict_ms`) within ``rtol`` on every given feature row.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from dnncost.artifacts import write_atomic
from dnncost.errors import ModelError
from dnncost.export.metadata import INPUT_NAME, build_metadata
from dnncost.export.trees import trimmed

PARITY_RTOL = 1e-4
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


def build_onnx(model: Any) -> Any:
    """The onnx.ModelProto of ``model`` (tree or neural form) with its metadata_props."""
    import onnx

    n_features = len(model.feature_names)
    if model.module is not None:
        from dnncost.export.neural import neural_graph

        kind, proto = "neural", neural_graph(model.module, n_features)
    else:
        from dnncost.export.onnx_trees import tree_graph

        kind, proto = "trees", tree_graph(tuple(model.trees), n_features, model.bias_log_ms,
                                           model.cost_sum)
    proto.ir_version = IR_VERSION
    props = build_metadata(model.feature_set, tuple(model.feature_names), kind,
                           dict(model.metadata))
    del proto.metadata_props[:]
    for key, value in props.items():
        proto.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    proto.doc_string = (f"dnncost cost model ({kind}): {INPUT_NAME} float32 [N, {n_features}]"
                        " -> latency_ms float32 [N]")
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


def check_rows(model: Any, rows: np.ndarray | None) -> np.ndarray:
    """Feature rows for the parity check as float32 [N, F]; refuse none or wrong width."""
    if rows is None or len(rows) == 0:
        raise ModelError("no feature rows to check export parity on; give a store with "
                         "networks (--store) or rows")
    rows = np.asarray(rows, np.float32)
    if rows.ndim != 2 or rows.shape[1] != len(model.feature_names):
        raise ModelError(f"parity rows have shape {rows.shape}, the model takes "
                         f"{len(model.feature_names)} features")
    return rows


def onnx_parity(model_bytes: bytes, model: Any, rows: np.ndarray,
                rtol: float = PARITY_RTOL) -> float:
    """Max relative error of ONNX Runtime vs the Python model; ModelError above ``rtol``."""
    import onnxruntime as ort

    reference = reference_model(model).predict_ms(rows)
    try:
        session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
        predicted = session.run(None, {INPUT_NAME: rows})[0]
        single = session.run(None, {INPUT_NAME: rows[:1]})[0]  # batch size must stay free
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"ONNX Runtime cannot run the exported graph ({exc}); not writing "
                         "the file, please report") from None
    error = max(relative_error(predicted, reference), relative_error(single, reference[:1]))
    if not error <= rtol:
        raise ModelError(f"ONNX predictions differ from the Python model by {error:.3g} "
                         f"relative (limit {rtol:g}); not writing the file, please report")
    return error


def export_onnx(model: Any, path: str | os.PathLike[str], rows: np.ndarray | None,
                rtol: float = PARITY_RTOL) -> ExportResult:
    """Write ``model`` to ``path`` as .onnx after checking parity on ``rows``."""
    rows = check_rows(model, rows)
    proto = build_onnx(model)
    data = proto.SerializeToString()
    error = onnx_parity(data, model, rows, rtol)
    write_atomic(path, data)
    kind = "neural" if model.module is not None else "trees"
    return ExportResult(str(path), kind, len(rows), error)
