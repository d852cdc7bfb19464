"""A candidate for networks never measured (issue 15): a per-layer cost basis learned
across devices, beside the low-rank model's hand-made one. Not part of any model yet.

The low-rank model predicts a network it was not trained on as a mix (in log ms) of
XGBoost's factors from features (X, weight 0.1) and an additive cost estimate (H, 0.9):
the device's non-negative cost per layer, MAC and byte of each op class, fitted to its
(placed) latencies on the training networks and corrected by a kernel smoother.

The candidate (L) replaces the hand-made amounts with learned ones: a small MLP maps
each layer's encoding (op, activation, log shapes, MACs, params, bytes in and out) to
``n_basis`` non-negative amounts, summed over the network's layers, and every training
device's latency is a non-negative mix of those sums (one weight vector per device,
fitted jointly with the MLP in log space). A test device then gets its cost per unit
of each learned amount exactly as H gets its own (non-negative least squares on the
placed training latencies, the same smoother), averaged over ``--seeds`` MLPs.

Printed: the unseen-network regime of ``accuracy.py`` (5 folds of phones grouped by
model, 30 % of networks held out of training, k = 10, lowrank d_optimal), per split
seed, for today's mix, L alone and the mix with H's weight shared by H and L.

    .venv/bin/python benchmarks/layer_basis.py [--split-seeds 0 1] [--seeds 3]
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from typing import Callable

import numpy as np

from dnncost.encoding import ACT_NAMES, COL, OP_NAMES, LayerTables
from dnncost.importers import import_iiswc
from dnncost.learn.adaptation import adapt_estimator
from dnncost.learn.dataset import LatencyData, load_dataset
from dnncost.learn.evaluation import metrics, splits
from dnncost.learn.exportable import FLOOR_MS, AnchorSmoother
from dnncost.learn.layercost import AnchorSpace, anchor_space, fit_cost_per_unit
from dnncost.learn.training import TrainOptions, train
from dnncost.store import Store

LOGGED = ("in_h", "out_h", "cin", "cout", "kernel", "stride", "groups", "macs", "params")


def layer_inputs(layers: LayerTables) -> np.ndarray:
    """Each layer row as the MLP reads it, float32 ``[L, F]``."""
    rows = layers.rows.astype(np.float64)
    one_hot_op = np.eye(len(OP_NAMES))[rows[:, COL["op"]].astype(int)]
    one_hot_act = np.eye(len(ACT_NAMES))[rows[:, COL["activation"]].astype(int)]
    elements_in = rows[:, COL["in_h"]] * rows[:, COL["in_w"]] * rows[:, COL["cin"]]
    elements_out = rows[:, COL["out_h"]] * rows[:, COL["out_w"]] * rows[:, COL["cout"]]
    logged = np.log1p(rows[:, [COL[c] for c in LOGGED]])
    return np.column_stack([one_hot_op, one_hot_act, logged, np.log1p(elements_in),
                            np.log1p(elements_out)]).astype(np.float32)


def fit_basis(layers: LayerTables, log_ms: np.ndarray, n_basis: int, hidden: int,
              steps: int, seed: int) -> Callable[[LayerTables], np.ndarray]:
    """Learn the per-layer amounts from ``log_ms`` ``[devices, networks]`` (NaN where not
    measured) of ``layers``' networks; returns amounts ``[N, n_basis]`` of any tables."""
    import torch

    torch.set_num_threads(1)  # two threads beside other work on 2 cores ran 10x slower
    torch.manual_seed(seed)
    x = layer_inputs(layers)
    centre, scale = x.mean(0), x.std(0) + 1e-6
    mlp = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.SiLU(),
                              torch.nn.Linear(hidden, hidden), torch.nn.SiLU(),
                              torch.nn.Linear(hidden, n_basis))
    device_log_weights = torch.nn.Parameter(0.1 * torch.randn(len(log_ms), n_basis))

    def amounts_of(tables: LayerTables) -> torch.Tensor:
        unique, inverse = np.unique((layer_inputs(tables) - centre) / scale, axis=0,
                                    return_inverse=True)
        per_layer = torch.nn.functional.softplus(mlp(torch.from_numpy(unique)))
        index = torch.from_numpy(tables.network_index)
        return torch.zeros(len(tables), n_basis).index_add_(
            0, index, per_layer[torch.from_numpy(inverse.ravel())])

    target = torch.tensor(log_ms, dtype=torch.float32)
    known = torch.isfinite(target)
    target = torch.where(known, target, 0.0)
    optimiser = torch.optim.Adam([*mlp.parameters(), device_log_weights], lr=3e-3)
    unique, inverse = np.unique((x - centre) / scale, axis=0, return_inverse=True)
    unique_t, inverse_t = torch.from_numpy(unique), torch.from_numpy(inverse.ravel())
    index = torch.from_numpy(layers.network_index)
    for _ in range(steps):
        per_layer = torch.nn.functional.softplus(mlp(unique_t))
        amounts = torch.zeros(len(layers), n_basis).index_add_(0, index, per_layer[inverse_t])
        predicted = torch.log(amounts @ torch.exp(device_log_weights).T + FLOOR_MS).T
        loss = ((predicted - target) ** 2)[known].mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    def amounts(tables: LayerTables) -> np.ndarray:
        with torch.no_grad():
            return amounts_of(tables).numpy().astype(np.float64)
    return amounts


