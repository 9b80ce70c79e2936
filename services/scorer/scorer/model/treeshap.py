"""Exact TreeSHAP for a LightGBM forest, compiled once per model and run per batch.

LightGBM's own ``pred_contrib`` runs Lundberg's recursive TreeSHAP for every
row: O(trees × leaves × depth²) with allocation on every call, about 0.5 ms a
transaction for the shipped model — most of the scorer's CPU. This module
computes the *same* values (path-dependent TreeSHAP, cover = training data
counts) in O(trees × leaves × depth) per row by precomputing, for every leaf,
its contribution to each feature on its path under every pattern of satisfied
and unsatisfied splits.

Why that is exact: write a leaf's unique path features as ``U`` (a feature that
is split on twice is one entry), ``z_k`` the product of the cover fractions of
the branches taken for feature ``k`` and ``o_k`` ∈ {0, 1} whether the row takes
all of them. The tree's path-dependent expectation for a coalition ``S`` is
``Σ_leaves v · Π_{k∈U} (o_k if k∈S else z_k)``, and the Shapley value of a
product over ``d = |U|`` players gives, for ``k ∈ U``::

    φ_k += v · (o_k − z_k) · Σ_{S ⊆ Q∖{k}} |S|! (d−|S|−1)! / d! · Π_{j ∈ U∖S∖{k}} z_j

where ``Q = {j : o_j = 1}``. That depends on the row only through the bit mask
``Q``, so a table of ``2^d × d`` numbers per leaf turns each row's work into
evaluating each split once, building one mask per leaf and adding ``d``
numbers. The raw margin is summed leaf by leaf in tree order, as LightGBM's
own predict does, so scores match ``predict(raw_score=True)``.

Two sibling leaves whose parent splits on a feature new to their path share
one table: they have the same path features, and the right leaf's mask is the
left leaf's with the parent's bit flipped, so the entry for the left leaf's
mask holds both leaves' terms. Half the shipped model's 3,000 leaves are such
pairs (750), so a row reads 2,250 tables instead of 3,000 and about a quarter
fewer numbers.

The kernel is compiled with numba (LLVM, no download) when a model is loaded.
Forests it cannot represent (categorical splits, linear trees, more than one
output per iteration, tables too large) are refused by :func:`compile_forest`
with :class:`UnsupportedForest`; the caller then falls back to LightGBM.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

MAX_PATH_FEATURES = 30
"""Masks are 64-bit integers, and 2^30 table rows per leaf is already far past the byte cap."""

MAX_TABLE_BYTES = 512 * 1024 * 1024
"""Refuse forests whose per-leaf tables would exceed this (deep trees: 2^depth per leaf)."""

ZERO_THRESHOLD = 1e-35
"""LightGBM treats |x| ≤ this as exactly zero (``kZeroThreshold``)."""

MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2
_MISSING_TYPES = {"None": MISSING_NONE, "Zero": MISSING_ZERO, "NaN": MISSING_NAN}


def _can_cache() -> bool:
    """Whether numba may keep compiled kernels on disk (so restarts skip a ~3 s compile).

    numba writes next to this file (``__pycache__``) or under ``NUMBA_CACHE_DIR``;
    with neither writable (a read-only image without that variable), asking it to
    cache would fail at import, so the kernels are then compiled in memory.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return True
    here = Path(__file__).parent
    cache = here / "__pycache__"
    return os.access(cache if cache.is_dir() else here, os.W_OK)


CACHE = _can_cache()


class UnsupportedForest(ValueError):
    """The model uses something this implementation does not reproduce exactly."""


