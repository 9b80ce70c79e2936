"""The embedded model (LightGBM, calibrated 0–1000 scores, TreeSHAP explanations)."""

from scorer.model.calibration import Calibration, fpr_for_score, score_for_fpr
from scorer.model.core import DEFAULT_REGISTRY, MODEL_NAME, Model, resolve, save

__all__ = [
    "DEFAULT_REGISTRY",
    "MODEL_NAME",
    "Calibration",
    "Model",
    "fpr_for_score",
    "resolve",
    "save",
    "score_for_fpr",
]
