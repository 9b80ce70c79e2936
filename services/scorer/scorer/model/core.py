"""The embedded model: a LightGBM booster, its calibration and the registry folder.

Registry layout (``services/scorer/scorer/data/models`` by default)::

    models/
      CURRENT                 the version the scorer loads (one line)
      <version>/model.txt     LightGBM text model
      <version>/metadata.json version, feature list, training window, metrics,
                              calibration table, created_at, data description
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from fraudstream_shared.events import Contribution
from fraudstream_shared.logging import log_event
from scorer.features import vectorize
from scorer.model.calibration import Calibration
from scorer.model.treeshap import CompiledForest, UnsupportedForest, compile_forest
from scorer.prebuilt import constructor

log = logging.getLogger(__name__)

MODEL_NAME = "fraudstream_lgbm"
CURRENT = "CURRENT"
DEFAULT_REGISTRY = Path(__file__).resolve().parents[1] / "data" / "models"
"""``scorer/data/models``: the registry shipped inside the scorer package (so in its image)."""
TOP_K = 3


def resolve(path: str | Path) -> Path:
    """A version folder from either itself or a registry root (via its ``CURRENT`` file)."""
    folder = Path(path)
    if (folder / "model.txt").is_file():
        return folder
    pointer = folder / CURRENT
    if pointer.is_file():
        return folder / pointer.read_text().strip()
    raise FileNotFoundError(f"no model.txt nor {CURRENT} in {folder}")


class Model:
    """A trained, calibrated model; scores a whole batch at once."""

    def __init__(self, booster: lgb.Booster, metadata: Mapping[str, Any]) -> None:
        self.booster = booster
        self.metadata = dict(metadata)
        self.version: str = str(metadata["version"])
        self.name: str = str(metadata.get("name", MODEL_NAME))
        self.feature_names: list[str] = list(metadata["features"])
        # Models from before partition-aware training saw every transaction in
        # one store: that is one partition.
        self.partitions: int = int(metadata.get("partitions", 1))
        """The input partition count whose per-partition features the model learned."""
        self.calibration = Calibration.from_table(metadata["calibration"])
        if booster.num_feature() != len(self.feature_names):
            raise ValueError("model.txt and metadata.json disagree on the number of features")

    @classmethod
    def load(cls, path: str | Path = DEFAULT_REGISTRY) -> Model:
        """Load a version folder, or the ``CURRENT`` version of a registry."""
        folder = resolve(path)
        metadata = json.loads((folder / "metadata.json").read_text())
        booster = lgb.Booster(model_str=(folder / "model.txt").read_text())
        model = cls(booster, metadata)
        # Compile the explainer now (about 2–3 s), not in the first batch a scorer serves;
        # numba compiles (or loads from its cache) a separate kernel for read-only
        # matrices, which the compiled feature store's rows are (views of its bytes).
        warm = np.zeros((1, len(model.feature_names)))
        model.explain(warm)
        warm.setflags(write=False)
        model.explain(warm)
        return model

    @functools.cached_property
    def forest(self) -> CompiledForest | None:
        """The compiled TreeSHAP explainer, or ``None`` when this model needs LightGBM's."""
        try:
            return compile_forest(self.booster.dump_model())
        except UnsupportedForest as exc:
            log_event(log, logging.WARNING, "scorer.model.explainer_fallback",
                      model_version=self.version, reason=str(exc))
            return None

    def explain(self, matrix: npt.ArrayLike
                ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Raw margins and all TreeSHAP contributions (last column the bias) of a batch.

        The compiled explainer (:mod:`scorer.model.treeshap`) gives the same
        numbers as LightGBM's ``pred_contrib`` at a fraction of the cost, and
        margins bit-identical to ``predict(raw_score=True)``; LightGBM itself
        is the fallback for forests the explainer refuses.
        """
        data = _matrix(matrix, len(self.feature_names))
        if not len(data):
            return np.zeros(0), np.zeros((0, len(self.feature_names) + 1))
        if self.forest is not None:
            return self.forest.explain(data)
        contrib = np.asarray(self.booster.predict(data, pred_contrib=True, num_threads=1),
                             dtype=float)
        return self.raw(data), contrib

    def vectorize(self, rows: Sequence[Mapping[str, float]]) -> npt.NDArray[np.float64]:
        """The matrix of feature dicts in this model's feature order (NaN for missing)."""
        if not rows:
            return np.zeros((0, len(self.feature_names)))
        return np.array([vectorize(row, self.feature_names) for row in rows], dtype=float)

    def raw(self, matrix: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Raw margins (log-odds) of a batch."""
        data = _matrix(matrix, len(self.feature_names))
        if not len(data):
            return np.zeros(0)
        # One thread: on a busy machine OpenMP's spinning threads cost more CPU than they save.
        return np.asarray(self.booster.predict(data, raw_score=True, num_threads=1), dtype=float)

    def scores(self, matrix: npt.ArrayLike) -> list[int]:
        """Calibrated 0–1000 scores of a batch (no explanations: cheaper)."""
        return [int(s) for s in self.calibration.scores_of(self.raw(matrix))]

    def predict_batch(self, matrix: npt.ArrayLike, top_k: int = TOP_K
                      ) -> tuple[list[int], list[list[Contribution]]]:
        """Scores and, per row, the ``top_k`` features by absolute signed contribution.

        Contributions are TreeSHAP values (path-dependent, as LightGBM's
        ``pred_contrib``) in log-odds; per row they sum, with the bias, to the
        raw margin. Scores come from the margin, as :meth:`scores` does.
        """
        data = _matrix(matrix, len(self.feature_names))
        if not len(data):
            return [], []
        raw, contrib = self.explain(data)
        scores = [int(s) for s in self.calibration.scores_of(raw)]
        features = contrib[:, :-1]
        top = top_columns(features, min(top_k, features.shape[1]))
        rows = np.arange(len(data))[:, None]
        names = self.feature_names
        # Flat lists, one per batch (not per row), sliced into one list per row.
        columns = top.ravel().tolist()
        values = rounded(data[rows, top], 6).ravel().tolist()
        contributions = rounded(features[rows, top], 4).ravel().tolist()
        contribution = _new_contribution
        # NaN values (unknown) are reported as null.
        every = [contribution({"feature": names[j], "value": None if v != v else v,
                               "contribution": c})
                 for j, v, c in zip(columns, values, contributions, strict=True)]
        k = top.shape[1]
        explanations = [every[i:i + k] for i in range(0, len(every), k)] if k else [
            [] for _ in range(len(data))]
        return scores, explanations

    def contributions(self, matrix: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """All TreeSHAP contributions, the last column being the bias."""
        return self.explain(matrix)[1]


def top_columns(values: npt.NDArray[np.float64], k: int) -> npt.NDArray[np.intp]:
    """Per row, the columns of the ``k`` largest ``|values|``, largest first, ties by column.

    What ``np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]`` returns,
    in ``k`` passes of ``argmax`` (which takes the first of equal maxima)
    instead of a sort of every row; rows with NaN (which ``argmax`` ranks
    first and the sort last) are sorted, as is a negative ``k`` (all but the last ``-k``).
    """
    magnitude = np.abs(values)
    if k < 0 or np.isnan(magnitude).any():
        return np.argsort(-magnitude, axis=1, kind="stable")[:, :k]
    top = np.empty((len(values), k), dtype=np.intp)
    rows = np.arange(len(values))
    for i in range(k):
        best = magnitude.argmax(axis=1)
        top[:, i] = best
        magnitude[rows, best] = -1.0  # below every magnitude: never taken again
    return top


_EXACT_BELOW = 2.0 ** 50
"""Scaled magnitudes at and above this are rounded by Python (no fraction survives in them)."""
_TIE_MARGIN = 2.0 ** -45
"""Relative distance from a half within which Python rounds (exact halves need only 0)."""


def rounded(values: npt.NDArray[np.float64], digits: int) -> npt.NDArray[np.float64]:
    """``round(v, digits)`` of every value (NaN stays NaN), exactly as Python rounds.

    Python rounds the exact binary value half to even at the decimal digit and
    returns the float nearest that decimal. Here ``v * 10**digits`` is rounded
    half to even (``rint``) and divided by ``10**digits``: the division is
    correctly rounded, so the result is the same float whenever the integer is
    the same. The integer can only differ when the product's own rounding
    (below 2**-53 of it) carried it onto a half (halves are floats, so never
    past one): products that close to a half, with a margin to spare, and huge
    and infinite ones are rounded by Python instead.
    """
    if not 0 <= digits <= 15:
        raise ValueError("digits must be 0 to 15 (powers of ten exact in a float)")
    scale = float(10 ** digits)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = values * scale
        whole = np.rint(scaled)
        size = np.abs(scaled)
        result = whole / scale
        safe = (size < _EXACT_BELOW) & (
            0.5 - np.abs(scaled - whole) > _TIE_MARGIN * np.maximum(size, 1.0))
    unsafe = ~safe & ~np.isnan(values)
    if unsafe.any():
        flat_values, flat_result = values.reshape(-1), result.reshape(-1)
        for i in np.flatnonzero(unsafe.reshape(-1)).tolist():
            flat_result[i] = round(float(flat_values[i]), digits)
    return result


_new_contribution = constructor(Contribution)
"""``Contribution(**values)`` for values that are already valid (every field, in order):
a ``str`` feature and float or null numbers validate to themselves."""


def _matrix(matrix: npt.ArrayLike, width: int) -> npt.NDArray[np.float64]:
    data = np.asarray(matrix, dtype=float)
    if data.ndim == 1 and data.size == 0:
        return data.reshape(0, width)
    if data.ndim != 2 or data.shape[1] != width:
        raise ValueError(f"expected a matrix with {width} feature columns, got {data.shape}")
    return data


def save(booster: lgb.Booster, metadata: Mapping[str, Any], registry: str | Path,
         promote: bool = True) -> Path:
    """Write ``<registry>/<version>/`` and, with ``promote``, point ``CURRENT`` at it."""
    folder = Path(registry) / str(metadata["version"])
    folder.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(folder / "model.txt"))
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    if promote:
        (Path(registry) / CURRENT).write_text(f"{metadata['version']}\n")
    return folder
