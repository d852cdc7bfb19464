"""Encoded layer tables (dnncost.encoding, ``lt-v1``) of many spec strings, fast.

A stage's rows depend only on (token, input h, w, c), so the specs are walked in
lockstep, one stage position at a time: the batch is split into tokens as one string,
each position's (token, shape) keys are looked up in the stage cache
(:mod:`dnncost.gen.stage_cache`) at once, the stages never seen before are expanded
together, and every spec's table is then a gather of its stages' rows. A few specs
are walked one at a time in plain Python instead, which is quicker for them. The
rows equal ``encode(layer_table(parse_spec(spec)))`` exactly (tests check it); a spec
with a number float32 does not hold exactly takes that reference way (so it is rounded
as there), which also raises gen's InputError for a malformed spec.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from dnncost.encoding import COLUMNS
from dnncost.errors import InputError
from dnncost.gen.spec import ASCII_SPACES, parse_spec
from dnncost.gen.stage_cache import StageCache

SMALL_BATCH = 8
_CACHE = StageCache()


@lru_cache(maxsize=1 << 16)
def _expanded(text: str) -> str:
    """The token form of a NAS-Bench-201 / FBNet architecture string (itself if it is
    malformed: the reference way then names the problem)."""
    from dnncost.gen.archs import arch_spec

    try:  # ASCII spaces only: arch_spec refuses any other character, as parse_spec does
        return arch_spec(text.strip(ASCII_SPACES)).to_string()
    except InputError:
        return text


def stage_entries(specs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each spec's stages as cache entries ``[N, stages]`` (-1 past its end, and for a
    spec to take the reference way, which the mask ``[N]`` marks)."""
    if any(text.lstrip().startswith(("|", "fbnet")) for text in specs):
        specs = [_expanded(t) if t.lstrip().startswith(("|", "fbnet")) else t for t in specs]
    if 0 < len(specs) <= SMALL_BATCH:  # no arrays over the batch needed
        return _CACHE.walk_each(specs)
    entries, slow = _CACHE.walk(specs)
    entries[slow] = -1
    return entries, slow


def entry_rows(entries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The encoded rows of cache ``entries`` (1-d, each at least one row) one after
    another, and each row's position in ``entries``."""
    lengths = _CACHE.lengths[entries]
    offsets = np.repeat(_CACHE.starts[entries] - np.cumsum(lengths) + lengths, lengths)
    rows = _CACHE.table[offsets + np.arange(int(lengths.sum()))]
    return rows, np.repeat(np.arange(len(entries), dtype=np.int64), lengths)


def reference_tables(specs: Sequence[str], which: np.ndarray) -> dict[int, np.ndarray]:
    """Encoded rows of the specs ``which`` marks, the reference way (gen's InputError for
    a malformed one)."""
    from dnncost.encoding import encode
    from dnncost.gen.layers import layer_table

    return {int(i): encode(layer_table(parse_spec(specs[i]))) for i in np.flatnonzero(which)}


def encoded_tables(specs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Encoded rows float32 ``[L, 14]`` of all specs, in order, and each row's spec
    position (int64 ``[L]``); InputError for a malformed spec."""
    entries, slow = stage_entries(specs)
    spec_of, _ = np.nonzero(entries >= 0)
    fast, owner = entry_rows(entries[entries >= 0])
    counts = np.bincount(spec_of[owner], minlength=len(specs)).astype(np.int64)
    if not slow.any():
        return fast, np.repeat(np.arange(len(specs), dtype=np.int64), counts)
    reference = reference_tables(specs, slow)
    for i, rows in reference.items():
        counts[i] = len(rows)
    index = np.repeat(np.arange(len(specs), dtype=np.int64), counts)
    out = np.zeros((len(index), len(COLUMNS)), np.float32)
    is_reference = slow[index]
    out[~is_reference] = fast
    out[is_reference] = np.concatenate([reference[i] for i in sorted(reference)])
    return out, index
