"""NAS benchmark architectures as specs: NAS-Bench-201 and FBNet (HW-NAS-Bench).

An architecture's canonical string parses as a spec (``parse_spec``) and names its
network:

- NAS-Bench-201 (Dong & Yang, ICLR 2020), CIFAR-10: ``|nor_conv_3x3~0|+|...|``, or its
  6 digits (``cell_e`` of gen/spec.py); network ``nb201-<digits>``. The macro network:
  3x3 conv stem of 16 channels, three stages of 5 cells at 16/32/64 channels with a
  residual reduction block between them, then ReLU (the batch norm before it folded
  away), global mean and a 64 -> 10 classifier.
- FBNet (Wu et al., CVPR 2019) as HW-NAS-Bench defines it: 22 searchable layers, each
  one of the 9 blocks of FBNET_BLOCKS (k3/k5 with expansion 1, 3 or 6 of the input
  channels, group-2 k3/k5 with channel shuffle, skip), written ``fbnet:`` and the 22
  indices joined by commas (network ``fbnet-<22 digits>``): its CIFAR-100 form, 32x32
  input, stem stride 1, header of 1504 channels. ``fbnet224:``: the ImageNet form,
  224x224, stem stride 2, header 1984, 1000 classes.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, replace
from functools import lru_cache

from dnncost.errors import InputError
from dnncost.gen.nas_blocks import CELL_EDGES, CELL_OP_NAMES
from dnncost.gen.spec import (ActSpec, BlockSpec, CellSpec, ConvSpec, NetworkSpec, PoolSpec,
                              ResSpec, Stage, check_plain, parse_spec, validate)

NB201_CHANNELS = (16, 32, 64)
NB201_CELLS = 5
_NB201_EDGE = re.compile(r"([a-z_0-9]+)~([0-9])")
_INDEX = re.compile(r"[+-]?[0-9]+")  # as dnncost.js reads a number (int() takes "1_0")


def nb201_code(arch: str) -> str:
    """The 6 digits of a NAS-Bench-201 architecture string (or of its digits)."""
    if re.fullmatch(r"[0-4]{6}", arch):
        return arch
    nodes = arch.strip().split("+")
    edges = [[_NB201_EDGE.fullmatch(e) for e in node.strip("|").split("|")] for node in nodes]
    found = {(i + 1, int(m.group(2))): m.group(1) for i, node in enumerate(edges)
             for m in node if m}
    if len(nodes) != 3 or any(m is None for node in edges for m in node) \
            or set(found) != set(CELL_EDGES) or not set(found.values()) <= set(CELL_OP_NAMES):
        raise InputError(f"{arch[:100]!r} is not a NAS-Bench-201 architecture string "
                         f"({_nb201_problem(nodes)}): write e.g. |nor_conv_3x3~0|+"
                         "|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
                         "skip_connect~2|")
    return "".join(str(CELL_OP_NAMES.index(found[edge])) for edge in CELL_EDGES)


def _nb201_problem(nodes: list[str]) -> str:
    """What is wrong in a string that is not a NAS-Bench-201 architecture, first thing
    first: the node count, an edge's form, its op, its input node."""
    if len(nodes) != 3:
        return f"{len(nodes)} node(s) joined by '+', where a cell has 3"
    for i, node in enumerate(nodes, start=1):
        edges = node.strip().strip("|").split("|")
        for edge in edges:
            match = _NB201_EDGE.fullmatch(edge)
            if match is None:
                return f"node {i}'s edge {edge[:40]!r} is not OP~INPUT"
            if match.group(1) not in CELL_OP_NAMES:
                return f"{match.group(1)[:40]!r} is not one of {', '.join(CELL_OP_NAMES)}"
            if int(match.group(2)) >= i:
                return f"node {i} takes its inputs from nodes 0 to {i - 1}, not {edge!r}"
        inputs = sorted(int(e.rsplit("~", 1)[1]) for e in edges)
        if inputs != list(range(i)):
            return f"node {i} needs one edge from each of nodes 0 to {i - 1}"
    return "its edges are not the cell's 6"


