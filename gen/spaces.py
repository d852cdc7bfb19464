"""Search spaces: seeded samplers of network specs, and fixed lists, in one registry.

``sample_specs(space, count, seed)`` is reproducible and prefix-stable: the first
``n`` specs of ``count=m > n`` are the specs of ``count=n``, so asking for more
networks later reuses the ones already made. The NAS benchmark spaces (``nasbench201``,
``fbnet``, ``fbnet224``: gen/archs.py) sample architecture strings, which also name the
networks. A fixed space (``iiswc``: the 118 networks of the IISWC 2020 study,
gen/iiswc_networks.tsv) gives its first ``count`` networks.
"""

from __future__ import annotations

import random
from functools import lru_cache
from importlib import resources
from typing import Callable, Sequence

import numpy as np

from dnncost.encoding import LayerTables
from dnncost.errors import InputError
from dnncost.gen.archs import (FBNET_BLOCKS, FBNET_LENGTH, arch_network_name, arch_spec,
                               fbnet_arch, nb201_arch, nb201_codes, nb201_reaches_output)
from dnncost.gen.layers import layer_table, total_macs
from dnncost.gen.spec import BlockSpec, ConvSpec, NetworkSpec, PoolSpec, Stage, parse_spec, spec_id
from dnncost.records import Network

Sampler = Callable[[random.Random], NetworkSpec]

# ---- mobileopt: the IISWC 2020 paper's MobileGen space ---------------------------
# Read off the paper's 100 random networks (onnxEmbeddings.csv, Properties.csv):
# per size class, the resolutions of the stages after the first block, the blocks per
# stage, the output channels each block picks from (at width 1.0), and the head. As in
# those networks, ReLU follows every expand and depthwise convolution, while the stem,
# the head and the classifier convolutions have none (tests check all 100 fit).
MOBILEOPT_MACS = (40_000_000, 400_000_000)
MOBILEOPT_STAGES: dict[str, tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]] = {
    # (blocks per stage choices, channel choices), one entry per stride-2 stage
    "small": (((2, 3), (16, 24)), ((3, 4, 5), (36, 40, 44, 48)), ((3, 4), (80, 88, 96))),
    "large": (((2, 3), (16, 24)), ((3, 4), (32, 40, 48)),
              ((5, 6, 7, 8), (80, 88, 96, 104, 112)), ((3, 4, 5), (160, 168, 176))),
    "giant": (((2, 3), (16, 24, 32)), ((3, 4, 5), (24, 32, 40)),
              ((5, 6, 7, 8, 9), (80, 88, 96, 108)), ((3, 4, 5), (192, 216, 240, 320))),
}
MOBILEOPT_HEAD = {"small": ((576, 584), (1024, 1064)), "large": ((920, 960), (1280, 1320)),
                  "giant": ((960, 968), (1280, 1320))}
MOBILEOPT_KERNELS = {"small": (3, 5), "large": (3, 5, 7), "giant": (3, 5, 7)}
MOBILEOPT_EXPANSIONS = (3, 6)


def _mobileopt(rng: random.Random) -> NetworkSpec:
    size = rng.choice(("small", "large", "giant"))
    width = 0.75 if rng.random() < 0.4 else 1.0
    # Small networks downsample in the first block (3 stages follow), the others don't.
    stages: list[Stage] = [ConvSpec(3, 2, 32),
                           BlockSpec("ir", 3, 2 if size == "small" else 1, int(32 * width),
                                     int(16 * width), 0, "relu")]
    cin = int(16 * width)
    for depth_choices, channel_choices in MOBILEOPT_STAGES[size]:
        for index in range(rng.choice(depth_choices)):
            cout = int(rng.choice(channel_choices) * width)
            # As in the paper's data, the width multiplier also scales the expansion.
            hidden = int(cin * rng.choice(MOBILEOPT_EXPANSIONS) * width)
            stages.append(BlockSpec("ir", rng.choice(MOBILEOPT_KERNELS[size]),
                                    2 if index == 0 else 1, hidden, cout, 0, "relu"))
            cin = cout
    head, hidden_fc = (rng.choice(c) for c in MOBILEOPT_HEAD[size])
    stages += [ConvSpec(1, 1, head), PoolSpec(7), ConvSpec(1, 1, hidden_fc),
               ConvSpec(1, 1, 1000)]
    return NetworkSpec(224, tuple(stages))


