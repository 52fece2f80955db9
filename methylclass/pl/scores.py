"""Per-sample plots of the diagnosis report: the best class scores and the features behind a call.

Both are horizontal bar charts sized for a report column (about 6 × 2.5 inches) and drawn with the model's
class palette (:func:`methylclass.pl.palette.class_colors`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..errors import ConfigError
from ._figure import new_figure
from .colors import NO_MATCH_COLOR, color_of

#: bar colour of SHAP values that speak against the called class
AGAINST_COLOR = "#9aa5b1"


def plot_class_scores(scores: Mapping[str, float] | pd.Series, *, threshold: float | None = None,
                      colors: Mapping[str, str] | None = None, called: str | None = None, top: int = 5,
                      width: float = 6.4, title: str | None = None) -> Figure:
    """The ``top`` best class scores of one sample as horizontal bars, best on top, with the threshold line.

    Parameters
    ----------
    scores
        Calibrated score per class (NaN scores are left out).
    threshold
        Score a class needs to be called; drawn as a dashed vertical line (none when None).
    colors
        Class colours; classes not in it are grey.
    called
        The called class (its label is bold); None or ``no_match`` when nothing was called.
    top
        Number of classes shown.
    """
    s = pd.Series(scores, dtype=np.float64).dropna()
    if s.empty:
        raise ConfigError("plot_class_scores: no finite class scores to draw")
    s = s.sort_values(ascending=False, kind="stable").iloc[:max(1, int(top))]
    n = len(s)
    fig = new_figure(width, 0.42 * n + 0.9)
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    bar_colors = [color_of(c, colors) for c in s.index]
    ax.barh(y, s.to_numpy(), color=bar_colors, height=0.62, edgecolor="none", zorder=2)
    for yi, v in zip(y, s.to_numpy()):
        ax.text(v + 0.012, yi, f"{v:.2f}", va="center", ha="left", fontsize=9, color="#1f2933", zorder=5,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.6, "alpha": 0.9})
    ax.set_yticks(y)
    ax.set_yticklabels([str(c) for c in s.index], fontsize=9.5)
    for lbl in ax.get_yticklabels():
        if called is not None and lbl.get_text() == str(called):
            lbl.set_fontweight("bold")
    if threshold is not None and np.isfinite(threshold):
        ax.axvline(threshold, color="#1f2933", lw=1.1, ls=(0, (4, 3)), zorder=4)
        ax.text(threshold, n - 0.42, f"threshold {threshold:.2f} ", ha="right", va="bottom", fontsize=8,
                color="#1f2933")
    ax.set_xlim(0, 1.1)
    ax.set_xticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylim(-0.6, n - 0.4 + (0.45 if threshold is not None else 0))
    ax.set_xlabel("calibrated score", fontsize=9)
    _finish(ax, title)
    return fig


def plot_top_features(top: pd.DataFrame, *, called: str | None = None, color: str | None = None, n: int = 15,
                      width: float = 6.4, title: str | None = None) -> Figure:
    """SHAP values of the features behind a call as signed horizontal bars, largest |value| on top.

    ``top`` has columns ``feature`` and ``shap`` (and optionally ``gene``, shown after the feature name).
    Bars pushing towards ``called`` are drawn in its ``color``, bars against it in grey.
    """
    if not {"feature", "shap"} <= set(top.columns):
        raise ConfigError("plot_top_features: the table needs 'feature' and 'shap' columns")
    t = top.assign(shap=pd.to_numeric(top["shap"], errors="coerce")).dropna(subset=["shap"])
    if t.empty:
        raise ConfigError("plot_top_features: no finite SHAP values to draw")
    t = t.reindex(t["shap"].abs().sort_values(ascending=False, kind="stable").index).iloc[:max(1, int(n))]
    labels = []
    genes = t["gene"] if "gene" in t.columns else pd.Series([""] * len(t), index=t.index)
    for f, g in zip(t["feature"], genes):
        g = "" if g is None or (isinstance(g, float) and np.isnan(g)) else str(g)
        g = g if len(g) <= 18 else g[:17] + "…"
        labels.append(f"{f}  {g}" if g else str(f))
    v = t["shap"].to_numpy(np.float64)
    k = len(v)
    fig = new_figure(width, 0.3 * k + 1.0)
    ax = fig.add_subplot()
    y = np.arange(k)[::-1]
    pos_color = color or NO_MATCH_COLOR
    ax.barh(y, v, color=[pos_color if x >= 0 else AGAINST_COLOR for x in v], height=0.66, zorder=2)
    ax.axvline(0, color="#52606d", lw=0.8, zorder=3)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8.5, fontfamily="monospace")
    lim = float(np.abs(v).max()) * 1.08 or 1.0
    ax.set_xlim(-lim if (v < 0).any() else -lim * 0.05, lim if (v > 0).any() else lim * 0.05)
    who = str(called) if called else "the call"
    ax.set_xlabel(f"SHAP value (→ towards {who})", fontsize=9)
    _finish(ax, title)
    return fig


def _finish(ax, title: str | None) -> None:
    """The house style of a horizontal bar chart: light vertical grid, no top/right frame, left title."""
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(axis="x", color="#e4e7eb", lw=0.6, zorder=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=10, loc="left")
