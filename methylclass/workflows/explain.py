"""``methylclass explain``: SHAP of a trained model on a beta table or store → importance, per-sample tops, plots.

Writes into ``--out DIR`` (published only when complete):

* ``importance.csv`` — ``feature, class, importance`` (mean |SHAP| over the given samples), plus ``chrom, pos,
  gene, island`` when an array/manifest is given;
* ``samples.csv`` — per sample its explained class and top CpGs: ``sample, class, rank, feature, shap, value``;
* ``shap_bar.png`` (top CpGs per class), ``shap_beeswarm_<class>.png``, ``index.html`` (all of it on one page).

Inside a benchmark (``understand.explain`` in the config) :func:`explain_fold_hook` makes each outer fold's
model explain its own held-out samples (``nested_cv(..., fold_hook=...)``), so the importance describes models
that did not see the samples they explain; :func:`write_fold_outputs` writes it with the per-fold CpG choices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .._atomic import ensure_writable_parent
from .understand_io import Echo, _silent, annotation_table, output_folder, read_input, write_csv

__all__ = ["ExplainRun", "classifier_agreement", "explain_fold_hook", "explain_model", "sample_tops",
           "unsupervised_views", "write_explanation", "write_fold_outputs"]


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


def write_explanation(exp, folder: Path, *, title: str, n_top: int, n_plot: int,
                      annotation: pd.DataFrame | None = None, max_beeswarm: int = 12, lead: str = "") -> pd.DataFrame:
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


def explain_model(model_dir: str | Path, betas: str | Path, out: str | Path, *, n_top: int | None = None,
                  n_plot: int | None = None, array: str | None = None, manifest: str | Path | None = None,
                  sample_column: str | None = None, orientation: str = "auto", max_evals: int | None = None,
                  echo: Echo = _silent) -> ExplainRun:
    """SHAP of the bundle in ``model_dir`` on the samples of ``betas`` (table or store), written to ``out``.

    ``n_top`` / ``n_plot`` default to ``explain.top`` / ``explain.plot_top`` of conf/.
    """
    from ..config import setting
    from ..models import load_bundle
    from ..tl.explain import explain

    n_top = int(setting({}, "explain.top") if n_top is None else n_top)
    n_plot = int(setting({}, "explain.plot_top") if n_plot is None else n_plot)

    ensure_writable_parent(out)  # before the work, not after it
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


# ------------------------------------------------------------------------------------- inside the benchmark
def explain_fold_hook(understand: dict, model: str, seed: int):
    """The ``nested_cv`` fold hook for ``model`` when the config's ``understand.explain`` lists it (or is
    ``true``), else None."""
    import functools

    from ..tl.importance import explain_hook

    want = understand.get("explain")
    if not want or (want is not True and model not in list(want)):
        return None
    return functools.partial(explain_hook, seed=seed, max_evals=understand.get("max_evals"))


def write_fold_outputs(run_path: Path, model: str, res, formats) -> None:
    """Per model in the run folder: ``selection/<model>.csv`` — every feature some outer fold's model used, with
    the number and fraction of folds that chose it (Boruta's per-fold choices; ``chosen_in_every_fold``), and
    with an out-of-fold explanation ``importance/<model>.csv`` (``feature, class, importance``) + a bar plot."""
    from ..pl import plot_shap_bar, save_figure
    from ..tl.importance import explanation_of

    if res.fold_features is not None:
        ff = res.fold_features
        n = int(ff[["repeat", "fold"]].drop_duplicates().shape[0]) or 1
        sel = (ff.groupby("feature", sort=False).size().rename("folds").reset_index()
               .assign(stability=lambda d: d["folds"] / n)
               .sort_values(["folds", "feature"], ascending=[False, True], ignore_index=True))
        sel["chosen_in_every_fold"] = sel["folds"] == n
        (run_path / "selection").mkdir(exist_ok=True)
        write_csv(sel, run_path / "selection" / f"{model}.csv", index=False)
    if res.fold_outputs:
        exp = explanation_of(res)
        imp = exp.importance()
        (run_path / "importance").mkdir(exist_ok=True)
        write_csv(imp, run_path / "importance" / f"{model}.csv", index=False)
        save_figure(plot_shap_bar(imp, n=15, classes=exp.classes,
                                  title=f"{model}: mean |SHAP| per class (out of fold, {exp.output})"),
                    run_path / "plots" / f"{model}_shap_bar", formats)


def classifier_agreement(model: str, res) -> dict[str, Any]:
    """ARI / NMI of a classifier's out-of-fold calls with the labels (comparable with the clusterings)."""
    import numpy as np
    from sklearn.metrics import adjusted_rand_score, balanced_accuracy_score, normalized_mutual_info_score

    pred = np.asarray(res.classes)[np.argmax(res.proba.to_numpy(), axis=1)]
    y = res.y.to_numpy()
    return {"method": model, "kind": "classifier (nested CV)", "ari": float(adjusted_rand_score(y, pred)),
            "nmi": float(normalized_mutual_info_score(y, pred)), "silhouette": None,
            "balanced_accuracy": float(balanced_accuracy_score(y, pred))}


def unsupervised_views(run_path: Path, ds, understand: dict, rows: list, seed: int, say) -> list[tuple[str, str]]:
    """With ``understand.embed`` (a list of views), embed the benchmark's data into ``run_path/embed/`` and
    append their agreement rows to ``rows``; returns (caption, data URI) of the class-coloured views."""
    from ..pl import class_colors, figure_to_base64, plot_embedding
    from .embed import compute_embeddings, write_embeddings

    methods = list(understand.get("embed") or [])
    if not methods:
        return []
    n_cpg = sum(not str(c).startswith("cnv_") for c in ds.X.columns)
    n_features = min(int(understand["embed_features"]), n_cpg)
    emb, agree = compute_embeddings(ds.X, ds.y, methods=methods, n_features=n_features, seed=seed, echo=say)
    (run_path / "embed").mkdir(exist_ok=True)
    scores = pd.DataFrame([{k: r[k] for k in ("method", "ari", "nmi", "balanced_accuracy")} for r in rows])
    write_embeddings(run_path / "embed", ds.X, ds.y, emb, agree, n_features=n_features,
                     title="Unsupervised views of the benchmark data", scores=scores)
    for r in agree.to_dict(orient="records"):
        rows.append({**r, "kind": f"unsupervised ({n_features:,} most variable CpGs)", "balanced_accuracy": None})
    pal = class_colors(ds.y.unique())
    return [(f"{m}: class", figure_to_base64(plot_embedding(e.coords, ds.y.rename("class"), palette=pal,
                                                            title=m.upper())))
            for m, e in emb.items() if m != "hierarchical"]
