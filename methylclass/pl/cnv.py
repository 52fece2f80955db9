"""Copy-number plots: the conumee-style genome plot of one sample and a cohort gain/loss frequency plot.

Genome plot (as ``conumee::CNV.genomeplot``): the genome on x in chromosome order, one dot per bin (grey
near 0, shading to green for gains and red for losses), segments as horizontal lines, chromosome boundaries
as solid and centromeres as dashed vertical lines, detail genes labelled at their value. Values beyond the
y limits are drawn at the limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.colors import LinearSegmentedColormap, Normalize
from matplotlib.figure import Figure

from ..errors import ConfigError
from ..pp.cnv.bins import Bins
from ..pp.cnv.calls import DEFAULT_THRESHOLDS, CallThresholds, segment_value_per_bin
from ..pp.cnv.genome import Genome, load_genome
from ..pp.cnv.sample import CNVResult
from ._figure import new_figure, save_figure

_CMAP = LinearSegmentedColormap.from_list("cnv", ["#c0392b", "#d98880", "#9a9a9a", "#9a9a9a", "#7dcea0",
                                                   "#1e8449"])


def _axis(bins: Bins, genome: Genome) -> tuple[np.ndarray, dict[str, int], np.ndarray]:
    """Genome-axis x of every bin midpoint, chromosome offsets, and the lengths of bins.chroms."""
    g = genome.subset(bins.chroms)
    lengths = g.lengths.astype(np.int64)
    off = dict(zip(g.chroms, np.concatenate([[0], np.cumsum(lengths[:-1])])))
    x = np.array([off[c] for c in bins.chrom], dtype=np.int64) + bins.midpoint
    return x, off, lengths


def _frame(ax, bins: Bins, genome: Genome, off: dict, lengths: np.ndarray, ylim: tuple[float, float]) -> None:
    g = genome.subset(bins.chroms)
    total = int(lengths.sum())
    for c, length, pq in zip(g.chroms, lengths, g.pq):
        ax.axvline(off[c], color="#555555", lw=0.6, zorder=1)
        ax.axvline(off[c] + pq, color="#999999", lw=0.5, ls=(0, (3, 3)), zorder=1)
    ax.axvline(total, color="#555555", lw=0.6, zorder=1)
    ax.axhline(0, color="#bbbbbb", lw=0.5, zorder=1)
    ax.set_xlim(0, total)
    ax.set_ylim(*ylim)
    ax.set_xticks([off[c] + length / 2 for c, length in zip(g.chroms, lengths)])
    ax.set_xticklabels([c.replace("chr", "") for c in g.chroms], fontsize=7)
    ax.tick_params(axis="x", length=0)


def plot_genome(result: CNVResult, bins: Bins, genome: Genome | None = None, *,
                ylim: tuple[float, float] = (-1.25, 1.25), detail: bool = True, title: str | None = None,
                thresholds: CallThresholds = DEFAULT_THRESHOLDS, width: float = 14, height: float = 4.5) -> Figure:
    """Genome-wide CNV plot of one sample (see the module docstring)."""
    if bins.key != result.bins_key:
        raise ConfigError(f"sample '{result.sample}': the result was computed with other CNV bins")
    genome = genome or load_genome(bins.build)
    x, off, lengths = _axis(bins, genome)
    y = result.bin_shifted.astype(np.float64)
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    _frame(ax, bins, genome, off, lengths, ylim)
    yc = np.clip(y, *ylim)
    norm = Normalize(vmin=-0.6, vmax=0.6)
    ok = np.isfinite(yc)
    ax.scatter(x[ok], yc[ok], s=2.5, c=_CMAP(norm(np.clip(y[ok], -0.6, 0.6))), linewidths=0, zorder=2,
               rasterized=True)
    seg = result.segments
    for c, s, e, v in zip(seg["chrom"], seg["start"], seg["end"], seg["value"]):
        if c in off and np.isfinite(v):
            ax.plot([off[c] + s, off[c] + e], [np.clip(v, *ylim)] * 2, color="#1f3b73", lw=1.6,
                    solid_capstyle="butt", zorder=3)
    if detail and len(result.focal):
        f = result.focal[np.isfinite(result.focal["value"].to_numpy(np.float64))]
        for gene, c, s, e, v, call in zip(f["gene"], f["chrom"], f["start"], f["end"], f["value"], f["call"]):
            if c not in off:
                continue
            gx, gy = off[c] + (s + e) / 2, float(np.clip(v, ylim[0] * 0.92, ylim[1] * 0.92))
            color = {"amplification": "#1e8449", "gain": "#1e8449", "deletion": "#c0392b",
                     "loss": "#c0392b"}.get(call, "#333333")
            ax.plot([gx], [gy], marker="v" if v < 0 else "^", ms=3, color=color, zorder=4)
            ax.annotate(gene, (gx, gy), xytext=(0, 6 if v >= 0 else -10), textcoords="offset points",
                        fontsize=6.5, ha="center", color=color, zorder=5)
    ax.set_ylabel("log2 ratio (shifted)")
    ax.set_title(title or f"{result.sample}  —  noise {result.noise:.3f}, FGA {result.fga['fga']:.1%}",
                 fontsize=10, loc="left")
    return fig


def cohort_frequencies(results: Sequence[CNVResult] | np.ndarray, bins: Bins,
                       thresholds: CallThresholds = DEFAULT_THRESHOLDS) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin fraction of samples with segment value ≥ gain and ≤ loss threshold.

    ``results``: CNV results, or a samples × bins matrix of shifted segment values."""
    if isinstance(results, np.ndarray):
        mat = np.atleast_2d(results).astype(np.float64)
    else:
        mat = np.vstack([segment_value_per_bin(r.segments, bins.n_bins) for r in results])
    if mat.shape[1] != bins.n_bins or mat.shape[0] == 0:
        raise ConfigError(f"cohort matrix has shape {mat.shape}; expected samples × {bins.n_bins} bins")
    valid = np.isfinite(mat).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        gain = np.where(valid > 0, (mat >= thresholds.gain).sum(axis=0) / valid, np.nan)
        loss = np.where(valid > 0, (mat <= thresholds.loss).sum(axis=0) / valid, np.nan)
    return gain, loss


