"""Spec -> Keras model -> .tflite bytes (fp32, or full-integer int8).

The only module of dnncost.gen that imports TensorFlow, and only inside functions.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from typing import Any, Callable, Iterator

from dnncost.errors import ToolError
from dnncost.gen.layers import FUSED_ACTIVATIONS
from dnncost.gen.spec import BlockSpec, ConvSpec, NetworkSpec, PoolSpec

PRECISIONS: tuple[str, ...] = ("fp32", "int8")
CALIBRATION_SAMPLES = 4


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def keras_model(spec: NetworkSpec, seed: int = 0) -> Any:
    """The Keras model of ``spec`` with seeded random weights (batch size 1)."""
    _quiet_tensorflow()
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)

    def conv(x: Any, kernel: int, stride: int, cout: int, act: str | None,
             depthwise: bool = False) -> Any:
        fused = act if act in FUSED_ACTIVATIONS else None
        if depthwise:
            x = layers.DepthwiseConv2D(kernel, stride, padding="same", activation=fused)(x)
        else:
            x = layers.Conv2D(cout, kernel, stride, padding="same", activation=fused)(x)
        return layers.Activation("hard_swish")(x) if act == "hswish" else x

    def block(x: Any, spec_: BlockSpec) -> Any:
        shortcut = x
        if spec_.kind == "ir":
            x = conv(x, 1, 1, spec_.hidden, spec_.act)
            x = conv(x, spec_.kernel, spec_.stride, 0, spec_.act, depthwise=True)
        elif spec_.kind == "fr":
            x = conv(x, spec_.kernel, spec_.stride, spec_.hidden, spec_.act)
        else:
            x = conv(x, spec_.kernel, spec_.stride, 0, spec_.act, depthwise=True)
        if spec_.se:
            squeezed = layers.GlobalAveragePooling2D(keepdims=True)(x)
            squeezed = layers.Conv2D(spec_.se, 1, activation="relu")(squeezed)
            squeezed = layers.Conv2D(x.shape[-1], 1, activation="sigmoid")(squeezed)
            x = layers.Multiply()([x, squeezed])
        x = conv(x, 1, 1, spec_.cout, None)
        if spec_.stride == 1 and shortcut.shape[1:] == x.shape[1:]:
            x = layers.Add()([shortcut, x])
        return x

    inputs = keras.Input((spec.resolution, spec.resolution, spec.in_channels), batch_size=1)
    x = inputs
    for stage in spec.stages:
        if isinstance(stage, ConvSpec):
            x = conv(x, stage.kernel, stage.stride, stage.cout, stage.act)
        elif isinstance(stage, PoolSpec):
            x = (layers.AveragePooling2D(stage.kernel)(x) if stage.kernel
                 else layers.GlobalAveragePooling2D(keepdims=True)(x))
        else:
            x = block(x, stage)
    if len(x.shape) == 4 and x.shape[1] == x.shape[2] == 1:
        x = layers.Flatten()(x)
    return keras.Model(inputs, x)


def _calibration(shape: tuple[int, ...], seed: int) -> Callable[[], Iterator[list[Any]]]:
    import numpy as np

    def samples() -> Iterator[list[Any]]:
        rng = np.random.default_rng(seed)
        for _ in range(CALIBRATION_SAMPLES):
            yield [rng.uniform(-1.0, 1.0, shape).astype(np.float32)]

    return samples


def convert(model: Any, precision: str, seed: int = 0) -> bytes:
    """TFLite flatbuffer of a Keras model; int8 is full-integer post-training
    quantization calibrated on seeded uniform random inputs."""
    if precision not in PRECISIONS:
        raise ToolError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    _quiet_tensorflow()
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if precision == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _calibration(tuple(model.input.shape), seed)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Keras prints the signature
            return bytes(converter.convert())
    except Exception as exc:  # the converter raises many unrelated types
        raise ToolError(f"TFLite conversion ({precision}) failed: {exc}".splitlines()[0]) \
            from None


def spec_to_tflite(spec: NetworkSpec, precisions: tuple[str, ...], seed: int = 0
                   ) -> dict[str, bytes]:
    """Build ``spec`` once and convert it to each precision: {precision: bytes}."""
    model = keras_model(spec, seed)
    return {precision: convert(model, precision, seed) for precision in precisions}
