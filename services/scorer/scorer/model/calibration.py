"""Scores 0–1000 calibrated to the false-positive rate, like Fraud Detector's.

A score ``s`` means: on the validation data, a share ``fpr(s)`` of the
legitimate transactions score at or above ``s``. The mapping between score and
FPR is fixed and log-linear between knots chosen to agree with Fraud
Detector's documented examples (600 ↔ 10 % FPR, 900 ↔ 2 % FPR):

=====  ======
score  FPR
=====  ======
    0  100 %
  600  10 %
  900  2 %
 1000  0.01 %
=====  ======

(so 700 ↔ 5.8 %, 800 ↔ 3.4 %, 950 ↔ 0.14 %, 980 ↔ 0.029 %). Training measures,
on the validation window, the raw model margin at which each FPR is reached
(the calibration table, every 10 points) and serving interpolates a raw margin
linearly between those thresholds: the mapping is monotone by construction.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

KNOTS: tuple[tuple[float, float], ...] = ((0.0, 1.0), (600.0, 0.1), (900.0, 0.02),
                                          (1000.0, 0.0001))
"""``(score, FPR)`` knots; log10(FPR) is linear in the score between them."""
TABLE_STEP = 10


def fpr_for_score(score: float) -> float:
    """The validation FPR a score stands for."""
    score = min(max(score, KNOTS[0][0]), KNOTS[-1][0])
    for (s0, f0), (s1, f1) in itertools.pairwise(KNOTS):
        if score <= s1:
            w = (score - s0) / (s1 - s0)
            return float(10 ** ((1 - w) * math.log10(f0) + w * math.log10(f1)))
    return KNOTS[-1][1]


def score_for_fpr(fpr: float) -> float:
    """Inverse of :func:`fpr_for_score` (clipped to 0–1000)."""
    if fpr >= KNOTS[0][1]:
        return KNOTS[0][0]
    if fpr <= KNOTS[-1][1]:
        return KNOTS[-1][0]
    log_f = math.log10(fpr)
    for (s0, f0), (s1, f1) in itertools.pairwise(KNOTS):
        if fpr >= f1:
            w = (log_f - math.log10(f0)) / (math.log10(f1) - math.log10(f0))
            return s0 + w * (s1 - s0)
    return KNOTS[-1][0]


@dataclass(frozen=True)
class Calibration:
    """Raw-margin thresholds and the scores they map to (strictly increasing thresholds)."""

    thresholds: tuple[float, ...]
    scores: tuple[float, ...]

    @classmethod
    def fit(cls, legit_raw: Sequence[float] | npt.NDArray[np.float64]) -> Calibration:
        """Measure, on legitimate validation transactions' raw margins, each score's threshold."""
        legit = np.sort(np.asarray(legit_raw, dtype=float))
        if legit.size == 0:
            raise ValueError("calibration needs legitimate validation transactions")
        thresholds: list[float] = []
        scores: list[float] = []
        for score in range(0, 1001, TABLE_STEP):
            fpr = fpr_for_score(score)
            # The smallest threshold at which at most fpr of the legit are at or above it.
            rank = min(legit.size - 1, max(0, math.ceil(legit.size * (1 - fpr))))
            threshold = float(legit[rank]) if fpr < 1 else float(legit[0])
            if thresholds and threshold <= thresholds[-1]:
                scores[-1] = float(score)  # ties: the highest score sharing the threshold
                continue
            thresholds.append(threshold)
            scores.append(float(score))
        return cls(tuple(thresholds), tuple(scores))

    def scores_of(self, raw: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """Integer scores 0–1000 of raw margins (monotone non-decreasing)."""
        if len(self.thresholds) == 1:
            return np.where(raw >= self.thresholds[0], int(self.scores[0]), 0).astype(np.int64)
        values = np.interp(raw, self.thresholds, self.scores, left=0.0,
                           right=self.scores[-1])
        return np.clip(np.floor(values), 0, 1000).astype(np.int64)

    def table(self) -> list[dict[str, float]]:
        """The documented table: score, the FPR it stands for, and the raw threshold."""
        return [{"score": s, "fpr": fpr_for_score(s), "raw_threshold": t}
                for t, s in zip(self.thresholds, self.scores, strict=True)]

    @classmethod
    def from_table(cls, rows: Sequence[dict[str, float]]) -> Calibration:
        """Rebuild from :meth:`table` rows (as stored in ``metadata.json``)."""
        return cls(tuple(float(r["raw_threshold"]) for r in rows),
                   tuple(float(r["score"]) for r in rows))