def plot_cohort_frequency(results: Sequence[CNVResult] | np.ndarray, bins: Bins, genome: Genome | None = None,
                          *, thresholds: CallThresholds = DEFAULT_THRESHOLDS, title: str | None = None,
                          width: float = 14, height: float = 4) -> Figure:
    """Cohort summary: fraction of samples with a gain (up, green) or loss (down, red) in every bin."""
    genome = genome or load_genome(bins.build)
    gain, loss = cohort_frequencies(results, bins, thresholds)
    n = len(results) if not isinstance(results, np.ndarray) else np.atleast_2d(results).shape[0]
    x, off, lengths = _axis(bins, genome)
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    _frame(ax, bins, genome, off, lengths, (-1.02, 1.02))
    for c in bins.chroms:
        idx = np.flatnonzero(bins.chrom == c)
        if idx.size:
            ax.fill_between(x[idx], 0, np.nan_to_num(gain[idx]), step="mid", color="#1e8449", lw=0, zorder=2)
            ax.fill_between(x[idx], 0, -np.nan_to_num(loss[idx]), step="mid", color="#c0392b", lw=0, zorder=2)
    ax.set_yticks([-1, -0.5, 0, 0.5, 1])
    ax.set_yticklabels(["100%", "50%", "0", "50%", "100%"], fontsize=7)
    ax.set_ylabel("loss  |  gain")
    ax.set_title(title or f"CNV frequency, {n} samples (gain ≥ {thresholds.gain:g}, loss ≤ {thresholds.loss:g})",
                 fontsize=10, loc="left")
    return fig


def save_genome_plot(result: CNVResult, bins: Bins, stem: str | Path, *, formats=("png", "svg"),
                     **kwargs) -> list[Path]:
    """Draw :func:`plot_genome` and write ``<stem>.png`` / ``<stem>.svg`` atomically."""
    return save_figure(plot_genome(result, bins, **kwargs), stem, formats)
