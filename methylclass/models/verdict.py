"""From a samples × features table to one tidy verdict per sample: coverage, OOD, threshold, conformal set.

:func:`predict_frame` is the one place where a loaded :class:`~methylclass.models.bundle.Bundle` turns
features into calls. Rules (each a ``reason`` of a ``no_match``, checked in this order):

* ``low_coverage`` — more than ``max_missing`` (card / ``conf/base.yaml`` ``decision.max_missing_fraction``,
  5 %) of the model's CpGs are missing, *absent or NaN*. The sample is not imputed and not scored.
* ``qc_failed`` — the sample's QC (when known, e.g. from IDATs) failed.
* ``out_of_distribution`` — the OOD p-value (distance to the nearest training-class profile on the most variable
  CpGs, :class:`~methylclass.models.decision.ProfileOOD`; for CpG-free models the distance to the training
  samples in the model's feature space, :class:`~methylclass.models.decision.KNNDistanceOOD`) is at most the
  OOD level. A conformal p-value cannot
  go below ``1/(n+1)`` for ``n`` reference samples, so a fixed level such as 0.01 can never fire for a model
  trained on fewer than 99 samples; the default level ``"auto"`` (:func:`ood_level`) is chosen from ``n`` so
  that a sample farther from the training set than (almost) every training sample is always flagged.
* ``low_score`` — the calibrated score of the best class is below its threshold.

A model trained with in-fold adjusted covariates (``cov_array`` of a mixed-array store, ``cov_material``…) reads
them as level names or training codes (:mod:`methylclass.models.covariates`); a missing value or a level never
seen in training gets no adjustment and the row's ``warning`` says so (the sample is still judged by the rules
above).

Refused outright (DataError naming the column): duplicated columns, infinite values, and a table without the
CNV features the model uses (a store or a table alike; the IDAT path computes them with the bundle's panel).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..io.betas_table import refuse_infinite
from ..io.canonical import collapse_replicate_columns
from ..io.manifest.tables import strip_replicate_suffix
from .covariates import COV_PREFIX, covariate_spec, encode_covariates
from .decision import NO_MATCH, ProfileOOD, decide, format_sets

__all__ = ["CNV_PREFIX", "REASONS", "align_input", "decision_defaults", "ood_level", "predict_frame"]

CNV_PREFIX = "cnv_"
#: the values of the ``reason`` column besides an error text of a failed sample
REASONS = ("low_coverage", "qc_failed", "out_of_distribution", "low_score")


def ood_level(n_reference: int, requested: float | str | None = "auto", n_tests: int = 1) -> float:
    """The OOD significance level: ``requested`` as a number, or for ``"auto"``/None
    ``clip(2/(n+1), 0.01, 0.1)`` raised to at least ``n_tests/(n+1)`` (the smallest possible combined p-value
    of ``n_tests`` detectors, Bonferroni), so the flag can always fire: a sample beyond every reference score
    of a detector is flagged; about 2 in ``n+1`` in-distribution samples for small ``n``, 1 % for large."""
    floor = float(n_tests) / (int(n_reference) + 1.0)
    if requested is None or (isinstance(requested, str) and requested.lower() == "auto"):
        return float(max(floor, min(0.1, max(0.01, 2.0 / (int(n_reference) + 1.0)))))
    try:
        level = float(requested)
    except (TypeError, ValueError):
        raise ConfigError(f"ood_alpha must be a number in (0, 1) or 'auto'; got {requested!r}") from None
    if not 0.0 < level < 1.0:
        raise ConfigError(f"ood_alpha must be within (0, 1); got {level}")
    if floor > level:
        warnings.warn(f"out-of-distribution flag cannot fire: with {int(n_reference)} reference samples the "
                      f"smallest p-value is {floor:.3f} > ood_alpha {level}; use ood_alpha='auto'",
                      UserWarning, stacklevel=3)
    return level


def decision_defaults(card: Mapping) -> dict[str, Any]:
    """The decision settings a bundle was trained with (card ``decision``, else its config's), with the
    package defaults for anything unset."""
    dec = dict((card.get("config") or {}).get("decision") or {})
    dec.update(card.get("decision") or {})
    max_missing = float(dec.get("max_missing_fraction", card.get("max_missing_fraction", 0.05)))
    if dec.get("missing_strategy") == "centroid" and dec.get("min_coverage") is not None:
        # the model fills missing CpGs from its class centroids (models.impute.CentroidImputer), validated down
        # to decision.min_coverage by the coverage curve (README); without that strategy nothing is imputed
        # beyond max_missing_fraction
        max_missing = 1.0 - float(dec["min_coverage"])
    return {"threshold": float(dec.get("threshold", 0.9)), "class_thresholds": dec.get("class_thresholds") or None,
            "alpha": 1.0 - float(dec.get("coverage", 0.9)), "ood_alpha": dec.get("ood_alpha", "auto"),
            "max_missing": max_missing}


def align_input(bundle, X: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """``(A, coverage)``: ``X`` reindexed to the model's input columns (float64; absent CpGs NaN) and the
    fraction of the model's CpGs each sample measured (present and not NaN).

    Raises DataError for a non-DataFrame, duplicated columns, infinite values in a model column, or when
    the model uses CNV features and the input has none of them.
    """
    if not isinstance(X, pd.DataFrame):
        raise DataError("predict: give a samples × features DataFrame with probe ids as columns")
    cols = X.columns.astype(str)
    if cols.has_duplicates:
        dup = cols[cols.duplicated()].unique().tolist()
        raise DataError(f"predict: column '{dup[0]}' appears more than once in the input"
                        + (f" ({len(dup)} duplicated columns)" if len(dup) > 1 else ""))
    X = X.set_axis(cols, axis=1)
    X, _ = encode_covariates(X, covariate_spec(bundle.card))  # level names → training codes (idempotent)
    features = list(bundle.card["features"])
    if (strip_replicate_suffix(pd.Series(features, dtype=object)).to_numpy() == np.asarray(features)).all():
        # an EPICv2/MSA query (cg…_TC21, cg…_BC11 replicates) meets a model on canonical CpG ids: average the
        # replicates of each CpG over their non-missing values (sesame's rule, io.canonical)
        X = collapse_replicate_columns(X)
    cnv = [f for f in features if f.startswith(CNV_PREFIX)]
    if cnv and not any(f in X.columns for f in cnv):
        raise DataError(f"predict: the model uses {len(cnv)} copy-number features ({cnv[0]}, …) that the input "
                        "lacks; predict from IDATs (computed with the bundle's CNV reference) or add them to the "
                        "table/store with `methylclass cnv` against the same reference")
    try:
        A = X.reindex(columns=features).astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"predict: non-numeric values in the feature columns ({exc})") from None
    refuse_infinite(A, "predict")
    values = A.to_numpy()
    cpg = np.isin(features, model_cpgs(bundle.card))
    n_cpg = int(cpg.sum())
    measured = np.isfinite(values[:, cpg]).sum(axis=1) if n_cpg else np.zeros(len(A))
    coverage = pd.Series(measured / n_cpg if n_cpg else np.ones(len(A)), index=X.index, name="coverage")
    return A, coverage


def model_cpgs(card: Mapping) -> list[str]:
    """The CpGs the model reads (its used features without the CNV block; all input CpGs if unknown)."""
    used = card.get("used_features") or card["features"]
    return [f for f in used if not str(f).startswith((CNV_PREFIX, COV_PREFIX))]


def _top(P: np.ndarray, classes: list[str], n: int = 5) -> list[str]:
    out = []
    for row in P:
        if not np.isfinite(row).all():
            out.append("")
            continue
        order = np.argsort(-row, kind="stable")[:n]
        out.append("|".join(f"{classes[i]}:{row[i]:.3f}" for i in order))
    return out


def predict_frame(bundle, X: pd.DataFrame, *, threshold: float | None = None,
                  per_class: Mapping[str, float] | None = None, alpha: float | None = None,
                  ood_alpha: float | str | None = None, max_missing: float | None = None,
                  qc_status: Mapping[str, str] | pd.Series | None = None) -> pd.DataFrame:
    """One row per sample of ``X``: ``sample, status, prediction, score, reason, reason_detail, top_classes,
    prediction_set, ood_pvalue, coverage, qc_status, proba_<class>…`` and the model's ``cnv_*`` inputs.

    Options default to the bundle's (:func:`decision_defaults`); ``qc_status`` maps samples to ``passed`` /
    ``failed`` (a failed QC forces ``no_match`` with reason ``qc_failed``).
    """
    d = decision_defaults(bundle.card)
    thr = float(d["threshold"] if threshold is None else threshold)
    per_class = d["class_thresholds"] if per_class is None else per_class
    alpha = float(d["alpha"] if alpha is None else alpha)
    limit = float(d["max_missing"] if max_missing is None else max_missing)
    if not isinstance(X, pd.DataFrame):
        raise DataError("predict: give a samples × features DataFrame with probe ids as columns")
    X, cov_warning = encode_covariates(X.set_axis(X.columns.astype(str), axis=1), covariate_spec(bundle.card))
    A, coverage = align_input(bundle, X)
    classes = bundle.classes
    n = len(A)
    names = [str(i) for i in A.index]
    qc = pd.Series(qc_status if qc_status is not None else {}, dtype=object).reindex(names)
    qc = qc.fillna("").astype(str).to_numpy()
    low_cov = (1.0 - coverage.to_numpy()) > limit + 1e-12
    ok = ~low_cov
    P = np.full((n, len(classes)), np.nan)
    pvals = np.full(n, np.nan)
    sets = [""] * n
    if ok.any():
        A_ok = A.loc[ok]
        P[ok] = bundle.estimator.predict_proba(A_ok)
        ood = bundle.components.get("ood")
        if isinstance(ood, ProfileOOD):
            pvals[ok] = ood.pvalue(X.set_axis(X.columns.astype(str), axis=1).loc[ok])
        elif ood is not None and hasattr(bundle.estimator, "transform_selected"):
            pvals[ok] = ood.pvalue(bundle.estimator.transform_selected(A_ok))
        if "conformal" in bundle.components:
            s = format_sets(bundle.components["conformal"].predict_sets(P[ok], alpha), classes)
            for i, v in zip(np.flatnonzero(ok), s):
                sets[i] = v
    n_ref = len(getattr(bundle.components.get("ood"), "train_scores_", ())) or 1
    level = ood_level(n_ref, d["ood_alpha"] if ood_alpha is None else ood_alpha)
    labels = np.full(n, NO_MATCH, dtype=object)
    score = np.nanmax(np.where(np.isfinite(P), P, -np.inf), axis=1) if len(classes) else np.zeros(n)
    score = np.where(ok, score, np.nan)
    reason = np.full(n, "", dtype=object)
    detail = np.full(n, "", dtype=object)
    n_cpg = len(model_cpgs(bundle.card))
    for i in np.flatnonzero(low_cov):
        miss = round(float(1 - coverage.iloc[i]) * n_cpg)
        reason[i] = "low_coverage"
        detail[i] = (f"{miss:,} of the model's {n_cpg:,} CpGs are missing ({1 - coverage.iloc[i]:.1%}; at most "
                     f"{limit:.0%} allowed); not scored")
    if ok.any():
        called = decide(P[ok], classes, threshold=thr, per_class=per_class or None)
        labels[ok] = called
        for i in np.flatnonzero(ok):
            if qc[i] == "failed":
                labels[i], reason[i] = NO_MATCH, "qc_failed"
                detail[i] = "the sample failed QC (see the qc_ columns / report)"
            elif np.isfinite(pvals[i]) and pvals[i] <= level:
                labels[i], reason[i] = NO_MATCH, "out_of_distribution"
                detail[i] = (f"unlike every training class: OOD p-value {pvals[i]:.3g} ≤ {level:.3g} "
                             f"({n_ref} training samples)")
            elif labels[i] == NO_MATCH:
                reason[i] = "low_score"
                detail[i] = f"best score {score[i]:.3f} is below the threshold {thr:.2f}"
    out = pd.DataFrame({"sample": names, "status": "ok", "prediction": labels, "score": score,
                        "reason": reason, "reason_detail": detail, "top_classes": _top(P, classes),
                        "prediction_set": sets, "ood_pvalue": pvals, "ood_level": level,
                        "ood": np.isfinite(pvals) & (pvals <= level),
                        "coverage": coverage.to_numpy(), "qc_status": qc,
                        "warning": cov_warning.to_numpy()})
    for j, c in enumerate(classes):
        out[f"proba_{c}"] = P[:, j]
    cnv_cols = [f for f in bundle.card["features"] if f.startswith(CNV_PREFIX)]
    if cnv_cols:
        out = pd.concat([out, A[cnv_cols].reset_index(drop=True)], axis=1)
    return out
