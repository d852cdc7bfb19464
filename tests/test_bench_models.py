"""Tiny real .tflite networks (fp32 and int8) in a store, for the bench tests.

Built once per session with TensorFlow's converter; other bench test modules import
:func:`tiny_network_store`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from dnncost.records import Network, NetworkFile, sha256_file, stable_id
from dnncost.store import Store

WIDTHS = (4, 8, 12, 16)


def _convert(width: int, out: Path) -> tuple[Path, Path]:
    import tensorflow as tf

    tf.random.set_seed(width)
    inputs = tf.keras.Input((16, 16, 3), batch_size=1)
    x = tf.keras.layers.Conv2D(width, 3, padding="same", activation="relu")(inputs)
    x = tf.keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(10)(x))
    fp32 = out / f"tiny{width}.fp32.tflite"
    fp32.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    rng = np.random.default_rng(width)

    def representative():
        for _ in range(4):
            yield [rng.standard_normal((1, 16, 16, 3)).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    int8 = out / f"tiny{width}.int8.tflite"
    int8.write_bytes(converter.convert())
    return fp32, int8


def model_dir(factory: pytest.TempPathFactory) -> Path:
    """The session's model files (built on first use)."""
    out = factory.getbasetemp() / "bench-models"
    if not (out / "done").exists():
        out.mkdir(exist_ok=True)
        for width in WIDTHS:
            _convert(width, out)
        (out / "done").touch()
    return out


def tiny_networks(factory: pytest.TempPathFactory, count: int = len(WIDTHS)) -> list[Network]:
    """``count`` networks with an int8 and an fp32 file each."""
    out = model_dir(factory)
    networks = []
    for width in WIDTHS[:count]:
        files = tuple(NetworkFile(f"tflite-{p}", str(path), sha256_file(str(path)))
                      for p in ("fp32", "int8")
                      for path in [out / f"tiny{width}.{p}.tflite"])
        networks.append(Network(stable_id("tiny", str(width)), f"tiny{width:02d}", "tiny",
                                {"width": width}, files=files))
    return networks


def tiny_network_store(factory: pytest.TempPathFactory, path: Path,
                       count: int = len(WIDTHS)) -> Path:
    """A fresh store at ``path`` holding ``count`` tiny networks."""
    with Store(path) as store:
        for network in tiny_networks(factory, count):
            store.put_network(network)
    return path


def copy_models(factory: pytest.TempPathFactory, dest: Path) -> Path:
    """A private copy of the model files (for tests that change them)."""
    return Path(shutil.copytree(model_dir(factory), dest))


def test_tiny_networks_are_real_tflite(tmp_path_factory: pytest.TempPathFactory):
    from ai_edge_litert.interpreter import Interpreter

    for network in tiny_networks(tmp_path_factory, 2):
        for file in network.files:
            interpreter = Interpreter(model_path=file.path)
            interpreter.allocate_tensors()
            dtype = interpreter.get_input_details()[0]["dtype"]
            assert dtype == (np.int8 if file.format == "tflite-int8" else np.float32)