# ---- efficient: a broader modern space --------------------------------------------
# Bounds: resolution 128-224 (step 32); width multiplier 0.5-1.25; seven stages of
# 1-4 blocks (base channels 16/24/40/80/112/160/320, strides 1/2/2/2/1/2/1); stage 0
# is depthwise-separable, stages 1-2 fused or plain MBConv, the rest MBConv; kernels
# 3/5/7; expansion 1-6; squeeze-excite (a quarter of the hidden channels) or none;
# activation per stage ReLU, ReLU6 or h-swish; head 1x1 conv of 640-1280 channels,
# global mean, 1x1 classifier to 1000 classes. Kept: 20-600 M MACs.
EFFICIENT_MACS = (20_000_000, 600_000_000)
EFFICIENT_RESOLUTIONS = (128, 160, 192, 224)
EFFICIENT_WIDTHS = (0.5, 0.75, 1.0, 1.25)
EFFICIENT_STAGES = ((16, 1, (1, 2)), (24, 2, (1, 2, 3)), (40, 2, (1, 2, 3)),
                    (80, 2, (2, 3, 4)), (112, 1, (1, 2, 3, 4)), (160, 2, (1, 2, 3, 4)),
                    (320, 1, (1,)))
EFFICIENT_ACTS = ("relu", "relu6", "hswish")


def _divisible(value: float, divisor: int = 8) -> int:
    """Round channels to a multiple of ``divisor``, never below it or 10% under."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _efficient(rng: random.Random) -> NetworkSpec:
    width = rng.choice(EFFICIENT_WIDTHS)
    stem = _divisible(rng.choice((16, 24, 32)) * width)
    stages: list[Stage] = [ConvSpec(3, 2, stem, rng.choice(EFFICIENT_ACTS))]
    cin = stem
    for number, (base, stride, depths) in enumerate(EFFICIENT_STAGES):
        act, kind = rng.choice(EFFICIENT_ACTS), "ir"
        if number == 0:
            kind = "ds"
        elif number <= 2:
            kind = rng.choice(("fr", "ir"))
        use_se = rng.random() < 0.5
        cout = _divisible(base * width)
        for index in range(rng.choice(depths)):
            hidden = 0 if kind == "ds" else _divisible(cin * rng.randint(1, 6))
            se = _divisible((hidden or cin) / 4) if use_se else 0
            stages.append(BlockSpec(kind, rng.choice((3, 5, 7)), stride if index == 0 else 1,
                                    hidden, cout, se, act))
            cin = cout
    stages += [ConvSpec(1, 1, rng.choice((640, 768, 960, 1280)), rng.choice(EFFICIENT_ACTS)),
               PoolSpec(0), ConvSpec(1, 1, 1000)]
    return NetworkSpec(rng.choice(EFFICIENT_RESOLUTIONS), tuple(stages))


SPACES: dict[str, tuple[Sampler, tuple[int, int]]] = {
    "mobileopt": (_mobileopt, MOBILEOPT_MACS),
    "efficient": (_efficient, EFFICIENT_MACS),
}
FIXED_SPACES: tuple[str, ...] = ("iiswc",)
MAX_TRIES = 1000


# ---- NAS benchmarks: architecture strings (gen/archs.py) ---------------------------
def _nasbench201(count: int, seed: int) -> list[str]:
    """Cells in a seeded order, without the 341 whose output no input reaches."""
    codes = [c for c in nb201_codes() if nb201_reaches_output(c)]
    random.Random(f"nasbench201/{seed}").shuffle(codes)
    return [nb201_arch(c) for c in codes[:count]]


def _fbnet(form: str) -> Callable[[int, int], list[str]]:
    def sample(count: int, seed: int) -> list[str]:
        archs: dict[str, None] = {}
        for index in range(count):
            for attempt in range(MAX_TRIES):
                rng = random.Random(f"{form}/{seed}/{index}/{attempt}")
                arch = fbnet_arch(form, tuple(rng.randrange(len(FBNET_BLOCKS))
                                              for _ in range(FBNET_LENGTH)))
                if arch not in archs:
                    break
            archs[arch] = None
        return list(archs)
    return sample


ARCH_SPACES: dict[str, Callable[[int, int], list[str]]] = {
    "nasbench201": _nasbench201, "fbnet": _fbnet("fbnet"), "fbnet224": _fbnet("fbnet224")}


def arch_networks(space: str, archs: Sequence[str]) -> list[tuple[NetworkSpec, Network]]:
    """The spec and store record of each architecture string: named by the
    architecture (``nb201-332104``), id the spec's, MACs and parameters summed over the
    walker's encoded rows (one path for gen and the importers)."""
    from dnncost.encoding import COL, compute_macs
    from dnncost.gen.fast_layers import encoded_tables

    specs = [arch_spec(arch) for arch in archs]
    texts = [spec.to_string() for spec in specs]
    rows, index = encoded_tables(texts)
    tables = LayerTables(rows, np.bincount(index, minlength=len(texts)))
    macs = compute_macs(tables)
    params = np.bincount(index, rows[:, COL["params"]].astype(np.float64), len(texts))
    return [(spec, Network(spec_id(spec), arch_network_name(arch), space,
                           {"spec": text, "arch": arch, "resolution": spec.resolution},
                           int(m), int(p)))
            for spec, text, arch, m, p in zip(specs, texts, archs, macs, params)]


