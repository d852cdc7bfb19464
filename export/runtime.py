"""Predict latency from an exported .onnx cost model with numpy and onnxruntime only.

No TensorFlow, torch or xgboost. A tree model's graph takes layer tables (encoded rows,
``dnncost.encoding``) and computes its features inside; layer tables come from gen's
pure-Python spec walker (vectorised for many specs) and .tflite reader. Spec strings take
a quicker way when the ``onnx`` package is there: their features (sums of their stages')
into the model's trees with the featurizer cut off (the same numbers; tests check it).

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
from dnncost.export.metadata import INPUT_NAME, OUTPUT_NAME, PREFIX, ModelInfo, parse_metadata
from dnncost.gen.spec import ASCII_SPACES
from dnncost.records import Layer


def _session(model: str | bytes, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        where = model if isinstance(model, str) else "the model's features graph"
        raise ModelError(f"{where}: cannot load as an ONNX model ({str(exc)[:200]}); "
                         "pass a file written by dnncost export") from None


@dataclass
class Predictor:
    """An exported cost model loaded into an onnxruntime session."""

    session: Any
    info: ModelInfo
    model_metadata: dict[str, Any]
    path: str = ""
    threads: int = 1
    _features: Any = None  # the trees behind a features input (False: not to be had)

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
        return cls(session, info, meta, path, threads)

    def features_session(self) -> Any:
        """A session taking feature rows: the model itself, or, for a layer-table model,
        its trees with the featurizer cut off (needs the ``onnx`` package; None without)."""
        if not self.info.takes_layers:
            return self.session
        if self._features is None:
            try:
                from dnncost.export.onnx_features import features_input

                with open(self.path, "rb") as handle:
                    self._features = _session(features_input(handle.read()), self.threads)
            except (ImportError, OSError, ModelError):
                self._features = False
        return self._features or None

    @property
    def n_features(self) -> int:
        return self.info.n_features

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """latency_ms [N] (float64) for a feature matrix [N, F] (or one row [F])."""
        session = self.features_session()
        if session is None:
            raise InputError("this model takes layer tables and the onnx package is not "
                             "installed to feed it features: use predict_layers or "
                             "predict_specs, or install onnx")
        rows = np.asarray(features, np.float32)
        if rows.ndim == 1:
            rows = rows.reshape(1, -1)
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise InputError(f"features have shape {np.shape(features)}; this model takes "
                             f"[N, {self.n_features}] ({self.info.feature_set})")
        if len(rows) == 0:
            return np.zeros(0)
        out = session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(rows)})[0]
        return np.asarray(out, np.float64).reshape(-1)

    def predict_rows(self, layers: np.ndarray, network_index: np.ndarray) -> np.ndarray:
        """latency_ms [N] for encoded layer rows (dnncost.encoding ``lt-v1``, float32
        [L, 14]) and each row's network (int64 [L], 0..N-1, a network's rows together)."""
        from dnncost.export.onnx_features import LAYERS, NETWORK_INDEX

        if not self.info.takes_layers:
            raise InputError(f"this model takes {self.info.feature_set} feature rows: use "
                             "predict_features or predict_layers")
        if len(layers) == 0:
            return np.zeros(0)
        out = self.session.run([OUTPUT_NAME], {
            LAYERS: np.ascontiguousarray(layers, np.float32),
            NETWORK_INDEX: np.ascontiguousarray(network_index, np.int64)})[0]
        return np.asarray(out, np.float64).reshape(-1)

    def features_of(self, networks_layers: Sequence[Sequence[Layer]]) -> np.ndarray:
        """The feature matrix this model takes, from layer tables (training's function)."""
        from dnncost.learn.device_model import exportable_features
        from dnncost.learn.exportable import ExportableModel

        shell = ExportableModel(self.info.feature_set, self.info.feature_names,
                                metadata=self.model_metadata)
        try:
            rows = exportable_features(shell, networks_layers)
        except (ValueError, KeyError, ModelError) as exc:
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
        if self.info.takes_layers:
            from dnncost.encoding import encode_many

            return self.predict_rows(*encode_many(networks_layers))
        return self.predict_features(self.features_of(networks_layers))

    def predict_specs(self, specs: Sequence[str]) -> np.ndarray:
        """latency_ms [N] for gen spec strings ('r224 conv_k3_s2_c32 ...'), batched: from
        their features (sums of their stages') where the model can take them, else from
        their layer tables."""
        from dnncost.learn import features

        if self.model_metadata.get("dead_compute") == "pruned":  # the device runs the twins
            from dnncost.gen.archs import pruned_spec

            specs = [pruned_spec(text) for text in specs]
        if self.info.feature_set == features.FEATURE_SET and self.features_session():
            return self.predict_features(features.spec_features(list(specs)))
        if self.info.takes_layers:
            from dnncost.gen.fast_layers import encoded_tables

            return self.predict_rows(*encoded_tables(list(specs)))
        from dnncost.gen.layers import layer_table
        from dnncost.gen.spec import parse_spec

        return self.predict_layers([layer_table(parse_spec(text)) for text in specs])

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
        spec = line.strip(ASCII_SPACES)  # what else is around a spec, parse_spec refuses
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
