"""Global SHAP importance from out-of-fold explanations: every outer fold's model explains its own test samples.

:func:`oof_explain` runs :func:`methylclass.tl.cv.nested_cv` with :func:`~methylclass.tl.explain.explain` as the
fold hook (no refitting: the model fitted on the training part of a fold explains the held-out part), and
:func:`combine_explanations` joins the per-fold explanations into one :class:`~methylclass.tl.explain.Explanation`
on the union of the features the folds used. A feature a fold's model did not use contributes exactly 0 to that
model's output (Shapley's null-player property), so its SHAP values there are 0 and its data value is NaN.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .cv import CVResult, nested_cv
from .explain import Explanation, explain

__all__ = ["combine_explanations", "explain_hook", "explanation_of", "oof_explain", "shap_ranking"]


def explain_hook(est: Any, X_test: pd.DataFrame, *, max_evals: int | None = None, seed: int = 0) -> Explanation:
    """Fold hook of :func:`~methylclass.tl.cv.nested_cv`: the fold's fitted model explains its test samples."""
    return explain(est, X_test, max_evals=max_evals, seed=seed)


def combine_explanations(parts: Sequence[Explanation]) -> Explanation:
    """Stack explanations of disjoint sample sets (same classes; features may differ) into one.

    Features are the union in order of first appearance; values of a feature absent from a part are 0 and its
    data NaN. ``method``/``output`` must agree across parts.
    """
    if not parts:
        raise ValueError("combine_explanations: nothing to combine")
    classes = parts[0].classes
    if any(p.classes != classes for p in parts):
        raise ValueError("combine_explanations: the parts explain different classes")
    if len({(p.method, p.output) for p in parts}) != 1:
        raise ValueError("combine_explanations: the parts use different explainers or output spaces")
    features = list(dict.fromkeys(f for p in parts for f in p.features))
    pos = {f: i for i, f in enumerate(features)}
    n = sum(len(p.samples) for p in parts)
    values = np.zeros((n, len(features), len(classes)))
    data = np.full((n, len(features)), np.nan)
    base = np.zeros((n, len(classes)))
    row = 0
    for p in parts:
        cols = np.array([pos[f] for f in p.features], dtype=int)
        m = len(p.samples)
        values[row:row + m, cols, :] = p.values
        data[row:row + m, cols] = p.data
        base[row:row + m] = p.base_values
        row += m
    samples = [s for p in parts for s in p.samples]
    return Explanation(values=values, base_values=base, data=data, samples=samples, features=features,
                       classes=list(classes), method=parts[0].method, output=parts[0].output,
                       notes={"n_parts": len(parts)})


def oof_explain(X: pd.DataFrame, y, make_estimator, *, max_evals: int | None = None, **cv_kwargs
                ) -> tuple[CVResult, Explanation]:
    """Nested CV whose outer-fold models explain their own held-out samples.

    Returns the :class:`~methylclass.tl.cv.CVResult` and the combined out-of-fold :class:`Explanation` (first
    repeat; samples in the order of ``X``). ``cv_kwargs`` go to :func:`~methylclass.tl.cv.nested_cv`.
    """
    seed = int(cv_kwargs.get("seed", 0))
    hook = functools.partial(explain_hook, max_evals=max_evals, seed=seed)
    res = nested_cv(X, y, make_estimator, fold_hook=hook, **cv_kwargs)
    return res, explanation_of(res)


def explanation_of(res: CVResult, repeat: int = 0) -> Explanation:
    """The combined out-of-fold explanation held by a CV result run with :func:`explain_hook` (one repeat),
    rows re-ordered to the CV's sample order."""
    parts = [d["output"] for d in sorted(res.fold_outputs, key=lambda d: d["fold"]) if d["repeat"] == repeat]
    if not parts or not all(isinstance(p, Explanation) for p in parts):
        raise ValueError("the CV result holds no explanations: run nested_cv with fold_hook=explain_hook")
    exp = combine_explanations(parts)
    order = pd.Index(exp.samples).get_indexer([str(s) for s in res.proba.index])
    order = order[order >= 0]
    return Explanation(values=exp.values[order], base_values=exp.base_values[order], data=exp.data[order],
                       samples=[exp.samples[i] for i in order], features=exp.features, classes=exp.classes,
                       method=exp.method, output=exp.output, notes=exp.notes)


def shap_ranking(exp: Explanation) -> pd.Series:
    """Features ranked by mean |SHAP| summed over classes (decreasing), as a Series feature → importance."""
    imp = np.abs(exp.values).mean(axis=0).sum(axis=1)
    return pd.Series(imp, index=pd.Index(exp.features, name="feature"), name="importance").sort_values(
        ascending=False, kind="stable")
