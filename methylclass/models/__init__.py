"""The model zoo: registry, in-fold pipelines, rebalancing, selectors, calibration, decisions and bundles.

Typical use::

    from methylclass.models import make_pipeline, decide
    clf = make_pipeline("rf", select="variance", n_features=10000, balance="downsample", calibrate="ridge")
    clf.fit(X_train, y_train)                      # X: samples × CpGs DataFrame, y: string labels
    labels = decide(clf.predict_proba(X_test), clf.classes_, threshold=0.9)   # class or "no_match"
"""

from __future__ import annotations

from .adjust import CovariateAdjuster
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
    decide_hierarchical,
    family_scores,
    format_sets,
    max_proba_score,
    set_coverage,
    set_sizes,
)
from .ensemble import COMBINE_METHODS, EnsembleClassifier, LogProbaRidge, make_ensemble
from .estimators import ClassWeightedClassifier, SoftmaxDecisionClassifier, XGBLabelClassifier
from .pipeline import CALIBRATE_METHODS, SELECT_METHODS, MethylClassifier, make_pipeline
from .rebalance import BALANCE_METHODS, AdaptiveSMOTE, class_counts, make_sampler
from .registry import MODELS, available_models, build_model, get_factory, register_model
from .selectors import BorutaSelector, VarianceSelector
from .taxonomy import Taxonomy, load_taxonomy
from .tuning import SEARCH_METHODS, candidate_grid, check_search

# the ensemble factory builds registry members, so it is registered here rather than in registry.py (no cycle)
MODELS.setdefault("ensemble", make_ensemble)

__all__ = [
    "BALANCE_METHODS",
    "CALIBRATE_METHODS",
    "COMBINE_METHODS",
    "MODELS",
    "NO_MATCH",
    "SEARCH_METHODS",
    "SELECT_METHODS",
    "AdaptiveSMOTE",
    "BorutaSelector",
    "Bundle",
    "ClassWeightedClassifier",
    "ConformalClassifier",
    "CovariateAdjuster",
    "EnsembleClassifier",
    "KNNDistanceOOD",
    "LogProbaRidge",
    "MethylClassifier",
    "RareClassError",
    "RidgeCalibratedClassifier",
    "SklearnCalibratedClassifier",
    "SoftmaxDecisionClassifier",
    "Taxonomy",
    "VarianceSelector",
    "XGBLabelClassifier",
    "available_models",
    "build_model",
    "candidate_grid",
    "check_search",
    "class_counts",
    "decide",
    "decide_hierarchical",
    "family_scores",
    "format_sets",
    "get_factory",
    "hash_training_data",
    "load_bundle",
    "load_taxonomy",
    "make_ensemble",
    "make_pipeline",
    "make_sampler",
    "max_proba_score",
    "register_model",
    "resolve_inner_folds",
    "save_bundle",
    "set_coverage",
    "set_sizes",
]
