"""The stage cache of gen's vectorised walker (:mod:`dnncost.gen.fast_layers`): each
(stage token, input h, w, c) seen is expanded once into its encoded rows
(dnncost.encoding ``lt-v1``) and its output shape by gen/walker.py's :class:`Walker`
(over numpy arrays, many stages of one type at once, or over plain ints for one).
A stage the cache cannot reproduce exactly (numbers that float32 rounds or int64 could
overflow, a grouped conv gen refuses) is marked for the reference way (gen/layers.py).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from dnncost.encoding import COL, COLUMNS, OP_CODES
from dnncost.errors import InputError
from dnncost.gen.key_index import KeyIndex
from dnncost.gen.layers import STAGE_WALKERS
from dnncost.gen.spec import HEAD, parse_stage, plain_text
from dnncost.gen.stage_rows import FIELDS, ArrayRows, PlainRows, stage_fields
from dnncost.gen.walker import Walker

_SEPARATOR = "\x00"  # between specs in the one string the batch is split from


class StageCache:
    """(token, h, w, c) -> an entry: its rows in :attr:`table` and the output h, w, c."""

    generation = 0

    def __init__(self) -> None:
        self.entries: dict[int, int] = {}  # packed key -> entry number
        self.index = KeyIndex()  # the same, searched by arrays
        self.starts = np.zeros(0, np.int64)  # per entry: first row in table (-1: reference)
        self.lengths = np.zeros(0, np.int64)
        self.out_keys = np.zeros(0, np.int64)  # per entry: packed output shape (-1: too big)
        self.table = np.zeros((0, len(COLUMNS)), np.float32)
        self.used = self.count = 0
        # per token id (id 0: any token beyond the ids that pack): its stage (None: not
        # a valid one), whether the cache leaves it to the reference way, its numbers
        self.parsed: list[Any] = [None]
        self.invalid = np.ones(1, bool)
        self.kernels = np.zeros(1)  # token id -> its kernel (3 at least)
        self.channels = np.zeros(1)  # token id -> its largest other field (3 at least)
        StageCache.generation += 1  # entry numbers of an earlier cache mean nothing now
        self.token_ids: dict[str, int] = {_SEPARATOR: -1}
        self.head_shapes: dict[str, tuple[int, int, int]] = {}
        self.blocks: list[tuple[int, int, int, int, int]] = []  # entry -> start, length, out
        self.unindexed: list[int] = []  # keys added since ``index`` was last brought up

    def _token_ids(self, tokens: list[str]) -> np.ndarray:
        """The ids of ``tokens`` (-1 for the separator), new ones parsed and numbered (0,
        a token the cache does not take, for those beyond the ids that pack)."""
        try:
            return np.fromiter(map(self.token_ids.__getitem__, tokens), np.int64, len(tokens))
        except KeyError:
            pass
        new = set(tokens) - self.token_ids.keys()
        if len(self.parsed) + len(new) >= _TOKENS:  # ids would not pack: start afresh
            self.__init__()  # type: ignore[misc]
            new = set(tokens) - self.token_ids.keys()
        new = list(new)[:_TOKENS - 1 - len(self.parsed)]
        flags, kernels, channel_maxima = [], [], []
        for token in new:
            try:
                stage = parse_stage(token)
                kernel = max(int(getattr(stage, "kernel", 0)), 3)  # cells, fire: 3x3
                channels = max([int(getattr(stage, name)) for name in FIELDS
                                if hasattr(stage, name)] + [3])
            except InputError:  # the reference way names the problem
                stage, kernel, channels = None, 0, 0
            self.token_ids[token] = len(self.parsed)
            self.parsed.append(stage)
            kernels.append(kernel)
            channel_maxima.append(channels)
            # numbers this large take the reference way (Python ints do not overflow)
            flags.append(stage is None or max(kernel, channels) >= _LARGEST)
        self.invalid = np.append(self.invalid, np.asarray(flags, bool))
        self.kernels = np.append(self.kernels, np.asarray(kernels, np.float64))
        self.channels = np.append(self.channels, np.asarray(channel_maxima, np.float64))
        get = self.token_ids.get
        return np.fromiter((get(t, 0) for t in tokens), np.int64, len(tokens))

    def _grow(self, entries: int, rows: int) -> None:
        if self.count + entries > len(self.starts):
            size = max(self.count + entries, 2 * len(self.starts), 1024)
            for name in ("starts", "lengths", "out_keys"):
                old = getattr(self, name)
                new = np.zeros(size, np.int64)
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
        numbers = np.arange(self.count, self.count + len(keys))
        outputs = np.zeros((len(keys), 3), np.int64)
        for (stage_type, _), members in groups.items():
            at = np.asarray(members)
            emitter = ArrayRows(len(at))
            walker = Walker(emitter, h[at], w[at], c[at])
            STAGE_WALKERS[stage_type](walker, stage_fields([self.parsed[t] for t in token[at]]))
            block, lengths = emitter.block()
            out = np.column_stack(np.broadcast_arrays(walker.h, walker.w, walker.c, h[at])[:3])
            owner = np.repeat(np.arange(len(at)), lengths)
            inexact = (np.bincount(owner, _reference_rows(block), len(at)) > 0) | _too_large(
                h[at], w[at], c[at], self.kernels[token[at]], self.channels[token[at]])
            kept = ~inexact[owner]
            self._grow(len(keys), int(kept.sum()))
            first = self.used + np.cumsum(lengths * ~inexact) - lengths * ~inexact
            self.starts[numbers[at]] = np.where(inexact, -1, first)
            self.lengths[numbers[at]] = lengths
            outputs[at] = out
            self.out_keys[numbers[at]] = _pack_shape(out)
            self.table[self.used:self.used + int(kept.sum())] = block[kept]
            self.used += int(kept.sum())
        self.count += len(keys)
        self.blocks += zip(self.starts[numbers].tolist(), self.lengths[numbers].tolist(),
                           *outputs.T.tolist())
        self.entries.update(zip(keys.tolist(), numbers.tolist()))
        self.unindexed += keys.tolist()

    def add_one(self, key: int, h: int, w: int, c: int) -> int:
        """Expand one new stage (packed ``key``, input ``h, w, c``) in plain Python:
        for a few specs, quicker than arrays of one. Its entry number."""
        emitter, token = PlainRows(), key >> 43
        walker = Walker(emitter, h, w, c)
        exact = not _too_large(h, w, c, self.kernels[token], self.channels[token])
        try:
            if exact:
                STAGE_WALKERS[type(self.parsed[token])](walker, self.parsed[token])
        except InputError:  # gen refuses it: the reference way raises in spec order
            exact = False
        block = np.asarray(emitter.rows, np.float64).reshape(-1, len(COLUMNS))
        exact = exact and not _reference_rows(block).any()
        if not exact:
            block, walker.h = block[:0], 0  # no rows, no shape: the reference way
        number, out = self.count, (int(walker.h), int(walker.w), int(walker.c))
        self._grow(1, len(block))
        self.starts[number], self.lengths[number] = self.used if exact else -1, len(block)
        self.out_keys[number] = _pack_one(*out)
        if exact:
            self.table[self.used:self.used + len(block)] = block
            self.used += len(block)
        self.count += 1
        self.blocks.append((int(self.starts[number]), len(block), *out))
        self.entries[key] = number
        self.unindexed.append(key)
        return number

    def _heads(self, heads: list[str]) -> list[tuple[int, int, int]]:
        """(h, w, c) of each head token ``r224[_i3]``; (0, 0, 0) when it is not one."""
        shapes = self.head_shapes
        for head in set(heads) - set(shapes):
            match = HEAD.fullmatch(head)
            h, c = (int(match.group(1)), int(match.group(2) or 3)) if match else (0, 0)
            shapes[head] = (h, h, c) if 0 < h < _H and 0 < c < _C else (0, 0, 0)
        return [shapes[head] for head in heads]

    def walk_few(self, text: str) -> list[int] | None:
        """The cache entries of one spec, walked in plain Python (for a few specs, quicker
        than arrays over the batch); None for a spec to take the reference way."""
        words = text.replace(";", " ").split()
        if len(words) < 2 or not plain_text(text):
            return None
        h, w, c = self._heads(words[:1])[0]
        blocks = []
        for t in self._token_ids(words[1:]).tolist():
            shape = _pack_one(h, w, c)
            if t < 0 or self.invalid[t] or shape < 0:
                return None
            key = (t << 43) | shape
            entry = self.entries.get(key)
            if entry is None:
                entry = self.add_one(key, h, w, c)
            if self.blocks[entry][0] < 0:
                return None
            blocks.append(entry)
            h, w, c = self.blocks[entry][2:]
        return blocks if _pack_one(h, w, c) >= 0 else None  # as walk does

    def walk_each(self, specs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`walk` one spec at a time in plain Python (quicker for a few specs),
        again if the cache started afresh between two of them (their entries would
        point into the new one), and the reference way if that happens twice."""
        for _ in range(2):
            generation = StageCache.generation
            few = [self.walk_few(text) for text in specs]
            if StageCache.generation == generation:
                return _entry_table(few), np.asarray([e is None for e in few], bool)
        return np.full((len(specs), 1), -1, np.int64), np.ones(len(specs), bool)

    def _tokens(self, specs: Sequence[str]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """All token ids in one array (split from one joined string; -1 between specs),
        each spec's first stage token, its stage count and its packed input shape (-1:
        the reference way); None if a spec holds the separator or is not plain text."""
        text = f" {_SEPARATOR} ".join(specs)
        if not plain_text(text):
            return None
        words = (text.replace(";", " ") if ";" in text else text).split()
        ids = self._token_ids(words)
        ends = np.flatnonzero(ids == -1)
        if len(ends) != len(specs) - 1:
            return None
        starts = np.r_[0, ends + 1]
        lengths = np.r_[ends, len(words)] - starts  # head and stages
        heads = [words[i] if n else "" for i, n in zip(starts.tolist(), lengths.tolist())]
        shape = _pack_shape(np.asarray(self._heads(heads), np.int64).reshape(-1, 3))
        invalid = np.append(self.invalid, False)[ids]  # a separator is not invalid
        invalid[starts[lengths > 0]] = False  # heads are not stages
        before = np.r_[0, np.cumsum(invalid)]
        bad = (before[starts + lengths] > before[starts]) | (lengths < 2)
        return ids, starts + 1, np.where(bad, 0, lengths - 1), np.where(bad, -1, shape)

    def walk(self, specs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Entries ``[N, stages]`` (-1 past a spec's end) and a mask of the specs to take
        the reference way."""
        split = self._tokens(specs)
        if split is None:  # a spec holds the separator: walk it (and all) one at a time
            return self.walk_each(specs)
        ids, first, counts, shape = split
        entries = np.full((len(specs), max(int(counts.max(initial=0)), 1)), -1, np.int64)
        for position in range(entries.shape[1]):
            live = np.flatnonzero((counts > position) & (shape >= 0))
            if not len(live):
                continue
            keys = (ids[first[live] + position] << 43) | shape[live]
            found = self._find(keys)
            if (found < 0).any():
                self.add(np.unique(keys[found < 0]))
                found = self._find(keys)
            entries[live, position] = found
            shape[live] = np.where(self.starts[found] < 0, -1, self.out_keys[found])
        return entries, shape < 0

    def _find(self, keys: np.ndarray) -> np.ndarray:
        """The entries of packed ``keys`` (-1 for a key not seen)."""
        if self.unindexed:
            new = np.asarray(self.unindexed, np.int64)
            self.index.insert(new, np.fromiter(map(self.entries.__getitem__, self.unindexed),
                                               np.int64, len(new)))
            self.unindexed = []
        return self.index.find(keys)


def _entry_table(entries: list[list[int] | None]) -> np.ndarray:
    """Entry lists as a table ``[N, stages]``, -1 past each one's end (and for None)."""
    table = np.full((len(entries), max([len(e or ()) for e in entries] + [1])), -1, np.int64)
    for i, row in enumerate(entries):
        table[i, :len(row or ())] = row or ()
    return table


_H, _W, _C = 1 << 13, 1 << 13, 1 << 17  # h, w, c below these pack into one int64 key
_TOKENS = 1 << 20  # token ids below this pack above them
_LARGEST = 1 << 31  # a token with a larger number takes the reference way
_EXACT = float(1 << 53)  # int64 products below this neither wrap nor round in float64


def _reference_rows(block: np.ndarray) -> np.ndarray:
    """Rows the cache does not hold: a number encode() rounds to float32, or a grouped
    convolution whose input channels do not divide into its groups (gen raises)."""
    groups, cin = block[:, COL["groups"]], block[:, COL["cin"]]
    grouped = (block[:, COL["op"]] == OP_CODES["conv"]) & (groups > 1)
    return (block.astype(np.float32) != block).any(1) | (grouped & (cin % np.maximum(groups, 1) > 0))


def _too_large(h: Any, w: Any, c: Any, kernel: Any, channels: Any) -> Any:
    """Whether a stage's numbers may reach 2**53: an upper bound of every product the
    walker forms (a conv's MACs: out_h * out_w * cout * k * k * cin / groups, with
    |out_h| <= max(h, k), cout and cin <= max(c, its largest field)), times 4."""
    h, w, c = (np.asarray(v, np.float64) for v in (h, w, c))
    return (np.maximum(h, kernel) * np.maximum(w, kernel) * np.maximum(c, channels) ** 2
            * np.asarray(kernel) ** 2 * 4.0 >= _EXACT)
_SIZES = np.asarray([_H, _W, _C])


def _pack_one(h: int, w: int, c: int) -> int:
    """(h, w, c) packed into the low 43 bits of a key; -1 if it does not fit."""
    return (h << 30) | (w << 17) | c if 0 < h < _H and 0 < w < _W and 0 < c < _C else -1


def _pack_shape(shape: np.ndarray) -> np.ndarray:
    """(h, w, c) rows packed into the low 43 bits of a key; -1 for one that does not fit."""
    fits = ((shape >= 1) & (shape < _SIZES)).all(1)
    return np.where(fits, (shape[:, 0] << 30) | (shape[:, 1] << 17) | shape[:, 2], -1)


def _unpack(keys: np.ndarray) -> tuple[np.ndarray, ...]:
    return keys >> 43, (keys >> 30) & 0x1FFF, (keys >> 17) & 0x1FFF, keys & 0x1FFFF
