"""Detection p-values of one sample: is a probe's signal distinguishable from background?

Both methods work on the *raw* intensities (sesame and methylprep compute pOOBAH before noob) and return a
float32 array aligned to ``manifest.probes`` (NaN where the probe's addresses are missing from the IDATs).

* ``poobah`` — pOOBAH, "p-value with out-of-band array hybridization" (Zhou et al. 2018, *Nucleic Acids Res*
  46:e123; sesame ``pOOBAH``). The null distribution of each channel is the empirical distribution (ECDF) of
  its out-of-band intensities — green: Type I Red probes read in green; red: Type I Grn probes read in red —
  pooled with the negative-control intensities of that channel (sesame ``combine.neg=TRUE``); with ≤ 100
  background values sesame's prior ``1..1000`` is used. ``p = 1 - ECDF(signal)`` where the signal is the
  brighter allele in the probe's channel: ``max(M, U)`` for Type I; for Type II each allele is tested in its
  own channel (M green, U red) and the smaller p is kept, as sesame does. (Using the brighter allele rather
  than ``M + U`` keeps the statistic on the same scale as the single-bead background it is compared with; a
  sum of two background reads would be called "detected" far too often.) Unlike current sesame we do not
  also test a Type I probe's out-of-band reading: that is background by design and would only let failed
  probes pass.
* ``negative`` — minfi ``detectionP``: with ``mu``/``sd`` the median/MAD of the negative controls per channel,
  ``p = P(N > M + U)`` under ``N(2·mu, 2·sd)`` of the probe's channel for Type I and ``N(mu_R + mu_G,
  sd_R + sd_G)`` for Type II.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from ..errors import ConfigError, DataError
from ..io.raw_types import RawSignals
from .background import MAD_CONSTANT, channel_index
from .levels import background_counts, channel_keys, channel_positions, complete_channels

#: default detection threshold: a probe with p > this has failed (sesame, methylprep, minfi convention)
P_THRESHOLD = 0.05
#: sesame: fewer background values than this → use the empirical prior 1..1000
MIN_BACKGROUND = 100
DETECTION_METHODS = ("poobah", "negative")


def _is_uint16_valued(x: np.ndarray) -> bool:
    return bool(x.size and x.min() >= 0 and x.max() <= 65535 and np.array_equal(x, np.floor(x)))


def _ecdf_upper(background: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``1 - ECDF_background(x)`` (R ``1 - ecdf(bg)(x)``: the fraction of background values > x).

    For IDAT data (integers 0…65535 on both sides) the ECDF is tabulated from a histogram of the background
    and looked up (exact); otherwise it is evaluated by binary search.
    """
    bg = background[np.isfinite(background)]
    n = bg.size
    fin = np.isfinite(x)
    xf = np.where(fin, x, 0.0)
    if x.size > 8192 and _is_uint16_valued(bg) and _is_uint16_valued(xf):
        cdf = np.cumsum(np.bincount(bg.astype(np.int64), minlength=65536)) / n
        p = (1.0 - cdf[xf.astype(np.int64)]).astype(np.float32)
    else:
        p = (1.0 - np.searchsorted(np.sort(bg), xf, side="right") / n).astype(np.float32)
    p[~fin] = np.nan
    return p


def _negative_controls(raw: RawSignals) -> tuple[np.ndarray, np.ndarray]:
    rows = channel_index(raw.manifest).control_rows("NEGATIVE")
    if not rows.size:
        return np.zeros(0), np.zeros(0)
    grn, red = (c[rows] for c in raw.control_intensities())
    return grn[np.isfinite(grn)], red[np.isfinite(red)]


def _upper_table(counts: np.ndarray) -> np.ndarray:
    """``1 - ECDF(level)`` (float32) for every level 0…65535 from the background's level counts."""
    return (1.0 - np.cumsum(counts) / counts.sum()).astype(np.float32)


def _poobah_by_levels(raw: RawSignals, combine_negative: bool) -> np.ndarray | None:
    """:func:`poobah` computed on the sample's integer IDAT levels (identical values: the same counts, the same
    float64 ECDF, cast to float32 the same way), or None when the sample has no IDAT levels, a background too
    small for the ECDF (sesame's prior applies) or non-integer negative controls."""
    levels = raw.idat_levels()
    if levels is None:
        return None
    ix = channel_index(raw.manifest)
    pos = channel_positions(levels, ix)
    tables = []
    for bg_pos, bg_counts, neg in zip((pos.green_bg, pos.red_bg), background_counts(levels, ix),
                                      _negative_controls(raw) if combine_negative else ((), ())):
        neg = np.asarray(neg, dtype=np.float64)
        if neg.size and not _is_uint16_valued(neg):
            return None
        if bg_pos.size + neg.size <= MIN_BACKGROUND:
            return None
        counts = bg_counts + np.bincount(neg.astype(np.int64), minlength=65536) if neg.size else bg_counts
        tables.append(_upper_table(counts))
    up_g, up_r = tables
    if complete_channels(raw.manifest, ix):
        # 1 - ECDF is non-increasing in the level, so a Type I probe's p at its brighter allele is the smaller
        # of its two alleles' p; each allele looked up in the table of the channel it was read in (green:
        # Type II M and Type I Grn, red: Type II U and Type I Red) — one pass over all probes, same values
        table = np.concatenate([up_g, up_r])
        km, ku = channel_keys(levels)
        p = np.minimum(table.take(km), table.take(ku))
    else:
        (m, _), (u, _) = levels.gather("meth"), levels.gather("unmeth")
        p = np.full(m.shape, np.nan, dtype=np.float32)
        p[ix.grn] = up_g.take(np.maximum(m[ix.grn], u[ix.grn]))
        p[ix.red] = up_r.take(np.maximum(m[ix.red], u[ix.red]))
        p[ix.t2] = np.minimum(up_g.take(m[ix.t2]), up_r.take(u[ix.t2]))
    # a probe with either address absent has no p-value (Type I: max with NaN; Type II: both alleles needed)
    p[levels.index.plans["meth"][1]] = np.nan
    p[levels.index.plans["unmeth"][1]] = np.nan
    return p


