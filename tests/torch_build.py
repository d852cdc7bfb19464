"""Tests only: spec -> PyTorch module -> ONNX, and torchprofile's MAC count of it.

The module walks the ops gen/layers.py decodes (one torch module per op), so this is a
second, independent build of the same decoded form: torchprofile counting the same
MACs as the layer table checks the walker's arithmetic. Convolutions pad
symmetrically by (kernel - 1) // 2 where TFLite pads SAME, so output sizes equal the
Keras build; numerics differ, structure and MACs do not.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from dnncost.gen.layers import Op, decode
from dnncost.gen.spec import NetworkSpec


def torch_module(spec: NetworkSpec, seed: int = 0) -> Any:
    """A ``torch.nn.Module`` of ``spec`` with seeded random weights, in eval mode."""
    import torch
    from torch import nn

    torch.manual_seed(seed)

    def conv(op: Op) -> nn.Module:
        layer = op.layer
        module = nn.Conv2d(layer.cin, layer.cout, layer.kernel, layer.stride,
                           layer.padding or 0, groups=layer.groups or 1)
        act = {"relu": nn.ReLU, "relu6": nn.ReLU6}.get(str(layer.activation))
        return nn.Sequential(module, act()) if act else module

    def pool(op: Op) -> nn.Module:
        if op.kind == "maxpool":
            return nn.MaxPool2d(op.layer.kernel, op.layer.stride, op.layer.padding or 0,
                                ceil_mode=op.same)
        return nn.AvgPool2d(op.layer.kernel, op.layer.stride, op.layer.padding or 0,
                            ceil_mode=op.same, count_include_pad=False)

    class Shuffle(nn.Module):
        def __init__(self, groups: int) -> None:
            super().__init__()
            self.groups = groups

        def forward(self, x: Any) -> Any:
            n, c, h, w = x.shape
            return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(
                n, c, h, w)

    class Zeros(nn.Module):
        def forward(self, x: Any) -> Any:
            return x * 0.0

    modules = {"conv": conv, "dwconv": conv, "avgpool": pool, "maxpool": pool,
               "mean": lambda op: nn.AdaptiveAvgPool2d(1), "relu": lambda op: nn.ReLU(),
               "relu6": lambda op: nn.ReLU6(), "hswish": lambda op: nn.Hardswish(),
               "sigmoid": lambda op: nn.Sigmoid(), "shuffle": lambda op: Shuffle(op.layer.groups),
               "zeros": lambda op: Zeros()}
    combine = {"add": lambda xs: xs[0] + xs[1], "mul": lambda xs: xs[0] * xs[1],
               "concat": lambda xs: torch.cat(xs, 1)}

    class Network(nn.Module):
        def __init__(self, ops: list[Op]) -> None:
            super().__init__()
            self.ops = ops
            self.layers = nn.ModuleList(modules[op.kind](op) if op.kind in modules
                                        else nn.Identity() for op in ops)

        def forward(self, x: Any) -> Any:
            tensors = {-1: x}
            for index, (op, module) in enumerate(zip(self.ops, self.layers)):
                inputs = [tensors[i] for i in op.inputs]
                tensors[index] = (combine[op.kind](inputs) if op.kind in combine
                                  else module(inputs[0]))
            return torch.flatten(tensors[len(self.ops) - 1], 1)

    return Network(decode(spec)).eval()


def _example(spec: NetworkSpec) -> Any:
    import torch

    return torch.zeros(1, spec.in_channels, spec.resolution, spec.resolution)


def torchprofile_macs(spec: NetworkSpec) -> int:
    """MACs of the PyTorch build as counted by torchprofile."""
    from torchprofile import profile_macs

    with warnings.catch_warnings():  # "no handler for aten::hardswish": not a MAC
        warnings.simplefilter("ignore", UserWarning)
        return int(profile_macs(torch_module(spec), _example(spec)))


def export_onnx(spec: NetworkSpec, path: str | Path, seed: int = 0) -> Path:
    """Write the PyTorch build of ``spec`` as ONNX (opset 17) to ``path``."""
    import torch

    path = Path(path)
    with torch.no_grad(), warnings.catch_warnings():  # legacy exporter: no onnxscript
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(torch_module(spec, seed), (_example(spec),), str(path),
                          input_names=["input"], output_names=["logits"],
                          opset_version=17, dynamo=False)
    return path
