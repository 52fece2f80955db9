"""Panel-size curves: balanced accuracy and Brier score against the number of CpGs, per ranking and model."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from matplotlib.figure import Figure

from ._figure import new_figure

__all__ = ["plot_panel_curve"]

_RANKING_COLORS = {"boruta": "#1b9e77", "shap": "#d95f02", "variance": "#7570b3", "pca": "#e7298a"}
_MODEL_STYLES = ["-", "--", ":", "-."]


def plot_panel_curve(curve: pd.DataFrame, *, best: Mapping | None = None, title: str | None = None) -> Figure:
    """Two panels (balanced accuracy, Brier) of ``curve`` (``ranking, model, size, balanced_accuracy, brier``),
    x = panel size on a log axis; one colour per ranking, one line style per model; the full-feature result of
    each model is a horizontal line; ``best`` (``PanelResult.smallest_panel()``) is circled."""
    fig = new_figure(10.5, 4.2)
    axes = fig.subplots(1, 2)
    models = sorted(curve["model"].unique())
    for ax, metric, label in zip(axes, ("balanced_accuracy", "brier"),
                                 ("balanced accuracy (out of fold)", "Brier score (out of fold, lower is better)")):
        for mi, model in enumerate(models):
            style = _MODEL_STYLES[mi % len(_MODEL_STYLES)]
            full = curve[(curve["ranking"] == "all") & (curve["model"] == model)]
            if not full.empty:
                ax.axhline(float(full[metric].iloc[0]), color="#444444", ls=style, lw=0.8,
                           label=f"{model}: all {int(full['size'].iloc[0]):,} CpGs")
            for ranking in sorted(set(curve["ranking"]) - {"all"}):
                d = curve[(curve["ranking"] == ranking) & (curve["model"] == model)].sort_values("size")
                ax.plot(d["size"], d[metric], ls=style, marker="o", ms=3,
                        color=_RANKING_COLORS.get(ranking, "#333333"), label=f"{ranking} · {model}")
        if best is not None:
            d = curve[(curve["ranking"] == best["ranking"]) & (curve["model"] == best["model"])
                      & (curve["size"] == best["size"])]
            if not d.empty:
                ax.plot(d["size"], d[metric], "o", ms=11, mfc="none", mec="black", mew=1.4,
                        label=f"smallest panel: {best['size']} CpGs")
        ax.set_xscale("log")
        ax.set_xlabel("panel size (CpGs)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=6.5, loc="lower right", ncol=1 if len(models) < 3 else 2)
    if title:
        fig.suptitle(title)
    return fig


