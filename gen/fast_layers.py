"""Encoded layer tables (dnncost.encoding, ``lt-v1``) of many spec strings, fast.

A stage's rows depend only on (token, input h, w, c), so the specs are walked in
lockstep, one stage position at a time: the stages never seen before are expanded
together, by stage type, with gen/layers.py's :class:`Walker` running over numpy arrays,
and kept in a cache; every spec's table is then a gather of its stages' rows. The
rows equal ``encode(layer_table(parse_spec(spec)))`` exactly (tests check it); a spec
with a number float32 does not hold exactly takes that reference way (so it is rounded
as there), which also raises gen's InputError for a malformed spec.
"""

from __future__ import annotations

import re
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Sequence

import numpy as np

from dnncost.encoding import ACT_CODES, COL, COLUMNS, OP_CODES
from dnncost.errors import InputError
from dnncost.gen.layers import STAGE_WALKERS
from dnncost.gen.walker import ACT_OPS, Walker
from dnncost.gen.spec import parse_spec

_HEAD = re.compile(r"r(\d+)(?:_i(\d+))?")
_KINDS = {"conv": "conv", "dwconv": "dwconv", "add": "add", "mul": "mul", "concat": "concat",
          "avgpool": "pool", "maxpool": "pool", "shuffle": "other", "zeros": "mul"}
_ACT_OPS = np.asarray(ACT_OPS, np.float32)
_FIELDS = ("kernel", "stride", "cout", "hidden", "se", "squeeze", "same", "groups")


class _Rows:
    """The emitter over ``n`` stages: one encoded row block and mask per emitted op."""

    def __init__(self, n: int) -> None:
        self.n, self.rows, self.masks = n, [], []

    def emit(self, kind: str, inputs: tuple[Any, ...], on: Any, fields: dict[str, Any]) -> int:
        row = np.zeros((self.n, len(COLUMNS)), np.float64)
        act = fields.pop("act", None)
        row[:, COL["op"]] = _ACT_OPS[act] if kind == "act" else OP_CODES[_KINDS[kind]]
        for name, value in fields.items():
            if name in COL:
                row[:, COL[name]] = value
        self.rows.append(row)
        self.masks.append(np.broadcast_to(np.asarray(on, bool), (self.n,)))
        return len(self.rows) - 1


def _stage_fields(stages: list[Any]) -> SimpleNamespace:
    """Stages of one type as arrays of their fields (activation names as codes)."""
    values: dict[str, Any] = {}
    for name in _FIELDS:
        if hasattr(stages[0], name):
            values[name] = np.asarray([int(getattr(s, name)) for s in stages], np.int64)
    values["act"] = np.asarray([ACT_CODES[getattr(s, "act", None)] for s in stages], np.int64)
    if hasattr(stages[0], "ops"):  # cells: one column per edge
        values["ops"] = np.asarray([[int(d) for d in s.ops] for s in stages], np.int64)
    values["kind"] = getattr(stages[0], "kind", "avg")  # block kind: one per group
    return SimpleNamespace(**values)


