"""Running a .tflite file once in LiteRT, for the tests of built networks."""

from __future__ import annotations

from typing import Any

import numpy as np


def run_on_zeros(path: str) -> tuple[np.ndarray, dict[str, Any]]:
    """The model's output for an all-zero input, and the output tensor's details."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    interpreter.invoke()
    output = interpreter.get_output_details()[0]
    return interpreter.get_tensor(output["index"]), output
