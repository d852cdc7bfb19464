"""Predict latency from an exported .onnx cost model with numpy and onnxruntime only.

No TensorFlow, torch or xgboost: features come from the same numpy function training
used (``dnncost.learn.features`` through ``learn.device_model.exportable_features``),
layer tables from gen's pure-Python spec and .tflite readers.

    >>> p = Predictor.load("model.onnx")
    >>> p.predict_spec("r224 conv_k3_s2_c32 ... conv_k1_s1_c1000")   # ms
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from dnncost.errors import InputError, ModelError
from dnncost.export.metadata import INPUT_NAME, PREFIX, ModelInfo, parse_metadata
from dnncost.records import Layer


def _session(path: str, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"{path}: cannot load as an ONNX model ({exc}); "
                         "pass a file written by dnncost export") from None


@dataclass
class Predictor:
    """An exported cost model loaded into an onnxruntime session."""

    session: Any
    info: ModelInfo
    model_metadata: dict[str, Any]

    @classmethod
    def load(cls, path: str | os.PathLike[str], threads: int = 1) -> "Predictor":
        """Load ``path`` (a dnncost .onnx file); ``threads`` for onnxruntime's ops."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise InputError(f"{path} does not exist: pass a .onnx file from dnncost export")
        session = _session(path, threads)
        props = dict(session.get_modelmeta().custom_metadata_map)
        info = parse_metadata(props)
        meta = json.loads(props.get(PREFIX + "model_metadata") or "{}")
        return cls(session, info, meta)

    @property
    def n_features(self) -> int:
        return self.info.n_features

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """latency_ms [N] (float64) for a feature matrix [N, F] (or one row [F])."""
        rows = np.asarray(features, np.float32)
        if rows.ndim == 1:
            rows = rows.reshape(1, -1)
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise InputError(f"features have shape {np.shape(features)}; this model takes "
                             f"[N, {self.n_features}] ({self.info.feature_set})")
        if len(rows) == 0:
            return np.zeros(0)
        out = self.session.run(None, {INPUT_NAME: np.ascontiguousarray(rows)})[0]
        return np.asarray(out, np.float64).reshape(-1)

    def features_of(self, networks_layers: Sequence[Sequence[Layer]]) -> np.ndarray:
        """The feature matrix this model takes, from layer tables (training's function)."""
        from dnncost.learn.device_model import exportable_features
        from dnncost.learn.exportable import ExportableModel

        shell = ExportableModel(self.info.feature_set, self.info.feature_names,
                                metadata=self.model_metadata)
        try:
            rows = exportable_features(shell, networks_layers)
        except (ValueError, KeyError) as exc:
            raise ModelError(f"cannot compute feature set {self.info.feature_set!r} ({exc}); "
                             "use the dnncost version that exported the model") from None
        if rows.shape[1] != self.n_features:
            raise ModelError(f"feature set {self.info.feature_set} gives {rows.shape[1]} "
                             f"features, the model takes {self.n_features}; re-export it")
        return rows

    def predict_layers(self, networks_layers: Sequence[Sequence[Layer]]) -> np.ndarray:
        """latency_ms [N] for networks given as layer tables."""
        if not networks_layers:
            return np.zeros(0)
        return self.predict_features(self.features_of(networks_layers))

    def predict_specs(self, specs: Sequence[str]) -> np.ndarray:
        """latency_ms [N] for gen spec strings ('r224 conv_k3_s2_c32 ...'), batched."""
        from dnncost.gen.layers import layer_table
        from dnncost.gen.spec import parse_spec
        from dnncost.learn import features

        if self.info.feature_set == features.FEATURE_SET:
            return self.predict_features(features.spec_features(list(specs)))
        cache: dict[str, list[Layer]] = {}
        tables = []
        for text in specs:
            key = " ".join(text.split())
            if key not in cache:
                cache[key] = layer_table(parse_spec(key))
            tables.append(cache[key])
        return self.predict_layers(tables)

    def predict_spec(self, spec: str) -> float:
        """latency_ms of one network given by its spec string."""
        return float(self.predict_specs([spec])[0])

    def predict_tflite(self, path: str | os.PathLike[str]) -> float:
        """latency_ms of the network in a .tflite file (its layer table, read without TF)."""
        from dnncost.gen.tflite_layers import tflite_layer_table

        return float(self.predict_layers([tflite_layer_table(path)])[0])


def iter_spec_lines(predictor: Predictor, lines: Iterable[str],
                    batch_size: int = 1) -> Iterator[tuple[str, float]]:
    """(spec, latency_ms) for each non-blank, non-# line, as soon as ``batch_size`` are in.

    With ``batch_size=1`` every line is answered at once, so a search script can write
    a spec to a pipe and wait for its latency.
    """
    pending: list[tuple[int, str]] = []

    def flush() -> Iterator[tuple[str, float]]:
        try:
            values = predictor.predict_specs([spec for _, spec in pending])
        except InputError:
            for number, spec in pending:  # find the line to name
                try:
                    predictor.predict_specs([spec])
                except InputError as exc:
                    raise InputError(f"line {number}: {exc}") from None
            raise
        yield from zip((spec for _, spec in pending), (float(v) for v in values))
        pending.clear()

    for number, line in enumerate(lines, start=1):
        spec = line.strip()
        if not spec or spec.startswith("#"):
            continue
        pending.append((number, spec))
        if len(pending) >= batch_size:
            yield from flush()
    if pending:
        yield from flush()


def predict_spec_lines(model_path: str | os.PathLike[str],
                       lines: Iterable[str]) -> list[tuple[str, float]]:
    """(spec, latency_ms) for each spec line (blank and # lines skipped), one batch."""
    predictor = Predictor.load(model_path)
    return list(iter_spec_lines(predictor, lines, batch_size=1 << 30))
