"""The model zoo: registry, in-fold pipelines, rebalancing, selectors, calibration, decisions and bundles.

Typical use::

    from methylclass.models import make_pipeline, decide
    clf = make_pipeline("rf", select="variance", n_features=10000, balance="downsample", calibrate="ridge")
    clf.fit(X_train, y_train)                      # X: samples × CpGs DataFrame, y: string labels
    labels = decide(clf.predict_proba(X_test), clf.classes_, threshold=0.9)   # class or "no_match"
"""

from __future__ import annotations

from .bundle import Bundle, hash_training_data, load_bundle, save_bundle
from .calibration import (
    RareClassError,
    RidgeCalibratedClassifier,
    SklearnCalibratedClassifier,
    resolve_inner_folds,
)
from .decision import (
    NO_MATCH,
    ConformalClassifier,
    KNNDistanceOOD,
    decide,
    format_sets,
    max_proba_score,
    set_coverage,
    set_sizes,
)
from .estimators import ClassWeightedClassifier, SoftmaxDecisionClassifier, XGBLabelClassifier
from .pipeline import CALIBRATE_METHODS, SELECT_METHODS, MethylClassifier, make_pipeline
from .rebalance import BALANCE_METHODS, AdaptiveSMOTE, class_counts, make_sampler
from .registry import MODELS, available_models, build_model, get_factory, register_model
from .selectors import BorutaSelector, VarianceSelector

__all__ = [
    "BALANCE_METHODS",
    "CALIBRATE_METHODS",
    "MODELS",
    "NO_MATCH",
    "SELECT_METHODS",
    "AdaptiveSMOTE",
    "BorutaSelector",
    "Bundle",
    "ClassWeightedClassifier",
    "ConformalClassifier",
    "KNNDistanceOOD",
    "MethylClassifier",
    "RareClassError",
    "RidgeCalibratedClassifier",
    "SklearnCalibratedClassifier",
    "SoftmaxDecisionClassifier",
    "VarianceSelector",
    "XGBLabelClassifier",
    "available_models",
    "build_model",
    "class_counts",
    "decide",
    "format_sets",
    "get_factory",
    "hash_training_data",
    "load_bundle",
    "make_pipeline",
    "make_sampler",
    "max_proba_score",
    "register_model",
    "resolve_inner_folds",
    "save_bundle",
    "set_coverage",
    "set_sizes",
]
