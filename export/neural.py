"""The neural form of a cost model as ONNX: ``exp(module(features))`` through torch.onnx.

The only module of export/ that imports torch, and only when called.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from dnncost.errors import ModelError
from dnncost.export.metadata import INPUT_NAME, OUTPUT_NAME

OPSET = 17


def neural_graph(module: Any, n_features: int) -> Any:
    """An onnx.ModelProto mapping features [N, F] to latency_ms [N] for a torch module."""
    import onnx
    import torch

    class _LatencyMs(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, features: torch.Tensor) -> torch.Tensor:
            return torch.exp(self.inner(features).reshape(-1))

    wrapper = _LatencyMs(module).eval()
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, (torch.zeros(2, n_features),), buffer,
                              input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                              dynamic_axes={INPUT_NAME: {0: "N"}, OUTPUT_NAME: {0: "N"}},
                              opset_version=OPSET, dynamo=False)
    except Exception as exc:  # torch raises many kinds; one message for the user
        raise ModelError(f"torch.onnx.export failed for the model's module: {exc}; "
                         "keep its forward to plain tensor ops") from exc
    return onnx.load_from_string(buffer.getvalue())
