"""Background correction kernels for one sample: noob (normal-exponential out-of-band) and Illumina's
negative-control subtraction.

Both take a :class:`~methylclass.io.raw_types.RawSignals` and return a *new* ``RawSignals`` whose ``meth``,
``unmeth``, out-of-band and control intensities are corrected (the input is never modified), so the steps
compose: ``noob`` → :mod:`~methylclass.pp.dyebias` → betas.

**noob** (Triche et al. 2013, *Nucleic Acids Res* 41:e90) models each channel's observed intensity as
``X = B + S`` with background ``B ~ N(mu, sigma²)`` and signal ``S ~ Exp(mean alpha)``, and replaces ``X`` by
``E[S | X]`` (limma's ``normexp.signal``)::

    mu_sf  = x - mu - sigma² / alpha
    E[S|x] = mu_sf + sigma² · φ(0; mu_sf, sigma) / (1 - Φ(0; mu_sf, sigma))

Parameters follow minfi ``preprocessNoob`` / sesame ``noob`` / methylprep ``preprocess_noob`` exactly (the
published algorithm): per channel, ``(mu, sigma) = MASS::huber(out-of-band)`` (Huber M-estimate of location
with the MAD as fixed scale, k = 1.5), ``alpha = max(huber(in-band)$mu - mu, 10)``; intensities ≤ 0 (in-band)
or < 1 (out-of-band) are set to 1 first; the result gets ``offset`` (15) added. The green background is the
Type I Red probes read in green, the red background the Type I Grn probes read in red. We chose the huber
estimate over limma's ``normexp.fit(method="mle")`` because it is what noob is defined with and what every
reference implementation (minfi, sesame, methylprep, mepylome) uses; the ``normexp.signal`` formula is checked
against R limma in the tests.

The Huber estimator and the normexp formula are hand-written (vectorised numpy) because scipy/statsmodels have
no MASS::huber with *fixed* MAD scale, and calling statsmodels for one location estimate would add a heavy
dependency for ten lines of arithmetic.

**Illumina** (minfi ``bgcorrect.illumina``): per channel, subtract the 31st smallest negative-control intensity
(the 5th percentile of the 614 negative controls on 450k; minfi and the Heidelberg pipeline use the same fixed
rank on EPIC's 411) and clip at 0. With fewer than :data:`ILLUMINA_MIN_NEGATIVES` negative controls (HM27 has
32, where rank 31 would be the near-maximum) the ``ceil(5 %)`` order statistic is used instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.special import log_ndtr

from ..errors import DataError
from ..io.manifest.types import Manifest
from ..io.raw_types import RawSignals

#: noob: offset added to every background-corrected intensity (minfi, sesame and methylprep default)
NOOB_OFFSET = 15.0
#: noob: lower bound of the exponential mean ``alpha`` (minfi/sesame ``max(..., 10)``)
NOOB_MIN_ALPHA = 10.0
#: Huber tuning constant and convergence tolerance (MASS::huber defaults)
HUBER_K = 1.5
HUBER_TOL = 1e-6
#: R's ``mad`` consistency constant
MAD_CONSTANT = 1.4826
#: minfi bgcorrect.illumina: rank (1-based) of the negative-control intensity used as background
ILLUMINA_BG_RANK = 31
#: below this many negative controls the background is the ceil(5 %) order statistic instead of rank 31
ILLUMINA_MIN_NEGATIVES = 100
#: largest intensity for which the integer fast paths tabulate (IDAT means are uint16)
_LUT_MAX = 65535

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


@dataclass(frozen=True)
class ChannelIndex:
    """Row indices of a manifest's probes by design and colour, computed once per manifest and cached.

    ``grn``/``red``: Type I Grn / Red probes; ``t2``: Type II probes. The in-band green values of a sample are
    ``meth[grn]``, ``unmeth[grn]`` and ``meth[t2]``; in-band red ``meth[red]``, ``unmeth[red]``, ``unmeth[t2]``;
    the green background is ``oob_*[red]`` and the red background ``oob_*[grn]``. ``meth_green``/
    ``unmeth_green`` are boolean masks of which channel each probe's meth/unmeth value was read in;
    ``ctrl_types`` the upper-cased control types; ``chrx``/``chry`` the rows of probes on chrX / chrY.
    """

    grn: np.ndarray
    red: np.ndarray
    t2: np.ndarray
    meth_green: np.ndarray
    unmeth_green: np.ndarray
    ctrl_types: np.ndarray
    chrx: np.ndarray
    chry: np.ndarray
    #: control_rows answers, by the types asked for
    _rows: dict = field(default_factory=dict, repr=False, compare=False)

    def control_rows(self, *types: str) -> np.ndarray:
        """Indices of control probes whose (upper-cased) type is one of ``types`` (read-only; matched once)."""
        hit = self._rows.get(types)
        if hit is None:
            hit = np.flatnonzero(np.isin(self.ctrl_types, [t.upper() for t in types]))
            hit.flags.writeable = False
            self._rows[types] = hit
        return hit


def channel_index(manifest: Manifest) -> ChannelIndex:
    """Return the :class:`ChannelIndex` of ``manifest``, cached in ``manifest.extra``.

    The cache is tied to the very ``probes`` and ``controls`` objects it was computed from (manifests derived
    with ``dataclasses.replace`` share ``extra`` but get their own index); tables must not be edited in place.
    """
    cached = manifest.extra.get("_pp_channel_index")
    if (isinstance(cached, tuple) and len(cached) == 3 and cached[0] is manifest.probes
            and cached[1] is manifest.controls):
        return cached[2]
    p = manifest.probes
    design = p["design"].to_numpy()
    chan = p["channel"].to_numpy()
    type1 = design == "I"
    grn_mask = type1 & (chan == "Grn")
    red_mask = type1 & (chan == "Red")
    t2_mask = design == "II"
    ctrl_types = manifest.controls["type"].astype(str).str.strip().str.upper().to_numpy()
    chrom = p["chrom"].astype(str).str.replace("^chr", "", regex=True).str.upper().to_numpy()
    idx = ChannelIndex(
        grn=np.flatnonzero(grn_mask), red=np.flatnonzero(red_mask), t2=np.flatnonzero(t2_mask),
        meth_green=grn_mask | t2_mask, unmeth_green=grn_mask, ctrl_types=ctrl_types,
        chrx=np.flatnonzero(chrom == "X"), chry=np.flatnonzero(chrom == "Y"),
    )
    manifest.extra["_pp_channel_index"] = (manifest.probes, manifest.controls, idx)
    return idx


@dataclass(frozen=True)
class NormexpParams:
    """Parameters of the normal-exponential model of one channel: background N(mu, sigma²), signal mean alpha."""

    mu: float
    sigma: float
    alpha: float


def _finite(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).ravel()
    return x[np.isfinite(x)]


def _as_counts(y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Distinct values and their counts when ``y`` (finite, float) holds only integers in 0…65535 — the case of
    IDAT intensities — else ``None``. Lets the robust statistics below run on ≤ 65,536 distinct levels instead
    of ~10⁶ values (exact: a weighted form of the same statistic)."""
    if y.size <= 8192 or y.min() < 0 or y.max() > _LUT_MAX or not np.array_equal(y, np.floor(y)):
        return None
    counts = np.bincount(y.astype(np.int64))
    vals = np.flatnonzero(counts)
    return vals.astype(np.float64), counts[vals].astype(np.float64)


