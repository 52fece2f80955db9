"""Nested cross-validation of a classifier factory: honest out-of-fold probabilities for every sample.

The *outer* loop is here (``StratifiedKFold``, or ``StratifiedGroupKFold`` when ``groups`` such as patient or
batch ids are given, repeated ``repeats`` times with seeds ``seed, seed+1, …``). The *inner* loop belongs to
the estimator: ``methylclass.models.make_pipeline(..., inner_cv=k)`` fits its calibrator on inner-fold
out-of-fold scores (Capper 2018 / mnp_training 3×3 scheme), so every fitted step — probe selection,
rebalancing, calibration — sees only the outer training fold. A fresh clone of the estimator is fitted per
outer fold; folds run in parallel with joblib (or through any ``map_fn``, e.g. the Spark backend that
``methylclass.workflows`` injects) and a progress bar is shown on a terminal.

Classes with too few members for the folds are handled by an explicit policy (``rare=``): ``"refuse"``
(default, :class:`~methylclass.errors.ConfigError` naming each class and its count), ``"merge"`` (pooled into
one ``rare_label`` class) or ``"drop"`` (their samples leave the analysis); :class:`RareClassReport` records
what was done.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from ..errors import ConfigError, DataError
from ..progress import Progress
from .metrics import Evaluation, evaluate

RarePolicy = Literal["refuse", "merge", "drop"]
RARE_POLICIES = ("refuse", "merge", "drop")
#: ``map_fn(fit, tasks)``: apply the picklable ``fit`` to every fold spec of ``tasks``, yield the results in
#: any order (what :func:`nested_cv` parallelises through: joblib processes by default, Spark tasks on demand)
MapFn = Callable[[Callable[[Any], dict], Sequence[Any]], Iterable[dict]]


def min_class_size(outer: int, inner: int | None) -> int:
    """Smallest class size the nested CV accepts: ``n ≥ outer`` (one member per outer test fold) and, when the
    estimator runs an inner CV, ``n − ⌈n/outer⌉ ≥ 2`` members in every outer training fold.

    Classes above this size but with fewer training members than ``inner`` keep their samples; the pipeline
    then lowers its inner folds (``methylclass.models.resolve_inner_folds`` warns) and
    :class:`RareClassReport` lists them under ``reduced_inner``.
    """
    n = max(int(outer), 2)
    if inner is not None:
        while n - math.ceil(n / outer) < 2:
            n += 1
    return n


def _training_members(n: int, outer: int) -> int:
    return n - math.ceil(n / outer)


@dataclass
class RareClassReport:
    """What the rare-class policy did: ``rare`` maps each class below ``min_count`` to its size."""

    policy: str
    min_count: int
    rare: dict[str, int]
    merged_into: str | None = None
    dropped_samples: int = 0
    reduced_inner: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for logs and reports."""
        listing = ", ".join(f"{k} (n={v})" for k, v in self.rare.items())
        if not self.rare:
            text = f"every class has at least {self.min_count} samples; nothing merged or dropped"
        elif self.policy == "merge":
            text = f"merged {listing} into '{self.merged_into}' (classes need ≥ {self.min_count} samples)"
        else:
            text = f"dropped {self.dropped_samples} samples of {listing} (classes need ≥ {self.min_count} samples)"
        if self.reduced_inner:
            small = ", ".join(f"{k} (n={v})" for k, v in self.reduced_inner.items())
            text += f"; fewer inner folds for {small}"
        return text


