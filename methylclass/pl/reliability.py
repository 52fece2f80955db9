"""Reliability diagram: top-label accuracy against confidence per bin, with the confidence histogram."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._figure import new_figure


def plot_reliability(curve: pd.DataFrame, *, ece: float | None = None, threshold: float | None = 0.9,
                     title: str | None = None) -> Figure:
    """Plot reliability data from :func:`methylclass.tl.metrics.reliability_curve`.

    Upper panel: accuracy of each confidence bin (bars) against the diagonal of perfect calibration, the
    gap to the bin's mean confidence shaded; lower panel: number of samples per bin (log scale). ``ece`` is
    printed in the legend; ``threshold`` draws the classification threshold.
    """
    lo = curve["bin_lower"].to_numpy()
    hi = curve["bin_upper"].to_numpy()
    width = hi - lo
    acc = curve["accuracy"].to_numpy(dtype=float)
    conf = curve["confidence"].to_numpy(dtype=float)
    count = curve["count"].to_numpy(dtype=float)
    used = count > 0
    fig = new_figure(4.6, 5.2)
    ax, axh = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    acc_label = "accuracy" if ece is None or not np.isfinite(ece) else f"accuracy (ECE {ece:.3f})"
    ax.bar(lo[used], acc[used], width=width[used], align="edge", color="#4c72b0", edgecolor="white",
           label=acc_label)
    gap_lo = np.minimum(acc, conf)[used]
    ax.bar(lo[used], np.abs(conf - acc)[used], bottom=gap_lo, width=width[used], align="edge",
           facecolor="none", edgecolor="#c44e52", hatch="///", lw=0.8, label="gap to mean confidence")
    ax.plot([0, 1], [0, 1], color="0.3", ls="--", lw=1, label="perfect calibration")
    if threshold is not None:
        ax.axvline(threshold, color="#55a868", lw=1.2, ls=":", label=f"threshold {threshold:g}")
        axh.axvline(threshold, color="#55a868", lw=1.2, ls=":")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("accuracy of top class")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=7.5, frameon=False)
    axh.bar(lo[used], count[used], width=width[used], align="edge", color="0.55", edgecolor="white")
    if used.any():
        axh.set_yscale("log")
        axh.set_ylim(0.5, max(2.0, count.max() * 1.5))
    axh.set_xlabel("confidence (calibrated score of top class)")
    axh.set_ylabel("samples")
    if title:
        fig.suptitle(title)
    return fig
