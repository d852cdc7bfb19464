"""Network specs: small frozen dataclasses with a compact string form.

A network is an input resolution and a chain of stages written as tokens, in the
spirit of timm's block strings. Tokens are separated by spaces, e.g.::

    r224 conv_k3_s2_c32 ir_k3_s1_h32_c16_arelu ir_k5_s2_h48_c24_se12_ahswish
    avgpool_k7 conv_k1_s1_c1024 conv_k1_s1_c1000

Token grammar (fields after the kind, in this order; optional ones in brackets):

- ``conv_k<kernel>_s<stride>_c<cout>[_a<act>]``: dense convolution.
- ``ir_k_s_h<hidden>_c[_se<reduced>][_a<act>]``: MBConv (1x1 expand, depthwise kxk,
  optional squeeze-excite, linear 1x1 project).
- ``fr_k_s_h_c[_se][_a]``: fused MBConv (dense kxk expand, optional SE, 1x1 project).
- ``ds_k_s_c[_se][_a]``: depthwise-separable (depthwise kxk, optional SE, 1x1 project).
- ``dw_k<kernel>_s<stride>[_a]``: a depthwise convolution on its own (MobileNetV1).
- ``fire_h<squeeze>_c<cout>[_a]``: SqueezeNet's fire module (1x1 squeeze to ``h``
  channels, then a 1x1 and a 3x3 expand of ``c / 2`` channels each on it, concatenated).
- ``avgpool_k<kernel>[_s<stride>]``, ``maxpool_k_s`` (VALID; stride defaults to the
  kernel) and ``gap`` (global mean).
- ``relu``, ``relu6``, ``hswish``: an activation on its own.
- ``cell_e<6 digits>``: a NAS-Bench-201 cell over the current channels (gen/archs.py):
  its edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2, each 0 none, 1 skip_connect,
  2 nor_conv_1x1, 3 nor_conv_3x3, 4 avg_pool_3x3.
- ``res_s<stride>_c<cout>``: NAS-Bench-201's residual reduction block (ReLU, 3x3 conv
  with the stride, ReLU, 3x3 conv; shortcut 2x2 average pool and 1x1 conv; add).

``ir`` takes ``_g<groups>``: grouped 1x1 convolutions, with a channel shuffle
after the expansion (FBNet's ``_g2`` blocks). Whole-network architecture strings parse
too: NAS-Bench-201's ``|nor_conv_3x3~0|+|...|`` and ``fbnet:`` / ``fbnet224:`` with 22
block indices (gen/archs.py expands them into these tokens).

Specs are ASCII; tokens are separated by spaces, tabs, newlines or ``;`` (the
separators Python and JavaScript, export/web/dnncost.js, both split at).

Convolutions pad SAME, pools VALID; ``_psame`` / ``_pvalid`` at the end of a conv, dw or
pool token says otherwise. Blocks add a residual when stride is 1 and input channels
equal output channels.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Union

from dnncost.errors import InputError
from dnncost.records import stable_id

ACTIVATION_NAMES: tuple[str, ...] = ("relu", "relu6", "hswish")
BLOCK_KINDS: tuple[str, ...] = ("ir", "fr", "ds")
POOL_KINDS: tuple[str, ...] = ("avg", "max")


@dataclass(frozen=True)
class ConvSpec:
    """A dense kxk convolution (SAME padding unless ``same`` is False) with an optional
    activation."""

    kernel: int
    stride: int
    cout: int
    act: str | None = None
    same: bool = True


@dataclass(frozen=True)
class DwSpec:
    """A depthwise kxk convolution on its own, with an optional activation."""

    kernel: int
    stride: int
    act: str | None = None
    same: bool = True


@dataclass(frozen=True)
class BlockSpec:
    """An inverted-residual style block; ``hidden`` is unused (0) for ``ds``."""

    kind: str
    kernel: int
    stride: int
    hidden: int
    cout: int
    se: int = 0
    act: str | None = "relu"
    groups: int = 1


@dataclass(frozen=True)
class ActSpec:
    """An activation on its own (ReLU before a block, as NAS-Bench-201's last one)."""

    act: str = "relu"


@dataclass(frozen=True)
class CellSpec:
    """A NAS-Bench-201 cell: the op of each of its 6 edges, as 6 digits (module
    docstring); it keeps its input's shape."""

    ops: str


@dataclass(frozen=True)
class ResSpec:
    """NAS-Bench-201's residual reduction block to ``cout`` channels."""

    stride: int
    cout: int


@dataclass(frozen=True)
class FireSpec:
    """SqueezeNet's fire module: squeeze to ``squeeze`` channels, two expands of
    ``cout / 2`` channels (1x1 and 3x3) concatenated."""

    squeeze: int
    cout: int
    act: str | None = "relu"


@dataclass(frozen=True)
class PoolSpec:
    """Pooling (``avg`` or ``max``) with a kernel and a stride (0: the kernel), VALID
    unless ``same``; kernel 0 means the global mean."""

    kernel: int = 0
    stride: int = 0
    kind: str = "avg"
    same: bool = False

    def __post_init__(self) -> None:
        if self.kernel and not self.stride:  # one canonical form: PoolSpec(7) == (7, 7)
            object.__setattr__(self, "stride", self.kernel)


Stage = Union[ConvSpec, DwSpec, BlockSpec, FireSpec, PoolSpec, ActSpec, CellSpec, ResSpec]
STAGE_TYPES: dict[str, type] = {t.__name__: t for t in (ConvSpec, DwSpec, BlockSpec,
                                                         FireSpec, PoolSpec, ActSpec,
                                                         CellSpec, ResSpec)}
CELL_OPS = 5  # none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3


@dataclass(frozen=True)
class NetworkSpec:
    """A whole network: input resolution, input channels and its stages."""

    resolution: int
    stages: tuple[Stage, ...]
    in_channels: int = 3

    def to_string(self) -> str:
        """The compact canonical form (see the module docstring)."""
        head = f"r{self.resolution}" + (f"_i{self.in_channels}" if self.in_channels != 3 else "")
        return " ".join([head] + [_stage_token(s) for s in self.stages])

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict: resolution, in_channels and one dict per stage with its type."""
        return {"resolution": self.resolution, "in_channels": self.in_channels,
                "stages": [{"type": type(s).__name__, **asdict(s)} for s in self.stages]}

    @staticmethod
    def from_json(text: str) -> "NetworkSpec":
        """Inverse of :meth:`to_json`."""
        try:
            return NetworkSpec.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise InputError(f"network spec JSON is malformed ({exc}): pass valid JSON") from None

    @staticmethod
    def from_dict(data: dict[str, Any]) -> "NetworkSpec":
        """Inverse of :meth:`to_dict`."""
        try:
            stages = []
            for stage in data["stages"]:
                fields = dict(stage)
                stages.append(STAGE_TYPES[fields.pop("type")](**fields))
            spec = NetworkSpec(int(data["resolution"]), tuple(stages),
                               int(data.get("in_channels", 3)))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"network spec dict is malformed ({exc!r})") from None
        validate(spec)
        return spec


def _padding(same: bool, default: bool) -> str:
    return "" if same == default else ("_psame" if same else "_pvalid")


def _stage_token(stage: Stage) -> str:
    if isinstance(stage, ActSpec):
        return str(stage.act)
    if isinstance(stage, CellSpec):
        return f"cell_e{stage.ops}"
    if isinstance(stage, ResSpec):
        return f"res_s{stage.stride}_c{stage.cout}"
    if isinstance(stage, PoolSpec):
        if not stage.kernel:
            return "gap"
        stride = "" if stage.stride == stage.kernel and stage.kind == "avg" \
            else f"_s{stage.stride}"
        return f"{stage.kind}pool_k{stage.kernel}{stride}{_padding(stage.same, False)}"
    act = f"_a{stage.act}" if stage.act else ""
    if isinstance(stage, ConvSpec):
        return (f"conv_k{stage.kernel}_s{stage.stride}_c{stage.cout}{act}"
                f"{_padding(stage.same, True)}")
    if isinstance(stage, DwSpec):
        return f"dw_k{stage.kernel}_s{stage.stride}{act}{_padding(stage.same, True)}"
    if isinstance(stage, FireSpec):
        return f"fire_h{stage.squeeze}_c{stage.cout}{act}"
    hidden = "" if stage.kind == "ds" else f"_h{stage.hidden}"
    se = f"_se{stage.se}" if stage.se else ""
    groups = f"_g{stage.groups}" if stage.groups != 1 else ""
    return (f"{stage.kind}_k{stage.kernel}_s{stage.stride}{hidden}_c{stage.cout}{se}{groups}"
            f"{act}")


HEAD = re.compile(r"r([0-9]+)(?:_i([0-9]+))?")  # a spec's first token: resolution, channels
ASCII_SPACES = " \t\n\r\x0b\x0c"  # between tokens, and what may be stripped around a spec
_PYTHON_ONLY_SPACES = "\x1c\x1d\x1e\x1f"  # str.split() splits at these; JavaScript does not
_FIELD = re.compile(r"^(se|[a-z])(.+)$")
_PADDINGS = {"same": True, "valid": False}


def _parse_token(token: str) -> Stage:
    kind, *parts = token.split("_")
    fields: dict[str, str] = {}
    for part in parts:
        match = _FIELD.match(part)
        if not match or match.group(1) in fields:
            raise InputError(f"network spec token {token!r}: bad field {part!r}")
        fields[match.group(1)] = match.group(2)
    try:
        act = fields.pop("a", None)
        padding = fields.pop("p", None)
        same = _PADDINGS[padding] if padding is not None else None
        if kind == "gap" and not fields and padding is None:
            return PoolSpec(0)
        if kind in ACTIVATION_NAMES and not parts:
            return ActSpec(kind)
        if kind == "cell" and set(fields) == {"e"} and act is None and padding is None:
            return CellSpec(fields["e"])
        if kind == "res" and set(fields) == {"s", "c"} and act is None and padding is None:
            return ResSpec(int(fields["s"]), int(fields["c"]))
        if kind in ("avgpool", "maxpool") and {"k"} <= set(fields) <= {"k", "s"} \
                and act is None and (kind == "avgpool" or "s" in fields):
            kernel = int(fields["k"])
            return PoolSpec(kernel, int(fields.get("s", kernel)), kind[:3], bool(same))
        if kind == "conv" and set(fields) == {"k", "s", "c"}:
            return ConvSpec(int(fields["k"]), int(fields["s"]), int(fields["c"]), act,
                            same is not False)
        if kind == "dw" and set(fields) == {"k", "s"}:
            return DwSpec(int(fields["k"]), int(fields["s"]), act, same is not False)
        if kind == "fire" and set(fields) == {"h", "c"} and padding is None:
            return FireSpec(int(fields["h"]), int(fields["c"]), act)
        if kind in BLOCK_KINDS and padding is None:
            needed = {"k", "s", "c"} | ({"h"} if kind != "ds" else set())
            if needed <= set(fields) <= needed | {"se", "g"}:
                return BlockSpec(kind, int(fields["k"]), int(fields["s"]),
                                 int(fields.get("h", 0)), int(fields["c"]),
                                 int(fields.get("se", 0)), act, int(fields.get("g", 1)))
    except (ValueError, KeyError):
        pass
    raise InputError(f"network spec token {token!r} is not valid: write tokens as README's "
                     "'Generate networks' lists them (e.g. conv_k3_s2_c32, ir_k3_s1_h96_c24)")


def plain_text(text: str) -> bool:
    """Whether ``text`` is ASCII without the separators only Python splits at, so that
    every reader of specs (gen, dnncost.js) splits and reads it alike."""
    return text.isascii() and not any(space in text for space in _PYTHON_ONLY_SPACES)


def check_plain(text: str) -> None:
    """InputError unless :func:`plain_text` holds for ``text``."""
    if not plain_text(text):
        where = next(i for i, ch in enumerate(text)
                     if not ch.isascii() or ch in _PYTHON_ONLY_SPACES)
        raise InputError(f"network spec {text[:60]!r} holds {text[where]!r} at position "
                         f"{where}: write specs in ASCII, tokens separated by spaces")


def parse_spec(text: str) -> NetworkSpec:
    """Parse the string form (tokens separated by spaces, newlines or ``;``), or a
    NAS-Bench-201 / FBNet architecture string."""
    check_plain(text)
    if text.lstrip().startswith(("|", "fbnet")):
        from dnncost.gen.archs import arch_spec

        return arch_spec(text.strip())
    tokens = text.replace(";", " ").split()
    if not tokens:
        raise InputError("network spec is empty: give e.g. 'r224 conv_k3_s2_c32 ...'")
    match = HEAD.fullmatch(tokens[0])
    if not match:
        raise InputError(f"network spec must start with r<resolution>, not {tokens[0]!r}")
    spec = NetworkSpec(int(match.group(1)), tuple(_parse_token(t) for t in tokens[1:]),
                       int(match.group(2) or 3))
    validate(spec)
    return spec


def validate(spec: NetworkSpec) -> None:
    """Raise InputError when a spec cannot describe a real network."""
    if spec.resolution < 1 or spec.in_channels < 1 or not spec.stages:
        raise InputError(f"network spec {spec.to_string()!r}: needs a resolution and stages")
    for stage in spec.stages:
        _check_stage(stage)


def parse_stage(token: str) -> Stage:
    """One stage token (``ir_k3_s1_h96_c24``), parsed and checked (InputError if bad)."""
    stage = _parse_token(token)
    _check_stage(stage)
    return stage


def _check_stage(stage: Stage) -> None:
    if type(stage) not in STAGE_TYPES.values():
        raise InputError(f"network spec stage {stage!r} is not a stage of dnncost.gen.spec")
    if isinstance(stage, CellSpec):
        bad = len(stage.ops) != 6 or any(ch not in "01234" for ch in stage.ops)
    elif isinstance(stage, ResSpec):
        bad = stage.stride < 1 or stage.cout < 1
    elif isinstance(stage, ActSpec):
        bad = stage.act is None
    elif isinstance(stage, PoolSpec):
        bad = stage.kernel < 0 or stage.stride < 0 or stage.kind not in POOL_KINDS or (
            stage.kernel == 0 and (stage.stride or stage.kind != "avg" or stage.same))
    elif isinstance(stage, FireSpec):
        bad = stage.squeeze < 1 or stage.cout < 2 or stage.cout % 2
    else:
        bad = stage.kernel < 1 or stage.stride < 1 or (
            not isinstance(stage, DwSpec) and stage.cout < 1)
        if isinstance(stage, BlockSpec):
            bad = bad or stage.kind not in BLOCK_KINDS or stage.se < 0 or (
                stage.kind != "ds" and stage.hidden < 1) or stage.groups < 1 or (
                stage.groups > 1 and (stage.kind != "ir" or stage.cout % stage.groups
                                      or (stage.hidden or 1) % stage.groups))
    if bad or (getattr(stage, "act", None) not in (None,) + ACTIVATION_NAMES):
        raise InputError(f"network spec stage {_stage_token(stage)!r} is not valid: "
                         f"kernel/stride/channels must be positive (fire: an even "
                         f"cout), act one of {', '.join(ACTIVATION_NAMES)}")


def spec_id(spec: NetworkSpec) -> str:
    """16 hex digits: the sha256 of the canonical string form."""
    return stable_id("dnncost-spec", spec.to_string())
