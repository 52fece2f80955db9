"""Tools: nested cross-validation and classification metrics (explain and embeddings live beside them)."""

from __future__ import annotations

from .cv import CVResult, RareClassReport, apply_rare_policy, min_class_size, nested_cv
from .metrics import (
    NO_MATCH,
    Evaluation,
    classify_with_threshold,
    classifiable,
    confusion_table,
    conformal_coverage,
    evaluate,
    expected_calibration_error,
    hand_till_auc,
    log_loss,
    multiclass_brier,
    per_class_report,
    reliability_curve,
)

__all__ = [
    "CVResult", "RareClassReport", "apply_rare_policy", "min_class_size", "nested_cv",
    "NO_MATCH", "Evaluation", "classify_with_threshold", "classifiable", "confusion_table",
    "conformal_coverage", "evaluate", "expected_calibration_error", "hand_till_auc", "log_loss",
    "multiclass_brier", "per_class_report", "reliability_curve",
]
