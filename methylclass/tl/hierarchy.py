"""Metrics at both levels of a class taxonomy, and bootstrap confidence intervals of out-of-fold metrics.

* :func:`family_evaluation` — every metric of :func:`~methylclass.tl.metrics.evaluate` on the *family*
  probabilities (summed member probabilities) against the true families, plus what the hierarchical decision
  (:func:`methylclass.models.decide_hierarchical`) does: shares of class calls, family calls and no-match, the
  accuracy of each kind of call, and how many class-level no-matches the family fallback rescued.
* :func:`bootstrap_ci` — percentile intervals of the headline metrics over bootstrap resamples of the samples'
  out-of-fold probabilities (Efron & Tibshirani 1993). The models are not refitted: the interval reflects the
  finite test set, not the variability of training (repeated CV shows that).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..models.decision import NO_MATCH, decide_hierarchical, family_scores
from .metrics import Evaluation, evaluate

__all__ = ["BOOTSTRAP_METRICS", "bootstrap_ci", "family_evaluation", "hierarchical_scalars"]

#: metrics :func:`bootstrap_ci` computes per resample
BOOTSTRAP_METRICS: tuple[str, ...] = ("balanced_accuracy", "accuracy", "brier", "classifiable",
                                      "accuracy_classified")


def hierarchical_scalars(y_true, proba: pd.DataFrame, taxonomy, *, threshold: float = 0.9,
                         family_threshold: float | None = None) -> dict[str, float]:
    """Outcome shares of the class → family → no_match decision on labelled samples.

    ``called_class`` / ``called_family`` / ``no_match_hier`` (shares of samples), ``accuracy_called_class``
    (right class among class calls), ``accuracy_called_family`` (right family among family calls),
    ``family_rescued`` (share of the class-level no-matches that became a correct family call).
    """
    y = np.asarray(y_true, dtype=object).astype(str)
    out = decide_hierarchical(proba, list(map(str, proba.columns)), taxonomy, threshold=threshold,
                              family_threshold=family_threshold)
    fam_true = _families(y, taxonomy)
    lvl = out["prediction_level"].to_numpy()
    pred = out["prediction"].to_numpy().astype(str)
    cls, fam = lvl == "class", lvl == "family"
    n = max(len(y), 1)
    return {
        "called_class": float(cls.mean()) if len(y) else float("nan"),
        "called_family": float(fam.mean()) if len(y) else float("nan"),
        "no_match_hier": float((lvl == NO_MATCH).sum() / n),
        "accuracy_called_class": float((pred[cls] == y[cls]).mean()) if cls.any() else float("nan"),
        "accuracy_called_family": float((pred[fam] == fam_true[fam]).mean()) if fam.any() else float("nan"),
        "family_rescued": float((fam & (pred == fam_true)).sum() / max((~cls).sum(), 1)),
    }


def _families(labels: np.ndarray, taxonomy) -> np.ndarray:
    from ..models.taxonomy import Taxonomy

    tax = taxonomy if isinstance(taxonomy, Taxonomy) else Taxonomy(dict(taxonomy))
    return tax.family_of(labels).astype(str)


def family_evaluation(y_true, proba: pd.DataFrame, taxonomy, *, threshold: float = 0.9,
                      family_threshold: float | None = None, n_bins: int = 15) -> Evaluation:
    """:func:`evaluate` at family level (per-family precision / recall / F1 in ``per_class``) with the
    :func:`hierarchical_scalars` added to its scalars."""
    classes = [str(c) for c in proba.columns]
    F, families = family_scores(proba.to_numpy(dtype=float), classes, taxonomy)
    fam_true = _families(np.asarray(y_true, dtype=object).astype(str), taxonomy)
    ft = threshold if family_threshold is None else family_threshold
    ev = evaluate(fam_true, pd.DataFrame(F, index=proba.index, columns=families), threshold=ft, n_bins=n_bins)
    ev.scalars.update(hierarchical_scalars(y_true, proba, taxonomy, threshold=threshold,
                                           family_threshold=family_threshold))
    ev.meta["level"] = "family"
    return ev


def _fast_scalars(Y: np.ndarray, P: np.ndarray, thr: np.ndarray) -> dict[str, float]:
    """The :data:`BOOTSTRAP_METRICS` from a one-hot truth ``Y`` and probabilities ``P`` (vectorised)."""
    t = Y.argmax(axis=1)
    best = P.argmax(axis=1)
    right = best == t
    present = Y.sum(axis=0) > 0
    recall = np.array([right[t == k].mean() for k in np.flatnonzero(present)])
    called = P[np.arange(len(P)), best] >= thr[best]
    return {"balanced_accuracy": float(recall.mean()), "accuracy": float(right.mean()),
            "brier": float(((P - Y) ** 2).sum(axis=1).mean()), "classifiable": float(called.mean()),
            "accuracy_classified": float(right[called].mean()) if called.any() else float("nan")}


def bootstrap_ci(y_true, proba: pd.DataFrame, *, threshold: float | Mapping[str, float] = 0.9,
                 n_boot: int = 1000, level: float = 0.95, seed: int = 0,
                 metrics: Sequence[str] = BOOTSTRAP_METRICS) -> dict[str, tuple[float, float]]:
    """Percentile ``level`` intervals of ``metrics`` over ``n_boot`` stratified bootstrap resamples (each class
    resampled within itself, so every class stays present). Returns ``{metric: (low, high)}``."""
    y = np.asarray(y_true, dtype=object).astype(str)
    classes = [str(c) for c in proba.columns]
    P = proba.to_numpy(dtype=float)
    Y = (y[:, None] == np.asarray(classes, dtype=object)[None, :]).astype(float)
    if isinstance(threshold, Mapping):
        default = float(threshold.get("default", 0.9))
        thr = np.array([float(threshold.get(c, default)) for c in classes])
    else:
        thr = np.full(len(classes), float(threshold))
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == c) for c in classes if (y == c).any()]
    draws = {m: [] for m in metrics}
    for _ in range(int(n_boot)):
        idx = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        s = _fast_scalars(Y[idx], P[idx], thr)
        for m in metrics:
            draws[m].append(s[m])
    a = (1.0 - level) / 2.0
    return {m: (float(np.nanquantile(v, a)), float(np.nanquantile(v, 1.0 - a))) for m, v in draws.items()}