def _weighted_median(v: np.ndarray, w: np.ndarray) -> float:
    """Median of values ``v`` (sorted ascending) with integer multiplicities ``w`` (R ``median`` semantics)."""
    cw = np.cumsum(w)
    n = round(float(cw[-1]))
    lo = v[np.searchsorted(cw, (n - 1) // 2 + 1)]
    hi = v[np.searchsorted(cw, n // 2 + 1)]
    return float((lo + hi) / 2.0)


def huber(y: np.ndarray, k: float = HUBER_K, tol: float = HUBER_TOL) -> tuple[float, float]:
    """Huber M-estimate of location with the MAD as fixed scale — a port of R ``MASS::huber``.

    Returns ``(mu, s)`` with ``s = 1.4826 · median(|y - median(y)|)``; like MASS, the location returned is the
    last iterate *before* the step that changed it by less than ``tol · s``. NaNs are dropped. Each iteration is
    one vectorised clip-and-mean (over the distinct levels with their counts for integer IDAT data).
    """
    y = _finite(y)
    if y.size == 0:
        raise DataError("cannot estimate a Huber location: no finite values")
    counted = _as_counts(y)
    if counted is None:
        return huber_weighted(np.sort(y), np.ones(y.size), k, tol)
    return huber_weighted(*counted, k, tol)


def huber_weighted(vals: np.ndarray, w: np.ndarray, k: float = HUBER_K, tol: float = HUBER_TOL
                   ) -> tuple[float, float]:
    """:func:`huber` of the data in which each of the ascending ``vals`` (float64) occurs ``w`` times."""
    n = float(w.sum())
    mu = _weighted_median(vals, w)
    dev = np.abs(vals - mu)
    order = np.argsort(dev, kind="stable")
    s = float(MAD_CONSTANT * _weighted_median(dev[order], w[order]))
    if s == 0:
        raise DataError("cannot estimate scale: MAD is zero for this sample (constant intensities)")
    buf = np.empty_like(vals)
    for _ in range(10_000):
        # clip(v, a, b) is min(max(v, a), b) (a < b): one pass, into one buffer; the same values, the same sum
        np.clip(vals, mu - k * s, mu + k * s, out=buf)
        buf *= w
        mu1 = float(buf.sum() / n)
        if abs(mu - mu1) < tol * s:
            break
        mu = mu1
    return mu, s


def normexp_signal(x: np.ndarray, params: NormexpParams) -> np.ndarray:
    """``E[signal | observed x]`` under the normal-exponential model (limma ``normexp.signal``), float64.

    Values that fall below 0 through the limit of numerical accuracy are set to 1e-6, as limma does. NaN stays
    NaN.
    """
    mu, sigma, alpha = params.mu, params.sigma, params.alpha
    if not (sigma > 0 and alpha > 0):
        raise DataError(f"normexp parameters must be positive (sigma={sigma}, alpha={alpha})")
    x = np.asarray(x, dtype=np.float64)
    sigma2 = sigma * sigma
    mu_sf = x - mu - sigma2 / alpha
    z = mu_sf / sigma
    # log φ(0; mu_sf, sigma) - log(1 - Φ(0; mu_sf, sigma)) = log φ(z)/sigma - log Φ(z)
    if x.ndim == 1 and sigma >= 1e-20:
        # for z ≥ 40 the ratio's exponent is below -754 (φ(z) < e^-800; log Φ(z) ≈ 0; -log sigma < 47), so
        # exp() is exactly 0.0 and the signal exactly mu_sf: evaluate log Φ only where it can matter
        signal = mu_sf.copy()
        near = np.flatnonzero(~(z >= 40))
        zn = z[near]
        log_ratio = -0.5 * zn * zn - _LOG_SQRT_2PI - np.log(sigma) - log_ndtr(zn)
        signal[near] = mu_sf[near] + sigma2 * np.exp(log_ratio)
    else:
        log_ratio = -0.5 * z * z - _LOG_SQRT_2PI - np.log(sigma) - log_ndtr(z)
        signal = mu_sf + sigma2 * np.exp(log_ratio)
    return np.where(signal < 0, 1e-6, signal)


def apply_normexp(x: np.ndarray, params: NormexpParams, offset: float = 0.0) -> np.ndarray:
    """``normexp_signal(x) + offset`` as float32, exactly, but fast for IDAT data.

    IDAT intensities are integers in 0…65535, so when every finite value of a large ``x`` is such an integer
    the function is evaluated once per distinct level on a table (≤ 65,536 evaluations) and looked up, instead
    of evaluating ``log Φ`` for each of ~10⁶ values; otherwise it is evaluated directly. NaN stays NaN.
    """
    x = np.asarray(x)
    if x.size > 8192:
        fin = np.isfinite(x)
        xf = np.where(fin, x, 0)
        lo, hi = (float(xf.min()), float(xf.max())) if xf.size else (0.0, 0.0)
        if lo >= 0 and hi <= _LUT_MAX and np.array_equal(xf, np.floor(xf)):
            table = (normexp_signal(np.arange(int(hi) + 1, dtype=np.float64), params) + offset).astype(np.float32)
            out = table[xf.astype(np.int64)]
            out[~fin] = np.nan
            return out
    return (normexp_signal(x, params) + offset).astype(np.float32)


def estimate_normexp(inband: np.ndarray, background: np.ndarray, *,
                     min_alpha: float = NOOB_MIN_ALPHA) -> NormexpParams:
    """Noob parameters of one channel from its in-band and out-of-band intensities (minfi ``normexp.get.xs``).

    ``(mu, sigma) = huber(background)``, ``alpha = max(huber(inband).mu - mu, min_alpha)``.
    """
    mu, sigma = huber(background)
    alpha = max(huber(inband)[0] - mu, min_alpha)
    return NormexpParams(mu=mu, sigma=sigma, alpha=alpha)


def _at_least(x: np.ndarray, floor: float, strict: bool) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    bad = (x <= floor) if strict else (x < floor)
    return np.where(bad, 1.0, x)


def noob_params(raw: RawSignals) -> tuple[NormexpParams, NormexpParams]:
    """Estimate the noob parameters ``(green, red)`` of one sample."""
    ix = channel_index(raw.manifest)
    # in-band: minfi sets meth/unmeth <= 0 to 1; out-of-band: sesame/methylprep set values < 1 to 1
    g_in = np.concatenate([raw.meth[ix.grn], raw.unmeth[ix.grn], raw.meth[ix.t2]])
    r_in = np.concatenate([raw.meth[ix.red], raw.unmeth[ix.red], raw.unmeth[ix.t2]])
    g_bg = np.concatenate([raw.oob_meth[ix.red], raw.oob_unmeth[ix.red]])
    r_bg = np.concatenate([raw.oob_meth[ix.grn], raw.oob_unmeth[ix.grn]])
    out = []
    for name, inband, bg in (("green", g_in, g_bg), ("red", r_in, r_bg)):
        inband, bg = _finite(inband), _finite(bg)
        if inband.size < 2 or bg.size < 2:
            raise DataError(
                f"sample '{raw.sample}': noob needs in-band and out-of-band intensities in the {name} channel "
                f"(found {inband.size:,} in-band, {bg.size:,} out-of-band; the manifest has no Type I probes of "
                f"the other colour or the IDATs lack their addresses)")
        try:
            out.append(estimate_normexp(_at_least(inband, 0, True), _at_least(bg, 1, False)))
        except DataError as exc:
            raise DataError(f"sample '{raw.sample}', {name} channel: {exc}") from None
    return out[0], out[1]


def _channel_table(params: NormexpParams, offset: float) -> np.ndarray:
    """``normexp_signal(level) + offset`` (float32) for every IDAT level 0…65535; level 0 takes level 1's value,
    which is what flooring values ≤ 0 (in-band) or < 1 (out-of-band) to 1 gives for integer data."""
    table = (normexp_signal(np.arange(_LUT_MAX + 1, dtype=np.float64), params) + offset).astype(np.float32)
    table[0] = table[1]
    return table


def integer_levels(x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Integer IDAT levels of ``x`` (NaN → 0) and the NaN mask, or None when ``x`` is not integral 0…65535."""
    nan = np.isnan(x)
    xf = np.where(nan, 0, x)
    if xf.size and (xf.min() < 0 or xf.max() > _LUT_MAX or not np.array_equal(xf, np.floor(xf))):
        return None
    return xf.astype(np.intp), nan


def _noob_by_table(raw: RawSignals, ix, pg: NormexpParams, pr: NormexpParams, offset: float) -> RawSignals | None:
    """The noob correction of :func:`noob` for IDAT-integer data with one lookup table per channel (built once,
    not once per probe group); identical results. None when the data are not IDAT integers."""
    levels = [integer_levels(np.asarray(a)) for a in (raw.meth, raw.unmeth, raw.oob_meth, raw.oob_unmeth)]
    ctrl = raw.controls.copy()
    c_levels = [integer_levels(ctrl[c].to_numpy(np.float64)) for c in ("grn", "red")] if len(ctrl) else []
    if any(lv is None for lv in levels + c_levels):
        return None
    tg, tr = _channel_table(pg, offset), _channel_table(pr, offset)

    def corrected(lv: tuple[np.ndarray, np.ndarray], green: np.ndarray | bool) -> np.ndarray:
        idx, nan = lv
        out = np.where(green, tg[idx], tr[idx])
        out[nan] = np.nan
        return out

    # in-band: the channel follows the probe; out-of-band: Type I Red → green, Type I Grn → red
    meth = corrected(levels[0], ix.meth_green)
    unmeth = corrected(levels[1], ix.unmeth_green)
    oob_green = np.zeros(raw.oob_meth.shape, dtype=bool)
    oob_green[ix.red] = True
    oob_m, oob_u = corrected(levels[2], oob_green), corrected(levels[3], oob_green)
    if len(ctrl):
        ctrl["grn"] = corrected(c_levels[0], True)
        ctrl["red"] = corrected(c_levels[1], False)
    meta = dict(raw.meta)
    meta["noob"] = {"green": pg, "red": pr, "offset": float(offset)}
    return replace(raw, meth=meth, unmeth=unmeth, oob_meth=oob_m, oob_unmeth=oob_u, controls=ctrl, meta=meta)


def noob(raw: RawSignals, *, offset: float = NOOB_OFFSET) -> RawSignals:
    """Noob background correction of one sample (see the module docstring); returns corrected signals.

    In-band, out-of-band and control intensities of each channel are all corrected with that channel's
    parameters (minfi corrects the controls the same way before dye-bias correction). The parameters are stored
    in ``meta["noob"]`` of the result.
    """
    pg, pr = noob_params(raw)
    ix = channel_index(raw.manifest)
    fast = _noob_by_table(raw, ix, pg, pr, offset)
    if fast is not None:
        return fast
    meth = _at_least(raw.meth, 0, True)
    unmeth = _at_least(raw.unmeth, 0, True)
    meth_out = np.empty(meth.shape, dtype=np.float32)
    unmeth_out = np.empty(unmeth.shape, dtype=np.float32)
    mg, ug = ix.meth_green, ix.unmeth_green
    meth_out[mg] = apply_normexp(meth[mg], pg, offset)
    meth_out[~mg] = apply_normexp(meth[~mg], pr, offset)
    unmeth_out[ug] = apply_normexp(unmeth[ug], pg, offset)
    unmeth_out[~ug] = apply_normexp(unmeth[~ug], pr, offset)
    # out-of-band: Type I Red probes' oob is green, Type I Grn probes' oob is red (NaN for Type II stays NaN)
    oob_m_out = np.full(raw.oob_meth.shape, np.nan, dtype=np.float32)
    oob_u_out = np.full(raw.oob_unmeth.shape, np.nan, dtype=np.float32)
    for rows, par in ((ix.red, pg), (ix.grn, pr)):
        oob_m_out[rows] = apply_normexp(_at_least(raw.oob_meth[rows], 1, False), par, offset)
        oob_u_out[rows] = apply_normexp(_at_least(raw.oob_unmeth[rows], 1, False), par, offset)
    oob_m_out[np.isnan(raw.oob_meth)] = np.nan
    oob_u_out[np.isnan(raw.oob_unmeth)] = np.nan
    ctrl = raw.controls.copy()
    if len(ctrl):
        ctrl["grn"] = apply_normexp(ctrl["grn"].to_numpy(np.float64), pg, offset)
        ctrl["red"] = apply_normexp(ctrl["red"].to_numpy(np.float64), pr, offset)
    # keep NaN for missing addresses
    meth_out[np.isnan(raw.meth)] = np.nan
    unmeth_out[np.isnan(raw.unmeth)] = np.nan
    meta = dict(raw.meta)
    meta["noob"] = {"green": pg, "red": pr, "offset": float(offset)}
    return replace(raw, meth=meth_out, unmeth=unmeth_out, oob_meth=oob_m_out,
                   oob_unmeth=oob_u_out, controls=ctrl, meta=meta)


def _nth_smallest(values: np.ndarray, rank: int) -> float:
    v = np.sort(_finite(values))
    if v.size == 0:
        return float("nan")
    return float(v[min(rank, v.size) - 1])


def illumina_background(raw: RawSignals, *, rank: int | None = None) -> tuple[float, float]:
    """Background level ``(green, red)`` of minfi ``bgcorrect.illumina``: the ``rank``-th smallest negative
    control intensity per channel (31 by default; ``ceil(5 %)`` of the count when there are fewer than
    :data:`ILLUMINA_MIN_NEGATIVES` negative controls)."""
    return negative_control_background(raw.sample, raw.manifest, *raw.control_intensities(), rank=rank)


def negative_control_background(sample: str, manifest: Manifest, green: np.ndarray, red: np.ndarray, *,
                                rank: int | None = None) -> tuple[float, float]:
    """:func:`illumina_background` from control intensities ``green``/``red`` (float64, aligned with
    ``manifest.controls``) of ``sample``."""
    ix = channel_index(manifest)
    neg = ix.control_rows("NEGATIVE")
    if neg.size == 0:
        raise DataError(f"sample '{sample}': the manifest has no NEGATIVE control probes, which the "
                        "Illumina background correction needs")
    if rank is None:
        rank = (ILLUMINA_BG_RANK if neg.size >= ILLUMINA_MIN_NEGATIVES
                else max(1, int(np.ceil(0.05 * neg.size))))
    bg_g, bg_r = _nth_smallest(green[neg], rank), _nth_smallest(red[neg], rank)
    if not (np.isfinite(bg_g) and np.isfinite(bg_r)):
        raise DataError(f"sample '{sample}': the IDATs contain none of the NEGATIVE control addresses, which "
                        "the Illumina background correction needs")
    return bg_g, bg_r


def subtract_background(raw: RawSignals, green: float, red: float) -> RawSignals:
    """Subtract a constant background per channel from every intensity and clip at 0 (minfi ``pmax2(x - bg, 0)``)."""
    ix = channel_index(raw.manifest)
    meth = np.maximum(raw.meth - np.where(ix.meth_green, green, red), 0).astype(np.float32)
    unmeth = np.maximum(raw.unmeth - np.where(ix.unmeth_green, green, red), 0).astype(np.float32)
    oob_green = np.zeros(raw.oob_meth.shape, dtype=bool)
    oob_green[ix.red] = True
    bg_oob = np.where(oob_green, green, red)
    oob_m = np.maximum(raw.oob_meth - bg_oob, 0).astype(np.float32)
    oob_u = np.maximum(raw.oob_unmeth - bg_oob, 0).astype(np.float32)
    ctrl = raw.controls.copy()
    if len(ctrl):
        ctrl["grn"] = np.maximum(ctrl["grn"].to_numpy(np.float64) - green, 0).astype(np.float32)
        ctrl["red"] = np.maximum(ctrl["red"].to_numpy(np.float64) - red, 0).astype(np.float32)
    meta = dict(raw.meta)
    meta["background"] = {"green": float(green), "red": float(red)}
    return replace(raw, meth=meth, unmeth=unmeth, oob_meth=oob_m, oob_unmeth=oob_u, controls=ctrl, meta=meta)