class StageCache:
    """(token, h, w, c) -> an entry: its rows in :attr:`table` and the output h, w, c."""

    def __init__(self) -> None:
        self.entries: dict[int, int] = {}  # packed key -> entry number
        self.starts = np.zeros(0, np.int64)  # per entry: first row in table (-1: reference)
        self.lengths = np.zeros(0, np.int64)
        self.outputs = np.zeros((0, 3), np.int64)
        self.table = np.zeros((0, len(COLUMNS)), np.float32)
        self.used = self.count = 0
        self.parsed: list[Any] = []  # token id -> stage (None: not a valid stage)
        self.token_ids: dict[str, int] = {}
        self.head_shapes: dict[str, tuple[int, int, int]] = {}
        self.blocks: list[tuple[int, int, int, int, int]] = []  # entry -> start, length, out

    def _token_id(self, token: str) -> int:
        if token not in self.token_ids:
            try:
                stage = parse_spec(f"r1 {token}").stages[0]
            except Exception:  # InputError: the reference way names the problem
                stage = None
            self.token_ids[token] = len(self.parsed)
            self.parsed.append(stage)
        return self.token_ids[token]

    def _grow(self, entries: int, rows: int) -> None:
        if self.count + entries > len(self.starts):
            size = max(self.count + entries, 2 * len(self.starts), 1024)
            for name, width in (("starts", 0), ("lengths", 0), ("outputs", 3)):
                old = getattr(self, name)
                new = np.zeros((size, width) if width else size, np.int64)
                new[:self.count] = old[:self.count]
                setattr(self, name, new)
        if self.used + rows > len(self.table):
            grown = np.zeros((max(self.used + rows, 2 * len(self.table), 4096), len(COLUMNS)),
                             np.float32)
            grown[:self.used] = self.table[:self.used]
            self.table = grown

    def add(self, keys: np.ndarray) -> None:
        """Expand the stages of packed ``keys`` (valid tokens, all new) together, by type."""
        token, h, w, c = _unpack(keys)
        groups: dict[tuple[type, str], list[int]] = {}
        for i, t in enumerate(token.tolist()):
            stage = self.parsed[t]
            groups.setdefault((type(stage), getattr(stage, "kind", "")), []).append(i)
        for (stage_type, _), members in groups.items():
            at = np.asarray(members)
            emitter = _Rows(len(at))
            walker = Walker(emitter, h[at], w[at], c[at])
            STAGE_WALKERS[stage_type](walker, _stage_fields([self.parsed[t] for t in token[at]]))
            rows, masks = np.stack(emitter.rows, 1), np.stack(emitter.masks, 1)
            out = np.column_stack(np.broadcast_arrays(walker.h, walker.w, walker.c, h[at])[:3])
            block = rows[masks]  # each stage's rows, one stage after another
            lengths = masks.sum(1)
            owner = np.repeat(np.arange(len(at)), lengths)
            inexact = np.bincount(owner, (block.astype(np.float32) != block).any(1),
                                  len(at)) > 0  # encode() rounds those: the reference way
            kept = ~inexact[owner]
            self._grow(len(at), int(kept.sum()))
            first = self.used + np.cumsum(lengths * ~inexact) - lengths * ~inexact
            numbers = np.arange(self.count, self.count + len(at))
            self.starts[numbers] = np.where(inexact, -1, first)
            self.lengths[numbers] = lengths
            self.outputs[numbers] = out
            self.blocks += [(int(a), int(b), *map(int, o)) for a, b, o in
                            zip(self.starts[numbers], lengths, out)]
            self.table[self.used:self.used + int(kept.sum())] = block[kept]
            self.used += int(kept.sum())
            self.entries.update(zip(keys[at].tolist(), numbers.tolist()))
            self.count += len(at)

    def _heads(self, heads: list[str]) -> list[tuple[int, int, int]]:
        """(h, w, c) of each head token ``r224[_i3]``; (0, 0, 0) when it is not one."""
        shapes = self.head_shapes
        for head in set(heads) - set(shapes):
            match = _HEAD.fullmatch(head)
            h, c = (int(match.group(1)), int(match.group(2) or 3)) if match else (0, 0)
            shapes[head] = (h, h, c) if c >= 1 else (0, 0, 0)
        return [shapes[head] for head in heads]

    def known(self, text: str) -> list[int] | None:
        """The cache entries of a spec whose every stage was seen, walked in plain Python
        (for a few specs, quicker than the arrays); None when one was not."""
        words = text.replace(";", " ").split()
        if len(words) < 2:
            return None
        h, w, c = self._heads(words[:1])[0]
        blocks = []
        for token in words[1:]:
            t = self.token_ids.get(token)
            if t is None or not (0 < h < 8192 and 0 < w < 8192 and 0 < c < 131072):
                return None
            entry = self.entries.get((t << 43) | (h << 30) | (w << 17) | c)
            if entry is None or self.blocks[entry][0] < 0:
                return None
            blocks.append(entry)
            h, w, c = self.blocks[entry][2:]
        return blocks

    def walk(self, specs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Entries ``[N, stages]`` (-1 past a spec's end) and a mask of the specs to take
        the reference way."""
        token_lists = [s.replace(";", " ").split() for s in specs]
        n = len(specs)
        counts = np.asarray([max(len(words) - 1, 0) for words in token_lists], np.int64)
        flat = [t for words in token_lists for t in words[1:]]
        ids = list(map(self.token_ids.get, flat))
        if None in ids:
            ids = [self._token_id(t) if i is None else i for t, i in zip(flat, ids)]
        tokens = np.full((n, max(int(counts.max(initial=0)), 1)), -1, np.int64)
        spec_of = np.repeat(np.arange(n), counts)
        tokens[spec_of, np.arange(len(flat)) - np.repeat(np.cumsum(counts) - counts, counts)] = ids
        invalid = np.asarray([stage is None for stage in self.parsed], bool)
        slow = counts < 1
        slow[spec_of[invalid[np.asarray(ids, np.int64)]]] = True
        shape = np.zeros((n, 3), np.int64)
        for number, head in enumerate(self._heads([(words or [""])[0]
                                                   for words in token_lists])):
            shape[number] = head
        slow |= shape[:, 0] < 1
        entries = np.full(tokens.shape, -1, np.int64)
        for position in range(tokens.shape[1]):
            live = np.flatnonzero((tokens[:, position] >= 0) & ~slow)
            fits = ((shape[live] >= 1) & (shape[live] < _SIZES)).all(1)
            slow[live[~fits]] = True
            live = live[fits]
            if not len(live):
                continue
            keys = _pack(tokens[live, position], shape[live])
            unique, inverse = np.unique(keys, return_inverse=True)
            known = np.asarray([self.entries.get(k, -1) for k in unique.tolist()], np.int64)
            if (known < 0).any():
                self.add(unique[known < 0])
                known = np.asarray([self.entries[k] for k in unique.tolist()], np.int64)
            found = known[inverse]
            entries[live, position] = found
            slow[live[self.starts[found] < 0]] = True
            shape[live] = self.outputs[found]
        return entries, slow


_SIZES = np.asarray([1 << 13, 1 << 13, 1 << 17])  # h, w, c packed into one int64 key
SMALL_BATCH = 8


def _pack(token: np.ndarray, shape: np.ndarray) -> np.ndarray:
    return (token << 43) | (shape[:, 0] << 30) | (shape[:, 1] << 17) | shape[:, 2]


def _unpack(keys: np.ndarray) -> tuple[np.ndarray, ...]:
    return keys >> 43, (keys >> 30) & 0x1FFF, (keys >> 17) & 0x1FFF, keys & 0x1FFFF


_CACHE = StageCache()


@lru_cache(maxsize=1 << 16)
def _expanded(text: str) -> str:
    """The token form of a NAS-Bench-201 / FBNet architecture string (itself if it is
    malformed: the reference way then names the problem)."""
    from dnncost.gen.archs import arch_spec

    try:
        return arch_spec(text.strip()).to_string()
    except InputError:
        return text


def stage_entries(specs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each spec's stages as cache entries ``[N, stages]`` (-1 past its end, and for a
    spec to take the reference way, which the mask ``[N]`` marks)."""
    if any(text.lstrip().startswith(("|", "fbnet")) for text in specs):
        specs = [_expanded(t) if t.lstrip().startswith(("|", "fbnet")) else t for t in specs]
    if 0 < len(specs) <= SMALL_BATCH:  # seen stages only: no arrays over the batch needed
        known = [_CACHE.known(text) for text in specs]
        if all(entries is not None for entries in known):
            table = np.full((len(specs), max(len(e) for e in known)), -1, np.int64)  # type: ignore
            for i, entries in enumerate(known):
                table[i, :len(entries)] = entries  # type: ignore[arg-type]
            return table, np.zeros(len(specs), bool)
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
