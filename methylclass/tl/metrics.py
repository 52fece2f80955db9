"""Classification metrics for calibrated multiclass probabilities, as reported by tumour classifiers.

Everything takes the true labels and a probability table (a DataFrame samples × classes, or an array with
``classes=``). Where scikit-learn has the metric it is used; the rest is short numpy:

* multiclass Brier on the 0–2 scale (mnp_training / Capper 2018): ``mean_i Σ_k (p_ik − y_ik)²`` — equal to
  :func:`sklearn.metrics.brier_score_loss` with ``scale_by_half=False`` (checked in the tests);
* Hand & Till (2001) multiclass AUC ``M = 2/(c(c−1)) Σ_{i<j} (Â(i|j) + Â(j|i))/2`` where ``Â(i|j)`` is the
  binary AUC of score ``p_i`` separating class i from class j on the samples of those two classes. This is
  what :func:`sklearn.metrics.roc_auc_score` computes with ``multi_class="ovo", average="macro"`` (its docs
  cite Hand & Till 2001; the tests compare both with a direct Mann–Whitney count). It is computed pairwise
  here so that classes absent from ``y_true`` (a small test fold) drop out instead of raising;
* expected calibration error, top-label, equal-width bins, ``ECE = Σ_b |B_b|/n · |acc(B_b) − conf(B_b)|``
  (Guo et al. 2017; bin b holds confidences in ``(b/n_bins, (b+1)/n_bins]``, 0 goes to the first bin);
* "% classifiable": share of samples whose best calibrated score reaches the threshold (default 0.9, Capper
  2018), and accuracy among those; conformal coverage and mean prediction-set size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from ..errors import DataError

NO_MATCH = "no_match"


def _proba_frame(proba: pd.DataFrame | np.ndarray, classes: Sequence[str] | None) -> pd.DataFrame:
    if isinstance(proba, pd.DataFrame):
        df = proba if classes is None else proba.loc[:, list(classes)]
    else:
        arr = np.asarray(proba, dtype=float)
        if classes is None:
            raise DataError("probabilities given as an array need classes=[…] naming their columns")
        if arr.ndim != 2 or arr.shape[1] != len(classes):
            raise DataError(f"probabilities have shape {arr.shape}, expected (n_samples, {len(classes)})")
        df = pd.DataFrame(arr, columns=[str(c) for c in classes])
    df = df.astype(float)
    if not np.isfinite(df.to_numpy()).all():
        raise DataError("probabilities contain NaN or infinite values")
    return df


def _labels(y_true, n: int) -> np.ndarray:
    y = np.asarray(y_true, dtype=object).astype(str)
    if y.shape != (n,):
        raise DataError(f"{y.shape[0] if y.ndim else 0} labels for {n} probability rows")
    return y


def _onehot(y: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    return (y[:, None] == np.asarray(classes, dtype=object)[None, :]).astype(float)


def _unknown(y: np.ndarray, classes: Sequence[str]) -> list[str]:
    return sorted(set(y) - set(classes))


def multiclass_brier(y_true, proba, classes: Sequence[str] | None = None) -> float:
    """Multiclass Brier score on the 0–2 scale: mean over samples of ``Σ_k (p_k − y_k)²`` (0 is perfect)."""
    P = _proba_frame(proba, classes)
    y = _labels(y_true, len(P))
    return float(np.mean(np.sum((P.to_numpy() - _onehot(y, list(P.columns))) ** 2, axis=1)))


def log_loss(y_true, proba, classes: Sequence[str] | None = None) -> float:
    """Mean negative log-likelihood of the true class (natural log; sklearn :func:`~sklearn.metrics.log_loss`)."""
    P = _proba_frame(proba, classes)
    y = _labels(y_true, len(P))
    unknown = _unknown(y, list(P.columns))
    if unknown:
        raise DataError(f"log loss needs every true label among the model's classes; unknown: {unknown}")
    arr = P.to_numpy()
    arr = arr / arr.sum(axis=1, keepdims=True)
    return float(skm.log_loss(y, arr, labels=list(P.columns)))


def hand_till_auc(y_true, proba, classes: Sequence[str] | None = None) -> float:
    """Hand & Till (2001) multiclass AUC over the class pairs present in ``y_true`` (NaN if fewer than two)."""
    P = _proba_frame(proba, classes)
    y = _labels(y_true, len(P))
    cls = list(P.columns)
    present = [c for c in cls if np.any(y == c)]
    if len(present) < 2:
        return float("nan")
    arr = P.to_numpy()
    col = {c: i for i, c in enumerate(cls)}
    total = 0.0
    pairs = list(combinations(present, 2))
    for a, b in pairs:  # loops over class pairs only; each AUC is a vectorised rank statistic
        mask = (y == a) | (y == b)
        ya = (y[mask] == a).astype(int)
        a_ij = skm.roc_auc_score(ya, arr[mask, col[a]])
        a_ji = skm.roc_auc_score(1 - ya, arr[mask, col[b]])
        total += (a_ij + a_ji) / 2.0
    return float(total / len(pairs))


def _bins(conf: np.ndarray, n_bins: int) -> np.ndarray:
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)


def reliability_curve(y_true, proba, classes: Sequence[str] | None = None, *, n_bins: int = 15
                      ) -> pd.DataFrame:
    """Top-label reliability data: one row per equal-width confidence bin.

    Columns ``bin_lower, bin_upper, count, confidence`` (mean top score in the bin), ``accuracy`` (share
    of the bin whose top class is right), ``gap`` (``accuracy − confidence``); NaN for empty bins.
    """
    P = _proba_frame(proba, classes)
    y = _labels(y_true, len(P))
    arr = P.to_numpy()
    top = arr.argmax(axis=1)
    conf = arr[np.arange(len(arr)), top]
    correct = (np.asarray(P.columns, dtype=object)[top] == y).astype(float)
    b = _bins(conf, n_bins)
    count = np.bincount(b, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(b, weights=conf, minlength=n_bins) / count
        acc = np.bincount(b, weights=correct, minlength=n_bins) / count
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return pd.DataFrame({"bin_lower": edges[:-1], "bin_upper": edges[1:], "count": count.astype(int),
                         "confidence": mean_conf, "accuracy": acc, "gap": acc - mean_conf})


def expected_calibration_error(y_true, proba, classes: Sequence[str] | None = None, *,
                               n_bins: int = 15) -> float:
    """Top-label ECE with ``n_bins`` equal-width bins (Guo et al. 2017): ``Σ_b |B_b|/n · |acc_b − conf_b|``."""
    curve = reliability_curve(y_true, proba, classes, n_bins=n_bins)
    n = curve["count"].sum()
    used = curve["count"] > 0
    return float((curve.loc[used, "count"] / n * (curve.loc[used, "accuracy"]
                                                  - curve.loc[used, "confidence"]).abs()).sum())


def _thresholds(threshold: float | Mapping[str, float], classes: Sequence[str]) -> np.ndarray:
    if isinstance(threshold, Mapping):
        unknown = sorted(set(threshold) - set(classes) - {"default"})
        if unknown:
            raise DataError(f"per-class thresholds name unknown classes: {unknown}")
        default = float(threshold.get("default", 0.9))
        return np.array([float(threshold.get(c, default)) for c in classes])
    return np.full(len(classes), float(threshold))


def classify_with_threshold(proba, classes: Sequence[str] | None = None, *,
                            threshold: float | Mapping[str, float] = 0.9) -> np.ndarray:
    """Best class per sample, or ``"no_match"`` where its calibrated score is below the (per-class) threshold."""
    P = _proba_frame(proba, classes)
    arr = P.to_numpy()
    top = arr.argmax(axis=1)
    conf = arr[np.arange(len(arr)), top]
    thr = _thresholds(threshold, list(P.columns))[top]
    labels = np.asarray(P.columns, dtype=object)[top]
    return np.where(conf >= thr, labels, NO_MATCH).astype(object)


def classifiable(y_true, proba, classes: Sequence[str] | None = None, *,
                 threshold: float | Mapping[str, float] = 0.9) -> tuple[float, float]:
    """``(share classifiable, accuracy among classified)`` at ``threshold`` (accuracy NaN if none pass)."""
    P = _proba_frame(proba, classes)
    y = _labels(y_true, len(P))
    pred = classify_with_threshold(P, threshold=threshold)
    ok = pred != NO_MATCH
    frac = float(ok.mean()) if len(ok) else float("nan")
    acc = float((pred[ok] == y[ok]).mean()) if ok.any() else float("nan")
    return frac, acc


def _set_matrix(sets, classes: Sequence[str], n: int) -> np.ndarray:
    if isinstance(sets, pd.DataFrame):
        M = sets.reindex(columns=list(classes), fill_value=False).to_numpy(dtype=bool)
    elif isinstance(sets, np.ndarray) and sets.dtype == bool and sets.ndim == 2:
        M = sets
    else:
        rows: list[Iterable[str]] = list(sets)
        if len(rows) != n:
            raise DataError(f"{len(rows)} prediction sets for {n} samples")
        cls = np.asarray(classes, dtype=object)
        M = np.array([np.isin(cls, [str(c) for c in r]) for r in rows], dtype=bool).reshape(n, len(cls))
    if M.shape != (n, len(classes)):
        raise DataError(f"prediction sets have shape {M.shape}, expected ({n}, {len(classes)})")
    return M


def conformal_coverage(y_true, sets, classes: Sequence[str]) -> tuple[float, float]:
    """``(coverage, mean set size)`` of conformal prediction sets.

    ``sets`` is a boolean samples × classes matrix/DataFrame or one iterable of labels per sample. A true
    label outside ``classes`` is never covered (the right outcome for a tumour type absent from training).
    """
    y = np.asarray(y_true, dtype=object).astype(str)
    M = _set_matrix(sets, classes, len(y))
    hit = _onehot(y, classes).astype(bool) & M
    return float(hit.any(axis=1).mean()), float(M.sum(axis=1).mean())


@dataclass
class Evaluation:
    """Metrics of one model: ``scalars`` (flat name → number) and the tables behind the plots."""

    scalars: dict[str, float]
    per_class: pd.DataFrame
    confusion: pd.DataFrame
    reliability: pd.DataFrame
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready dictionary (NaN → None)."""
        def clean(v):
            return None if isinstance(v, float) and not np.isfinite(v) else v
        return {"scalars": {k: clean(v) for k, v in self.scalars.items()},
                "per_class": self.per_class.reset_index().to_dict(orient="records"),
                "confusion": {"labels": list(self.confusion.index),
                              "counts": self.confusion.to_numpy().tolist()},
                "reliability": self.reliability.astype(object).where(self.reliability.notna(), None)
                .to_dict(orient="records"),
                "meta": self.meta}


