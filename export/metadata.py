"""What an exported cost model says about itself: the ONNX ``metadata_props``.

Every key starts with ``dnncost.``; values are strings (JSON for lists and maps). This
module is pure Python so the runtime can read the metadata without onnx installed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from dnncost import __version__

SCHEMA_VERSION = 2  # 2: the layer-table input (layers, network_index) and its encoding
PREFIX = "dnncost."
INPUT_NAME = "features"
OUTPUT_NAME = "latency_ms"

# Keys of ExportableModel.metadata looked up, in order, for each documented field.
_DEVICE_KEYS = ("device", "device_id", "adapted_to")
_SIGNATURE_KEYS = ("signature_latency_ms", "signature", "signature_networks")
_METRIC_KEYS = ("training_metrics", "metrics")


@dataclass(frozen=True)
class ModelInfo:
    """The metadata of an exported cost model, parsed."""

    schema_version: int
    dnncost_version: str
    kind: str  # "trees" or "neural"
    feature_set: str
    feature_names: tuple[str, ...]
    feature_descriptions: tuple[str, ...]
    device: str | None
    signature_latency_ms: dict[str, float | None]
    training_metrics: dict[str, Any]
    layer_encoding: str | None = None  # lt-v1 when the graph takes the layer table

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def takes_layers(self) -> bool:
        return self.layer_encoding is not None


def _first(meta: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    return next((meta[k] for k in keys if k in meta and meta[k] is not None), None)


def _signature(value: Any) -> dict[str, float | None]:
    """A signature given as {name: ms}, [(name, ms)], or [name] becomes {name: ms|None}."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): None if v is None else float(v) for k, v in value.items()}
    out: dict[str, float | None] = {}
    for item in value:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            out[str(item[0])] = None if item[1] is None else float(item[1])
        else:
            out[str(item)] = None
    return out


def feature_descriptions(feature_set: str, names: tuple[str, ...],
                         meta: Mapping[str, Any]) -> tuple[str, ...]:
    """One short description per feature: from the model, else from learn.features."""
    given = meta.get("feature_descriptions")
    if given is None:
        try:
            from dnncost.learn import features as learn_features

            if getattr(learn_features, "FEATURE_SET", None) == feature_set:
                given = getattr(learn_features, "FEATURE_DESCRIPTIONS", None)
        except ImportError:
            given = None
    if isinstance(given, Mapping):
        return tuple(str(given.get(n, n)) for n in names)
    if given is not None and len(given) == len(names):
        return tuple(str(d) for d in given)
    return tuple(f"{describe_feature(n)} [{feature_set}]" for n in names)


_WORDS = {"macs": "multiply-accumulates", "bytes": "tensor elements read+written",
          "params": "weights", "total": "over all layers", "count": "number of layers",
          "conv1x1": "1x1 conv", "convkxk": "kxk conv", "dwconv": "depthwise conv",
          "fc": "fully connected", "act": "activation", "add": "add", "mul": "multiply",
          "pool": "pool", "stride2": "in stride-2 conv layers", "lowres": "at <=14 px",
          "pad4": "padding (to blocks of 4 channels)",
          "k3": "with k<=3", "k5plus": "with k>=5", "dw": "depthwise conv",
          "per": "per", "input": "input", "pixels": "pixels", "max": "largest",
          "channels": "output channels", "conv": "conv", "layers": "layers (fused "
          "activations counted as rows)"}


def describe_feature(name: str) -> str:
    """A readable description of a feature name such as ``dwconv_log_macs``."""
    words = name.split("_")
    log = "log" in words
    text = " ".join(_WORDS.get(w, w) for w in words if w != "log")
    return f"log(1 + {text})" if log else text


def build_metadata(feature_set: str, feature_names: tuple[str, ...], kind: str,
                   meta: Mapping[str, Any], layers: bool = False) -> dict[str, str]:
    """The metadata_props of an exported model, as string pairs (``layers``: the graph
    takes the layer table and computes ``feature_set`` inside)."""
    from dnncost.encoding import COLUMNS, LAYER_ENCODING

    descriptions = feature_descriptions(feature_set, feature_names, meta)
    given = (f"layers: float32 [L, {len(COLUMNS)}], one {LAYER_ENCODING} row per layer "
             f"(dnncost.layer_columns); network_index: int64 [L], each row's network 0..N-1"
             if layers else
             f"{INPUT_NAME}: float32 [N, {len(feature_names)}], network features in order")
    output = f"{OUTPUT_NAME}: float32 [N], predicted latency in milliseconds" + (
        f"; {INPUT_NAME}: float32 [N, {len(feature_names)}], the {feature_set} features"
        if layers else "")
    props = {
        "schema_version": str(SCHEMA_VERSION),
        "dnncost_version": __version__,
        "kind": kind,
        "input": given,
        "output": output,
        "units": "latency_ms",
        "feature_set": feature_set,
        "feature_names": json.dumps(list(feature_names)),
        "feature_descriptions": json.dumps(list(descriptions)),
        "device": str(_first(meta, _DEVICE_KEYS) or ""),
        "signature_latency_ms": json.dumps(_signature(_first(meta, _SIGNATURE_KEYS))),
        "training_metrics": json.dumps(_first(meta, _METRIC_KEYS) or {}, default=str),
        "model_metadata": json.dumps(dict(meta), default=str, sort_keys=True),
    }
    if layers:
        props["layer_encoding"] = LAYER_ENCODING
        props["layer_columns"] = json.dumps(list(COLUMNS))
    return {PREFIX + k: v for k, v in props.items()}


def parse_metadata(props: Mapping[str, str]) -> ModelInfo:
    """Parse metadata_props written by :func:`build_metadata`."""
    from dnncost.errors import ModelError

    if PREFIX + "schema_version" not in props:
        raise ModelError("the .onnx file has no dnncost metadata; export it with dnncost export")
    version = int(props[PREFIX + "schema_version"])
    if version > SCHEMA_VERSION:
        raise ModelError(f"model metadata schema {version} is newer than this dnncost "
                         f"({SCHEMA_VERSION}); upgrade dnncost")

    def get(key: str) -> str:
        return props.get(PREFIX + key, "")

    return ModelInfo(
        schema_version=version, dnncost_version=get("dnncost_version"), kind=get("kind"),
        feature_set=get("feature_set"),
        feature_names=tuple(json.loads(get("feature_names") or "[]")),
        feature_descriptions=tuple(json.loads(get("feature_descriptions") or "[]")),
        device=get("device") or None,
        signature_latency_ms=json.loads(get("signature_latency_ms") or "{}"),
        training_metrics=json.loads(get("training_metrics") or "{}"),
        layer_encoding=get("layer_encoding") or None,
    )
