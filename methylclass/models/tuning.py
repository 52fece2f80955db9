"""Hyperparameter search inside the training data: scikit-learn's searchers over a model's declared space.

A model's config may declare (``conf/model/<name>.yaml``)::

    search:
      method: grid          # grid | random | halving  (GridSearchCV / RandomizedSearch / successive halving)
      n_iter: 6             # candidates drawn for random / halving
      scoring: neg_log_loss # any scikit-learn scorer name
      space:
        C: [0.01, 0.1, 1.0, 10.0]              # model parameter (goes to the registry factory)
        pipeline.n_features: [2000, 10000]     # a make_pipeline option (select, n_features, balance, …)

:class:`~methylclass.models.pipeline.MethylClassifier` runs the search on exactly the data given to ``fit``
(inside each outer training fold of a nested CV) with stratified ``inner_cv`` folds, candidates *uncalibrated*;
the chosen candidate is then wrapped in the calibrator, whose own inner folds give out-of-fold scores of the
chosen model — so tuning and calibration never see the outer test fold (the leakage test covers it).

``method: oob`` is for bagged forests: every candidate (all of ``space``, or ``n_iter`` drawn from it) is fitted
once on the whole training data and scored on its out-of-bag predictions (:mod:`~methylclass.models.oob`); the
chosen forest is kept as the final model and its out-of-bag scores fit the ridge calibrator — one fit per
candidate instead of ``inner_cv`` fits per candidate plus a refit.

Every candidate is a full :class:`MethylClassifier` parameter set (model parameters live in its ``model_params``
dict): the candidates are drawn with scikit-learn's ``ParameterGrid`` / ``ParameterSampler`` and scored by
``GridSearchCV`` or ``HalvingGridSearchCV`` over that explicit list, which is what ``RandomizedSearchCV`` /
``HalvingRandomSearchCV`` do internally — but it lets nested model parameters be searched without exposing each
registry estimator's internal parameter paths (``model__estimator__C`` for a wrapped SVM, …).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = ["SEARCH_METHODS", "candidate_grid", "check_search", "run_oob_search", "run_search",
           "run_search_with_scores"]

#: accepted ``search.method`` values
SEARCH_METHODS: tuple[str, ...] = ("grid", "random", "halving", "oob")
_PIPELINE_PREFIX = "pipeline."
_SEARCH_KEYS = {"method", "n_iter", "scoring", "space", "factor"}


def check_search(search: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Validate a ``search`` block; returns it normalised (None when there is nothing to search)."""
    if search is None or search is False:
        return None
    if not isinstance(search, Mapping):
        raise ConfigError(f"search must be a mapping with method/space; got {search!r}")
    unknown = set(search) - _SEARCH_KEYS
    if unknown:
        raise ConfigError(f"search: unknown keys {sorted(unknown)}; allowed: {sorted(_SEARCH_KEYS)}")
    space = search.get("space") or {}
    if not isinstance(space, Mapping) or not space:
        return None
    for k, v in space.items():
        if not isinstance(v, (list, tuple)) or not v:
            raise ConfigError(f"search.space.{k}: give a non-empty list of values; got {v!r}")
    method = search.get("method", "grid")
    if method not in SEARCH_METHODS:
        raise ConfigError(f"search.method {method!r}: choose one of {', '.join(SEARCH_METHODS)}")
    n_iter = int(search.get("n_iter", 8))
    if n_iter < 1:
        raise ConfigError(f"search.n_iter must be ≥ 1; got {n_iter}")
    return {"method": method, "n_iter": n_iter, "scoring": search.get("scoring", "neg_log_loss"),
            "factor": int(search.get("factor", 3)), "space": {str(k): list(v) for k, v in space.items()}}


def candidate_grid(search: Mapping[str, Any], *, random_state: int | None = 0) -> list[dict[str, Any]]:
    """The candidates (user-level dicts such as ``{"C": 0.1, "pipeline.n_features": 2000}``) to score."""
    from sklearn.model_selection import ParameterGrid, ParameterSampler

    spec = check_search(search)
    if spec is None:
        return []
    space = {k: [_plain(v) for v in vals] for k, vals in spec["space"].items()}
    grid = list(ParameterGrid(space))
    if spec["method"] == "grid" or spec["n_iter"] >= len(grid):
        return [dict(c) for c in grid]
    return [dict(c) for c in ParameterSampler(space, n_iter=spec["n_iter"], random_state=random_state)]