@lru_cache(maxsize=None)
def iiswc_networks() -> tuple[tuple[str, str, NetworkSpec], ...]:
    """The IISWC 2020 study's 118 networks: (name ``iiswc-NNN``, what it is, spec)."""
    text = (resources.files("dnncost.gen") / "iiswc_networks.tsv").read_text()
    rows = [line.split("\t") for line in text.splitlines() if line and line[0] != "#"]
    return tuple((name, label, parse_spec(spec)) for name, label, spec in rows)


def space_names() -> tuple[str, ...]:
    """Names of the registered search spaces (sampled, NAS benchmarks, then fixed)."""
    return tuple(SPACES) + tuple(ARCH_SPACES) + FIXED_SPACES


def sample_specs(space: str, count: int | None, seed: int) -> list[NetworkSpec]:
    """``count`` distinct specs of ``space`` within its MAC bounds, reproducible by seed
    (a fixed space: its first ``count`` networks; None: all of them, or 100 sampled)."""
    if space in FIXED_SPACES:
        specs = [spec for _, _, spec in iiswc_networks()]
        if count is not None and count < 1:
            raise InputError(f"count must be at least 1, not {count}")
        return specs[:count]
    if space not in SPACES and space not in ARCH_SPACES:
        raise InputError(f"unknown search space {space!r}: use one of "
                         f"{', '.join(space_names())}")
    count = 100 if count is None else count
    if count < 1:
        raise InputError(f"count must be at least 1, not {count}")
    if space in ARCH_SPACES:
        return [arch_spec(arch) for arch in ARCH_SPACES[space](count, seed)]
    sampler, (low, high) = SPACES[space]
    specs: list[NetworkSpec] = []
    seen: set[str] = set()
    for index in range(count):
        for attempt in range(MAX_TRIES):
            spec = sampler(random.Random(f"{space}/{seed}/{index}/{attempt}"))
            identity = spec_id(spec)
            if identity not in seen and low <= total_macs(layer_table(spec)) <= high:
                break
        else:
            raise InputError(f"space {space!r} gave no new network in bounds after "
                             f"{MAX_TRIES} tries: ask for fewer networks")
        seen.add(identity)
        specs.append(spec)
    return specs
