"""The embedded model: training, registry, calibrated scores and TreeSHAP contributions."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fraudstream_shared.events import Contribution, Transaction, TransactionLabel, encode
from producer.simulate import main as simulate_main
from scorer.evaluation.folds import cached_features, fold_protocols
from scorer.features import DEFAULT_PARTITIONS, FEATURE_NAMES, compute_offline, replay
from scorer.model import Calibration, Model, fpr_for_score, save, score_for_fpr
from scorer.model.core import _new_contribution, rounded, top_columns
from scorer.model.data import load_history
from scorer.model.protocol import parse_day
from scorer.model.train import fit, select_features
from scorer.model.train import main as train_main


@pytest.fixture(scope="module")
def synthetic() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(3000, len(FEATURE_NAMES)))
    matrix[rng.random(matrix.shape) < 0.05] = np.nan
    signal = np.nan_to_num(matrix[:, 0]) * 2 + np.nan_to_num(matrix[:, 5])
    y = signal + rng.normal(scale=0.5, size=len(signal)) > 3.0
    return matrix, y


@pytest.fixture(scope="module")
def model(synthetic: tuple[np.ndarray, np.ndarray], tmp_path_factory: pytest.TempPathFactory
          ) -> Model:
    matrix, y = synthetic
    booster = fit(matrix[:2000], y[:2000], rounds=30)
    raw = booster.predict(matrix[2000:], raw_score=True)
    calibration = Calibration.fit(raw[~y[2000:]])
    metadata = {"version": "test-1", "features": FEATURE_NAMES,
                "calibration": calibration.table()}
    registry = tmp_path_factory.mktemp("registry")
    save(booster, metadata, registry)
    return Model.load(registry)


def test_fpr_mapping_matches_fraud_detector_examples() -> None:
    assert fpr_for_score(600) == pytest.approx(0.10)
    assert fpr_for_score(900) == pytest.approx(0.02)
    assert fpr_for_score(0) == pytest.approx(1.0)
    for score in (0, 150, 600, 777, 900, 990, 1000):
        assert score_for_fpr(fpr_for_score(score)) == pytest.approx(score)
    values = [fpr_for_score(s) for s in range(0, 1001, 5)]
    assert values == sorted(values, reverse=True)


def test_calibration_reaches_its_fpr_on_the_data_it_was_fit_on() -> None:
    legit = np.random.default_rng(2).normal(size=20_000)
    calibration = Calibration.fit(legit)
    scores = calibration.scores_of(legit)
    for threshold in (600, 900, 950):
        assert (scores >= threshold).mean() == pytest.approx(fpr_for_score(threshold), rel=0.1)


def test_scores_are_0_to_1000_and_monotone_in_the_margin(
        model: Model, synthetic: tuple[np.ndarray, np.ndarray]) -> None:
    matrix, _ = synthetic
    raw = model.raw(matrix)
    scores = np.array(model.scores(matrix))
    assert scores.min() >= 0
    assert scores.max() <= 1000
    order = np.argsort(raw)
    assert np.all(np.diff(scores[order]) >= 0)


def test_contributions_sum_to_the_margin_and_top_k_is_ordered(
        model: Model, synthetic: tuple[np.ndarray, np.ndarray]) -> None:
    matrix, _ = synthetic
    batch = matrix[:50]
    np.testing.assert_allclose(model.contributions(batch).sum(axis=1), model.raw(batch),
                               atol=1e-6)
    scores, explanations = model.predict_batch(batch, top_k=3)
    assert scores == model.scores(batch)
    assert all(len(top) == 3 for top in explanations)
    first = explanations[0]
    assert [abs(c.contribution) for c in first] == sorted(
        (abs(c.contribution) for c in first), reverse=True)
    assert {c.feature for top in explanations for c in top} <= set(FEATURE_NAMES)


def old_predict_batch(model: Model, matrix: np.ndarray, top_k: int = 3
                      ) -> tuple[list[int], list[list[Contribution]]]:
    """``Model.predict_batch`` as it was before its post-processing was vectorised."""
    raw, contrib = model.explain(matrix)
    scores = [int(s) for s in model.calibration.scores_of(raw)]
    features = contrib[:, :-1]
    k = min(top_k, features.shape[1])
    top = np.argsort(-np.abs(features), axis=1, kind="stable")[:, :k]
    rows = np.arange(len(matrix))[:, None]
    values = matrix[rows, top].tolist()
    contributions = features[rows, top].tolist()
    return scores, [
        [Contribution(feature=model.feature_names[j],
                      value=None if math.isnan(v) else round(v, 6), contribution=round(c, 4))
         for j, v, c in zip(columns, row_values, row_contributions, strict=True)]
        for columns, row_values, row_contributions in zip(
            top.tolist(), values, contributions, strict=True)]


@pytest.mark.parametrize("top_k", [0, 1, 3, 7, len(FEATURE_NAMES) + 5])
def test_predict_batch_explains_exactly_as_before(
        model: Model, synthetic: tuple[np.ndarray, np.ndarray], top_k: int) -> None:
    matrix, _ = synthetic
    # Whole numbers (ties in the contributions of equal rows), NaN and ±0.0 mixed in.
    batch = np.concatenate([matrix[:400], np.round(matrix[400:600]), np.zeros((5, matrix.shape[1])),
                            np.full((5, matrix.shape[1]), -0.0), matrix[600:605] * 1e-9])
    new_scores, new = model.predict_batch(batch, top_k=top_k)
    old_scores, old = old_predict_batch(model, batch, top_k=top_k)
    assert new_scores == old_scores
    assert new == old
    for new_row, old_row in zip(new, old, strict=True):
        assert [encode(c) for c in new_row] == [encode(c) for c in old_row]
        assert [c.model_fields_set for c in new_row] == [c.model_fields_set for c in old_row]


def _bits(value: float) -> bytes:
    return struct.pack("<d", value)


def _same_floats(got: list[float], expected: list[float]) -> None:
    for g, e in zip(got, expected, strict=True):
        assert (math.isnan(g) and math.isnan(e)) or _bits(g) == _bits(e), (g, e)


# Decimal ties at the 4th and 6th digit (and their float neighbours): where a
# scaled product is most likely to be on the other side of a half from the value.
_TIES = st.builds(lambda k, digits, step: float(np.nextafter(
    float(f"{k}5e-{digits + 1}"), math.inf * step)) if step else float(f"{k}5e-{digits + 1}"),
    st.integers(-10**12, 10**12), st.sampled_from([4, 6]), st.sampled_from([-1, 0, 1]))
_FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), _TIES,
                    st.floats(-1e4, 1e4), st.floats(-1e-3, 1e-3),
                    st.floats(2.0**49 / 1e6, 2.0**52 / 1e4))


@settings(max_examples=400, deadline=None)
@given(values=st.lists(_FLOATS, min_size=1, max_size=30), digits=st.sampled_from([0, 1, 4, 6]))
def test_rounded_is_pythons_round(values: list[float], digits: int) -> None:
    got = rounded(np.array(values), digits).tolist()
    _same_floats(got, [round(v, digits) for v in values])


def test_rounded_is_pythons_round_on_a_million_values() -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate([
        rng.normal(scale=2.0, size=250_000),
        rng.lognormal(sigma=4.0, size=250_000) * rng.choice([-1, 1], size=250_000),
        rng.integers(-10**7, 10**7, size=250_000) / 1e4 + 0.00005,  # ties, nearly
        rng.integers(-10**9, 10**9, size=250_000) / 1e6 + 0.0000005,
    ])
    for digits in (4, 6):
        _same_floats(rounded(values, digits).tolist(),
                     [round(v, digits) for v in values.tolist()])


def test_rounded_refuses_digits_whose_power_of_ten_is_not_exact() -> None:
    with pytest.raises(ValueError, match="digits"):
        rounded(np.zeros(1), 16)


@settings(max_examples=300, deadline=None)
@given(values=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=12),
                         elements=st.one_of(st.integers(-3, 3).map(float),
                                            st.sampled_from([0.0, -0.0, math.inf, -math.inf,
                                                             math.nan]),
                                            st.floats(-10, 10))),
       k=st.integers(-3, 14))
def test_top_columns_is_a_stable_sort_by_magnitude(values: np.ndarray, k: int) -> None:
    k = min(k, values.shape[1])
    expected = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(top_columns(values, k), expected)


@pytest.mark.parametrize("values", [
    {"feature": "cust_cnt_1h", "value": 3.0, "contribution": 0.25},
    {"feature": "tx_amount", "value": None, "contribution": -0.0},
    {"feature": "x", "value": -1e-300, "contribution": math.inf},
])
def test_a_contribution_is_built_as_pydantic_builds_it(values: dict[str, object]) -> None:
    new, old = _new_contribution(dict(values)), Contribution(**values)
    assert type(new) is Contribution
    assert new == old
    assert encode(new) == encode(old)
    assert new.model_dump() == old.model_dump()
    assert list(new.model_dump()) == list(old.model_dump())
    assert new.model_fields_set == old.model_fields_set
    assert new.__pydantic_extra__ == old.__pydantic_extra__
    assert new.__pydantic_private__ == old.__pydantic_private__
    assert repr(new) == repr(old)
    assert hash(new) == hash(old)


def test_vectorize_uses_the_model_feature_order(model: Model) -> None:
    matrix = model.vectorize([{"tx_amount": 5.0}, {}])
    assert matrix.shape == (2, len(FEATURE_NAMES))
    assert matrix[0, model.feature_names.index("tx_amount")] == 5.0
    assert model.predict_batch(np.zeros((0, len(FEATURE_NAMES)))) == ([], [])


def test_wrong_width_is_rejected(model: Model) -> None:
    with pytest.raises(ValueError, match="feature columns"):
        model.raw(np.zeros((1, 3)))


@pytest.fixture(scope="module")
def tiny_history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("hb")
    events, labels = folder / "events.csv", folder / "labels.csv"
    simulate_main(["--preset", "handbook", "--days", "40", "--customers", "150",
                   "--terminals", "300", "--out", str(events), "--labels", str(labels),
                   "--seed", "4"])
    return events, labels


def test_file_loader_replays_like_the_serving_code(tiny_history: tuple[Path, Path]) -> None:
    events_path, labels_path = tiny_history
    history = load_history(events_path, labels_path, delay_days=7)
    import csv

    with events_path.open() as f:
        rows = list(csv.DictReader(f))
    txs = [Transaction.model_validate({**r, "transaction_amt": float(r["transaction_amt"]),
                                       "billing_latitude": float(r["billing_latitude"]),
                                       "billing_longitude": float(r["billing_longitude"])})
           for r in rows]
    with labels_path.open() as f:
        label_rows = {r["event_id"]: r for r in csv.DictReader(f)}
    labels = [TransactionLabel(event_id=t.event_id, entity_id=t.entity_id,
                               label=label_rows[t.event_id]["label"],
                               labelled_at=label_rows[t.event_id]["labelled_at"],
                               merchant_id=t.merchant_id) for t in txs]
    by_id = {t.event_id: i for i, t in enumerate(txs)}
    expected, _ = compute_offline(txs, labels)
    order = [by_id[e] for e in history.event_id]
    np.testing.assert_array_equal(replay(history.events, history.labels), expected[order])


def test_train_cli_writes_a_loadable_registry_version(tiny_history: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    events_path, labels_path = tiny_history
    assert train_main(["--data", str(events_path), "--labels", str(labels_path),
                       "--train-start", "2018-04-10", "--out", str(tmp_path),
                       "--rounds", "20"]) == 0
    version = (tmp_path / "CURRENT").read_text().strip()
    metadata = json.loads((tmp_path / version / "metadata.json").read_text())
    assert metadata["features"] == FEATURE_NAMES
    assert metadata["partitions"] == DEFAULT_PARTITIONS
    assert metadata["protocol"]["test_start"] == "2018-04-24"
    assert 0.5 < metadata["metrics"]["validation_all"]["auc_roc"] <= 1.0
    loaded = Model.load(tmp_path)
    assert loaded.version == version
    assert loaded.partitions == DEFAULT_PARTITIONS


def test_train_cli_records_partitions_and_dropped_features(tiny_history: tuple[Path, Path],
                                                           tmp_path: Path) -> None:
    events_path, labels_path = tiny_history
    assert train_main(["--data", str(events_path), "--labels", str(labels_path),
                       "--train-start", "2018-04-10", "--out", str(tmp_path),
                       "--rounds", "5", "--partitions", "3",
                       "--drop-features", "ip_*, merch_cnt_*"]) == 0
    model = Model.load(tmp_path)
    assert model.partitions == 3
    assert "ip_cnt_1h" not in model.feature_names
    assert "merch_cnt_24h" not in model.feature_names
    assert "merch_sum_24h" in model.feature_names
    assert model.feature_names == [n for n in FEATURE_NAMES if n in model.feature_names]


def test_select_features_rejects_patterns_matching_nothing() -> None:
    assert select_features([]) == FEATURE_NAMES
    with pytest.raises(ValueError, match="no feature matches"):
        select_features(["nope_*"])


def test_models_without_a_partition_count_learned_from_one_store(model: Model) -> None:
    assert "partitions" not in model.metadata
    assert model.partitions == 1


def test_replay_for_partitions_matches_the_file_loader(tiny_history: tuple[Path, Path]
                                                       ) -> None:
    history = load_history(*tiny_history, delay_days=7)
    split = replay(history.events, history.labels, partitions=4)
    whole = replay(history.events, history.labels)
    merch = FEATURE_NAMES.index("merch_cnt_7d")
    assert (split[:, merch] < whole[:, merch]).any()
    assert history.scenario is not None
    assert set(history.scenario[history.is_fraud].tolist()) >= {"large_amount"}
    assert set(history.scenario[~history.is_fraud].tolist()) == {""}


def test_shipped_default_model_loads() -> None:
    model = Model.load()
    assert model.feature_names == FEATURE_NAMES
    scores, explanations = model.predict_batch(np.full((2, len(FEATURE_NAMES)), np.nan))
    assert all(0 <= s <= 1000 for s in scores)
    assert len(explanations) == 2


def test_feature_cache_is_keyed_by_the_partition_count(tiny_history: tuple[Path, Path],
                                                       tmp_path: Path) -> None:
    history = load_history(*tiny_history, delay_days=7)
    protocols = fold_protocols(float(history.time.min()), float(history.time.max()),
                               parse_day("2018-04-10"), 7, 7, 7, 1)

    def features(partitions: int) -> tuple[np.ndarray, bool]:
        matrix, _, hit = cached_features(history, *tiny_history, protocols, 3600.0, 7,
                                         tmp_path, partitions)
        return matrix, hit

    first, hit = features(1)
    assert not hit
    again, hit = features(1)
    assert hit
    np.testing.assert_array_equal(first, again)
    split, hit = features(4)
    assert not hit  # another split is another replay
    assert len(list(tmp_path.glob("features-*.npy"))) == 2
    assert not np.array_equal(first, split, equal_nan=True)


def test_a_loaded_model_has_its_explainer_compiled_for_the_stores_read_only_rows() -> None:
    from scorer.model import treeshap

    model = Model.load()
    assert model.forest is not None  # the shipped model uses the compiled explainer
    compiled = len(treeshap._explain.signatures)
    # The compiled feature store's rows are a read-only view of its bytes.
    rows = np.frombuffer(np.full(2 * len(model.feature_names), np.nan).tobytes(),
                         dtype="<f8").reshape(2, len(model.feature_names))
    assert not rows.flags.writeable
    model.predict_batch(rows)
    model.predict_batch(np.zeros((2, len(model.feature_names))))
    assert len(treeshap._explain.signatures) == compiled  # nothing compiled in a batch
