"""Tools: nested cross-validation and classification metrics (explain and embeddings live beside them)."""

from __future__ import annotations

from .cv import CVResult, RareClassReport, apply_rare_policy, min_class_size, nested_cv
from .explain import Explanation, calibration_monotone, explain
from .metrics import (
    NO_MATCH,
    Evaluation,
    classifiable,
    classify_with_threshold,
    conformal_coverage,
    confusion_table,
    evaluate,
    expected_calibration_error,
    hand_till_auc,
    log_loss,
    multiclass_brier,
    per_class_report,
    reliability_curve,
)

__all__ = [
    "NO_MATCH",
    "CVResult",
    "Evaluation",
    "Explanation",
    "RareClassReport",
    "apply_rare_policy",
    "calibration_monotone",
    "classifiable",
    "classify_with_threshold",
    "conformal_coverage",
    "confusion_table",
    "evaluate",
    "expected_calibration_error",
    "explain",
    "hand_till_auc",
    "log_loss",
    "min_class_size",
    "multiclass_brier",
    "nested_cv",
    "per_class_report",
    "reliability_curve",
]
