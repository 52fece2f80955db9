"""Prediction into an output folder: ``predictions.csv`` / ``.json`` and the per-sample report pages.

:func:`predict_cases` (IDATs, sheets, tables, stores) and :func:`predict_table` (a beta table) are what
``methylclass predict`` runs; :func:`write_reports` is the one call site of the diagnosis report helper.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .._atomic import ensure_writable_file
from .data import is_store
from .predict import Diagnosis, Model, load_model
from .runs import _atomic_csv
from .understand_io import read_input

__all__ = ["predict_cases", "predict_table", "write_reports"]

def _top_features(model: Model, diag: Diagnosis, n: int = 10) -> dict[str, pd.DataFrame]:
    """SHAP top features of the called class (best class for no_match) per predicted sample."""
    ok = diag.predictions[diag.predictions["status"] == "ok"]
    if ok.empty:
        return {}
    from ..tl.explain import explain

    X = diag.X.loc[[s for s in ok["sample"] if s in diag.X.index]]
    ex = explain(model, X)
    out = {}
    for _, row in ok.iterrows():
        cls = row["prediction"] if row["prediction"] in model.classes else None
        if row["sample"] in ex.samples:
            out[row["sample"]] = ex.top(row["sample"], cls=cls, n=n)
    man = getattr(model, "_last_manifest", None)
    if man is not None and out:
        from ..io.annotate import annotate_cpgs

        for s, top in out.items():
            ann = annotate_cpgs(list(top["feature"]), man)
            keep = [c for c in ("chrom", "pos", "gene") if c in ann.columns]
            out[s] = top.reset_index(drop=True).join(ann[keep].reset_index(drop=True))
    return out


def write_reports(out_dir: Path, model: Model, diag: Diagnosis) -> Path | None:
    """The per-sample HTML pages (methylclass.report.diagnosis): the one call site of the report helper."""
    from ..report.diagnosis import SampleReport, write_prediction_report

    tops = _top_features(model, diag)
    samples = {s: SampleReport(qc=d.get("qc"), cnv=d.get("cnv"), bins=diag.bins, top_features=tops.get(s))
               for s, d in diag.details.items()}
    for s in diag.predictions["sample"]:
        samples.setdefault(s, SampleReport(top_features=tops.get(s)))
    return write_prediction_report(out_dir, diag.predictions, card=model.card, samples=samples)


def predict_cases(model_dir: str | Path, inputs: Any, out: str | Path, *, report: bool = True,
                  echo=None, **options) -> pd.DataFrame:
    """Load the bundle, predict ``inputs`` and write ``OUT/predictions.csv``, ``OUT/predictions.json`` and
    ``OUT/report/`` (index.html + one page per sample). Returns the predictions."""
    from .._atomic import atomic_text, atomic_write

    say = echo or (lambda msg: None)
    model = load_model(model_dir, manifest=options.pop("manifest", None), controls=options.pop("controls", None))
    diag = model.diagnose(inputs, **options)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pred = diag.predictions
    atomic_write(out / "predictions.csv", lambda fh: pred.to_csv(fh, index=False))
    records = json.loads(pred.to_json(orient="records"))
    atomic_text(out / "predictions.json", json.dumps({"model": str(model.path), "classes": model.classes,
                                                      "predictions": records}, indent=1))
    if report:
        try:
            index = write_reports(out / "report", model, diag)
        except ImportError as exc:  # the page writer ships with the report module; predictions stand alone
            say(f"report not written ({exc}); predictions are in {out}")
        else:
            say(f"report: {index}")
    return pred


def predict_table(model_dir: str | Path, betas: str | Path, out: str | Path | None = None, *,
                  threshold: float | None = None, class_thresholds: Mapping[str, float] | None = None,
                  alpha: float | None = None, ood_alpha: float | str | None = None, sample_column: str | None = None,
                  orientation: str = "auto", label_column: str | None = None,
                  labels: str | Path | None = None, array: str | None = None,
                  covariates: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Apply the model bundle in ``model_dir`` to the beta table (or preprocessing store) ``betas``; write
    ``out`` (CSV) if given.

    Decision options default to the bundle's (its card, else conf/).

    Parameters
    ----------
    model_dir : str or Path
        The model bundle (:func:`~methylclass.models.load_bundle` verifies it).
    betas : str or Path
        A beta table (:func:`~methylclass.io.betas_table.read_beta_table`) or a preprocessing store.
    out : str or Path, optional
        CSV file to write the predictions to (checked writable before the work).
    threshold : float, optional
        Minimum best probability for a call.
    class_thresholds : mapping of str to float, optional
        Per-class thresholds overriding ``threshold``.
    alpha : float, optional
        Level of the conformal prediction sets.
    ood_alpha : float or str, optional
        Level of the out-of-distribution test.
    sample_column : str, optional
        Column holding sample ids in the table.
    orientation : str
        ``"auto"``, ``"samples_x_cpgs"`` or ``"cpgs_x_samples"``.
    label_column : str, optional
        Column (or row) holding the true label; added as column ``label``.
    labels : str or Path, optional
        A separate label file; the true label is added as column ``label``.
    array : str, optional
        The array the table's samples were measured on (a store's sample table says it itself): builds the
        ``cov_array`` covariate of a model trained on a mixed-array store.
    covariates : mapping of str to str, optional
        Other covariate values for every sample (e.g. ``{"material": "ffpe"}``), see :meth:`Model.diagnose`.

    Returns
    -------
    DataFrame
        One row per sample, with the columns of :func:`methylclass.models.verdict.predict_frame` (and
        ``label``).
    """
    from ..models import load_bundle

    if out is not None:
        ensure_writable_file(out)  # before the work, not after it
    bundle = load_bundle(model_dir)
    blocks = tuple(((bundle.card.get("config") or {}).get("data") or {}).get("feature_blocks") or ())
    if not blocks and any(str(f).startswith("cnv_") for f in bundle.card.get("features", [])):
        blocks = ("cnv_",)  # trained with the CNV block (e.g. from an in-memory dataset): read it too
    X, y = read_input(betas, label_column=label_column, sample_column=sample_column, labels=labels,
                      orientation=orientation, blocks=blocks)
    model = Model(bundle)
    if model.covariates or array is not None or covariates:
        values = model._store_values(Path(betas), X.index) if is_store(betas) else None
        X = model._with_covariates(X, values, model._declared_covariates(array, covariates))
    pred = bundle.predict(X, threshold=threshold, per_class=class_thresholds, alpha=alpha, ood_alpha=ood_alpha)
    if y is not None:
        pred.insert(1, "label", y.to_numpy())
    if out is not None:
        _atomic_csv(pred, Path(out), index=False)
    return pred