def poobah(raw: RawSignals, *, combine_negative: bool = True) -> np.ndarray:
    """pOOBAH detection p-values (see the module docstring).

    For signals straight from IDATs the same values are computed on the integer levels
    (:meth:`RawSignals.idat_levels`), without float copies of the ~10⁶ intensities.
    """
    fast = _poobah_by_levels(raw, combine_negative)
    if fast is not None:
        return fast
    ix = channel_index(raw.manifest)
    bg_g = np.concatenate([raw.oob_meth[ix.red], raw.oob_unmeth[ix.red]]).astype(np.float64)
    bg_r = np.concatenate([raw.oob_meth[ix.grn], raw.oob_unmeth[ix.grn]]).astype(np.float64)
    if combine_negative:
        neg_g, neg_r = _negative_controls(raw)
        bg_g, bg_r = np.concatenate([bg_g, neg_g]), np.concatenate([bg_r, neg_r])
    prior = np.arange(1, 1001, dtype=np.float64)
    if np.isfinite(bg_g).sum() <= MIN_BACKGROUND:
        bg_g = prior
    if np.isfinite(bg_r).sum() <= MIN_BACKGROUND:
        bg_r = prior
    m = raw.meth.astype(np.float64)
    u = raw.unmeth.astype(np.float64)
    p = np.full(m.shape, np.nan, dtype=np.float32)
    # Type I: brighter allele in the probe's own channel (NaN if either bead is missing)
    top = np.maximum(m, u)
    p[ix.grn] = _ecdf_upper(bg_g, top[ix.grn])
    p[ix.red] = _ecdf_upper(bg_r, top[ix.red])
    # Type II: M in green, U in red, keep the smaller p
    p[ix.t2] = np.fmin(_ecdf_upper(bg_g, m[ix.t2]), _ecdf_upper(bg_r, u[ix.t2]))
    p[ix.t2[~(np.isfinite(m[ix.t2]) & np.isfinite(u[ix.t2]))]] = np.nan
    return p


def negative_control_p(raw: RawSignals) -> np.ndarray:
    """minfi ``detectionP``: normal model of the negative controls (see the module docstring)."""
    neg_g, neg_r = _negative_controls(raw)
    if neg_g.size < 2 or neg_r.size < 2:
        raise DataError(f"sample '{raw.sample}': negative-control detection p-values need NEGATIVE control probes "
                        f"(found {neg_g.size} green, {neg_r.size} red)")
    g_mu, r_mu = float(np.median(neg_g)), float(np.median(neg_r))
    g_sd = float(MAD_CONSTANT * np.median(np.abs(neg_g - g_mu)))
    r_sd = float(MAD_CONSTANT * np.median(np.abs(neg_r - r_mu)))
    if g_sd <= 0 or r_sd <= 0:
        raise DataError(f"sample '{raw.sample}': negative controls have zero spread; cannot compute detection p")
    ix = channel_index(raw.manifest)
    total = raw.meth.astype(np.float64) + raw.unmeth.astype(np.float64)
    p = np.full(total.shape, np.nan, dtype=np.float32)
    for rows, mean, sd in ((ix.red, 2 * r_mu, 2 * r_sd), (ix.grn, 2 * g_mu, 2 * g_sd),
                           (ix.t2, r_mu + g_mu, r_sd + g_sd)):
        p[rows] = ndtr(-(total[rows] - mean) / sd)
    return p


def detection_p(raw: RawSignals, method: str = "poobah") -> np.ndarray:
    """Detection p-values by ``method`` (``poobah`` or ``negative``)."""
    if method == "poobah":
        return poobah(raw)
    if method == "negative":
        return negative_control_p(raw)
    raise ConfigError(f"unknown detection method '{method}'; choose one of {', '.join(DETECTION_METHODS)}")


def failed_mask(p: np.ndarray, threshold: float = P_THRESHOLD) -> np.ndarray:
    """Boolean mask of probes that failed detection: ``p > threshold`` or p unknown (NaN)."""
    p = np.asarray(p)
    return ~(p <= threshold)
