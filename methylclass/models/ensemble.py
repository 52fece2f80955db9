"""``ensemble`` in the model zoo: soft voting of calibrated members, or stacking on inner out-of-fold probabilities.

The entry is a *model step* (``make_pipeline("ensemble", members=..., combine=...)``): CpG selection, imputation
and the CNV block are fitted once per training set, then

* ``combine="soft"``: every member is wrapped in :class:`~methylclass.models.calibration.RidgeCalibratedClassifier`
  (its own inner-CV ridge calibration) and the calibrated probabilities are averaged (``weights`` optional);
* ``combine="geometric"``: the same calibrated members pooled by their weighted geometric mean, renormalised
  (the *logarithmic opinion pool*, Genest & Zidek 1986: ``p(c) ∝ Π_m p_m(c)^{w_m}`` with ``Σ w_m = 1``). It has
  no fitted parameters of its own. Unlike the arithmetic mean, which is less sharp than any member when the
  members agree (two calibrated members at 0.93 and 0.88 average to 0.905), the log pool keeps the agreement
  sharp, while a class that one member rules out stays low;
* ``combine="stack"``: scikit-learn's ``StackingClassifier`` with stratified ``inner_cv`` folds — the members'
  out-of-fold probabilities on the training data fit the meta-learner (:class:`LogProbaRidge`: multinomial ridge
  logistic regression on standardised log-probabilities, strength chosen by CV log-loss), then the members are
  refitted on all of it. Nothing outside the training data is seen (``tests/models/test_leakage.py``).

Either way the output is already calibrated: configure the pipeline with ``calibrate: none``
(``conf/model/ensemble.yaml``). Members are registry names with their own parameters and ``balance``
(``class_weight`` / ``downsample``), e.g. ``{"logreg": {"balance": "class_weight", "C": 1.0}, "rf":
{"balance": "downsample"}}``; a member may be listed as ``name`` and use the registry defaults. A member's
``scale`` (``standard``, ``mvalue``, ``mvalue_standard``; :mod:`methylclass.models.scaling`) puts that scale step
in front of that member only, fitted in-fold with it (e.g. kNN on standardised M-values next to LDA on betas),
and its ``search`` (:mod:`methylclass.models.tuning`) lets the member choose its parameters by inner CV on the
data it is fitted on (a member with ``search`` is a :class:`~methylclass.models.pipeline.MethylClassifier`
without selection or calibration of its own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.pipeline import make_pipeline as sk_make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..errors import ConfigError
from .calibration import DEFAULT_CS, RidgeCalibratedClassifier, log_proba_scores, resolve_inner_folds
from .registry import build_model, logistic_regression
from .scaling import check_scale, scale_steps

__all__ = ["COMBINE_METHODS", "EnsembleClassifier", "LogProbaRidge", "make_ensemble"]

#: accepted ``combine`` values
COMBINE_METHODS: tuple[str, ...] = ("soft", "geometric", "stack")


class LogProbaRidge(ClassifierMixin, BaseEstimator):
    """Meta-learner of a stack: ridge multinomial LR on standardised ``log(clip(p, 1e-4))`` of the members.

    ``C`` fixed, or None to choose it from ``Cs`` by stratified CV log-loss (as the ridge calibrator does).
    """

    def __init__(self, C: float | None = None, Cs: Sequence[float] = DEFAULT_CS, random_state: int | None = 0):
        self.C = C
        self.Cs = Cs
        self.random_state = random_state

    def fit(self, P, y):
        """Fit on member probabilities ``P`` (samples × members·classes) and labels ``y``."""
        y = column_or_1d(y)
        check_classification_targets(y)
        S = log_proba_scores(P)
        pipe = sk_make_pipeline(StandardScaler(), logistic_regression(
            l1_ratio=0.0, C=1.0 if self.C is None else float(self.C), max_iter=5000))
        if self.C is None:
            n = resolve_inner_folds(y, 3, what="stacking meta-learner CV")
            search = GridSearchCV(pipe, {"logisticregression__C": list(self.Cs)}, scoring="neg_log_loss",
                                  cv=StratifiedKFold(n, shuffle=True, random_state=self.random_state),
                                  error_score="raise").fit(S, y)
            self.model_, self.C_ = search.best_estimator_, float(search.best_params_["logisticregression__C"])
        else:
            self.model_, self.C_ = pipe.fit(S, y), float(self.C)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, P) -> np.ndarray:
        """Class probabilities from member probabilities."""
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(log_proba_scores(P))

    def predict(self, P) -> np.ndarray:
        """Most probable class."""
        return self.classes_[np.argmax(self.predict_proba(P), axis=1)]


class EnsembleClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Soft voting or log pooling of ridge-calibrated members, or stacking with a :class:`LogProbaRidge`.

    Parameters: ``estimators`` (list of ``(name, unfitted classifier)``), ``combine`` (``"soft"`` /
    ``"geometric"`` / ``"stack"``), ``weights`` (soft / geometric; default equal), ``inner_cv`` (calibration /
    stacking folds), ``C`` (meta-learner strength; None = by CV), ``random_state``, ``n_jobs`` (members' inner folds).

    Fitted attributes: ``classes_``, ``members_`` (soft / geometric: fitted calibrated members) or ``stack_`` (the
    fitted ``StackingClassifier``), ``n_features_in_``.
    """

    def __init__(self, estimators: Sequence[tuple[str, Any]] = (), *, combine: str = "soft",
                 weights: Sequence[float] | None = None, inner_cv: int = 3, C: float | None = None,
                 random_state: int | None = 0, n_jobs: int = 1):
        self.estimators = estimators
        self.combine = combine
        self.weights = weights
        self.inner_cv = inner_cv
        self.C = C
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _check(self) -> None:
        if self.combine not in COMBINE_METHODS:
            raise ConfigError(f"ensemble: combine must be one of {', '.join(COMBINE_METHODS)}; got {self.combine!r}")
        if len(self.estimators) < 1:
            raise ConfigError("ensemble: give at least one member")
        if self.weights is not None and len(self.weights) != len(self.estimators):
            raise ConfigError(f"ensemble: {len(self.weights)} weights for {len(self.estimators)} members")

    def fit(self, X, y):
        """Fit the members (and meta-learner) on ``X``, ``y`` only."""
        from sklearn.ensemble import StackingClassifier

        self._check()
        y = column_or_1d(y)
        check_classification_targets(y)
        n_splits = resolve_inner_folds(y, int(self.inner_cv), what=f"ensemble ({self.combine}) inner CV")
        if self.combine in ("soft", "geometric"):
            self.members_ = [(name, RidgeCalibratedClassifier(clone(est), inner_cv=n_splits,
                                                              random_state=self.random_state,
                                                              n_jobs=self.n_jobs).fit(X, y))
                             for name, est in self.estimators]
            self.classes_ = self.members_[0][1].classes_
        else:
            cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=self.random_state)
            self.stack_ = StackingClassifier(
                [(name, clone(est)) for name, est in self.estimators],
                final_estimator=LogProbaRidge(C=self.C, random_state=self.random_state), cv=cv,
                stack_method="predict_proba", n_jobs=self.n_jobs).fit(X, y)
            self.classes_ = self.stack_.classes_
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    @property
    def best_params_(self) -> dict[str, Any] | None:
        """Parameters chosen by members with their own ``search`` (``{"<member>.<param>": value}``; None if
        no member searched), as fitted on all the data given to :meth:`fit`."""
        members = getattr(self, "members_", None)
        if members is None and hasattr(self, "stack_"):
            members = list(zip(self.stack_.named_estimators_, self.stack_.estimators_))
        chosen = {}
        for name, m in members or []:
            inner = getattr(m, "estimator_", m)  # soft / geometric members are calibrated wrappers
            for k, v in (getattr(inner, "best_params_", None) or {}).items():
                chosen[f"{name}.{k}"] = v
        return chosen or None

    def member_proba(self, X) -> dict[str, np.ndarray]:
        """Each member's (calibrated, for soft / geometric) probabilities, columns in ``classes_`` order."""
        check_is_fitted(self, "classes_")
        if self.combine in ("soft", "geometric"):
            return {name: m.predict_proba(X) for name, m in self.members_}
        return {name: m.predict_proba(X) for name, m in zip(self.stack_.named_estimators_,
                                                            self.stack_.estimators_)}

    def predict_proba(self, X) -> np.ndarray:
        """Ensemble probabilities (columns follow ``classes_``)."""
        check_is_fitted(self, "classes_")
        if self.combine == "stack":
            return self.stack_.predict_proba(X)
        w = np.ones(len(self.members_)) if self.weights is None else np.asarray(self.weights, dtype=float)
        w = w / w.sum()
        if self.combine == "soft":
            return sum(wi * m.predict_proba(X) for wi, (_, m) in zip(w, self.members_))
        # log pool; probabilities floored at 1e-6 so that one member's near-0 is a strong but finite veto
        L = sum(wi * np.log(np.clip(m.predict_proba(X), 1e-6, 1.0)) for wi, (_, m) in zip(w, self.members_))
        L -= L.max(axis=1, keepdims=True)
        P = np.exp(L)
        return P / P.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Most probable class."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _member_specs(members) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(members, str):
        members = [members]
    if isinstance(members, Mapping):
        items = [(str(k), dict(v or {})) for k, v in members.items()]
    elif isinstance(members, Sequence):
        items = []
        for m in members:
            if isinstance(m, str):
                items.append((m, {}))
            elif isinstance(m, Mapping) and len(m) == 1:
                (k, v), = m.items()
                items.append((str(k), dict(v or {})))
            else:
                raise ConfigError(f"ensemble member {m!r}: give a registry name or {{name: {{params}}}}")
    else:
        raise ConfigError(f"ensemble members must be a list or mapping of registry models; got {members!r}")
    if not items:
        raise ConfigError("ensemble: give at least one member")
    return items


