"""Dye-bias correction of one sample (Cy5 red vs Cy3 green), applied after background correction.

* :func:`linear_dye_bias` — minfi ``preprocessNoob(dyeMethod="single")``, which methylprep (``sesame=False``)
  reproduces: with ``G`` = mean green intensity of the NORM_C + NORM_G controls and ``R`` = mean red intensity of
  the NORM_A + NORM_T controls (both already background-corrected), every red-channel intensity is multiplied
  by ``G / R``; green stays as it is. Single-sample: no reference array is needed (minfi notes that its betas
  equal those of the older "reference" method).
* :func:`nonlinear_dye_bias` — sesame ``dyeBiasCorrTypeINorm``: the sorted in-band Type I Red intensities are
  quantile-matched to the Type I Grn distribution (and vice versa) and each channel is mapped to the midpoint
  of the two, by linear interpolation inside the observed range, a shift above it and a scaling below it.

Both return a new :class:`~methylclass.io.raw_types.RawSignals` (meth/unmeth, out-of-band and control
intensities transformed consistently) and record what they did in ``meta["dye_bias"]``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import ConfigError, DataError
from ..io.raw_types import RawSignals
from .background import channel_index

#: control types whose green (resp. red) intensity measures the normalisation level of the channel
NORM_GREEN_TYPES = ("NORM_C", "NORM_G")
NORM_RED_TYPES = ("NORM_A", "NORM_T")
#: 27k manifests name their normalisation controls differently (minfi uses these for HM27)
NORM_GREEN_TYPES_27K = ("NORMALIZATION-GREEN",)
NORM_RED_TYPES_27K = ("NORMALIZATION-RED",)


def normalization_control_means(sig: RawSignals) -> tuple[float, float]:
    """Mean green intensity of the NORM_C/NORM_G controls and mean red intensity of NORM_A/NORM_T.

    Raises :class:`DataError` naming the sample when the manifest has no such controls or none was read.
    """
    return control_means(sig.sample, sig.manifest, *sig.control_intensities())


def control_means(sample: str, manifest, green: np.ndarray, red: np.ndarray) -> tuple[float, float]:
    """:func:`normalization_control_means` from the control intensities ``green``/``red`` (float64, aligned
    with ``manifest.controls``) of ``sample``."""
    ix = channel_index(manifest)
    g_rows, r_rows = ix.control_rows(*NORM_GREEN_TYPES), ix.control_rows(*NORM_RED_TYPES)
    if g_rows.size == 0 or r_rows.size == 0:
        g_rows, r_rows = ix.control_rows(*NORM_GREEN_TYPES_27K), ix.control_rows(*NORM_RED_TYPES_27K)
    if g_rows.size == 0 or r_rows.size == 0:
        raise DataError(f"sample '{sample}': the manifest ({manifest.array}) has no normalisation control "
                        "probes (NORM_A/C/G/T), which dye-bias correction needs")
    g, r = green[g_rows], red[r_rows]
    if not np.isfinite(g).any() or not np.isfinite(r).any():
        raise DataError(f"sample '{sample}': the IDATs contain none of the normalisation control addresses")
    return float(np.nanmean(g)), float(np.nanmean(r))


def scale_channels(sig: RawSignals, green: float, red: float) -> RawSignals:
    """Multiply every green intensity by ``green`` and every red one by ``red`` (in-band, out-of-band, controls)."""
    ix = channel_index(sig.manifest)
    meth = (sig.meth * np.where(ix.meth_green, green, red)).astype(np.float32)
    unmeth = (sig.unmeth * np.where(ix.unmeth_green, green, red)).astype(np.float32)
    oob_m = sig.oob_meth.astype(np.float32, copy=True)
    oob_u = sig.oob_unmeth.astype(np.float32, copy=True)
    # out-of-band of Type I Red probes was read in green, of Type I Grn probes in red
    oob_m[ix.red] *= green
    oob_u[ix.red] *= green
    oob_m[ix.grn] *= red
    oob_u[ix.grn] *= red
    ctrl = sig.controls.copy()
    if len(ctrl):
        ctrl["grn"] = (ctrl["grn"].to_numpy(np.float64) * green).astype(np.float32)
        ctrl["red"] = (ctrl["red"].to_numpy(np.float64) * red).astype(np.float32)
    return replace(sig, meth=meth, unmeth=unmeth, oob_meth=oob_m, oob_unmeth=oob_u, controls=ctrl,
                   meta=dict(sig.meta))


def linear_dye_bias(sig: RawSignals) -> RawSignals:
    """minfi "single" linear dye-bias correction: scale red by ``mean(NORM_C,G green) / mean(NORM_A,T red)``."""
    g, r = normalization_control_means(sig)
    if not (g > 0 and r > 0):
        raise DataError(f"sample '{sig.sample}': normalisation controls are not positive (green {g:.1f}, "
                        f"red {r:.1f}); cannot correct dye bias")
    out = scale_channels(sig, 1.0, g / r)
    out.meta["dye_bias"] = {"method": "linear", "green_norm": g, "red_norm": r, "red_factor": g / r}
    return out


def _quantiles_of(target: np.ndarray, n: int) -> np.ndarray:
    """``n`` evenly spaced quantiles of ``target`` by linear interpolation (preprocessCore
    ``normalize.quantiles.use.target`` for a single column whose length differs from the target's)."""
    t = np.sort(target)
    if t.size == n:
        return t
    return np.interp(np.linspace(0.0, t.size - 1.0, n), np.arange(t.size, dtype=np.float64), t)


class _MidpointMap:
    """sesame's ``fitfunRed``/``fitfunGrn``: map one channel's intensities to the mid-point between its own
    distribution and the other channel's."""

    def __init__(self, own: np.ndarray, other: np.ndarray):
        own = np.sort(own)
        mid = (own + _quantiles_of(other, own.size)) / 2.0
        # R approx(ties = mean): collapse duplicated x by averaging y
        ux, inv = np.unique(own, return_inverse=True)
        self.x = ux
        self.y = np.bincount(inv, weights=mid) / np.bincount(inv)
        self.lo, self.hi = float(own[0]), float(own[-1])
        self.mid_lo, self.mid_hi = float(mid.min()), float(mid.max())

    def __call__(self, data: np.ndarray) -> np.ndarray:
        d = np.asarray(data, dtype=np.float64)
        out = np.interp(d, self.x, self.y)
        over = d > self.hi
        out[over] = d[over] - self.hi + self.mid_hi
        under = d < self.lo
        out[under] = (self.mid_lo / self.lo * d[under]) if self.lo != 0 else d[under]
        out[np.isnan(d)] = np.nan
        return out.astype(np.float32)


def nonlinear_dye_bias(sig: RawSignals) -> RawSignals:
    """sesame ``dyeBiasCorrTypeINorm`` (see the module docstring)."""
    ix = channel_index(sig.manifest)
    ig = np.concatenate([sig.meth[ix.grn], sig.unmeth[ix.grn]]).astype(np.float64)
    ir = np.concatenate([sig.meth[ix.red], sig.unmeth[ix.red]]).astype(np.float64)
    ig, ir = ig[np.isfinite(ig)], ir[np.isfinite(ir)]
    if ig.size < 10 or ir.size < 10:
        raise DataError(f"sample '{sig.sample}': non-linear dye-bias correction needs Type I probes of both colours "
                        f"(found {ig.size:,} green and {ir.size:,} red intensities)")
    fit_red, fit_grn = _MidpointMap(ir, ig), _MidpointMap(ig, ir)
    meth = np.empty_like(sig.meth, dtype=np.float32)
    unmeth = np.empty_like(sig.unmeth, dtype=np.float32)
    mg, ug = ix.meth_green, ix.unmeth_green
    meth[mg], meth[~mg] = fit_grn(sig.meth[mg]), fit_red(sig.meth[~mg])
    unmeth[ug], unmeth[~ug] = fit_grn(sig.unmeth[ug]), fit_red(sig.unmeth[~ug])
    oob_m = np.full(sig.oob_meth.shape, np.nan, dtype=np.float32)
    oob_u = np.full(sig.oob_unmeth.shape, np.nan, dtype=np.float32)
    for rows, fit in ((ix.red, fit_grn), (ix.grn, fit_red)):
        oob_m[rows] = fit(sig.oob_meth[rows])
        oob_u[rows] = fit(sig.oob_unmeth[rows])
    ctrl = sig.controls.copy()
    if len(ctrl):
        ctrl["grn"] = fit_grn(ctrl["grn"].to_numpy(np.float64))
        ctrl["red"] = fit_red(ctrl["red"].to_numpy(np.float64))
    meta = dict(sig.meta)
    meta["dye_bias"] = {"method": "nonlinear"}
    return replace(sig, meth=meth, unmeth=unmeth, oob_meth=oob_m, oob_unmeth=oob_u, controls=ctrl, meta=meta)


DYE_METHODS = ("linear", "nonlinear", "none")


def correct_dye_bias(sig: RawSignals, method: str = "linear") -> RawSignals:
    """Apply the dye-bias correction named ``method`` (``linear``, ``nonlinear`` or ``none``)."""
    if method == "linear":
        return linear_dye_bias(sig)
    if method == "nonlinear":
        return nonlinear_dye_bias(sig)
    if method in ("none", None):
        return sig
    raise ConfigError(f"unknown dye-bias method '{method}'; choose one of {', '.join(DYE_METHODS)}")