@dataclass(frozen=True)
class CompiledForest:
    """A forest flattened into arrays for the compiled kernel.

    Internal nodes and edges are numbered per tree from 0 (the global arrays are
    sliced by ``tree_node_start`` / ``tree_edge_start``); leaves are global.
    Edges (parent → child) are in preorder, so a parent edge comes before its
    children; ``edge_slot`` is the position of the split's feature among the
    unique features of every path through that edge.

    A *leaf* here is one leaf or a pair of sibling leaves (``leaf_node`` ≥ 0:
    the pair's parent, tree-local): a pair's ``leaf_edge`` is the edge into its
    parent, ``leaf_value`` the left leaf's value and ``leaf_value_right`` the
    right one's, and ``leaf_pair_slot`` the slot of the parent's feature.
    """

    num_features: int
    node_feature: npt.NDArray[np.int32]
    node_threshold: npt.NDArray[np.float64]
    node_missing: npt.NDArray[np.int8]
    node_default_left: npt.NDArray[np.bool_]
    tree_node_start: npt.NDArray[np.int64]
    tree_edge_start: npt.NDArray[np.int64]
    tree_leaf_start: npt.NDArray[np.int64]
    edge_parent: npt.NDArray[np.int64]
    edge_node: npt.NDArray[np.int64]
    edge_left: npt.NDArray[np.int64]
    edge_slot: npt.NDArray[np.int64]
    leaf_edge: npt.NDArray[np.int64]
    leaf_value: npt.NDArray[np.float64]
    leaf_node: npt.NDArray[np.int64]
    leaf_value_right: npt.NDArray[np.float64]
    leaf_pair_slot: npt.NDArray[np.int64]
    leaf_dim: npt.NDArray[np.int64]
    leaf_slot_start: npt.NDArray[np.int64]
    slot_feature: npt.NDArray[np.int64]
    leaf_table_start: npt.NDArray[np.int64]
    table: npt.NDArray[np.float64]
    expected_value: float
    max_tree_nodes: int
    max_tree_edges: int
    max_tree_leaves: int

    def explain(self, data: npt.NDArray[np.float64]
                ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Raw margins ``(n,)`` and contributions ``(n, features + 1)``, the last column the bias.

        Equal to LightGBM's ``predict(raw_score=True)`` (bit for bit) and
        ``predict(pred_contrib=True)`` (to rounding; see the tests for the one
        documented exception, a value exactly on a split threshold).
        """
        matrix = np.ascontiguousarray(data, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != self.num_features:
            raise ValueError(f"expected (n, {self.num_features}) features, got {matrix.shape}")
        raw = np.zeros(matrix.shape[0])
        phi = np.zeros((matrix.shape[0], self.num_features + 1))
        _explain(matrix, self.node_feature, self.node_threshold, self.node_missing,
                 self.node_default_left, self.tree_node_start, self.tree_edge_start,
                 self.tree_leaf_start, self.edge_parent, self.edge_node, self.edge_left,
                 self.edge_slot, self.leaf_edge, self.leaf_value, self.leaf_node,
                 self.leaf_value_right, self.leaf_pair_slot, self.leaf_dim,
                 self.leaf_slot_start, self.slot_feature, self.leaf_table_start, self.table,
                 self.expected_value, self.max_tree_nodes, self.max_tree_edges,
                 self.max_tree_leaves, raw, phi)
        return raw, phi


@dataclass
class _Leaf:
    value: float
    edge: int                   # tree-local edge into the leaf (a pair's parent), -1 for none
    features: list[int]         # slot → feature
    zero_fractions: list[float]  # slot → z
    # A pair of sibling leaves: the right leaf, the parent (tree-local) and its slot.
    right: tuple[float, list[float]] | None = None  # (value, zero fractions)
    node: int = -1
    pair_slot: int = -1


class _Builder:
    """Walks ``Booster.dump_model()`` trees into flat arrays."""

    def __init__(self) -> None:
        self.node_feature: list[int] = []
        self.node_threshold: list[float] = []
        self.node_missing: list[int] = []
        self.node_default_left: list[bool] = []
        self.edges: list[tuple[int, int, int, int]] = []  # (parent, node, left, slot), tree-local
        self.tree_node_start = [0]
        self.tree_edge_start = [0]
        self.tree_leaf_start = [0]
        self.leaves: list[_Leaf] = []
        self.expected = 0.0
        self.max_tree_nodes = 1
        self.max_tree_edges = 1
        self.max_tree_leaves = 1

    def add_tree(self, root: Mapping[str, Any]) -> None:
        first_node, first_edge, first_leaf = (len(self.node_feature), len(self.edges),
                                              len(self.leaves))
        if "split_feature" not in root:
            # A single-leaf tree: a constant, part of every row's margin and of the bias.
            _check_leaf(root)
            value = float(root["leaf_value"])
            self.leaves.append(_Leaf(value, -1, [], []))
            self.expected += value
        else:
            total = float(root["internal_count"])
            self.expected += self._walk(root, first_node, first_edge, total, -1, [], [])
        self.tree_node_start.append(len(self.node_feature))
        self.tree_edge_start.append(len(self.edges))
        self.tree_leaf_start.append(len(self.leaves))
        self.max_tree_nodes = max(self.max_tree_nodes, len(self.node_feature) - first_node)
        self.max_tree_edges = max(self.max_tree_edges, len(self.edges) - first_edge)
        self.max_tree_leaves = max(self.max_tree_leaves, len(self.leaves) - first_leaf)

    def _walk(self, node: Mapping[str, Any], first_node: int, first_edge: int, total: float,
              parent_edge: int, features: list[int], zeros: list[float]) -> float:
        """Add ``node``'s subtree; returns its leaves' value weighted by cover / root cover."""
        if "split_feature" not in node:
            _check_leaf(node)
            value = float(node["leaf_value"])
            self.leaves.append(_Leaf(value, parent_edge, list(features), list(zeros)))
            return value * float(node["leaf_count"]) / total
        if node.get("decision_type") != "<=":
            raise UnsupportedForest(f"split type {node.get('decision_type')!r} (categorical)")
        local = len(self.node_feature) - first_node
        feature = int(node["split_feature"])
        self.node_feature.append(feature)
        self.node_threshold.append(float(node["threshold"]))
        self.node_missing.append(_MISSING_TYPES[str(node["missing_type"])])
        self.node_default_left.append(bool(node["default_left"]))
        count = float(node["internal_count"])
        weighted = 0.0
        left_child, right_child = node["left_child"], node["right_child"]
        if (feature not in features and "split_feature" not in left_child
                and "split_feature" not in right_child):
            # Two sibling leaves on a new feature: one pair, no edges of their own.
            _check_leaf(left_child)
            _check_leaf(right_child)
            slot = len(features)
            value_left = float(left_child["leaf_value"])
            value_right = float(right_child["leaf_value"])
            self.leaves.append(_Leaf(
                value_left, parent_edge, [*features, feature],
                [*zeros, _count(left_child) / count],
                right=(value_right, [*zeros, _count(right_child) / count]),
                node=local, pair_slot=slot))
            # The same sum, in the same order, as two leaves would add.
            weighted += value_left * float(left_child["leaf_count"]) / total
            weighted += value_right * float(right_child["leaf_count"]) / total
            return weighted
        for child_key, left in (("left_child", True), ("right_child", False)):
            child = node[child_key]
            fraction = _count(child) / count
            if feature in features:
                # Split on again: one player, its fractions multiply.
                slot = features.index(feature)
                child_zeros = list(zeros)
                child_zeros[slot] *= fraction
                child_features = features
            else:
                slot = len(features)
                child_zeros = [*zeros, fraction]
                child_features = [*features, feature]
            edge = len(self.edges) - first_edge
            self.edges.append((parent_edge, local, int(left), slot))
            weighted += self._walk(child, first_node, first_edge, total, edge,
                                   child_features, child_zeros)
        return weighted

    def build(self, num_features: int) -> CompiledForest:
        dims = np.array([len(leaf.features) for leaf in self.leaves], dtype=np.int64)
        if int(dims.max(initial=0)) > MAX_PATH_FEATURES:
            raise UnsupportedForest(f"a path with {int(dims.max())} distinct features")
        sizes = (np.left_shift(1, dims) * dims).astype(np.int64)
        if int(sizes.sum()) * 8 > MAX_TABLE_BYTES:
            raise UnsupportedForest(f"per-leaf tables would take {int(sizes.sum()) * 8} bytes")
        table_start = np.zeros(len(self.leaves), dtype=np.int64)
        table_start[1:] = np.cumsum(sizes)[:-1]
        slot_start = np.zeros(len(self.leaves) + 1, dtype=np.int64)
        slot_start[1:] = np.cumsum(dims)
        values = np.array([leaf.value for leaf in self.leaves], dtype=np.float64)
        zeros = np.array([z for leaf in self.leaves for z in leaf.zero_fractions],
                         dtype=np.float64)
        # Single leaves have no right leaf (pair slot -1, never read): placeholders
        # of the same shape keep every leaf's slots at the same offsets.
        values_right = np.array([leaf.right[0] if leaf.right else 0.0 for leaf in self.leaves],
                                dtype=np.float64)
        zeros_right = np.array([z for leaf in self.leaves
                                for z in (leaf.right[1] if leaf.right else leaf.zero_fractions)],
                               dtype=np.float64)
        pair_slots = np.array([leaf.pair_slot for leaf in self.leaves], dtype=np.int64)
        table = np.zeros(int(sizes.sum()), dtype=np.float64)
        _fill_tables(values, values_right, pair_slots, dims, slot_start, zeros, zeros_right,
                     table_start, _shapley_weights(int(dims.max(initial=0))), table)
        edges = np.array(self.edges, dtype=np.int64).reshape(-1, 4)
        return CompiledForest(
            num_features=num_features,
            node_feature=np.array(self.node_feature, dtype=np.int32),
            node_threshold=np.array(self.node_threshold, dtype=np.float64),
            node_missing=np.array(self.node_missing, dtype=np.int8),
            node_default_left=np.array(self.node_default_left, dtype=np.bool_),
            tree_node_start=np.array(self.tree_node_start, dtype=np.int64),
            tree_edge_start=np.array(self.tree_edge_start, dtype=np.int64),
            tree_leaf_start=np.array(self.tree_leaf_start, dtype=np.int64),
            edge_parent=np.ascontiguousarray(edges[:, 0]),
            edge_node=np.ascontiguousarray(edges[:, 1]),
            edge_left=np.ascontiguousarray(edges[:, 2]),
            edge_slot=np.ascontiguousarray(edges[:, 3]),
            leaf_edge=np.array([leaf.edge for leaf in self.leaves], dtype=np.int64),
            leaf_value=values,
            leaf_node=np.array([leaf.node for leaf in self.leaves], dtype=np.int64),
            leaf_value_right=values_right,
            leaf_pair_slot=pair_slots,
            leaf_dim=dims,
            leaf_slot_start=slot_start,
            slot_feature=np.array([f for leaf in self.leaves for f in leaf.features],
                                  dtype=np.int64),
            leaf_table_start=table_start,
            table=table,
            expected_value=self.expected,
            max_tree_nodes=self.max_tree_nodes,
            max_tree_edges=self.max_tree_edges,
            max_tree_leaves=self.max_tree_leaves,
        )


def _check_leaf(leaf: Mapping[str, Any]) -> None:
    if "leaf_const" in leaf or "leaf_coeff" in leaf:
        raise UnsupportedForest("linear trees (leaves are linear models)")


def _count(node: Mapping[str, Any]) -> float:
    return float(node["internal_count"] if "split_feature" in node else node["leaf_count"])


def compile_forest(dump: Mapping[str, Any]) -> CompiledForest:
    """Flatten ``Booster.dump_model()`` and precompute every leaf's table.

    Raises :class:`UnsupportedForest` for what the kernel does not reproduce.
    """
    if int(dump.get("num_tree_per_iteration", 1)) != 1 or int(dump.get("num_class", 1)) != 1:
        raise UnsupportedForest("more than one output per iteration (multiclass)")
    if dump.get("average_output"):
        raise UnsupportedForest("averaged output (random forest mode)")
    builder = _Builder()
    for tree in dump["tree_info"]:
        builder.add_tree(tree["tree_structure"])
    return builder.build(int(dump["max_feature_idx"]) + 1)


def _shapley_weights(max_dim: int) -> npt.NDArray[np.float64]:
    """``w[d, s] = s! (d−s−1)! / d!``: the weight of a coalition of ``s`` among ``d`` players."""
    weights = np.zeros((max_dim + 1, max(max_dim, 1)))
    for d in range(1, max_dim + 1):
        for s in range(d):
            weights[d, s] = math.factorial(s) * math.factorial(d - s - 1) / math.factorial(d)
    return weights


@numba.njit(cache=CACHE, nogil=True)
def _fill_tables(values: Any, values_right: Any, pair_slots: Any, dims: Any, slot_start: Any,
                 zeros: Any, zeros_right: Any, table_start: Any, weights: Any,
                 table: Any) -> None:  # pragma: no cover - compiled
    """Per leaf, per mask of satisfied features, each slot's contribution (see module doc).

    A pair's entry for the left leaf's mask adds the right leaf's term for the
    same mask with the parent's bit flipped.
    """
    poly = np.zeros(64)
    for leaf in range(values.shape[0]):
        d = dims[leaf]
        if d == 0:
            continue
        first = slot_start[leaf]
        z = zeros[first:first + d]
        slot = pair_slots[leaf]
        for mask in range(1 << d):
            base = table_start[leaf] + mask * d
            for k in range(d):
                term = _term(values[leaf], z, d, mask, k, weights, poly)
                if slot >= 0:
                    term += _term(values_right[leaf], zeros_right[first:first + d], d,
                                  mask ^ (1 << slot), k, weights, poly)
                table[base + k] = term


@numba.njit(cache=CACHE, nogil=True)
def _term(value: float, z: Any, d: int, mask: int, k: int, weights: Any,
          poly: Any) -> float:  # pragma: no cover - compiled
    """One leaf's contribution to its slot ``k`` for the satisfied slots ``mask``."""
    # poly(t) = Π_{j∈Q∖k} (z_j + t) · Π_{j∉Q, j≠k} z_j; coefficient s ↔ |S| = s.
    poly[0] = 1.0
    size = 1
    for j in range(d):
        if j == k:
            continue
        if (mask >> j) & 1:
            poly[size] = 0.0
            for s in range(size, 0, -1):
                poly[s] = poly[s] * z[j] + poly[s - 1]
            poly[0] = poly[0] * z[j]
            size += 1
        else:
            for s in range(size):
                poly[s] = poly[s] * z[j]
    total = 0.0
    for s in range(size):
        total += weights[d, s] * poly[s]
    one = 1.0 if (mask >> k) & 1 else 0.0
    return float(value * (one - z[k]) * total)


@numba.njit(cache=CACHE, nogil=True)
def _decide(values: Any, threshold: float, missing: int, default_left: bool,
            goes: Any) -> None:  # pragma: no cover - compiled
    """LightGBM's numerical decision for a column of values, missing values included.

    ``goes[row]`` is 1 where the row goes left. Values within ``ZERO_THRESHOLD``
    of zero are read as zero, as LightGBM does; NaN is zero unless NaN is the
    missing type. One loop per missing type, each without branches on the row,
    so LLVM vectorises it.
    """
    fallback = 1 if default_left else 0
    if missing == MISSING_NAN:
        for row in range(values.shape[0]):
            value = values[row]
            value = 0.0 if abs(value) <= ZERO_THRESHOLD else value
            goes[row] = fallback if value != value else (1 if value <= threshold else 0)
    elif missing == MISSING_ZERO:
        for row in range(values.shape[0]):
            value = values[row]
            value = 0.0 if (abs(value) <= ZERO_THRESHOLD or value != value) else value
            goes[row] = fallback if value == 0.0 else (1 if value <= threshold else 0)
    else:
        for row in range(values.shape[0]):
            value = values[row]
            value = 0.0 if (abs(value) <= ZERO_THRESHOLD or value != value) else value
            goes[row] = 1 if value <= threshold else 0


@numba.njit(cache=CACHE, nogil=True)
def _explain(x: Any, feature: Any, threshold: Any, missing: Any, default_left: Any,
             tree_node_start: Any, tree_edge_start: Any, tree_leaf_start: Any,
             edge_parent: Any, edge_node: Any, edge_left: Any, edge_slot: Any, leaf_edge: Any,
             leaf_value: Any, leaf_node: Any, leaf_value_right: Any, leaf_pair_slot: Any,
             leaf_dim: Any, leaf_slot_start: Any, slot_feature: Any,
             leaf_table_start: Any, table: Any, expected: float, max_tree_nodes: int,
             max_tree_edges: int, max_tree_leaves: int, raw_out: Any,
             phi_out: Any) -> None:  # pragma: no cover - compiled
    # Every loop's innermost level runs over the rows with the node, edge or leaf
    # fixed, on column-major copies: contiguous, branch-free work that LLVM turns
    # into SIMD. (Row by row, each leaf's table would also be a cache miss.)
    rows = x.shape[0]
    columns = np.ascontiguousarray(x.T)
    phi = np.zeros((phi_out.shape[1], rows))
    left = np.zeros((max_tree_nodes, rows), dtype=np.int64)
    edge_mask = np.zeros((max_tree_edges, rows), dtype=np.int64)
    leaf_mask = np.zeros((max_tree_leaves, rows), dtype=np.int64)
    for tree in range(tree_node_start.shape[0] - 1):
        first_node, first_edge = tree_node_start[tree], tree_edge_start[tree]
        first_leaf, last_leaf = tree_leaf_start[tree], tree_leaf_start[tree + 1]
        for node in range(first_node, tree_node_start[tree + 1]):
            _decide(columns[feature[node]], threshold[node], missing[node], default_left[node],
                    left[node - first_node])
        # Masks flow down the edges (preorder: parents first). A bit is cleared
        # where the row went the other way; slots are shared by every leaf below.
        for edge in range(first_edge, tree_edge_start[tree + 1]):
            local, parent = edge - first_edge, edge_parent[edge]
            went, direction, slot = left[edge_node[edge]], edge_left[edge], edge_slot[edge]
            out = edge_mask[local]
            if parent < 0:
                for row in range(rows):
                    out[row] = ~((went[row] ^ direction) << slot)
            else:
                above = edge_mask[parent]
                for row in range(rows):
                    out[row] = above[row] & ~((went[row] ^ direction) << slot)
        for leaf in range(first_leaf, last_leaf):
            d, edge, value = leaf_dim[leaf], leaf_edge[leaf], leaf_value[leaf]
            full = (1 << d) - 1
            masks = leaf_mask[leaf - first_leaf]
            node = leaf_node[leaf]
            if node < 0:
                for row in range(rows):
                    mask = full if edge < 0 else edge_mask[edge, row] & full
                    masks[row] = mask
                    # Only the leaf a row reaches is full, so margins add up in tree
                    # order, as LightGBM's predict does (bit-identical scores).
                    raw_out[row] += value if mask == full else 0.0
            else:
                # A pair: the left leaf's mask, whose parent bit is whether the row
                # went left; the right leaf is reached where only that bit is clear.
                went, slot, right = left[node], leaf_pair_slot[leaf], leaf_value_right[leaf]
                other = full ^ (1 << slot)
                for row in range(rows):
                    above = full if edge < 0 else edge_mask[edge, row] & full
                    mask = above & ~((1 - went[row]) << slot)
                    masks[row] = mask
                    raw_out[row] += value if mask == full else (right if mask == other else 0.0)
            # Each row's entries are d numbers side by side: add them four (then two,
            # then one) slots per pass over the rows, so each row's index is read
            # once per pass. The slots' features differ, so the targets are distinct
            # rows of phi, and each cell receives its terms in the same order.
            start, slots = leaf_table_start[leaf], leaf_slot_start[leaf]
            for row in range(rows):
                masks[row] = start + masks[row] * d  # now where the row's entries start
            k = 0
            while k + 3 < d:
                t0, t1 = phi[slot_feature[slots + k]], phi[slot_feature[slots + k + 1]]
                t2, t3 = phi[slot_feature[slots + k + 2]], phi[slot_feature[slots + k + 3]]
                for row in range(rows):
                    at = masks[row] + k
                    t0[row] += table[at]
                    t1[row] += table[at + 1]
                    t2[row] += table[at + 2]
                    t3[row] += table[at + 3]
                k += 4
            if k + 1 < d:
                t0, t1 = phi[slot_feature[slots + k]], phi[slot_feature[slots + k + 1]]
                for row in range(rows):
                    at = masks[row] + k
                    t0[row] += table[at]
                    t1[row] += table[at + 1]
                k += 2
            if k < d:
                t0 = phi[slot_feature[slots + k]]
                for row in range(rows):
                    t0[row] += table[masks[row] + k]
    bias = phi_out.shape[1] - 1
    for row in range(rows):
        for column in range(bias):
            phi_out[row, column] = phi[column, row]
        phi_out[row, bias] = expected
