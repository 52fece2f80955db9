"""Probability calibration fitted on inner-CV out-of-fold scores, inside the training data only.

:class:`RidgeCalibratedClassifier` is the calibrator of Capper et al. 2018 (mnp_training: ``glmnet`` multinomial,
``alpha = 0``, on the random-forest scores of the inner folds) and Maros et al. 2020 (the same for SVM and
XGBoost):

1. stratified inner ``k``-fold CV of a clone of the base pipeline on the training data → out-of-fold scores;
2. a multinomial logistic regression with an L2 (ridge) penalty on the standardised scores; ``C`` is chosen by an
   inner stratified CV on log-loss over ``Cs`` (glmnet's ``cv.glmnet`` does the same over ``lambda``) unless
   given;
3. the base pipeline is refitted on all given data; ``predict_proba(X)`` = calibrator(base scores of ``X``).

Scores are the base model's ``decision_function`` when it has one (linear models, SVMs: margins), otherwise
``log(predict_proba)`` clipped at ``1e-4`` (random forests, XGBoost, MLP). On log-probabilities the multinomial LR
can represent the identity map, so an already calibrated model is not made worse by construction.

:class:`SklearnCalibratedClassifier` offers scikit-learn's ``"sigmoid"`` (Platt, one-vs-rest) and
``"isotonic"`` calibration (``CalibratedClassifierCV`` with ``ensemble=False``, i.e. the same
out-of-fold-then-refit scheme).

Rare classes: inner CV needs every class in every inner training fold. :func:`resolve_inner_folds` lowers the
number of inner folds to the smallest class count when that count is ≥ 2 (with a warning naming the class), and
raises :class:`RareClassError` (a ConfigError, and a ValueError for scikit-learn tools) naming the class and count
when a class has a single member — merge or drop such classes, or use ``calibrate=None``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline as sk_make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import _safe_indexing
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..errors import ConfigError
from .registry import logistic_regression

__all__ = [
    "DEFAULT_CS",
    "RareClassError",
    "RidgeCalibratedClassifier",
    "SklearnCalibratedClassifier",
    "align_scores",
    "base_scores",
    "log_proba_scores",
    "resolve_inner_folds",
]

#: the grid of inverse ridge strengths searched when ``C=None``
DEFAULT_CS: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
_LOG_EPS = 1e-4


def _as_indexable(X):
    """DataFrames and sparse matrices as they are (column names matter); anything else as a numpy array."""
    from scipy import sparse

    if hasattr(X, "iloc"):
        return X
    if sparse.issparse(X):
        return X.tocsr()  # row-indexable
    return np.asarray(X)


def _base_tags(base, tags):
    from sklearn.utils import get_tags

    base_tags = get_tags(base)
    tags.input_tags.allow_nan = base_tags.input_tags.allow_nan
    tags.input_tags.sparse = base_tags.input_tags.sparse
    return tags


class RareClassError(ConfigError, ValueError):
    """A class has too few training members for the requested cross-validation."""


def resolve_inner_folds(y, n_splits: int, *, what: str = "inner CV") -> int:
    """Number of stratified folds usable on labels ``y`` when ``n_splits`` are asked for.

    Returns ``n_splits`` when every class has at least that many members; otherwise the smallest class count
    if it is ≥ 2 (warning that names the class); raises :class:`RareClassError` if a class has one member or
    there is only one class.
    """
    if not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise ConfigError(f"{what}: the number of folds must be an integer ≥ 2; got {n_splits!r}")
    labels, counts = np.unique(np.asarray(y), return_counts=True)
    if len(labels) < 2:
        raise RareClassError(f"{what}: needs at least 2 classes; the training data has only one class "
                             f"{[str(v) for v in labels]}")
    i = int(np.argmin(counts))
    smallest, m = labels[i], int(counts[i])
    if m >= n_splits:
        return int(n_splits)
    if m < 2:
        raise RareClassError(
            f"{what}: class '{smallest}' has {m} training sample(s), fewer than the 2 needed for "
            f"{n_splits}-fold stratified CV; merge or drop rare classes, or set calibrate=None")
    warnings.warn(f"{what}: class '{smallest}' has only {m} training samples; using {m} folds instead of "
                  f"{n_splits}", UserWarning, stacklevel=3)
    return m


def log_proba_scores(proba) -> np.ndarray:
    """Calibration scores of probabilities: their log, clipped at ``1e-4`` (the ``"log_proba"`` method)."""
    return np.log(np.clip(np.asarray(proba, dtype=float), _LOG_EPS, 1.0))


def align_scores(s: np.ndarray, est_classes: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Score columns of the classes ``est_classes`` placed under ``classes``; a class the model never saw gets
    the lowest observed score. One-dimensional (two-class) margins come back as one column."""
    s = np.asarray(s, dtype=float)
    if s.ndim == 1:
        return s.reshape(-1, 1)
    est_classes = np.asarray(est_classes)
    if len(est_classes) == len(classes) and np.array_equal(est_classes, classes):
        return s
    # an inner model saw fewer classes: missing classes get the lowest observed score
    out = np.full((s.shape[0], len(classes)), s.min() if s.size else 0.0)
    out[:, np.searchsorted(classes, est_classes)] = s
    return out