def nb201_arch(code: str) -> str:
    """The NAS-Bench-201 architecture string of 6 digits."""
    ops = {edge: CELL_OP_NAMES[int(d)] for edge, d in zip(CELL_EDGES, nb201_code(code))}
    return "+".join("|" + "|".join(f"{ops[(i, j)]}~{j}" for j in range(i)) + "|"
                    for i in (1, 2, 3))


def nb201_spec(code: str) -> NetworkSpec:
    """The CIFAR-10 macro network of a NAS-Bench-201 cell."""
    cell = CellSpec(nb201_code(code))
    stages: list[Stage] = [ConvSpec(3, 1, NB201_CHANNELS[0])]
    for number, channels in enumerate(NB201_CHANNELS):
        if number:
            stages.append(ResSpec(2, channels))
        stages += [cell] * NB201_CELLS
    stages += [ActSpec("relu"), PoolSpec(0), ConvSpec(1, 1, 10)]
    return NetworkSpec(32, tuple(stages))


def nb201_reaches_output(code: str) -> bool:
    """Whether a path of ops (not none) leads from the cell's input to its output."""
    op = dict(zip(CELL_EDGES, map(int, nb201_code(code))))
    live = [True]
    for i in (1, 2, 3):
        live.append(any(op[(i, j)] and live[j] for j in range(i)))
    return live[3]


def nb201_pruned(code: str) -> str:
    """The cell a graph compiler runs: an edge into a node whose output reaches the
    cell's output only through ``none`` edges computes nothing that is used, and is
    pruned (read as ``none``). Eager PyTorch runs every edge; a TFLite build of the
    cell drops them (HELP's pixel3 latencies of a cell equal its pruned twin's)."""
    op = dict(zip(CELL_EDGES, map(int, nb201_code(code))))
    live = {3}
    for j in (2, 1):
        if any(op[(i, j)] and i in live for i in range(j + 1, 4)):
            live.add(j)
    return "".join(str(op[(i, j)] if i in live else 0) for i, j in CELL_EDGES)


def pruned_twin(name: str) -> str:
    """The network a graph compiler makes of network ``name``: ``nb201-<pruned digits>``
    for a NAS-Bench-201 cell (nb201_pruned), the name itself for every other network."""
    match = re.fullmatch(r"nb201-([0-4]{6})", name)
    return f"nb201-{nb201_pruned(match.group(1))}" if match else name


def pruned_spec(text: str) -> str:
    """A spec string as a compiled graph runs it: each NAS-Bench-201 cell as its pruned
    twin (nb201_pruned); a spec without cells comes back unchanged."""
    spec = parse_spec(text)
    stages = tuple(CellSpec(nb201_pruned(s.ops)) if isinstance(s, CellSpec) else s
                   for s in spec.stages)
    return text if stages == spec.stages else replace(spec, stages=stages).to_string()


@lru_cache(maxsize=1)
def nb201_codes() -> tuple[str, ...]:
    """All 15,625 cells' digits, in counting order."""
    return tuple("".join(map(str, ops)) for ops in itertools.product(range(5), repeat=6))


# ---- FBNet ----------------------------------------------------------------------
# (kernel, expansion, groups) per block index; None is skip.
FBNET_BLOCKS: tuple[tuple[int, int, int] | None, ...] = (
    (3, 1, 1), (3, 1, 2), (3, 3, 1), (3, 6, 1), (5, 1, 1), (5, 1, 2), (5, 3, 1), (5, 6, 1),
    None)
FBNET_BLOCK_NAMES = ("k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3",
                     "k5_e6", "skip")
FBNET_LAYERS_PER_STAGE = (1, 4, 4, 4, 4, 4, 1)
FBNET_CHANNELS = (16, 24, 32, 64, 112, 184, 352)
FBNET_STEM = 16


@dataclass(frozen=True)
class FbnetForm:
    """One input form of the FBNet space."""

    prefix: str  # of the architecture string and the network name
    resolution: int
    stem_stride: int
    strides: tuple[int, ...]  # per stage
    header: int
    classes: int


