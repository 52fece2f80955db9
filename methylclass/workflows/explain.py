"""``methylclass explain``: SHAP of a trained model on a beta table or store → importance, per-sample tops, plots.

Writes into ``--out DIR`` (published only when complete):

* ``importance.csv`` — ``feature, class, importance`` (mean |SHAP| over the given samples), plus ``chrom, pos,
  gene, island`` when an array/manifest is given;
* ``samples.csv`` — per sample its explained class and top CpGs: ``sample, class, rank, feature, shap, value``;
* ``shap_bar.png`` (top CpGs per class), ``shap_beeswarm_<class>.png``, ``index.html`` (all of it on one page).

:func:`explain_cv` is the out-of-fold variant for a benchmark: each outer fold's model explains its own
held-out samples (``nested_cv(..., fold_hook=explain_hook)``), so the importance describes models that did not
see the samples they explain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .understand_io import Echo, _silent, annotation_table, output_folder, read_input, write_csv

__all__ = ["ExplainRun", "explain_cv", "explain_model", "sample_tops", "write_explanation"]


@dataclass
class ExplainRun:
    """What :func:`explain_model` wrote: the folder, the explanation and the importance table."""

    path: Path
    explanation: Any
    importance: pd.DataFrame


def sample_tops(exp, n: int = 10) -> pd.DataFrame:
    """Per sample its explained class and the ``n`` CpGs with the largest |SHAP| for it."""
    rows = []
    for s, cls in zip(exp.samples, exp.predicted_class()):
        top = exp.top(s, cls=cls, n=n)
        top.insert(0, "rank", range(1, len(top) + 1))
        top.insert(0, "class", cls)
        top.insert(0, "sample", s)
        rows.append(top)
    return pd.concat(rows, ignore_index=True)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name))


def write_explanation(exp, folder: Path, *, title: str, annotation: pd.DataFrame | None = None, n_top: int = 10,
                      n_plot: int = 15, max_beeswarm: int = 12, lead: str = "") -> pd.DataFrame:
    """Write ``importance.csv``, ``samples.csv``, the plots and ``index.html`` of ``exp`` into ``folder``."""
    from ..pl import figure_to_base64, plot_shap_bar, plot_shap_beeswarm, save_figure
    from ..report.understand import Section, write_page

    imp = exp.importance()
    if annotation is not None:
        imp = imp.join(annotation, on="feature")
    write_csv(imp, folder / "importance.csv", index=False)
    tops = sample_tops(exp, n_top)
    if annotation is not None:
        tops = tops.join(annotation, on="feature")
    write_csv(tops, folder / "samples.csv", index=False)
    figs = []
    bar = plot_shap_bar(imp, n=n_plot, classes=exp.classes, annotation=annotation,
                        title=f"top CpGs per class (mean |SHAP|, {exp.output or 'model output'})")
    save_figure(bar, folder / "shap_bar", formats=("png",))
    figs.append(("mean |SHAP| per class", figure_to_base64(bar)))
    for cls in exp.classes[:max_beeswarm]:
        fig = plot_shap_beeswarm(exp, cls, n=n_plot, annotation=annotation)
        save_figure(fig, folder / f"shap_beeswarm_{_safe(cls)}", formats=("png",))
        figs.append((f"beeswarm, class {cls}", figure_to_base64(fig)))
    overall = (imp.groupby("feature", sort=False)["importance"].sum().sort_values(ascending=False).head(25)
               .rename("importance (Σ classes)").reset_index())
    if annotation is not None:
        overall = overall.join(annotation, on="feature")
    mono = exp.notes.get("calibration_monotone")
    text = [(f"{len(exp.samples)} samples, {len(exp.features)} model-input features, {len(exp.classes)} classes; "
            f"explainer: {exp.method} on the {exp.notes.get('estimator', 'final estimator')}, output space: "
            f"{exp.output}.")]
    if mono is not None:
        text.append("Calibration monotone in each class's own score: "
                    + ", ".join(f"{k}: {'yes' if v else 'not guaranteed'}" for k, v in mono.items()) + ".")
    write_page(folder / "index.html", title, [
        Section("Method", text),
        Section("Top CpGs overall", tables=[("mean |SHAP| summed over classes", overall)]),
        Section("Per class", figures=figs),
        Section("Per sample (first 20 rows)", tables=[("top CpGs of each sample for its explained class",
                                                       tops.head(20))]),
    ], lead=lead)
    return imp


def explain_model(model_dir: str | Path, betas: str | Path, out: str | Path, *, n_top: int = 10, n_plot: int = 15,
                  array: str | None = None, manifest: str | Path | None = None, sample_column: str | None = None,
                  orientation: str = "auto", max_evals: int | None = None, echo: Echo = _silent) -> ExplainRun:
    """SHAP of the bundle in ``model_dir`` on the samples of ``betas`` (table or store), written to ``out``."""
    from ..models import load_bundle
    from ..tl.explain import explain

    bundle = load_bundle(model_dir)
    blocks = tuple(((bundle.card.get("config") or {}).get("data") or {}).get("feature_blocks") or ())
    if not blocks and any(str(f).startswith("cnv_") for f in bundle.features):
        blocks = ("cnv_",)
    X, _ = read_input(betas, sample_column=sample_column, orientation=orientation, blocks=blocks)
    echo(f"explaining {len(X)} samples with {Path(model_dir).name}")
    exp = explain(bundle, X, max_evals=max_evals)
    ann = annotation_table(exp.features, array, manifest)
    with output_folder(out) as tmp:
        imp = write_explanation(exp, tmp, title=f"SHAP explanation of {Path(model_dir).name}", annotation=ann,
                                n_top=n_top, n_plot=n_plot,
                                lead=f"Model {model_dir}; samples from {betas}.")
    return ExplainRun(path=Path(out), explanation=exp, importance=imp)


def explain_cv(X: pd.DataFrame, y: pd.Series, make_estimator, *, outer: int = 5, inner: int | None = 3,
               seed: int = 0, n_jobs: int = 1, max_evals: int | None = None, progress: bool | None = None):
    """Out-of-fold SHAP: ``(CVResult, Explanation)`` where every outer fold's model explains its own test
    samples (see :func:`methylclass.tl.importance.oof_explain`)."""
    from ..tl.importance import oof_explain

    return oof_explain(X, y, make_estimator, max_evals=max_evals, outer=outer, inner=inner, seed=seed,
                       n_jobs=n_jobs, progress=progress)