def apply_rare_policy(y: pd.Series, *, min_count: int, policy: RarePolicy = "refuse",
                      rare_label: str = "rare_merged") -> tuple[pd.Series, RareClassReport]:
    """Apply the rare-class ``policy`` to labels ``y``; returns the new labels (``drop`` → fewer rows)."""
    if policy not in RARE_POLICIES:
        raise ConfigError(f"rare-class policy must be one of {', '.join(RARE_POLICIES)}, not {policy!r}")
    counts = y.value_counts()
    rare = {str(k): int(v) for k, v in counts[counts < min_count].sort_values().items()}
    report = RareClassReport(policy=policy, min_count=min_count, rare=rare)
    if not rare:
        return y, report
    listing = ", ".join(f"'{k}' has {v}" for k, v in rare.items())
    if policy == "refuse":
        raise ConfigError(
            f"{len(rare)} class(es) have fewer samples than the cross-validation needs ({min_count}): "
            f"{listing}. Choose rare='merge' (pool them into one class), rare='drop' (leave them out) or fewer "
            f"folds (--rare on the command line, cv.rare in a config)")
    mask = y.isin(list(rare))
    if policy == "drop":
        out = y[~mask]
        report.dropped_samples = int(mask.sum())
    else:
        if rare_label in counts.index and rare_label not in rare:
            raise ConfigError(f"cannot merge rare classes into '{rare_label}': a regular class has that name")
        out = y.where(~mask, rare_label)
        report.merged_into = rare_label
        n_merged = int(mask.sum())
        if n_merged < min_count:
            raise ConfigError(f"merging the rare classes ({listing}) gives only {n_merged} samples, fewer "
                              f"than the {min_count} the folds need; use rare='drop' or fewer folds")
    if out.nunique() < 2:
        raise ConfigError(f"after the rare-class policy '{policy}' fewer than two classes remain")
    return out, report


@dataclass
class CVResult:
    """Outcome of :func:`nested_cv`.

    ``proba``: out-of-fold probabilities, samples × classes (mean over repeats); ``proba_repeats``: one such
    table per repeat; ``y``: the labels evaluated (after the rare-class policy); ``folds``: outer fold id of
    every sample per repeat (columns ``repeat_0``…); ``timings``: one row per fitted fold (``repeat, fold,
    n_train, n_test, fit_seconds, predict_seconds``); ``sets``: conformal prediction sets (boolean samples ×
    classes) and ``ood``: out-of-distribution scores, when the estimator provides them (last repeat);
    ``fold_features``: the features each fold's fitted model used (``repeat, fold, rank, feature``; e.g. the
    CpGs Boruta chose in every training fold), when the estimator exposes ``selected_features_``;
    ``fold_outputs``: one ``{"repeat", "fold", "test", "output"}`` per fold with what ``fold_hook`` returned.
    """

    proba: pd.DataFrame
    proba_repeats: list[pd.DataFrame]
    y: pd.Series
    folds: pd.DataFrame
    timings: pd.DataFrame
    classes: list[str]
    rare: RareClassReport
    sets: pd.DataFrame | None = None
    ood: pd.Series | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    fold_features: pd.DataFrame | None = None
    fold_outputs: list[dict[str, Any]] = field(default_factory=list)
    params: pd.DataFrame | None = None

    def evaluate(self, *, threshold: float = 0.9, n_bins: int = 15) -> Evaluation:
        """All metrics (see :func:`methylclass.tl.metrics.evaluate`) of the out-of-fold probabilities.

        With several repeats the scalars are those of the repeat-averaged probabilities, and ``<name>_sd``
        gives the spread of each scalar across repeats.
        """
        ev = evaluate(self.y, self.proba, threshold=threshold, n_bins=n_bins, sets=self.sets,
                      timings=self.timings)
        if len(self.proba_repeats) > 1:
            per = [evaluate(self.y, p, threshold=threshold, n_bins=n_bins).scalars for p in self.proba_repeats]
            for key in per[0]:
                ev.scalars[f"{key}_sd"] = float(np.std([d[key] for d in per], ddof=1))
        ev.meta["rare_classes"] = self.rare.describe()
        return ev

    def conformal_sets(self, *, coverage: float = 0.9, mode: str = "split") -> pd.DataFrame:
        """Cross-fold conformal prediction sets from the out-of-fold probabilities (first repeat).

        The sets of the samples of outer fold ``f`` come from a
        :class:`~methylclass.models.ConformalClassifier` calibrated on the out-of-fold probabilities of the
        *other* folds — every calibration score is out-of-sample, as in the bundle that ``methylclass
        train`` ships. Returns a boolean samples × classes table (assign it to ``sets`` to have coverage and
        mean set size in :meth:`evaluate`).
        """
        from ..models.decision import ConformalClassifier

        proba, folds = self.proba_repeats[0], self.folds["repeat_0"].to_numpy()
        out = np.zeros(proba.shape, dtype=bool)
        for f in np.unique(folds):
            test = folds == f
            cc = ConformalClassifier(mode=mode).fit(proba.to_numpy()[~test], self.y.to_numpy()[~test],
                                                    self.classes)
            out[test] = cc.predict_sets(proba.to_numpy()[test], 1.0 - coverage)
        return pd.DataFrame(out, index=proba.index, columns=self.classes)

    def oof_table(self) -> pd.DataFrame:
        """One row per sample: ``sample, y_true, fold_<r>…, proba_<class>…`` (the file runs write)."""
        out = pd.DataFrame({"sample": self.proba.index, "y_true": self.y.to_numpy()})
        for c in self.folds.columns:
            out[f"fold_{c.removeprefix('repeat_')}"] = self.folds[c].to_numpy()
        for c in self.classes:
            out[f"proba_{c}"] = self.proba[c].to_numpy()
        return out