def make_ensemble(*, members: Any = ("logreg", "svm", "rf"), combine: str = "soft",
                  weights: Sequence[float] | None = None, inner_cv: int = 3, C: float | None = None,
                  class_weight: str | None = None, random_state: int | None = 0, n_jobs: int = 1) -> Any:
    """Registry factory of ``ensemble``: members built with :func:`~methylclass.models.build_model`.

    A member's ``balance`` (``class_weight`` or ``downsample``) applies to it alone; without one, the pipeline's
    ``balance="class_weight"`` reaches every member that supports class weights. ``estimator`` in a member's
    parameters names the registry model when the member's key is an alias (``{"svm_soft": {"estimator":
    "svm", "C": 0.01}}``).
    """
    if combine not in COMBINE_METHODS:
        raise ConfigError(f"ensemble: combine must be one of {', '.join(COMBINE_METHODS)}; got {combine!r}")
    built = []
    for name, params in _member_specs(members):
        if name == "ensemble" or params.get("estimator") == "ensemble":
            raise ConfigError("ensemble: a member cannot itself be an ensemble")
        params = dict(params)
        model = params.pop("estimator", name)
        balance = params.pop("balance", None)
        scale = check_scale(params.pop("scale", None))
        if balance not in (None, "none", "class_weight", "downsample"):
            raise ConfigError(f"ensemble member {name!r}: balance must be class_weight, downsample or none")
        cw = "balanced" if balance == "class_weight" else None
        if balance is None and class_weight is not None:
            from .registry import _accepts, get_factory

            cw = class_weight if _accepts(get_factory(model), "class_weight") else None
        search = params.pop("search", None)
        est = build_model(model, random_state=random_state, n_jobs=n_jobs, class_weight=cw,
                          downsample=balance == "downsample", **params)
        if search:  # the member tunes itself on the data it is fitted on (inner folds of whatever fits it)
            from .pipeline import MethylClassifier

            est = MethylClassifier(model, select=None, impute=None, calibrate=None, scale=scale,
                                   balance=balance if balance != "none" else None, search=dict(search),
                                   inner_cv=int(inner_cv), random_state=random_state, n_jobs=n_jobs,
                                   model_params=params or None)
            est.check_options()
        elif scale is not None:
            est = Pipeline([*scale_steps(scale), ("model", est)])
        built.append((name, est))
    return EnsembleClassifier(built, combine=combine, weights=None if weights is None else list(weights),
                              inner_cv=int(inner_cv), C=C, random_state=random_state, n_jobs=1)
