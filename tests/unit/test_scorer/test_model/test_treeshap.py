"""The compiled TreeSHAP explainer against LightGBM and against Shapley's definition."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from scorer.model import Model
from scorer.model.treeshap import UnsupportedForest, compile_forest


def _rows(rng: np.random.Generator, n: int, width: int, scale: float = 1.0) -> np.ndarray:
    """Continuous values with NaN, exact zeros and values LightGBM reads as zero."""
    rows = rng.normal(size=(n, width)) * scale
    rows[rng.random(rows.shape) < 0.1] = np.nan
    rows[rng.random(rows.shape) < 0.05] = 0.0
    rows[rng.random(rows.shape) < 0.02] = 1e-40
    return rows


def _train(params: Mapping[str, Any], rounds: int, seed: int = 0,
           width: int = 6) -> tuple[lgb.Booster, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = _rows(rng, 1500, width)
    signal = np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 1]) * np.nan_to_num(x[:, 2])
    y = (signal + rng.normal(scale=0.5, size=len(x)) > 0.8).astype(int)
    base = {"objective": "binary", "verbose": -1, "seed": seed, "min_data_in_leaf": 20}
    return lgb.train({**base, **params}, lgb.Dataset(x, y), num_boost_round=rounds), x


def _brute_force(tree: Mapping[str, Any], x: np.ndarray, width: int) -> np.ndarray:
    """Shapley values of one tree's path-dependent expectation, by enumerating coalitions."""

    def goes_left(node: Mapping[str, Any], value: float) -> bool:
        if abs(value) <= 1e-35:
            value = 0.0
        if math.isnan(value) and node["missing_type"] != "NaN":
            value = 0.0
        if (node["missing_type"] == "Zero" and value == 0.0) or (
                node["missing_type"] == "NaN" and math.isnan(value)):
            return bool(node["default_left"])
        return bool(value <= node["threshold"])

    def count(node: Mapping[str, Any]) -> float:
        return float(node["internal_count"] if "split_feature" in node else node["leaf_count"])

    def expectation(node: Mapping[str, Any], known: frozenset[int]) -> float:
        if "split_feature" not in node:
            return float(node["leaf_value"])
        left, right = node["left_child"], node["right_child"]
        if node["split_feature"] in known:
            chosen = left if goes_left(node, x[node["split_feature"]]) else right
            return expectation(chosen, known)
        return (count(left) * expectation(left, known)
                + count(right) * expectation(right, known)) / count(node)

    players: set[int] = set()

    def collect(node: Mapping[str, Any]) -> None:
        if "split_feature" in node:
            players.add(int(node["split_feature"]))
            collect(node["left_child"])
            collect(node["right_child"])

    collect(tree)
    phi = np.zeros(width + 1)
    total = len(players)
    for player in players:
        others = sorted(players - {player})
        for size in range(total):
            weight = math.factorial(size) * math.factorial(total - size - 1) / math.factorial(
                total)
            for coalition in itertools.combinations(others, size):
                known = frozenset(coalition)
                phi[player] += weight * (expectation(tree, known | {player})
                                         - expectation(tree, known))
    phi[width] = expectation(tree, frozenset())
    return phi


