"""Small scikit-learn wrappers that make every zoo model speak the same language.

* :class:`XGBLabelClassifier` — XGBoost with string class labels (XGBoost itself wants 0…k−1), optional balanced
  class weights, and a pickle/skops state that holds the booster as XGBoost's own JSON model format (the bytes
  ``Booster.save_model("m.json")`` writes), so a saved bundle never needs XGBoost's binary pickle.
* :class:`SoftmaxDecisionClassifier` — gives margin classifiers (SVMs) a ``predict_proba``: the softmax of
  ``decision_function``. scikit-learn ≥ 1.8 deprecates ``SVC(probability=True)`` (internal 5-fold Platt scaling,
  5× the fit cost); the softmax is an *uncalibrated* score, meant to be calibrated by
  :class:`~methylclass.models.calibration.RidgeCalibratedClassifier` (which reads ``decision_function``).
* :class:`ClassWeightedClassifier` — adds ``class_weight="balanced"`` to estimators whose ``fit`` takes
  ``sample_weight`` but whose constructor has no ``class_weight`` (``MLPClassifier``).

These are hand-written because no library provides them; each is a thin adaptor around a well-kept estimator.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["ClassWeightedClassifier", "SoftmaxDecisionClassifier", "XGBLabelClassifier"]


class XGBLabelClassifier(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees (``xgboost.XGBClassifier``, ``tree_method="hist"``) with arbitrary class labels.

    Defaults are modest on purpose (see STACK.md: 500 × 10,000 × 5 classes, 100 rounds, depth 4 takes 68 s with
    ``max_bin=64`` on 2 cores). ``class_weight="balanced"`` turns into per-sample weights
    ``n / (k · n_class)``. ``xgb_params`` passes any other ``XGBClassifier`` argument through.

    Fitted attributes: ``classes_`` (original labels), ``booster_`` (``xgboost.Booster``), ``n_features_in_``.
    """

    def __init__(self, n_estimators: int = 200, max_depth: int = 4, learning_rate: float = 0.1,
                 subsample: float = 0.8, colsample_bynode: float = 0.5, max_bin: int = 64,
                 reg_lambda: float = 1.0, min_child_weight: float = 1.0, class_weight: str | None = None,
                 n_jobs: int = 1, random_state: int | None = 0, xgb_params: dict | None = None):
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bynode = colsample_bynode
        self.max_bin = max_bin
        self.reg_lambda = reg_lambda
        self.min_child_weight = min_child_weight
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.xgb_params = xgb_params

    def _make(self, n_classes: int):
        import xgboost as xgb

        params: dict[str, Any] = {
            "n_estimators": self.n_estimators, "max_depth": self.max_depth, "learning_rate": self.learning_rate,
            "subsample": self.subsample, "colsample_bynode": self.colsample_bynode, "max_bin": self.max_bin,
            "reg_lambda": self.reg_lambda, "min_child_weight": self.min_child_weight, "tree_method": "hist",
            "n_jobs": self.n_jobs, "random_state": 0 if self.random_state is None else self.random_state,
            "verbosity": 0,
        }
        if n_classes > 2:
            params.update(objective="multi:softprob", num_class=n_classes)
        else:
            params.update(objective="binary:logistic")
        params.update(self.xgb_params or {})
        return xgb.XGBClassifier(**params)

    def fit(self, X, y, sample_weight=None):
        """Fit on ``X`` (samples × features; NaN allowed, XGBoost routes it) and labels ``y`` of any type."""
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float32)
        check_classification_targets(y)
        enc = LabelEncoder().fit(y)
        self.classes_ = enc.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"XGBLabelClassifier needs at least 2 classes; got one class ('{self.classes_[0]}')")
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=float)
            if sample_weight.shape != (len(y),):
                raise ValueError(f"sample_weight has shape {sample_weight.shape}; expected ({len(y)},)")
            if not np.any(sample_weight > 0):
                raise ValueError("sample weights are all zero: nothing to fit")
        if self.class_weight is not None:
            cw = compute_sample_weight(self.class_weight, y)
            sample_weight = cw if sample_weight is None else np.asarray(sample_weight) * cw
        model = self._make(len(self.classes_))
        model.fit(X, enc.transform(y), sample_weight=sample_weight)
        self.booster_ = model.get_booster()
        self._model = model
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self, "booster_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float32)
        p = self._model.predict_proba(X)
        return np.asarray(p, dtype=float)

    def predict(self, X) -> np.ndarray:
        """Most probable class label."""
        P = self.predict_proba(X)
        return self.classes_[np.argmax(P, axis=1)]

    # --- persistence: the booster travels as XGBoost JSON, never as a binary pickle ------------------------
    def __getstate__(self):
        state = dict(super().__getstate__())
        model = state.pop("_model", None)
        state.pop("booster_", None)
        if model is not None:
            state["_booster_json"] = bytes(model.get_booster().save_raw(raw_format="json"))
        return state

    def __setstate__(self, state):
        state = dict(state)
        raw = state.pop("_booster_json", None)
        super().__setstate__(state)
        if raw is not None:
            model = self._make(len(self.classes_))
            model.load_model(bytearray(raw))
            self._model = model
            self.booster_ = model.get_booster()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class SoftmaxDecisionClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Wrap a margin classifier: ``predict_proba`` = softmax(``decision_function``) (an uncalibrated score).

    For two classes the single margin ``d`` becomes the pair ``(-d/2, d/2)`` before the softmax, i.e. the
    logistic function of ``d``. ``decision_function`` and ``predict`` pass through to the fitted ``estimator_``.
    """

    def __init__(self, estimator=None):
        self.estimator = estimator

    def fit(self, X, y, sample_weight=None):
        """Fit a clone of ``estimator`` (default ``SVC(kernel="linear")``)."""
        from sklearn.svm import SVC

        base = SVC(kernel="linear") if self.estimator is None else self.estimator
        self.estimator_ = clone(base)
        if sample_weight is None:
            self.estimator_.fit(X, y)
        else:
            self.estimator_.fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.estimator_.classes_
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        return self

    def decision_function(self, X) -> np.ndarray:
        """The wrapped estimator's margins: shape (n,) for two classes, (n, k) otherwise."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.decision_function(X)

    def predict_proba(self, X) -> np.ndarray:
        """Softmax of the margins; columns follow ``classes_``."""
        return self.margins_to_proba(self.decision_function(X))

    @staticmethod
    def margins_to_proba(d) -> np.ndarray:
        """``predict_proba`` of already computed margins ``d`` (shape (n,) for two classes, else (n, k))."""
        d = np.asarray(d, dtype=float)
        if d.ndim == 1:
            d = np.column_stack([-d / 2.0, d / 2.0])
        return softmax(d, axis=1)

    def predict(self, X) -> np.ndarray:
        """The wrapped estimator's prediction."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    def __sklearn_tags__(self):
        from sklearn.svm import SVC
        from sklearn.utils import get_tags

        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = get_tags(SVC() if self.estimator is None else self.estimator).input_tags.sparse
        return tags


class ClassWeightedClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fit ``estimator`` with per-sample weights from ``class_weight`` (``"balanced"`` or a dict).

    For estimators whose ``fit`` accepts ``sample_weight`` but whose constructor has no ``class_weight``
    (e.g. ``MLPClassifier``). ``predict``/``predict_proba`` pass through.
    """

    def __init__(self, estimator=None, class_weight="balanced"):
        self.estimator = estimator
        self.class_weight = class_weight

    def fit(self, X, y, sample_weight=None):
        """Fit a clone of ``estimator`` with ``sample_weight × class weights``."""
        if y is None:
            raise ValueError("ClassWeightedClassifier requires y to be passed, but the target y is None")
        y = np.asarray(y)
        base = self._base()
        w = compute_sample_weight(self.class_weight, y) if self.class_weight is not None else None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=float) * (1.0 if w is None else w)
        self.estimator_ = clone(base)
        if w is None:
            self.estimator_.fit(X, y)
        else:
            self.estimator_.fit(X, y, sample_weight=w)
        self.classes_ = self.estimator_.classes_
        for attr in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.estimator_, attr):
                setattr(self, attr, getattr(self.estimator_, attr))
        return self

    def _base(self):
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(random_state=0) if self.estimator is None else self.estimator

    def __sklearn_tags__(self):
        from sklearn.utils import get_tags

        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = get_tags(self._base()).input_tags.sparse
        return tags

    def predict_proba(self, X) -> np.ndarray:
        """The wrapped estimator's class probabilities."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        """The wrapped estimator's prediction."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)