def _build(make_estimator: Callable[..., Any] | Any, inner: int | None) -> Any:
    """One unfitted estimator from a factory (or a template estimator), with ``inner_cv`` set if it has one."""
    if hasattr(make_estimator, "fit") and not isinstance(make_estimator, type):
        est = clone(make_estimator)
    else:
        try:
            params = inspect.signature(make_estimator).parameters
        except (TypeError, ValueError):
            params = {}
        if inner is not None and "inner_cv" in params:
            est = make_estimator(inner_cv=inner)
        else:
            est = make_estimator()
    if not hasattr(est, "fit") or not hasattr(est, "predict_proba"):
        raise ConfigError(f"make_estimator returned {type(est).__name__}, which lacks fit/predict_proba")
    if inner is not None and hasattr(est, "get_params") and "inner_cv" in est.get_params(deep=False):
        est.set_params(inner_cv=inner)
    return est


class FoldFit:
    """The fit of one outer fold as a picklable callable of the fold spec ``(repeat, fold, train, test)``.

    It carries the data once (the Spark backend broadcasts it once, then ships only the small fold specs).
    """

    def __init__(self, est, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray | None, classes: list[str],
                 hook: Callable[[Any, pd.DataFrame], Any] | None = None):
        self.est, self.X, self.y, self.groups, self.classes, self.hook = est, X, y, groups, classes, hook

    def __call__(self, task: tuple[int, int, np.ndarray, np.ndarray]) -> dict:
        repeat, fold, train, test = task
        return _fit_one(self.est, self.X, self.y, train, test, self.groups, self.classes, repeat, fold,
                        self.hook)


def joblib_map(n_jobs: int) -> MapFn:
    """The default ``map_fn``: ``n_jobs`` joblib (loky) processes, results as they finish."""
    def run(fit: Callable[[Any], dict], tasks: Sequence[Any]) -> Iterable[dict]:
        parallel = Parallel(n_jobs=max(1, min(n_jobs, len(tasks))), return_as="generator_unordered")
        return parallel(delayed(fit)(t) for t in tasks)
    return run


def _fit_one(est, X: pd.DataFrame, y: np.ndarray, train: np.ndarray, test: np.ndarray,
             groups: np.ndarray | None, classes: list[str], repeat: int, fold: int,
             hook: Callable[[Any, pd.DataFrame], Any] | None = None) -> dict:
    started = time.time()
    est = clone(est)
    fit_kw = {}
    if groups is not None and "groups" in inspect.signature(est.fit).parameters:
        fit_kw["groups"] = groups[train]
    t0 = time.perf_counter()
    est.fit(X.iloc[train], y[train], **fit_kw)
    t1 = time.perf_counter()
    raw = np.asarray(est.predict_proba(X.iloc[test]), dtype=float)
    t2 = time.perf_counter()
    proba = np.zeros((len(test), len(classes)))
    col = {c: i for i, c in enumerate(classes)}
    proba[:, [col[str(c)] for c in est.classes_]] = raw
    out = {"repeat": repeat, "fold": fold, "test": test, "proba": proba, "n_train": len(train),
           "n_test": len(test), "fit_seconds": t1 - t0, "predict_seconds": t2 - t1, "started": started}
    if hasattr(est, "predict_sets"):
        sets = np.asarray(est.predict_sets(X.iloc[test]), dtype=bool)
        full = np.zeros((len(test), len(classes)), dtype=bool)
        full[:, [col[str(c)] for c in est.classes_]] = sets
        out["sets"] = full
    if hasattr(est, "ood_score"):
        out["ood"] = np.asarray(est.ood_score(X.iloc[test]), dtype=float)
    try:
        out["features"] = [str(f) for f in est.selected_features_]
    except (AttributeError, ValueError, TypeError):
        pass
    if hook is not None:
        out["hook"] = hook(est, X.iloc[test])
    if getattr(est, "best_params_", None) is not None:
        out["params"] = dict(est.best_params_)
    out["ended"] = time.time()
    return out


