"""Shrink a fitted :class:`~methylclass.models.MethylClassifier` to the input columns it actually uses.

Why: a pipeline fitted on a 450k table keeps, in several places, one entry per *training* column — the
``feature_names_in_`` of the classifier, its calibrator and the variance selector, the selector's variances
and support mask — although prediction reads only the few thousand selected CpGs (plus the CNV block).
skops writes string arrays element by element into its JSON schema, so a 4-class logistic regression on 2,068
used CpGs became a 43 MB bundle (98 MB for 100,000 training columns). :func:`slim_inputs` returns a copy that
takes only the used columns, with every per-column attribute cut to them; :func:`compact_names` stores the
remaining name arrays as fixed-width unicode (binary ``.npy`` inside the skops file instead of JSON).

The surgery touches private attributes of scikit-learn objects, so it is *verified*: the slim copy must give
bit-identical probabilities and selected features on the training rows, otherwise the original is kept.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["compact_names", "slim_inputs"]


def _walk(obj: Any, seen: set[int] | None = None):
    """Every estimator-like object reachable from ``obj`` through attributes, lists, tuples and dicts."""
    seen = set() if seen is None else seen
    if id(obj) in seen or isinstance(obj, (str, bytes, int, float, bool, np.ndarray, pd.DataFrame, type)):
        return
    seen.add(id(obj))
    if isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _walk(v, seen)
        return
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _walk(v, seen)
        return
    if not hasattr(obj, "__dict__") or type(obj).__module__.split(".")[0] not in (
            "methylclass", "sklearn", "imblearn", "xgboost", "boruta"):
        return
    yield obj
    for v in vars(obj).values():
        yield from _walk(v, seen)


def compact_names(est: Any) -> Any:
    """Turn every object-dtype ``feature_names_in_`` array reachable from ``est`` into a unicode array (in
    place; scikit-learn compares names element-wise, so validation is unchanged)."""
    for obj in _walk(est):
        names = obj.__dict__.get("feature_names_in_")
        if isinstance(names, np.ndarray) and names.dtype == object:
            obj.__dict__["feature_names_in_"] = names.astype(str)
    return est


def _kept_positions(est) -> tuple[np.ndarray, list[tuple[Any, np.ndarray]]] | None:
    """Input positions the model uses and the selectors to cut: [(VarianceSelector, its kept mask)]."""
    from sklearn.compose import ColumnTransformer

    from .selectors import VarianceSelector

    base = est.base_pipeline_
    first = base.steps[0][1]
    n = int(est.n_features_in_)
    if isinstance(first, VarianceSelector):
        return np.flatnonzero(first.support_), [(first, first.support_.copy())]
    if isinstance(first, ColumnTransformer):
        idx = first._transformer_to_input_indices
        cpg_pos = np.asarray(idx.get("cpg", []), dtype=int)
        blk_pos = np.asarray(idx.get("blocks", []), dtype=int)
        cpg = first.named_transformers_.get("cpg")
        cuts = []
        if hasattr(cpg, "steps") and isinstance(cpg.steps[0][1], VarianceSelector):
            sel = cpg.steps[0][1]
            cuts.append((sel, sel.support_.copy()))
            cpg_pos = cpg_pos[sel.support_]
        elif cpg != "passthrough" and cpg is not None:
            return None
        return np.sort(np.concatenate([cpg_pos, blk_pos])), cuts
    return np.arange(n), []


def _cut_selector(sel, mask: np.ndarray) -> None:
    k = int(mask.sum())
    sel.variances_ = np.asarray(sel.variances_)[mask]
    sel.support_ = np.ones(k, dtype=bool)
    sel.n_features_in_ = k
    if hasattr(sel, "feature_names_in_"):
        sel.feature_names_in_ = np.asarray(sel.feature_names_in_)[mask]


def _cut_column_transformer(ct, kept: np.ndarray) -> None:
    remap = {int(old): new for new, old in enumerate(kept)}

    def cut(cols):
        arr = np.asarray(cols)
        if arr.dtype == bool:
            arr = np.flatnonzero(arr)
        return np.asarray([remap[int(i)] for i in arr if int(i) in remap], dtype=int)

    ct._transformer_to_input_indices = {name: [remap[int(i)] for i in ind if int(i) in remap]
                                        for name, ind in ct._transformer_to_input_indices.items()}
    ct.transformers_ = [(name, trans, cut(cols)) for name, trans, cols in ct.transformers_]
    ct._columns = [cut(cols) for cols in ct._columns]
    ct._remainder = (ct._remainder[0], ct._remainder[1], list(cut(ct._remainder[2])))
    ct.feature_names_in_ = np.asarray(ct.feature_names_in_)[kept]
    ct.n_features_in_ = len(kept)


def slim_inputs(est, X: pd.DataFrame) -> tuple[Any, list[str]]:
    """``(estimator, input columns)``: a copy of ``est`` that reads only the columns it uses, verified on the
    training rows ``X``; ``(est, all columns)`` when the pipeline has no selection or the check fails."""
    from sklearn.compose import ColumnTransformer

    names = np.asarray(getattr(est, "feature_names_in_", list(X.columns)), dtype=object)
    full = (est, [str(c) for c in names])
    plan = _kept_positions(est)
    if plan is None or len(plan[0]) == len(names):
        return full
    kept, cuts = plan
    slim = copy.deepcopy(est)
    # the copies of the selectors live at the same place in the copied tree: find them by position
    orig_objs = list(_walk(est))
    slim_objs = list(_walk(slim))
    pos = {id(o): i for i, o in enumerate(orig_objs)}
    n_full = len(names)
    kept_names = names[kept]
    for sel, mask in cuts:
        _cut_selector(slim_objs[pos[id(sel)]], mask)
    for obj in slim_objs:
        d = obj.__dict__
        if isinstance(obj, ColumnTransformer) and d.get("n_features_in_") == n_full:
            _cut_column_transformer(obj, kept)
        elif "feature_names_in_" in d and len(d["feature_names_in_"]) == n_full:
            d["feature_names_in_"] = kept_names.copy()
            d["n_features_in_"] = len(kept)
        elif d.get("n_features_in_") == n_full and "variances_" not in d:
            d["n_features_in_"] = len(kept)
    cols = [str(c) for c in kept_names]
    rows = X.iloc[:16]  # bit-equality on a few training rows: each wide-table pass costs seconds on 450k columns
    try:
        same = (np.array_equal(est.predict_proba(rows), slim.predict_proba(rows[cols]))
                and np.array_equal(est.transform_selected(rows), slim.transform_selected(rows[cols])))
    except Exception:  # noqa: BLE001 - any surprise in the surgery: keep the original, it is correct
        same = False
    return (slim, cols) if same else full
