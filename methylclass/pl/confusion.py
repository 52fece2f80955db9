"""Confusion-matrix plot: counts and row-normalised (per-class recall) side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._figure import new_figure


def _panel(ax, values: np.ndarray, shade: np.ndarray, labels: list[str], fmt: str, title: str,
           fontsize: float) -> None:
    im = ax.imshow(shade, cmap="Blues", vmin=0.0, vmax=1.0, aspect="equal")
    k = len(labels)
    ax.set_xticks(range(k), labels, rotation=60, ha="right", fontsize=fontsize)
    ax.set_yticks(range(k), labels, fontsize=fontsize)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    if k <= 40:
        rr, cc = np.nonzero(values)  # annotate non-empty cells only: keeps large matrices readable
        for r, c in zip(rr, cc):
            ax.text(c, r, format(values[r, c], fmt), ha="center", va="center", fontsize=fontsize,
                    color="white" if shade[r, c] > 0.6 else "black")
    return im


def plot_confusion(confusion: pd.DataFrame, *, title: str | None = None, normalize: str = "both"
                   ) -> Figure:
    """Plot a confusion matrix (rows = true, columns = predicted, as from ``tl.metrics.confusion_table``).

    ``normalize``: ``"both"`` (counts and row-normalised panels), ``"counts"`` or ``"row"``. Cells are
    shaded by the row-normalised value in every panel so that small classes stay visible.
    """
    if normalize not in ("both", "counts", "row"):
        raise ValueError(f"normalize must be 'both', 'counts' or 'row', not {normalize!r}")
    counts = confusion.to_numpy().astype(float)
    labels = [str(c) for c in confusion.index]
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = counts / counts.sum(axis=1, keepdims=True)
    rows = np.nan_to_num(rows)
    k = len(labels)
    side = min(max(3.2, 0.45 * k + 1.8), 14.0)
    fontsize = 9 if k <= 10 else max(4.0, 9 - 0.15 * k)
    panels = ["counts", "row"] if normalize == "both" else [normalize]
    fig = new_figure(side * len(panels) + 0.6, side)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    im = None
    for ax, kind in zip(axes, panels):
        if kind == "counts":
            im = _panel(ax, counts.astype(int), rows, labels, "d", "counts", fontsize)
        else:
            im = _panel(ax, np.round(rows, 2), rows, labels, ".2f", "row-normalised (recall)", fontsize)
    fig.colorbar(im, ax=list(axes), shrink=0.7, label="share of true class")
    if title:
        fig.suptitle(title)
    return fig