def _progress(total: int, enabled: bool | None, desc: str) -> Progress:
    return Progress(total, desc, unit="folds", enabled=enabled)


def nested_cv(X: pd.DataFrame, y: pd.Series | Sequence[str], make_estimator: Callable[[], Any] | Any, *,
              outer: int = 5, inner: int | None = 3, repeats: int = 1, seed: int = 0, n_jobs: int = 2,
              groups: pd.Series | Sequence | None = None, rare: RarePolicy = "refuse",
              rare_label: str = "rare_merged", progress: bool | None = None, desc: str = "nested CV",
              fold_hook: Callable[[Any, pd.DataFrame], Any] | None = None,
              map_fn: MapFn | None = None) -> CVResult:
    """Outer ``outer``-fold (× ``repeats``) cross-validation of the estimator built by ``make_estimator``.

    Parameters
    ----------
    X, y
        Samples × features (DataFrame; its index names the samples) and their class labels (a Series is
        aligned on ``X.index``).
    make_estimator
        Callable returning an unfitted classifier with ``fit``/``predict_proba``/``classes_`` (e.g.
        ``lambda: make_pipeline("rf")``), or such an estimator itself. If it takes ``inner_cv`` or the
        estimator has an ``inner_cv`` parameter, ``inner`` is passed to it (the pipeline's inner CV).
    outer, inner, repeats, seed
        Outer folds, inner folds (``None``: the estimator has no inner CV), repetitions with shuffled
        splits (seed ``seed + r`` for repeat ``r``).
    n_jobs
        Folds fitted in parallel (joblib processes); keep the estimator itself single-threaded.
    map_fn
        How the fold fits run (see :data:`MapFn`); default :func:`joblib_map` (``n_jobs``). Every fold's
        seeds are fixed by the fold spec, so any backend gives the same results.
    groups
        Patient / batch ids: ``StratifiedGroupKFold`` keeps each group within one fold. Passed to
        ``est.fit(groups=…)`` when the estimator accepts it.
    rare, rare_label
        Policy for classes smaller than :func:`min_class_size` (outer, inner): refuse / merge / drop.
    fold_hook
        Optional picklable ``hook(fitted_estimator, X_test)`` called in the worker after each outer fold; its
        results land in ``CVResult.fold_outputs`` (e.g. :func:`methylclass.tl.explain.explain`: every fold's
        model explains its own held-out samples, without refitting).
    progress, desc
        Progress display (:class:`~methylclass.progress.Progress`: a bar on a terminal, plain lines in logs;
        False: none) and its label.

    Returns
    -------
    CVResult
        Out-of-fold probabilities, fold assignments, timings and the rare-class report.
    """
    plan = _plan(X, y, make_estimator, outer=outer, inner=inner, repeats=repeats, seed=seed, groups=groups,
                 rare=rare, rare_label=rare_label, fold_hook=fold_hook, n_jobs=n_jobs)
    run = map_fn or joblib_map(n_jobs)
    results = []
    with _progress(len(plan.tasks), progress, desc) as bar:
        for res in run(plan.fit, plan.tasks):
            results.append(res)
            bar.advance()
    return _assemble(plan, results)