def _plain(v):
    if isinstance(v, list):
        return tuple(v)  # e.g. hidden_layer_sizes
    return v


def _as_params(candidate: Mapping[str, Any], base_model_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """A candidate as MethylClassifier parameters: model parameters merged into ``model_params``."""
    model_params = dict(base_model_params or {})
    out: dict[str, Any] = {}
    for k, v in candidate.items():
        if k.startswith(_PIPELINE_PREFIX):
            out[k[len(_PIPELINE_PREFIX):]] = v
        else:
            model_params[k] = v
    out["model_params"] = model_params or None
    return out


def run_search(estimator, X, y, search: Mapping[str, Any], *, n_splits: int, random_state: int | None = 0,
               n_jobs: int = 1) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """Score the candidates of ``search`` on ``X, y`` with stratified ``n_splits``-fold CV.

    ``estimator`` is an unfitted, uncalibrated :class:`MethylClassifier` without ``search``. Returns
    ``(best_candidate, best_estimator_params, table)``: the user-level best candidate, the MethylClassifier
    parameters that realise it, and one row per candidate (its values, mean/sd score, rank).
    """
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    spec = check_search(search)
    cands = candidate_grid(spec, random_state=random_state)
    if not cands:
        raise ConfigError("search: the space is empty")
    base_mp = estimator.get_params(deep=False).get("model_params")
    grid = [{k: [v] for k, v in _as_params(c, base_mp).items()} for c in cands]
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    # log loss names every class: a small (halving) subsample may lack one in a fold
    scoring = _scorer(spec["scoring"], np.unique(np.asarray(y)))
    if len(cands) == 1:
        return cands[0], _as_params(cands[0], base_mp), [{**cands[0], "mean_score": np.nan, "rank": 1}]
    if spec["method"] == "halving":
        from sklearn.experimental import enable_halving_search_cv  # noqa: F401
        from sklearn.model_selection import HalvingGridSearchCV

        n_classes = len(np.unique(y))
        searcher = HalvingGridSearchCV(estimator, grid, cv=cv, scoring=scoring, factor=spec["factor"],
                                       min_resources=min(len(y), max(6 * n_classes, n_splits * n_classes * 2)),
                                       refit=False, error_score="raise", n_jobs=n_jobs,
                                       random_state=random_state)
    else:
        searcher = GridSearchCV(estimator, grid, cv=cv, scoring=scoring, refit=False,
                                error_score="raise", n_jobs=n_jobs)
    searcher.fit(X, y)
    res = searcher.cv_results_
    # halving: candidates appear once per round; the last round's scores decide
    order = np.asarray(res["params"], dtype=object)
    table = []
    for i, p in enumerate(order):
        cand = cands[grid.index({k: [v] for k, v in p.items()})]
        row = {**cand, "mean_score": float(res["mean_test_score"][i]), "sd_score": float(res["std_test_score"][i]),
               "rank": int(res["rank_test_score"][i])}
        if "iter" in res:
            row["round"] = int(res["iter"][i])
        table.append(row)
    best = cands[grid.index({k: [v] for k, v in searcher.best_params_.items()})]
    return dict(best), _as_params(best, base_mp), table


def run_search_with_scores(estimator, X, y, search: Mapping[str, Any], *, n_splits: int,
                           random_state: int | None = 0, score_method) -> tuple[dict, dict, list[dict], np.ndarray]:
    """:func:`run_search` for the ``grid`` / ``random`` methods that also keeps the chosen candidate's
    out-of-fold calibration scores.

    The candidates are fitted on the same stratified folds (``random_state``) as the ridge calibrator's inner
    CV, so the chosen candidate's inner models are exactly the ones the calibrator would fit again: their
    held-out :func:`~methylclass.models.calibration.base_scores` go to the calibrator instead (one third fewer
    fits for a three-candidate grid). Scores, ranks and the choice follow ``GridSearchCV`` (mean fold score,
    population SD, the first of equal candidates wins); written by hand because ``GridSearchCV`` discards the
    fitted fold models.

    Parameters
    ----------
    estimator
        Unfitted, uncalibrated :class:`MethylClassifier` without ``search``.
    X, y
        Training samples × features and labels.
    search : mapping
        The ``search`` block (method ``grid`` or ``random``).
    n_splits, random_state
        Inner stratified folds.
    score_method : callable
        ``score_method(unfitted_candidate) -> "decision" | "log_proba"``: the calibrator's score method for a
        candidate.

    Returns
    -------
    tuple
        ``(best_candidate, best_estimator_params, table, oof_scores)``.
    """
    from scipy.stats import rankdata
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold
    from sklearn.utils import _safe_indexing

    from .calibration import base_scores

    spec = check_search(search)
    if spec is None or spec["method"] in ("halving", "oob"):
        raise ConfigError("run_search_with_scores takes a grid or random search")
    cands = candidate_grid(spec, random_state=random_state)
    y = np.asarray(y)
    classes = np.unique(y)
    base_mp = estimator.get_params(deep=False).get("model_params")
    scorer = _scorer(spec["scoring"], classes)
    folds = list(StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
                 .split(np.zeros(len(y)), y))
    fold_scores = np.empty((len(cands), len(folds)))
    oofs = []
    proba_score = _proba_score(spec["scoring"], classes) if spec["scoring"] in _PROBA_SCORINGS else None
    for i, cand in enumerate(cands):
        est = clone(estimator).set_params(**_as_params(cand, base_mp))
        method = score_method(est)
        oof = None
        for j, (tr, te) in enumerate(folds):
            fitted = clone(est).fit(_safe_indexing(X, tr), y[tr])
            X_te = _safe_indexing(X, te)
            if proba_score is None:
                fold_scores[i, j] = scorer(fitted, X_te, y[te])
                s = base_scores(fitted.estimator_, X_te, classes, method=method)
            else:  # the held-out fold goes through the feature steps once for both the score and the scores
                proba, s = _fold_outputs(fitted, X_te, classes, method)
                fold_scores[i, j] = proba_score(y[te], proba)
            if oof is None:
                oof = np.empty((len(y), s.shape[1]))
            oof[te] = s
        oofs.append(oof)
    means = fold_scores.mean(axis=1)
    ranks = rankdata(-np.nan_to_num(means, nan=-np.inf), method="min").astype(int)  # a failed score ranks last
    best_i = int(np.argmin(ranks))  # the first of equal candidates wins, as in GridSearchCV
    table = [{**c, "mean_score": float(means[i]), "sd_score": float(fold_scores[i].std()), "rank": int(ranks[i])}
             for i, c in enumerate(cands)]
    best = cands[best_i]
    return dict(best), _as_params(best, base_mp), table, oofs[best_i]


def run_oob_search(estimator, X, y, search: Mapping[str, Any], *, random_state: int | None = 0):
    """Choose a forest's hyperparameters on out-of-bag predictions (``search.method: oob``).

    Parameters
    ----------
    estimator
        Unfitted, uncalibrated :class:`MethylClassifier` without ``search`` whose model is a bagged forest.
    X, y
        Training samples × features and labels.
    search : mapping
        The ``search`` block: every candidate of ``space`` (``n_iter`` of them drawn when fewer than the grid).
    random_state
        Seed of the candidate draw.

    Returns
    -------
    tuple
        ``(best_candidate, best_estimator_params, table, fitted_best, oob_proba)``: the user-level best
        candidate, the MethylClassifier parameters that realise it, one row per candidate (its values, OOB score,
        rank), the chosen candidate fitted on all of ``X, y``, and its out-of-bag probabilities (samples ×
        ``classes``).
    """
    from scipy.stats import rankdata
    from sklearn.base import clone

    from .oob import forest_oob_proba

    spec = check_search(search)
    if spec is None or spec["method"] != "oob":
        raise ConfigError("run_oob_search takes a search with method oob")
    y = np.asarray(y)
    classes = np.unique(y)
    base_mp = estimator.get_params(deep=False).get("model_params")
    score = _proba_score(spec["scoring"], classes)
    cands, scores = [], []
    kept, kept_value = None, -np.inf  # (fitted, oob proba) of the best so far: only one forest stays in memory
    for cand in candidate_grid({**spec, "method": "random"}, random_state=random_state):
        est = clone(estimator).set_params(**_as_params(cand, base_mp)).fit(X, y)
        proba = _aligned(forest_oob_proba(est.final_estimator_, est.transform_selected(X)),
                         np.asarray(est.classes_), classes)
        value = score(y, proba)
        ranked = -np.inf if np.isnan(value) else value  # a failed score ranks last
        if kept is None or ranked > kept_value:  # the first of equal candidates wins, as in GridSearchCV
            kept, kept_value, best = (est, proba), ranked, cand
        cands.append(cand)
        scores.append(value)
    means = np.asarray(scores, dtype=float)
    ranks = rankdata(-np.nan_to_num(means, nan=-np.inf), method="min").astype(int)
    table = [{**c, "mean_score": float(means[i]), "rank": int(ranks[i])} for i, c in enumerate(cands)]
    return dict(best), _as_params(best, base_mp), table, kept[0], kept[1]


def _fold_outputs(fitted, X_te, classes: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Held-out probabilities (columns: ``classes``) and calibration scores of a fitted, uncalibrated
    MethylClassifier, equal to its ``predict_proba`` and :func:`base_scores` of its pipeline, with the feature
    steps (selection, imputation) run once instead of twice."""
    from .calibration import align_scores, log_proba_scores
    from .estimators import SoftmaxDecisionClassifier

    Xt = fitted.transform_selected(X_te)
    model = fitted.final_estimator_
    seen = np.asarray(model.classes_)
    if method == "log_proba":
        raw = np.asarray(model.predict_proba(Xt), dtype=float)
        return _aligned(raw, seen, classes), align_scores(log_proba_scores(raw), seen, classes)
    margins = model.decision_function(Xt)
    if isinstance(model, SoftmaxDecisionClassifier):  # its probabilities are the softmax of those margins
        raw = model.margins_to_proba(margins)
    else:
        raw = np.asarray(model.predict_proba(Xt), dtype=float)
    return _aligned(raw, seen, classes), align_scores(margins, seen, classes)


def _aligned(proba: np.ndarray, seen: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Probability columns of the classes ``seen`` placed under ``classes`` (unseen classes: 0)."""
    if len(seen) == len(classes) and np.array_equal(seen, classes):
        return proba
    full = np.zeros((proba.shape[0], len(classes)))
    full[:, np.searchsorted(classes, seen)] = proba
    return full


#: scorings computed from held-out probabilities (no second pass through the pipeline)
_PROBA_SCORINGS = ("neg_log_loss", "accuracy", "balanced_accuracy")


def _proba_score(scoring: str, classes: np.ndarray):
    """``score(y, proba)`` for the scorings an out-of-bag search supports (higher is better)."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, log_loss

    if scoring == "neg_log_loss":  # float32 models (XGBoost) sum to 1 only within 1e-7: renormalised
        return lambda y, p: -float(log_loss(y, p / p.sum(axis=1, keepdims=True), labels=classes))
    if scoring in ("accuracy", "balanced_accuracy"):
        metric = accuracy_score if scoring == "accuracy" else balanced_accuracy_score
        return lambda y, p: float(metric(y, classes[np.argmax(p, axis=1)]))
    raise ConfigError(f"search.scoring {scoring!r}: an oob search scores neg_log_loss, accuracy or "
                      "balanced_accuracy")


def _scorer(scoring: str, classes: np.ndarray):
    """The scikit-learn scorer of ``scoring``; log loss names every class (a fold may lack one)."""
    from sklearn.metrics import get_scorer

    if scoring == "neg_log_loss":
        return _AlignedLogLoss(classes)
    return get_scorer(scoring)


class _AlignedLogLoss:
    """Negative log loss over ``classes`` of a fitted classifier that may have seen only some of them.

    A halving search's small subsample (or a rare class) can leave a class out of an inner training fold; that
    candidate's ``predict_proba`` then has fewer columns than there are classes, and scikit-learn's
    ``log_loss(labels=...)`` refuses it. Here its columns are placed under their classes and an unseen class gets
    probability 0 (clipped by ``log_loss``), which is what the candidate predicts for it.
    """

    def __init__(self, classes: np.ndarray):
        self.classes = np.asarray(classes)

    def __call__(self, estimator, X, y) -> float:
        proba = _aligned(np.asarray(estimator.predict_proba(X), dtype=float), np.asarray(estimator.classes_),
                         self.classes)
        return _proba_score("neg_log_loss", self.classes)(y, proba)
