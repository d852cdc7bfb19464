"""The per-layer feature table of a network spec, computed analytically.

Rows follow what the TFLite converter emits for the Keras build (gen/tf_build.py):
ReLU/ReLU6 fuse into the convolution before them (``activation`` column), h-swish and
sigmoid are their own rows, reshapes are not rows. Convolutions use SAME padding
(output = ceil(input / stride)) and carry a bias. Elementwise and pool rows count one
operation per output element in ``macs``. Imports only the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dnncost.gen.spec import BlockSpec, ConvSpec, NetworkSpec, PoolSpec
from dnncost.records import Layer

FUSED_ACTIVATIONS: tuple[str, ...] = ("relu", "relu6")
COMPUTE_OPS: tuple[str, ...] = ("conv", "dwconv", "fc")


@dataclass
class _Table:
    """Builds rows while tracking the current tensor shape (h, w, c)."""

    h: int
    w: int
    c: int
    rows: list[Layer] = field(default_factory=list)

    def add(self, op: str, **values: int | str | None) -> None:
        self.rows.append(Layer(len(self.rows), op, **values))  # type: ignore[arg-type]

    def conv(self, kernel: int, stride: int, cout: int, act: str | None,
             depthwise: bool = False) -> None:
        out_h, out_w = -(-self.h // stride), -(-self.w // stride)
        cin_per_group = 1 if depthwise else self.c
        cout = self.c if depthwise else cout
        fused = act if act in FUSED_ACTIVATIONS else None
        self.add("dwconv" if depthwise else "conv", in_h=self.h, in_w=self.w, out_h=out_h,
                 out_w=out_w, cin=self.c, cout=cout, kernel=kernel, stride=stride,
                 padding=(kernel - 1) // 2, groups=self.c if depthwise else 1,
                 activation=fused,
                 macs=out_h * out_w * cout * kernel * kernel * cin_per_group,
                 params=kernel * kernel * cin_per_group * cout + cout)
        self.h, self.w, self.c = out_h, out_w, cout
        if act is not None and fused is None:
            self.elementwise(act)

    def elementwise(self, op: str) -> None:
        self.add(op, in_h=self.h, in_w=self.w, out_h=self.h, out_w=self.w, cin=self.c,
                 cout=self.c, macs=self.h * self.w * self.c, params=0)

    def pool(self, kernel: int) -> None:
        if kernel == 0:  # global mean: TFLite MEAN
            out_h = out_w = 1
            k, stride = self.h, 1
        else:  # AVERAGE_POOL_2D, VALID, stride = kernel
            out_h, out_w = (self.h - kernel) // kernel + 1, (self.w - kernel) // kernel + 1
            k, stride = kernel, kernel
        self.add("pool", in_h=self.h, in_w=self.w, out_h=out_h, out_w=out_w, cin=self.c,
                 cout=self.c, kernel=k, stride=stride, padding=0,
                 macs=out_h * out_w * self.c, params=0)
        self.h, self.w = out_h, out_w

    def block(self, block: BlockSpec) -> None:
        cin, h, w = self.c, self.h, self.w
        if block.kind == "ir":
            self.conv(1, 1, block.hidden, block.act)
            self.conv(block.kernel, block.stride, 0, block.act, depthwise=True)
        elif block.kind == "fr":
            self.conv(block.kernel, block.stride, block.hidden, block.act)
        else:
            self.conv(block.kernel, block.stride, 0, block.act, depthwise=True)
        if block.se:
            self.squeeze_excite(block.se)
        self.conv(1, 1, block.cout, None)
        if block.stride == 1 and cin == block.cout and (h, w) == (self.h, self.w):
            self.elementwise("add")

    def squeeze_excite(self, reduced: int) -> None:
        h, w, c = self.h, self.w, self.c
        self.pool(0)
        self.conv(1, 1, reduced, "relu")
        self.conv(1, 1, c, None)
        self.elementwise("sigmoid")
        self.h, self.w = h, w
        self.elementwise("mul")


def layer_table(spec: NetworkSpec) -> list[Layer]:
    """The layer table of ``spec``, rows in execution order."""
    table = _Table(spec.resolution, spec.resolution, spec.in_channels)
    for stage in spec.stages:
        if isinstance(stage, ConvSpec):
            table.conv(stage.kernel, stage.stride, stage.cout, stage.act)
        elif isinstance(stage, PoolSpec):
            table.pool(stage.kernel)
        else:
            table.block(stage)
    return table.rows


def total_macs(layers: list[Layer]) -> int:
    """Multiply-accumulates of the convolution and fully connected rows."""
    return sum(layer.macs or 0 for layer in layers if layer.op_type in COMPUTE_OPS)


def total_params(layers: list[Layer]) -> int:
    """Weights and biases of all rows."""
    return sum(layer.params or 0 for layer in layers)