FBNET_FORMS = {"fbnet": FbnetForm("fbnet", 32, 1, (1, 1, 2, 2, 1, 2, 1), 1504, 100),
               "fbnet224": FbnetForm("fbnet224", 224, 2, (1, 2, 2, 2, 1, 2, 1), 1984, 1000)}
FBNET_LENGTH = sum(FBNET_LAYERS_PER_STAGE)


def fbnet_indices(text: str) -> tuple[str, tuple[int, ...]]:
    """(form, the 22 block indices) of ``fbnet:0,3,...`` / ``fbnet224:...``."""
    form, _, rest = text.partition(":")
    values = "".join(rest.split()).split(",")  # whitespace anywhere between indices
    indices = tuple(int(v) for v in values) if all(_INDEX.fullmatch(v) for v in values) else ()
    if form not in FBNET_FORMS or len(indices) != FBNET_LENGTH or \
            not all(0 <= i < len(FBNET_BLOCKS) for i in indices):
        raise InputError(f"{text[:100]!r} is not an FBNet architecture: write fbnet: (or "
                         f"fbnet224:) and {FBNET_LENGTH} block indices 0-8, comma separated")
    return form, indices


def fbnet_arch(form: str, indices: tuple[int, ...]) -> str:
    """The canonical FBNet architecture string."""
    return f"{form}:" + ",".join(map(str, indices))


def fbnet_spec(form_name: str, indices: tuple[int, ...]) -> NetworkSpec:
    """The network of 22 FBNet block indices in one form."""
    form = FBNET_FORMS[form_name]
    stages: list[Stage] = [ConvSpec(3, form.stem_stride, FBNET_STEM, "relu")]
    cin, layer = FBNET_STEM, 0
    for stage, (count, cout) in enumerate(zip(FBNET_LAYERS_PER_STAGE, FBNET_CHANNELS)):
        for number in range(count):
            stride = form.strides[stage] if number == 0 else 1
            block = FBNET_BLOCKS[indices[layer]]
            layer += 1
            if block is None:  # skip: identity, or a 1x1 conv where the shape changes
                if stride != 1 or cin != cout:
                    stages.append(ConvSpec(1, stride, cout, "relu"))
            else:
                kernel, expansion, groups = block
                stages.append(BlockSpec("ir", kernel, stride, cin * expansion, cout, 0,
                                        "relu", groups))
            cin = cout
    stages += [ConvSpec(1, 1, form.header, "relu"), PoolSpec(0), ConvSpec(1, 1, form.classes)]
    return NetworkSpec(form.resolution, tuple(stages))


def arch_spec(text: str) -> NetworkSpec:
    """The spec of a NAS-Bench-201 or FBNet architecture string."""
    check_plain(text)
    if text.startswith("fbnet"):
        spec = fbnet_spec(*fbnet_indices(text))
    else:
        spec = nb201_spec(nb201_code(text))
    validate(spec)
    return spec


def arch_network_name(text: str) -> str:
    """The network name of an architecture string: ``nb201-<6 digits>``,
    ``fbnet-<22 digits>`` or ``fbnet224-<22 digits>``."""
    check_plain(text)
    if text.startswith("fbnet"):
        form, indices = fbnet_indices(text)
        return f"{form}-" + "".join(map(str, indices))
    return f"nb201-{nb201_code(text)}"


NAME_PREFIXES = {"nasbench201": "nb201", "fbnet": "fbnet", "fbnet224": "fbnet224"}  # by space


def arch_of_name(name: str) -> str:
    """The architecture string of a network name (the inverse of arch_network_name)."""
    prefix, _, digits = name.partition("-")
    if prefix == "nb201" and re.fullmatch(r"[0-4]{6}", digits):
        return nb201_arch(digits)
    if prefix in FBNET_FORMS and re.fullmatch(rf"[0-8]{{{FBNET_LENGTH}}}", digits):
        return fbnet_arch(prefix, tuple(map(int, digits)))
    raise InputError(f"{name[:100]!r} names no NAS-Bench-201 or FBNet network: use "
                     f"nb201-<6 digits 0-4> or fbnet-<{FBNET_LENGTH} digits 0-8>")