def per_class_report(y_true, y_pred, labels: Sequence[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support per class (sklearn ``precision_recall_fscore_support``)."""
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=list(labels), zero_division=0)
    return pd.DataFrame({"precision": p, "recall": r, "f1": f, "support": s},
                        index=pd.Index(list(labels), name="class"))


def confusion_table(y_true, y_pred, labels: Sequence[str]) -> pd.DataFrame:
    """Confusion matrix as a DataFrame: rows = true class, columns = predicted class (counts)."""
    cm = skm.confusion_matrix(np.asarray(y_true, dtype=object).astype(str),
                              np.asarray(y_pred, dtype=object).astype(str), labels=list(labels))
    return pd.DataFrame(cm, index=pd.Index(list(labels), name="true"),
                        columns=pd.Index(list(labels), name="predicted"))


def evaluate(y_true, proba, classes: Sequence[str] | None = None, *,
             threshold: float | Mapping[str, float] = 0.9, n_bins: int = 15, sets=None,
             timings: pd.DataFrame | None = None) -> Evaluation:
    """Every metric of one model from its (out-of-fold) probabilities.

    Scalars: ``n_samples, n_classes, accuracy, balanced_accuracy, {macro,weighted}_{precision,recall,f1},
    brier`` (0–2), ``log_loss, auc_hand_till, ece`` (top-label, ``n_bins``), ``classifiable`` and
    ``accuracy_classified`` at ``threshold``; ``conformal_coverage`` / ``conformal_set_size`` when ``sets`` is
    given; ``fit_seconds`` / ``predict_seconds`` (sum over folds) and ``fit_seconds_per_fold`` when ``timings``
    (columns ``fit_seconds``, ``predict_seconds``) is given. Forced predictions (argmax) feed the accuracy,
    precision/recall/F1 and the confusion matrix.
    """
    P = _proba_frame(proba, classes)
    y = _labels(y_true, len(P))
    cls = list(P.columns)
    unknown = _unknown(y, cls)
    if unknown:
        raise DataError(f"true labels {unknown} are not among the model's classes {cls}")
    pred = np.asarray(cls, dtype=object)[P.to_numpy().argmax(axis=1)]
    scal: dict[str, float] = {"n_samples": float(len(y)), "n_classes": float(len(cls)),
                              "accuracy": float(skm.accuracy_score(y, pred)),
                              "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred))}
    for avg in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(y, pred, labels=cls, average=avg, zero_division=0)
        scal.update({f"{avg}_precision": float(p), f"{avg}_recall": float(r), f"{avg}_f1": float(f)})
    scal["brier"] = multiclass_brier(y, P)
    scal["log_loss"] = log_loss(y, P)
    scal["auc_hand_till"] = hand_till_auc(y, P)
    scal["ece"] = expected_calibration_error(y, P, n_bins=n_bins)
    scal["classifiable"], scal["accuracy_classified"] = classifiable(y, P, threshold=threshold)
    if sets is not None:
        scal["conformal_coverage"], scal["conformal_set_size"] = conformal_coverage(y, sets, cls)
    if timings is not None and len(timings):
        scal["fit_seconds"] = float(timings["fit_seconds"].sum())
        scal["predict_seconds"] = float(timings["predict_seconds"].sum())
        scal["fit_seconds_per_fold"] = float(timings["fit_seconds"].mean())
    return Evaluation(scalars=scal, per_class=per_class_report(y, pred, cls),
                      confusion=confusion_table(y, pred, cls),
                      reliability=reliability_curve(y, P, n_bins=n_bins),
                      meta={"threshold": threshold if not isinstance(threshold, Mapping) else dict(threshold),
                            "n_bins": n_bins, "classes": cls})