def base_scores(estimator, X, classes: np.ndarray, *, method: str = "auto") -> np.ndarray:
    """Scores of a fitted classifier for calibration, columns aligned to ``classes``.

    ``method``: ``"decision"`` (margins), ``"log_proba"`` (log of clipped probabilities) or ``"auto"``
    (margins when the estimator has ``decision_function``). Two-class margins come back as one column.
    """
    if method == "auto":
        method = "decision" if hasattr(estimator, "decision_function") else "log_proba"
    if method == "decision":
        s = estimator.decision_function(X)
    elif method == "log_proba":
        s = log_proba_scores(estimator.predict_proba(X))
    else:
        raise ConfigError(f"unknown score method {method!r}; choose auto, decision or log_proba")
    return align_scores(s, estimator.classes_, classes)


class RidgeCalibratedClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Ridge (L2) multinomial logistic calibration of a base classifier on inner-CV out-of-fold scores.

    Parameters: ``estimator`` (unfitted base classifier or pipeline; default a random forest), ``inner_cv``
    (folds), ``C`` (fixed inverse ridge strength, or None to choose it from ``Cs`` by CV log-loss),
    ``score_method`` (``"auto"``/``"decision"``/``"log_proba"``), ``random_state``, ``n_jobs`` (inner folds in
    parallel).

    Fitted attributes: ``classes_``, ``estimator_`` (base refitted on all data), ``calibrator_`` (scaler + LR),
    ``C_``, ``n_inner_splits_``, ``oof_scores_``, ``score_method_``.
    """

    def __init__(self, estimator=None, *, inner_cv: int = 3, C: float | None = None,
                 Cs: Sequence[float] = DEFAULT_CS, score_method: str = "auto", random_state: int | None = 0,
                 n_jobs: int = 1):
        self.estimator = estimator
        self.inner_cv = inner_cv
        self.C = C
        self.Cs = Cs
        self.score_method = score_method
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _base(self):
        if self.estimator is not None:
            return self.estimator
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=200, random_state=self.random_state)

    def fit(self, X, y, oof_scores: np.ndarray | None = None, fitted_estimator=None):
        """Inner CV → out-of-fold scores → ridge calibrator; then refit the base on all of ``X``, ``y``.

        ``oof_scores`` (samples × score columns, from :func:`base_scores` with this calibrator's score method):
        out-of-fold scores of the base already computed on this calibrator's own inner folds (the
        hyperparameter search of :class:`~methylclass.models.pipeline.MethylClassifier` fits exactly those
        models for the chosen candidate); given, the inner fits are skipped and the result is the same.
        They may also be held-out scores of another honest kind: a forest's out-of-bag scores.

        ``fitted_estimator``: the base already fitted on exactly ``X``, ``y`` (with ``oof_scores`` only); it is
        kept instead of refitting.
        """
        if fitted_estimator is not None and oof_scores is None:
            raise ValueError("fitted_estimator is given with the oof_scores it was scored with")
        from joblib import Parallel, delayed

        X = _as_indexable(X)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        n_splits = resolve_inner_folds(y, self.inner_cv, what="ridge calibration inner CV")
        self.n_inner_splits_ = n_splits
        base = self._base()
        self.score_method_ = (self.score_method if self.score_method != "auto"
                              else ("decision" if hasattr(base, "decision_function") else "log_proba"))
        if oof_scores is not None:
            oof = np.asarray(oof_scores, dtype=float)
            if oof.shape[0] != len(y):
                raise ValueError(f"oof_scores has {oof.shape[0]} rows for {len(y)} samples")
            return self._finish(X, y, base, oof, n_splits, fitted_estimator)
        skf = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=self.random_state)
        folds = list(skf.split(np.zeros(len(y)), y))

        def _one(tr, te):
            est = clone(base).fit(_safe_indexing(X, tr), y[tr])
            return te, base_scores(est, _safe_indexing(X, te), self.classes_, method=self.score_method_)

        parts = Parallel(n_jobs=self.n_jobs)(delayed(_one)(tr, te) for tr, te in folds)
        width = parts[0][1].shape[1]
        oof = np.empty((len(y), width))
        for te, s in parts:
            oof[te] = s
        return self._finish(X, y, base, oof, n_splits)

    def _finish(self, X, y, base, oof: np.ndarray, n_splits: int, fitted=None):
        """Fit the calibrator on the out-of-fold scores and refit the base on all samples (unless ``fitted``)."""
        self.oof_scores_ = oof
        self.calibrator_, self.C_ = self._fit_calibrator(oof, y, n_splits)
        self.estimator_ = clone(base).fit(X, y) if fitted is None else fitted
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        return self

    def _fit_calibrator(self, scores: np.ndarray, y: np.ndarray, n_splits: int):
        lr = logistic_regression(l1_ratio=0.0, C=1.0 if self.C is None else float(self.C), max_iter=5000)
        pipe = sk_make_pipeline(StandardScaler(), lr)
        if self.C is not None:
            return pipe.fit(scores, y), float(self.C)
        cv = StratifiedKFold(n_splits=min(n_splits, 5), shuffle=True, random_state=self.random_state)
        search = GridSearchCV(pipe, {"logisticregression__C": list(self.Cs)}, cv=cv, scoring="neg_log_loss",
                              refit=True, error_score="raise")
        search.fit(scores, y)
        return search.best_estimator_, float(search.best_params_["logisticregression__C"])

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated class probabilities (columns follow ``classes_``)."""
        check_is_fitted(self, "calibrator_")
        s = base_scores(self.estimator_, X, self.classes_, method=self.score_method_)
        return self.calibrator_.predict_proba(s)

    def predict(self, X) -> np.ndarray:
        """Class with the highest calibrated probability."""
        P = self.predict_proba(X)
        return self.classes_[np.argmax(P, axis=1)]

    def __sklearn_tags__(self):
        return _base_tags(self._base(), super().__sklearn_tags__())


class SklearnCalibratedClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Sigmoid (Platt) or isotonic calibration via ``sklearn.calibration.CalibratedClassifierCV``.

    Uses stratified inner folds resolved by :func:`resolve_inner_folds` (so rare classes get the same explicit
    handling as the ridge calibrator) and ``ensemble=False``: out-of-fold predictions fit the calibrator, the
    base is refitted on all data. Fitted attributes: ``classes_``, ``calibrated_``, ``n_inner_splits_``.
    """

    def __init__(self, estimator=None, *, method: str = "sigmoid", inner_cv: int = 3,
                 random_state: int | None = 0, n_jobs: int = 1):
        self.estimator = estimator
        self.method = method
        self.inner_cv = inner_cv
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y):
        """Fit ``CalibratedClassifierCV`` on ``X``, ``y``."""
        from sklearn.calibration import CalibratedClassifierCV

        if self.method not in ("sigmoid", "isotonic"):
            raise ConfigError(f"unknown calibration method {self.method!r}; choose sigmoid or isotonic")
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        n_splits = resolve_inner_folds(y, self.inner_cv, what=f"{self.method} calibration inner CV")
        base = self._base()
        cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=self.random_state)
        self.calibrated_ = CalibratedClassifierCV(clone(base), method=self.method, cv=cv, ensemble=False,
                                                  n_jobs=self.n_jobs).fit(X, y)
        self.classes_ = self.calibrated_.classes_
        self.n_inner_splits_ = n_splits
        for attr in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.calibrated_, attr):
                setattr(self, attr, getattr(self.calibrated_, attr))
        return self

    def _base(self):
        if self.estimator is not None:
            return self.estimator
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=200, random_state=self.random_state)

    def __sklearn_tags__(self):
        return _base_tags(self._base(), super().__sklearn_tags__())

    @property
    def estimator_(self):
        """The base estimator refitted on all training data."""
        check_is_fitted(self, "calibrated_")
        return self.calibrated_.calibrated_classifiers_[0].estimator

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated class probabilities (columns follow ``classes_``)."""
        check_is_fitted(self, "calibrated_")
        return self.calibrated_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        """Class with the highest calibrated probability."""
        P = self.predict_proba(X)
        return self.classes_[np.argmax(P, axis=1)]
