"""Embedding plots: 2-D scatter coloured by class (or any column), PCA scree, clustered heatmap."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._figure import new_figure
from .palette import NO_MATCH_COLOR, class_colors

__all__ = ["plot_clustered_heatmap", "plot_embedding", "plot_scree"]


def plot_embedding(coords: pd.DataFrame, color_by: pd.Series, *, title: str | None = None,
                   palette: Mapping[str, str] | None = None, highlight: pd.Series | None = None,
                   dims: tuple[int, int] = (0, 1)) -> Figure:
    """Scatter of two columns of ``coords`` coloured by ``color_by`` (categorical: one colour per value from
    the class palette; numeric: a colour scale). ``highlight`` (boolean per sample, e.g. ``no_match``) draws a
    black ring around those samples."""
    fig = new_figure(5.6, 4.6)
    ax = fig.subplots()
    c = color_by.reindex(coords.index)
    x, y = coords.iloc[:, dims[0]], coords.iloc[:, dims[1]]
    if pd.api.types.is_numeric_dtype(c) and c.nunique() > 12:
        sc = ax.scatter(x, y, c=c.astype(float), cmap="viridis", s=14, linewidths=0)
        fig.colorbar(sc, ax=ax, label=str(c.name or "value"), shrink=0.7)
    else:
        labels = c.astype(str)
        pal = dict(palette or class_colors(labels.unique()))
        for v in sorted(labels.unique()):
            m = (labels == v).to_numpy()
            ax.scatter(x[m], y[m], s=14, color=pal.get(v, NO_MATCH_COLOR), label=f"{v} (n={int(m.sum())})",
                       linewidths=0)
        ax.legend(fontsize=7, markerscale=1.5, title=str(c.name or ""), title_fontsize=7, loc="best",
                  frameon=False)
    if highlight is not None:
        h = highlight.reindex(coords.index).fillna(False).astype(bool).to_numpy()
        if h.any():
            ax.scatter(x[h], y[h], s=60, facecolors="none", edgecolors="black", linewidths=1.0,
                       label="no_match")
    ax.set_xlabel(str(coords.columns[dims[0]]))
    ax.set_ylabel(str(coords.columns[dims[1]]))
    if title:
        ax.set_title(title)
    return fig


def plot_scree(explained_variance_ratio: np.ndarray, *, title: str | None = None) -> Figure:
    """Explained variance per principal component (bars) and cumulative (line)."""
    r = np.asarray(explained_variance_ratio, dtype=float)
    fig = new_figure(5.0, 3.4)
    ax = fig.subplots()
    k = np.arange(1, len(r) + 1)
    ax.bar(k, r * 100, color="#4c72b0", label="per component")
    ax.plot(k, np.cumsum(r) * 100, "o-", color="#c44e52", ms=3, label="cumulative")
    ax.set_xlabel("principal component")
    ax.set_ylabel("explained variance (%)")
    ax.legend(fontsize=8)
    ax.set_title(title or "PCA explained variance")
    return fig


def plot_clustered_heatmap(F: pd.DataFrame, linkage: np.ndarray, labels: pd.Series, *,
                           palette: Mapping[str, str] | None = None, max_features: int = 500,
                           title: str | None = None) -> Figure:
    """Heatmap of ``F`` (samples × top-variable CpGs; rows ordered by the sample dendrogram, columns by a
    CpG clustering) with the dendrogram on top and a class colour bar under it."""
    from scipy.cluster.hierarchy import dendrogram, leaves_list
    from scipy.cluster.hierarchy import linkage as make_linkage

    from ..models.selectors import top_variance_indices

    F = F.iloc[:, top_variance_indices(F.to_numpy(), max_features)]
    leaves = leaves_list(linkage)
    col_order = leaves_list(make_linkage(F.to_numpy().T, method="average", metric="correlation"))
    M = F.to_numpy()[leaves][:, col_order].T  # CpGs × samples
    lab = labels.reindex(F.index).astype(str).to_numpy()[leaves]
    pal = dict(palette or class_colors(np.unique(lab)))
    fig = new_figure(9.0, 6.8)
    gs = fig.add_gridspec(3, 2, height_ratios=[1.2, 0.25, 5], width_ratios=[30, 1])
    axd = fig.add_subplot(gs[0, 0])
    dendrogram(linkage, ax=axd, no_labels=True, color_threshold=0, above_threshold_color="#555555")
    axd.set_axis_off()
    axd.set_title(title or "hierarchical clustering (1 − Pearson, average linkage)")
    axc = fig.add_subplot(gs[1, 0])
    from matplotlib.colors import ListedColormap

    uniq = sorted(set(lab))
    axc.imshow(np.array([[uniq.index(v) for v in lab]]), aspect="auto",
               cmap=ListedColormap([pal.get(v, NO_MATCH_COLOR) for v in uniq]), interpolation="nearest")
    axc.set_yticks([0], ["class"], fontsize=7)
    axc.set_xticks([])
    axh = fig.add_subplot(gs[2, 0])
    im = axh.imshow(M, aspect="auto", cmap="RdBu_r", vmin=0, vmax=1, interpolation="nearest")
    axh.set_xlabel(f"samples ({M.shape[1]})")
    axh.set_ylabel(f"top-variable CpGs ({M.shape[0]})")
    axh.set_xticks([])
    axh.set_yticks([])
    fig.colorbar(im, cax=fig.add_subplot(gs[2, 1]), label="beta")
    from matplotlib.patches import Patch

    fig.legend(handles=[Patch(color=pal.get(v, NO_MATCH_COLOR), label=v) for v in uniq], fontsize=7,
               loc="outside lower center", ncol=min(len(uniq), 8), frameon=False, title="class",
               title_fontsize=7)
    return fig
