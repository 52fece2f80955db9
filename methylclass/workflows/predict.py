"""Apply a model bundle to a beta table or a preprocessing store: one row per sample with ``sample,
prediction`` (class or ``no_match``), ``score`` and ``proba_<class>`` columns (plus conformal-set / OOD
columns when the bundle provides them)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..config import setting
from ..io.betas_table import read_beta_table
from .data import _read_store, is_store
from .runs import _atomic_csv


def predict_table(model_dir: str | Path, betas: str | Path, out: str | Path | None = None, *,
                  threshold: float | None = None, class_thresholds: Mapping[str, float] | None = None,
                  alpha: float | None = None, ood_alpha: float | None = None, sample_column: str | None = None,
                  orientation: str = "auto", label_column: str | None = None,
                  labels: str | Path | None = None) -> pd.DataFrame:
    """Apply the model bundle in ``model_dir`` to the beta table (or preprocessing store) ``betas``; write
    ``out`` (CSV) if given.

    Columns: ``sample, prediction`` (a class or ``no_match``), ``score`` (calibrated probability of the best
    class), ``proba_<class>`` per class; with the bundle's components also ``prediction_set`` (conformal set
    at level ``1 − alpha``, classes joined by ``|``), ``ood_pvalue`` and ``ood`` (True forces ``no_match``).
    ``threshold`` defaults to the one the model was trained with (card), else conf/'s; ``alpha`` to
    ``1 − decision.coverage`` of the card (0.1). With
    ``label_column``/``labels`` the true label is added as column ``label``.
    """
    from ..models import load_bundle

    bundle = load_bundle(model_dir)
    blocks = tuple(((bundle.card.get("config") or {}).get("data") or {}).get("feature_blocks") or ())
    if not blocks and any(str(f).startswith("cnv_") for f in bundle.card.get("features", [])):
        blocks = ("cnv_",)  # trained with the CNV block (e.g. from an in-memory dataset): read it too
    if is_store(betas):
        X, y = _read_store({"store": str(betas), "labels": labels, "label_column": label_column,
                            "sample_column": sample_column}, blocks)
        if label_column is None and labels is None:
            y = None
    else:
        X, y = read_beta_table(betas, label_column=label_column, sample_column=sample_column, labels=labels,
                               orientation=orientation, feature_blocks=blocks)
    decision = ((bundle.card.get("config") or {}).get("decision") or {})
    card = {"decision": decision}
    thr = float(threshold if threshold is not None else setting(card, "decision.threshold"))
    per_class = class_thresholds if class_thresholds is not None else decision.get("class_thresholds")
    if alpha is None:
        alpha = 1.0 - float(setting(card, "decision.coverage"))
    if ood_alpha is None:
        ood_alpha = float(setting({}, "predict.ood_alpha"))
    pred = bundle.predict(X, threshold=thr, per_class=per_class or None, alpha=float(alpha),
                          ood_alpha=ood_alpha)
    if y is not None:
        pred.insert(1, "label", y.to_numpy())
    if out is not None:
        _atomic_csv(pred, Path(out), index=False)
    return pred
