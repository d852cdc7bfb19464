"""Spec -> Keras model -> .tflite bytes (fp32, or full-integer int8).

The only module of dnncost.gen that imports TensorFlow, and only inside functions.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import os
import warnings
from typing import Any, Callable, Iterator

from dnncost.errors import ToolError
from dnncost.gen.layers import Op, decode
from dnncost.gen.spec import NetworkSpec

PRECISIONS: tuple[str, ...] = ("fp32", "int8")


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def _keras_ops(layers: Any) -> dict[str, Callable[[Op, list[Any]], Any]]:
    """Keras layer per op kind (gen/layers.py decodes the spec into these ops)."""

    def padding(op: Op) -> str:
        return "same" if op.same else "valid"

    def conv(op: Op, inputs: list[Any]) -> Any:
        return layers.Conv2D(op.layer.cout, op.layer.kernel, op.layer.stride, padding(op),
                             groups=op.layer.groups or 1,
                             activation=op.layer.activation)(inputs[0])

    def shuffle(op: Op, inputs: list[Any]) -> Any:
        h, w, c, groups = op.layer.out_h, op.layer.out_w, op.layer.cout, op.layer.groups
        x = layers.Reshape((h, w, groups, c // groups))(inputs[0])
        x = layers.Permute((1, 2, 4, 3))(x)
        return layers.Reshape((h, w, c))(x)

    def dwconv(op: Op, inputs: list[Any]) -> Any:
        return layers.DepthwiseConv2D(op.layer.kernel, op.layer.stride, padding(op),
                                      activation=op.layer.activation)(inputs[0])

    def pool(kind: Any) -> Callable[[Op, list[Any]], Any]:
        return lambda op, inputs: kind(op.layer.kernel, op.layer.stride, padding(op))(inputs[0])

    def activation(name: str) -> Callable[[Op, list[Any]], Any]:
        return lambda op, inputs: layers.Activation(name)(inputs[0])

    return {
        "conv": conv, "dwconv": dwconv,
        "avgpool": pool(layers.AveragePooling2D), "maxpool": pool(layers.MaxPooling2D),
        "mean": lambda op, inputs: layers.GlobalAveragePooling2D(keepdims=True)(inputs[0]),
        "relu": activation("relu"), "relu6": activation("relu6"),
        "hswish": activation("hard_swish"), "sigmoid": activation("sigmoid"),
        "add": lambda op, inputs: layers.Add()(inputs),
        "mul": lambda op, inputs: layers.Multiply()(inputs),
        "concat": lambda op, inputs: layers.Concatenate()(inputs),
        "shuffle": shuffle,
        "zeros": lambda op, inputs: layers.Lambda(lambda t: t * 0.0)(inputs[0]),
    }


def keras_model(spec: NetworkSpec, seed: int = 0,
                weights: dict[int, list[Any]] | None = None) -> Any:
    """The Keras model of ``spec`` with seeded random weights (batch size 1), or with
    ``weights`` per op index in TFLite layout (gen/tflite_build.py's, for parity)."""
    _quiet_tensorflow()
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    build = _keras_ops(layers)
    inputs = keras.Input((spec.resolution, spec.resolution, spec.in_channels), batch_size=1)
    tensors: dict[int, Any] = {-1: inputs}
    for index, op in enumerate(decode(spec)):
        tensors[index] = build[op.kind](op, [tensors[i] for i in op.inputs])
        if weights and index in weights:  # OHWI / 1HWC filters -> Keras' HWIO / HWC1
            kernel, bias = weights[index]
            tensors[index]._keras_history[0].set_weights([kernel.transpose(1, 2, 3, 0), bias])
    x = tensors[max(tensors)]
    if len(x.shape) == 4 and x.shape[1] == x.shape[2] == 1:
        x = layers.Flatten()(x)
    return keras.Model(inputs, x)


def _calibration(shape: tuple[int, ...], seed: int) -> Callable[[], Iterator[list[Any]]]:
    from dnncost.gen.tflite_plan import calibration_inputs

    return lambda: ([sample] for sample in calibration_inputs(shape, seed))


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
        _check_temp_space()  # a full disk surfaces as any of them
        raise ToolError(f"TFLite conversion ({precision}) failed: {exc}".splitlines()[0]) \
            from None


def _check_temp_space(probe_bytes: int = 1 << 20) -> None:
    """Raise the real cause when the converter's temporary files cannot be written."""
    try:
        with tempfile.TemporaryFile() as probe:
            probe.write(b"\0" * probe_bytes)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        raise ToolError(f"TFLite conversion cannot write its temporary files in "
                        f"{tempfile.gettempdir()} ({exc.strerror}): free disk space there, "
                        "or point TMPDIR at a disk with room") from None


def spec_to_tflite(spec: NetworkSpec, precisions: tuple[str, ...], seed: int = 0
                   ) -> dict[str, bytes]:
    """Build ``spec`` once and convert it to each precision: {precision: bytes}."""
    model = keras_model(spec, seed)
    return {precision: convert(model, precision, seed) for precision in precisions}
