"""NAS-Bench-201's stages over the spec walker: its cell and its residual reduction block.

A cell (Dong & Yang, ICLR 2020) has 4 nodes; node 0 is the cell's input, node ``i`` the
sum of its edges ``i <- j`` (j < i), each one op on node ``j``. The rows are those of the
reference implementation as it runs (NAS-Bench-201's ``InferCell``, eager PyTorch, the
graph HELP and HW-NAS-Bench measured): every edge runs, whatever reaches its node.
``nor_conv_kxk`` is a ReLU row and a kxk convolution (batch norm folded into its bias),
``avg_pool_3x3`` a 3x3 stride-1 SAME average pool (padding not counted, as
NAS-Bench-201's), ``skip_connect`` no row, and ``none`` a ``zeros`` row (its input times
0, the reference's ``x.mul(0.)``). Sums chain ``add`` rows in edge order. Fitted to
HELP's 21 settings, edge-op counts of this graph explain band Spearman 0.97 on average;
counts of only the edges a live node feeds (a graph compiler's pruning) 0.87.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dnncost.encoding import ACT_CODES
from dnncost.gen.walker import Value, Walker, choose

# Edges (to, from) in the order of NAS-Bench-201's architecture strings and of the
# 6 digits of a ``cell_e`` token; the digits are indices of CELL_OP_NAMES.
CELL_EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
CELL_OP_NAMES: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3",
                                  "avg_pool_3x3")
NONE, SKIP, CONV1, CONV3, POOL = range(5)
RELU = ACT_CODES["relu"]


def _edge_ops(cell: Any) -> list[Value]:
    """The op of each edge: ints of one cell's digits, or columns over many cells."""
    if isinstance(cell.ops, str):
        return [int(digit) for digit in cell.ops]
    ops = np.asarray(cell.ops)
    return [ops[:, k] for k in range(len(CELL_EDGES))]


def walk_cell(walker: Walker, cell: Any) -> None:
    """The cell's edges in order, each node summed as soon as its edges are done."""
    op = dict(zip(CELL_EDGES, _edge_ops(cell)))
    h, w, c = walker.h, walker.w, walker.c
    nodes: list[Any] = [walker.x]
    for i in (1, 2, 3):
        total = None
        for j in range(i):
            e = op[(i, j)]
            is_conv, is_pool, is_none = (e == CONV1) | (e == CONV3), e == POOL, e == NONE
            walker.h, walker.w, walker.c, walker.x = h, w, c, nodes[j]
            walker.activation(RELU, is_conv)
            walker.conv(1 + 2 * (e == CONV3), 1, c, 0, on=is_conv)
            conv = walker.x
            walker.x = nodes[j]
            walker.pool(3, 1, "avg", same=True, on=is_pool)
            pool = walker.x
            walker.x = nodes[j]
            walker.zeros(is_none)
            term = choose(is_conv, conv, choose(is_pool, pool, choose(is_none, walker.x,
                                                                        nodes[j])))
            if total is not None:
                walker.x = total
                walker.elementwise("add", term)
                term = walker.x
            total = term
        nodes.append(total)
    walker.h, walker.w, walker.c, walker.x = h, w, c, nodes[3]


def walk_res(walker: Walker, block: Any) -> None:
    """ReLU, 3x3 conv (stride), ReLU, 3x3 conv; plus a 2x2 average pool and 1x1 conv of
    the input (NAS-Bench-201's ResNetBasicblock between its stages)."""
    x, h, w, c = walker.x, walker.h, walker.w, walker.c
    walker.activation(RELU)
    walker.conv(3, block.stride, block.cout, 0)
    walker.activation(RELU)
    walker.conv(3, 1, block.cout, 0)
    branch, out = walker.x, (walker.h, walker.w, walker.c)
    walker.h, walker.w, walker.c, walker.x = h, w, c, x
    walker.pool(2, 2, "avg")
    walker.conv(1, 1, block.cout, 0)
    walker.elementwise("add", branch)
    walker.h, walker.w, walker.c = out
