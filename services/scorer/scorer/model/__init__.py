"""The embedded model (LightGBM, calibrated 0–1000 scores, TreeSHAP explanations).

``scorer.model`` used to be the hand-set heuristic; its API (``signals``,
``score``, ``MODEL_NAME``, ``MODEL_VERSION``) is re-exported from
:mod:`scorer.model.heuristic` so that existing callers keep working.
"""

from scorer.model.calibration import Calibration, fpr_for_score, score_for_fpr
from scorer.model.core import DEFAULT_REGISTRY, Model, resolve, save
from scorer.model.heuristic import MODEL_NAME, MODEL_VERSION, Signal, score, signals

__all__ = [
    "DEFAULT_REGISTRY",
    "MODEL_NAME",
    "MODEL_VERSION",
    "Calibration",
    "Model",
    "Signal",
    "fpr_for_score",
    "resolve",
    "save",
    "score",
    "score_for_fpr",
    "signals",
]