def nested_cv_many(jobs: Mapping[str, tuple[pd.DataFrame, Callable[[], Any] | Any]], y: pd.Series | Sequence[str],
                   *, outer: int = 5, inner: int | None = 3, repeats: int = 1, seed: int = 0, n_jobs: int = 2,
                   groups: pd.Series | Sequence | None = None, rare: RarePolicy = "refuse",
                   rare_label: str = "rare_merged", progress: bool | None = None, desc: str = "nested CV",
                   fold_hooks: Mapping[str, Callable[[Any, pd.DataFrame], Any] | None] | None = None,
                   map_fn: MapFn | None = None) -> dict[str, CVResult]:
    """:func:`nested_cv` of several models whose outer-fold fits share one pool of workers.

    Every (model × repeat × fold) fit is one task of a single ``map_fn`` call, so the workers stay busy
    across models instead of idling at the end of each model's last wave of folds (five folds on two
    workers run in three waves). Each model's splits, seeds and results are exactly those of
    :func:`nested_cv` with the same arguments.

    Parameters
    ----------
    jobs : mapping
        Model name → ``(X, make_estimator)``: its samples × features table (the same samples for every
        model) and its estimator factory, as for :func:`nested_cv`. Tasks are queued in this order, so list
        the slowest models first.
    y, outer, inner, repeats, seed, n_jobs, groups, rare, rare_label, progress, desc, map_fn
        As for :func:`nested_cv`.
    fold_hooks : mapping, optional
        Model name → its ``fold_hook`` (see :func:`nested_cv`).

    Returns
    -------
    dict
        Model name → its :class:`CVResult`; ``settings["span_seconds"]`` is the time from the model's first
        fold start to its last fold end (the folds of other models ran in between).
    """
    hooks = dict(fold_hooks or {})
    plans = {name: _plan(X, y, make, outer=outer, inner=inner, repeats=repeats, seed=seed, groups=groups,
                         rare=rare, rare_label=rare_label, fold_hook=hooks.get(name), n_jobs=n_jobs)
             for name, (X, make) in jobs.items()}
    tasks = [(name, t) for name, plan in plans.items() for t in plan.tasks]
    fit = _ModelFoldFit({name: plan.fit for name, plan in plans.items()})
    run = map_fn or joblib_map(n_jobs)
    collected: dict[str, list[dict]] = {name: [] for name in plans}
    with _progress(len(tasks), progress, desc) as bar:
        for res in run(fit, tasks):
            collected[res.pop("model")].append(res)
            bar.advance()
    out = {}
    for name, plan in plans.items():
        res = collected[name]
        out[name] = _assemble(plan, res)
        out[name].settings["span_seconds"] = max(d["ended"] for d in res) - min(d["started"] for d in res)
    return out


class _ModelFoldFit:
    """One picklable callable for the folds of several models: ``(model, fold spec)`` → that model's fit."""

    def __init__(self, fits: Mapping[str, FoldFit]):
        self.fits = dict(fits)

    def __call__(self, task: tuple[str, tuple[int, int, np.ndarray, np.ndarray]]) -> dict:
        name, spec = task
        return {**self.fits[name](spec), "model": name}


@dataclass
class _Plan:
    """What :func:`nested_cv` fits (the tasks and their callable) and what assembling the results needs."""

    X: pd.DataFrame
    y: pd.Series
    grouped: bool
    classes: list[str]
    tasks: list[tuple[int, int, np.ndarray, np.ndarray]]
    fit: FoldFit
    report: RareClassReport
    settings: dict[str, Any]


