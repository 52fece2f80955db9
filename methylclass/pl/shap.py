"""SHAP summary plots per class: bar (mean |SHAP|) and beeswarm (per-sample SHAP coloured by the CpG's beta).

Hand-drawn on a :class:`matplotlib.figure.Figure` because ``shap.plots`` draws on pyplot's global current figure
(not safe in workers or for the backend-free figures the reports embed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._figure import new_figure
from .palette import class_colors

__all__ = ["plot_shap_bar", "plot_shap_beeswarm", "plot_waterfall"]


def _label(feature: str, annotation: pd.DataFrame | None) -> str:
    if annotation is None or feature not in annotation.index:
        return feature
    row = annotation.loc[feature]
    gene = str(row.get("gene", "") or "")
    where = f"{row.get('chrom', '')}:{int(row['pos']):,}" if pd.notna(row.get("pos")) else ""
    extra = ", ".join(x for x in (gene, where) if x and x != "nan")
    return f"{feature} ({extra})" if extra else feature


def plot_shap_bar(importance: pd.DataFrame, *, n: int = 15, classes: Sequence[str] | None = None,
                  annotation: pd.DataFrame | None = None, title: str | None = None,
                  palette: Mapping[str, str] | None = None) -> Figure:
    """Top-``n`` CpGs by mean |SHAP| per class (one panel per class; ``importance`` has columns
    ``feature, class, importance`` as from ``Explanation.importance()``). ``annotation``: index feature,
    columns ``chrom, pos, gene`` (see ``methylclass.io.annotate.annotate_cpgs``) appended to the labels."""
    classes = list(classes or sorted(importance["class"].astype(str).unique()))
    pal = dict(palette or class_colors(classes))
    ncol = min(len(classes), 3)
    nrow = int(np.ceil(len(classes) / ncol))
    fig = new_figure(4.8 * ncol, 0.28 * n * nrow + 1.2 * nrow)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
    for ax, cls in zip(axes, classes):
        d = importance[importance["class"].astype(str) == cls].nlargest(n, "importance")[::-1]
        ax.barh([_label(f, annotation) for f in d["feature"]], d["importance"], color=pal.get(cls, "#4c72b0"))
        ax.set_title(f"class {cls}")
        ax.set_xlabel("mean |SHAP|")
        ax.tick_params(axis="y", labelsize=7)
    for ax in axes[len(classes):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    return fig


def plot_shap_beeswarm(explanation, cls: str, *, n: int = 15, annotation: pd.DataFrame | None = None,
                       title: str | None = None, seed: int = 0) -> Figure:
    """Beeswarm of class ``cls``: one row per top-``n`` CpG (by mean |SHAP|), one dot per sample at its SHAP
    value, coloured by the CpG's value (beta: blue = unmethylated, red = methylated)."""
    e = explanation
    j = e.classes.index(str(cls))
    V = e.values[:, :, j]
    order = np.argsort(-np.abs(V).mean(axis=0), kind="stable")[:n][::-1]
    rng = np.random.default_rng(seed)
    fig = new_figure(6.4, 0.3 * len(order) + 1.4)
    ax = fig.subplots()
    sc = None
    for row, f in enumerate(order):
        x = V[:, f]
        v = e.data[:, f]
        lo, hi = np.nanpercentile(v, [5, 95]) if np.isfinite(v).any() else (0.0, 1.0)
        c = np.clip((v - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
        jitter = rng.uniform(-0.3, 0.3, size=len(x))
        sc = ax.scatter(x, row + jitter, c=c, cmap="coolwarm", vmin=0, vmax=1, s=9, linewidths=0)
    ax.set_yticks(range(len(order)), [_label(e.features[f], annotation) for f in order], fontsize=7)
    ax.axvline(0, color="#888888", lw=0.6)
    ax.set_xlabel(f"SHAP value for class {cls} ({e.output or 'model output'})")
    ax.set_ylabel("CpG")
    if sc is not None:
        fig.colorbar(sc, ax=ax, label="CpG value (low → high)", shrink=0.6)
    ax.set_title(title or f"class {cls}: per-sample SHAP of the top {len(order)} CpGs")
    return fig


def plot_waterfall(top: pd.DataFrame, *, sample: str, cls: str, annotation: pd.DataFrame | None = None) -> Figure:
    """The top features of one sample for one class (``Explanation.top``): horizontal bars, red pushes towards
    the class, blue away."""
    d = top.iloc[::-1]
    fig = new_figure(6.0, 0.3 * len(d) + 1.2)
    ax = fig.subplots()
    ax.barh([_label(f, annotation) for f in d["feature"]], d["shap"],
            color=["#c0392b" if v > 0 else "#2e86c1" for v in d["shap"]])
    ax.axvline(0, color="#888888", lw=0.6)
    ax.set_xlabel(f"SHAP value towards class {cls}")
    ax.set_title(f"{sample}: CpGs behind class {cls}")
    ax.tick_params(axis="y", labelsize=7)
    return fig
