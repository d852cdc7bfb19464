"""A hash table from int64 keys to int64 values that arrays of keys are looked up in
at once (numpy only): the stage cache's index of (token, shape) keys, where a sorted
array's ``searchsorted`` was 4x slower and a dict needs a Python call per key."""

from __future__ import annotations

import numpy as np


class KeyIndex:
    """Non-negative int64 keys -> int64 values: an open-addressing hash table (linear
    probing) that arrays of keys are looked up in at once."""

    def __init__(self, bits: int = 10) -> None:
        if not 1 <= bits <= 62:
            raise ValueError(f"bits must be 1..62, not {bits}")
        self.bits, self.size = bits, 0
        self.keys = np.full(1 << bits, -1, np.int64)
        self.values = np.zeros(1 << bits, np.int64)

    def _resize(self, bits: int) -> None:
        held = self.keys >= 0
        keys, values = self.keys[held], self.values[held]
        self.bits, self.size = max(self.bits, bits), 0
        self.keys = np.full(1 << self.bits, -1, np.int64)
        self.values = np.zeros(1 << self.bits, np.int64)
        self.insert(keys, values)

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        return ((keys.astype(np.uint64) * _GOLDEN) >> np.uint64(64 - self.bits)).astype(np.int64)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key, -1 for a key not in the table."""
        out = np.full(len(keys), -1, np.int64)
        todo, slot, mask = np.arange(len(keys)), self._slots(keys), (1 << self.bits) - 1
        while len(todo):
            held = self.keys[slot]
            hit = held == keys[todo]
            out[todo[hit]] = self.values[slot[hit]]
            more = ~hit & (held >= 0)
            todo, slot = todo[more], (slot[more] + 1) & mask
        return out

    def insert(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Add ``keys`` (distinct, none in the table yet) with their ``values``."""
        if 2 * (self.size + len(keys)) > len(self.keys):  # at most half full: short probes
            self._resize(int(2 * (self.size + len(keys))).bit_length())
        todo, slot, mask = np.arange(len(keys)), self._slots(keys), (1 << self.bits) - 1
        while len(todo):
            free = np.flatnonzero(self.keys[slot] < 0)
            won = free[np.unique(slot[free], return_index=True)[1]]  # one key per free slot
            self.keys[slot[won]], self.values[slot[won]] = keys[todo[won]], values[todo[won]]
            left = np.ones(len(todo), bool)
            left[won] = False
            todo, slot = todo[left], (slot[left] + 1) & mask
        self.size += len(keys)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing's multiplier