def _plan(X, y, make_estimator, *, outer: int, inner: int | None, repeats: int, seed: int, groups,
          rare: RarePolicy, rare_label: str, fold_hook, n_jobs: int) -> _Plan:
    """Check the inputs, apply the rare-class policy and lay out the outer folds (module docstring)."""
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X))
    if outer < 2:
        raise ConfigError(f"outer folds must be ≥ 2, not {outer}")
    if repeats < 1:
        raise ConfigError(f"repeats must be ≥ 1, not {repeats}")
    y_s = y.reindex(X.index) if isinstance(y, pd.Series) else pd.Series(np.asarray(y), index=X.index)
    if len(y_s) != len(X) or y_s.isna().any():
        raise DataError(f"labels do not cover every sample of X ({int(y_s.isna().sum())} missing)")
    y_s = y_s.astype(str)
    g_s = None
    if groups is not None:
        g_s = groups.reindex(X.index) if isinstance(groups, pd.Series) else pd.Series(np.asarray(groups),
                                                                                       index=X.index)
        if g_s.isna().any():
            raise DataError(f"{int(g_s.isna().sum())} samples have no group id")
    y_s, report = apply_rare_policy(y_s, min_count=min_class_size(outer, inner), policy=rare,
                                    rare_label=rare_label)
    if inner is not None:
        counts = y_s.value_counts()
        report.reduced_inner = {str(k): int(v) for k, v in counts.sort_values().items()
                                if _training_members(int(v), outer) < inner}
    if len(y_s) < len(X):
        X = X.loc[y_s.index]
        g_s = None if g_s is None else g_s.loc[y_s.index]
    if g_s is not None and g_s.nunique() < outer:
        raise ConfigError(f"only {g_s.nunique()} distinct groups for {outer} outer folds")
    classes = sorted(y_s.unique())
    template = _build(make_estimator, inner)
    yv = y_s.to_numpy()
    gv = None if g_s is None else g_s.to_numpy()

    tasks = []
    for r in range(repeats):
        if gv is None:
            splits = StratifiedKFold(n_splits=outer, shuffle=True, random_state=seed + r).split(X, yv)
        else:
            splits = StratifiedGroupKFold(n_splits=outer, shuffle=True, random_state=seed + r).split(X, yv, gv)
        for f, (train, test) in enumerate(splits):
            tasks.append((r, f, train, test))

    template_name = type(template).__name__
    return _Plan(X=X, y=y_s, grouped=g_s is not None, classes=classes, tasks=tasks,
                 fit=FoldFit(template, X, yv, gv, classes, fold_hook), report=report,
                 settings={"outer": outer, "inner": inner, "repeats": repeats, "seed": seed, "n_jobs": n_jobs,
                           "grouped": g_s is not None, "rare": rare, "estimator": template_name})


def _assemble(plan: _Plan, results: list[dict]) -> CVResult:
    """The :class:`CVResult` of one model from its fold results (any order)."""
    X, y_s, classes, repeats = plan.X, plan.y, plan.classes, plan.settings["repeats"]
    results.sort(key=lambda d: (d["repeat"], d["fold"]))

    n, k = len(X), len(classes)
    proba_rep = [np.full((n, k), np.nan) for _ in range(repeats)]
    fold_ids = np.full((n, repeats), -1, dtype=int)
    sets = np.zeros((n, k), dtype=bool) if any("sets" in d for d in results) else None
    ood = np.full(n, np.nan) if any("ood" in d for d in results) else None
    for d in results:
        proba_rep[d["repeat"]][d["test"]] = d["proba"]
        fold_ids[d["test"], d["repeat"]] = d["fold"]
        if sets is not None and "sets" in d:
            sets[d["test"]] = d["sets"]
        if ood is not None and "ood" in d:
            ood[d["test"]] = d["ood"]
    idx = X.index
    frames = [pd.DataFrame(p, index=idx, columns=classes) for p in proba_rep]
    mean = frames[0] if repeats == 1 else sum(frames) / repeats
    timings = pd.DataFrame([{k_: d[k_] for k_ in ("repeat", "fold", "n_train", "n_test", "fit_seconds",
                                                   "predict_seconds")} for d in results])
    fold_features = [pd.DataFrame({"repeat": d["repeat"], "fold": d["fold"], "rank": np.arange(len(d["features"])),
                                   "feature": d["features"]}) for d in results if "features" in d]
    outputs = [{"repeat": d["repeat"], "fold": d["fold"], "test": idx[d["test"]].tolist(), "output": d["hook"]}
               for d in results if "hook" in d]
    chosen = [{"repeat": d["repeat"], "fold": d["fold"], **d["params"]} for d in results if "params" in d]
    return CVResult(
        params=pd.DataFrame(chosen) if chosen else None,
        fold_features=pd.concat(fold_features, ignore_index=True) if fold_features else None,
        fold_outputs=outputs,
        proba=mean, proba_repeats=frames, y=y_s, timings=timings, classes=classes, rare=plan.report,
        folds=pd.DataFrame(fold_ids, index=idx, columns=[f"repeat_{r}" for r in range(repeats)]),
        sets=None if sets is None else pd.DataFrame(sets, index=idx, columns=classes),
        ood=None if ood is None else pd.Series(ood, index=idx, name="ood_score"),
        settings=dict(plan.settings),
    )