def smoothed_log_ms(space: AnchorSpace, train_amounts: np.ndarray, row_ms: np.ndarray,
                    amounts: np.ndarray, features: np.ndarray) -> np.ndarray:
    """An additive estimate fitted as the low-rank model fits its own (layercost.py)."""
    per_unit = fit_cost_per_unit(train_amounts, row_ms)
    residual = np.log(row_ms) - np.log(np.maximum(train_amounts @ per_unit, FLOOR_MS))
    smoother = AnchorSmoother(space.centre, space.scale, space.anchors, space.bandwidth,
                              residual)
    return np.log(np.maximum(amounts @ per_unit, FLOOR_MS)) + smoother.smooth(features)


def evaluate_split(data: LatencyData, split_seed: int, args: argparse.Namespace
                   ) -> dict[str, dict[str, float | None]]:
    """Metrics of each mix over the 5 folds of one split seed."""
    options = replace(TrainOptions(), model="lowrank", mode="collaborative",
                      sampling="d_optimal", k=10)
    features = np.asarray(data.features, np.float64)
    parts: dict[str, list[np.ndarray]] = {}
    for train_d, test_d, train_n, test_n in splits(data, "unseen", 5, split_seed, "model"):
        trained = train(data.select(train_d, train_n), options)
        trained.estimator.seen_cost_weight = 0.0  # known_log_ms: what H is fitted to
        bases = [fit_basis(data.layers.select(train_n), data.log_ms[np.ix_(train_d, train_n)],
                           args.n_basis, args.hidden, args.steps, seed)
                 for seed in range(args.seeds)]
        learned = [basis(data.layers) for basis in bases]
        space = anchor_space(features[train_n])
        predicted = [i for i in test_n if data.network_names[i] not in trained.signature]
        for d in test_d:
            ok = [i for i in predicted if np.isfinite(data.latency_ms[d, i])]
            measured = {n: float(data.latency_ms[d, data.network_names.index(n)])
                        for n in trained.signature}
            model, _ = adapt_estimator(trained.estimator, "lowrank", "collaborative",
                                       measured, data.devices[d])
            exportable, cost_sum = model.exportable, model.exportable.cost_sum
            mixed = exportable.predict_log_ms(features[ok])  # 0.1 X + 0.9 H
            hand = cost_sum.log_ms(features[ok])
            trees = (mixed - cost_sum.weight * hand) / (1.0 - cost_sum.weight)
            row_ms = np.exp([model.known_log_ms[data.network_names[i]] for i in train_n])
            for name, ms in measured.items():
                row_ms[list(train_n).index(data.network_names.index(name))] = ms
            basis = np.mean([smoothed_log_ms(space, a[train_n], row_ms, a[ok], features[ok])
                             for a in learned], axis=0)
            w = cost_sum.weight
            for key, value in (("true", data.latency_ms[d, ok]), ("device", np.full(len(ok), d)),
                               ("today: 0.1 X + 0.9 H", np.exp(mixed)),
                               ("L alone", np.exp(basis)),
                               ("0.1 X + 0.45 H + 0.45 L",
                                np.exp((1 - w) * trees + w / 2 * (hand + basis)))):
                parts.setdefault(key, []).append(value)
    pooled = {key: np.concatenate(value) for key, value in parts.items()}
    return {key: metrics(pooled["true"], value, pooled["device"])
            for key, value in pooled.items() if key not in ("true", "device")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iiswc-dir", default=None, help="default: the embedded copy")
    parser.add_argument("--split-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--seeds", type=int, default=3, help="MLPs averaged")
    parser.add_argument("--n-basis", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"{tmp}/store.db")
        import_iiswc(store, args.iiswc_dir)
        data = load_dataset(store)
    print("| split seed | prediction | within 10 % | Spearman | band Spearman | MAPE % | R^2 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for split_seed in args.split_seeds:
        for name, m in evaluate_split(data, split_seed, args).items():
            print(f"| {split_seed} | {name} | {m['within10']:.1f} | {m['spearman']:.4f} | "
                  f"{m['spearman_band'] or float('nan'):.4f} | {m['mape']:.2f} | {m['r2']:.4f} |",
                  flush=True)


if __name__ == "__main__":
    main()
