"""XGBoost boosters as plain node arrays: the form the C predictor and checks evaluate.

An XGBoost regression booster predicts ``link(base_margin + sum_t leaf_t(x))``. Each
tree is stored as flat arrays (XGBoost's own JSON layout): a node goes left when
``x[feature] < threshold`` in float32, and a missing value (NaN) follows
``default_left``. Leaves have ``left == -1`` and hold their value in ``threshold``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dnncost.errors import ModelError

# Objectives whose prediction is the margin itself, or exp(margin).
IDENTITY_OBJECTIVES = ("reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror",
                       "reg:quantileerror", "reg:squaredlogerror")
EXP_OBJECTIVES = ("reg:gamma", "count:poisson", "reg:tweedie")
LINK_IDENTITY, LINK_EXP = 0, 1


@dataclass(frozen=True)
class BoosterTrees:
    """One booster's trees as concatenated node arrays (node ids are global)."""

    n_features: int
    base_margin: float
    link: int  # LINK_IDENTITY or LINK_EXP
    roots: np.ndarray  # int32 [T]: index of each tree's root node
    feature: np.ndarray  # int32 [nodes]
    threshold: np.ndarray  # float32 [nodes]: split value, or leaf value for leaves
    left: np.ndarray  # int32 [nodes], -1 for leaves
    right: np.ndarray  # int32 [nodes]
    default_left: np.ndarray  # uint8 [nodes]


def used_rounds(booster: Any) -> int:
    """Boosting rounds a prediction uses: up to best_iteration when early stopping set it."""
    rounds = int(booster.num_boosted_rounds())
    best = booster.attr("best_iteration")
    return min(rounds, int(best) + 1) if best is not None else rounds


def trimmed(booster: Any) -> Any:
    """The booster cut to its used rounds (early stopping), anonymous feature names."""
    rounds = used_rounds(booster)
    out = booster[0:rounds] if rounds < booster.num_boosted_rounds() else booster.copy()
    out.feature_names = None
    out.feature_types = None
    return out


def _parse_base_score(raw: str) -> float:
    """XGBoost 3.x writes base_score as '[5E-1]'; 2.x as '5E-1'."""
    values = json.loads(raw) if raw.strip().startswith("[") else [float(raw)]
    if len(values) != 1:
        raise ModelError(f"booster has {len(values)} targets; export one-target regressors only")
    return float(values[0])


def objective_link(config: dict[str, Any]) -> int:
    """LINK_IDENTITY or LINK_EXP for the booster's objective; others are refused."""
    name = config["learner"]["objective"]["name"]
    if name in IDENTITY_OBJECTIVES:
        return LINK_IDENTITY
    if name in EXP_OBJECTIVES:
        return LINK_EXP
    raise ModelError(f"objective {name} cannot be exported; train with reg:squarederror")


def booster_trees(booster: Any) -> BoosterTrees:
    """Node arrays of the trees a prediction uses (best_iteration respected)."""
    booster = trimmed(booster)
    config = json.loads(booster.save_config())
    if config["learner"]["gradient_booster"]["name"] != "gbtree":
        raise ModelError("only gbtree boosters can be exported; retrain with booster='gbtree'")
    link = objective_link(config)
    base_score = _parse_base_score(config["learner"]["learner_model_param"]["base_score"])
    base_margin = math.log(base_score) if link == LINK_EXP else base_score
    model = json.loads(bytes(booster.save_raw("json")))["learner"]["gradient_booster"]["model"]
    if any(int(t) != 0 for t in model.get("tree_info", [])):
        raise ModelError("multi-output boosters cannot be exported; use one target")
    roots, features, thresholds, lefts, rights, defaults = [], [], [], [], [], []
    offset = 0
    for tree in model["trees"]:
        if any(int(s) != 0 for s in tree.get("split_type", [])):
            raise ModelError("categorical splits cannot be exported; encode features as numbers")
        left = np.asarray(tree["left_children"], np.int32)
        right = np.asarray(tree["right_children"], np.int32)
        leaf = left == -1
        roots.append(offset)
        features.append(np.where(leaf, 0, np.asarray(tree["split_indices"], np.int32)))
        thresholds.append(np.asarray(tree["split_conditions"], np.float32))
        lefts.append(np.where(leaf, -1, left + offset).astype(np.int32))
        rights.append(np.where(leaf, -1, right + offset).astype(np.int32))
        defaults.append(np.asarray(tree["default_left"], np.uint8))
        offset += len(left)
    n_features = int(config["learner"]["learner_model_param"]["num_feature"])

    def cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    return BoosterTrees(n_features, base_margin, link, np.asarray(roots, np.int32),
                        cat(features, np.int32), cat(thresholds, np.float32),
                        cat(lefts, np.int32), cat(rights, np.int32), cat(defaults, np.uint8))


def predict_trees(trees: BoosterTrees, rows: np.ndarray) -> np.ndarray:
    """What the booster predicts for float32 ``rows`` [N, n_features], vectorised over rows."""
    rows = np.asarray(rows, np.float32)
    margin = np.full(len(rows), trees.base_margin, np.float64)
    index = np.arange(len(rows))
    for root in trees.roots:
        node = np.full(len(rows), root, np.int32)
        while True:
            inner = trees.left[node] != -1
            if not inner.any():
                break
            value = rows[index, trees.feature[node]]
            go_left = np.where(np.isnan(value), trees.default_left[node] == 1,
                               value < trees.threshold[node])
            nxt = np.where(go_left, trees.left[node], trees.right[node])
            node = np.where(inner, nxt, node)
        margin += trees.threshold[node].astype(np.float64)
    return np.exp(margin) if trees.link == LINK_EXP else margin
