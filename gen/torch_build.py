"""Spec -> PyTorch module -> ONNX, and torchprofile's MAC count of that module.

The only module of dnncost.gen that imports torch, and only inside functions.
Convolutions pad symmetrically by (kernel - 1) // 2, so output sizes equal the Keras
SAME build; numerics differ, structure and MACs do not.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from dnncost.errors import ToolError
from dnncost.gen.spec import BlockSpec, ConvSpec, NetworkSpec, PoolSpec


def torch_module(spec: NetworkSpec, seed: int = 0) -> Any:
    """A ``torch.nn.Module`` of ``spec`` with seeded random weights, in eval mode."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    acts = {"relu": nn.ReLU, "relu6": nn.ReLU6, "hswish": nn.Hardswish}

    def conv(cin: int, cout: int, kernel: int, stride: int, act: str | None,
             groups: int = 1) -> list[nn.Module]:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2,
                                             groups=groups)]
        return layers + ([acts[act]()] if act else [])

    class SqueezeExcite(nn.Module):
        def __init__(self, channels: int, reduced: int) -> None:
            super().__init__()
            self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, reduced, 1),
                                      nn.ReLU(), nn.Conv2d(reduced, channels, 1), nn.Sigmoid())

        def forward(self, x: Any) -> Any:
            return x * self.gate(x)

    class Block(nn.Module):
        def __init__(self, cin: int, block: BlockSpec) -> None:
            super().__init__()
            hidden = cin if block.kind == "ds" else block.hidden
            layers: list[nn.Module] = []
            if block.kind == "ir":
                layers += conv(cin, hidden, 1, 1, block.act)
            if block.kind == "fr":
                layers += conv(cin, hidden, block.kernel, block.stride, block.act)
            else:
                layers += conv(hidden, hidden, block.kernel, block.stride, block.act, hidden)
            if block.se:
                layers.append(SqueezeExcite(hidden, block.se))
            layers += conv(hidden, block.cout, 1, 1, None)
            self.body = nn.Sequential(*layers)
            self.residual = block.stride == 1 and cin == block.cout

        def forward(self, x: Any) -> Any:
            return x + self.body(x) if self.residual else self.body(x)

    modules: list[nn.Module] = []
    channels = spec.in_channels
    for stage in spec.stages:
        if isinstance(stage, ConvSpec):
            modules += conv(channels, stage.cout, stage.kernel, stage.stride, stage.act)
            channels = stage.cout
        elif isinstance(stage, PoolSpec):
            modules.append(nn.AvgPool2d(stage.kernel) if stage.kernel
                           else nn.AdaptiveAvgPool2d(1))
        else:
            modules.append(Block(channels, stage))
            channels = stage.cout
    modules.append(nn.Flatten())
    return nn.Sequential(*modules).eval()


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
    try:
        with torch.no_grad(), warnings.catch_warnings():  # legacy exporter: no onnxscript
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(torch_module(spec, seed), (_example(spec),), str(path),
                              input_names=["input"], output_names=["logits"],
                              opset_version=17, dynamo=False)
    except Exception as exc:  # the exporter raises many unrelated types
        raise ToolError(f"ONNX export of {spec.to_string()[:40]}... failed: {exc}"
                        .splitlines()[0]) from None
    return path