@pytest.mark.parametrize("params", [
    {"num_leaves": 7},                                    # NaN → missing type NaN
    {"num_leaves": 15, "max_depth": -1},                  # deep paths, repeated features
    {"num_leaves": 7, "zero_as_missing": True},           # missing type Zero
    {"num_leaves": 7, "use_missing": False},              # missing type None
])
def test_equals_shapley_definition_including_values_on_thresholds(
        params: dict[str, Any]) -> None:
    booster, x = _train(params, rounds=4)
    dump = booster.dump_model()
    forest = compile_forest(dump)
    rows = x[:25].copy()
    # Put some values exactly on split thresholds: the case where LightGBM's own
    # pred_contrib splits credit differently from its predict.
    for i in range(0, 25, 3):
        rows[i, forest.node_feature[i % len(forest.node_feature)]] = forest.node_threshold[
            i % len(forest.node_feature)]
    raw, phi = forest.explain(rows)
    for i, row in enumerate(rows):
        expected = sum(_brute_force(tree["tree_structure"], row, x.shape[1])
                       for tree in dump["tree_info"])
        np.testing.assert_allclose(phi[i], expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(raw, booster.predict(rows, raw_score=True))


@pytest.mark.parametrize("params", [
    {"num_leaves": 31},
    {"num_leaves": 15, "zero_as_missing": True},
    {"num_leaves": 15, "use_missing": False, "max_depth": 5},
])
def test_equals_lightgbm_pred_contrib(params: dict[str, Any]) -> None:
    booster, _ = _train(params, rounds=40, seed=3, width=12)
    rows = _rows(np.random.default_rng(7), 800, 12)
    raw, phi = compile_forest(booster.dump_model()).explain(rows)
    np.testing.assert_array_equal(raw, booster.predict(rows, raw_score=True))
    np.testing.assert_allclose(phi, booster.predict(rows, pred_contrib=True), rtol=0, atol=1e-9)
    np.testing.assert_allclose(phi.sum(axis=1), raw, rtol=0, atol=1e-9)


def test_shipped_model_margins_are_bit_identical_and_contributions_equal() -> None:
    model = Model.load()
    width = len(model.feature_names)
    rows = _rows(np.random.default_rng(11), 600, width, scale=50.0)
    rows[:, :5] = np.abs(rows[:, :5]) * 10  # amounts and counts are positive
    assert model.forest is not None
    raw, phi = model.forest.explain(rows)
    np.testing.assert_array_equal(raw, model.booster.predict(rows, raw_score=True))
    np.testing.assert_allclose(phi, model.booster.predict(rows, pred_contrib=True),
                               rtol=0, atol=1e-9)
    scores, explanations = model.predict_batch(rows)
    assert scores == model.scores(rows)
    assert all(len(top) == 3 for top in explanations)


@pytest.mark.parametrize(("params", "width", "has_pairs", "has_single_leaves"), [
    # Stumps: every tree is one pair whose parent is the root.
    ({"num_leaves": 2}, 6, True, False),
    # One feature: below the root every split repeats it, so sibling leaves
    # stay single (their masks are not one flipped bit apart).
    ({"num_leaves": 6, "max_depth": 3}, 1, False, True),
    ({"num_leaves": 15}, 6, True, True),
])
def test_sibling_leaves_share_a_table_where_their_parent_splits_on_a_new_feature(
        params: dict[str, Any], width: int, has_pairs: bool, has_single_leaves: bool) -> None:
    rng = np.random.default_rng(5)
    x = _rows(rng, 1500, width)
    y = (np.nan_to_num(x).sum(axis=1) + rng.normal(scale=0.5, size=len(x)) > 0.3).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "seed": 5,
                         "min_data_in_leaf": 20, **params}, lgb.Dataset(x, y),
                        num_boost_round=20)
    rows = _rows(np.random.default_rng(9), 500, width)
    forest = compile_forest(booster.dump_model())
    pairs = forest.leaf_node >= 0
    assert pairs.any() == has_pairs
    assert (~pairs).any() == has_single_leaves
    raw, phi = forest.explain(rows)
    np.testing.assert_array_equal(raw, booster.predict(rows, raw_score=True))
    np.testing.assert_allclose(phi, booster.predict(rows, pred_contrib=True), rtol=0, atol=1e-9)


def test_single_leaf_trees_add_a_constant() -> None:
    # With more rows per leaf required than exist, no tree can split.
    booster, x = _train({"min_data_in_leaf": 5000, "min_data_in_bin": 1}, rounds=3)
    forest = compile_forest(booster.dump_model())
    raw, phi = forest.explain(x[:10])
    np.testing.assert_array_equal(raw, booster.predict(x[:10], raw_score=True))
    np.testing.assert_allclose(phi, booster.predict(x[:10], pred_contrib=True), atol=1e-12)
    assert not phi[:, :-1].any()


def test_categorical_splits_are_refused_and_the_model_falls_back_to_lightgbm() -> None:
    rng = np.random.default_rng(5)
    x = np.column_stack([rng.integers(0, 8, 2000), rng.normal(size=2000)]).astype(float)
    y = ((x[:, 0] % 3 == 0) ^ (x[:, 1] > 1)).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7},
                        lgb.Dataset(x, y, categorical_feature=[0]), num_boost_round=5)
    with pytest.raises(UnsupportedForest, match="categorical"):
        compile_forest(booster.dump_model())
    model = Model(booster, {"version": "cat", "features": ["a", "b"],
                            "calibration": [{"raw_threshold": -10.0, "score": 0},
                                                {"raw_threshold": 10.0, "score": 1000}]})
    assert model.forest is None
    raw, phi = model.explain(x[:50])
    np.testing.assert_allclose(phi, booster.predict(x[:50], pred_contrib=True))
    np.testing.assert_allclose(raw, booster.predict(x[:50], raw_score=True))


def test_rejects_a_matrix_of_the_wrong_width() -> None:
    booster, _ = _train({"num_leaves": 4}, rounds=1)
    with pytest.raises(ValueError, match="features"):
        compile_forest(booster.dump_model()).explain(np.zeros((2, 3)))


def test_linear_trees_are_refused() -> None:
    booster, _ = _train({"num_leaves": 4, "linear_tree": True}, rounds=2)
    with pytest.raises(UnsupportedForest, match="linear"):
        compile_forest(booster.dump_model())
