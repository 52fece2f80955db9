"""Normalisation of one sample computed on its integer IDAT levels — the fast paths of
:func:`~methylclass.pp.normalize.normalize` for ``method="noob"`` and ``method="illumina"`` (and the background
positions pOOBAH counts on).

IDAT means are integers 0…65535, so every statistic these methods need is a function of *how many* beads sit
at each level, and every corrected intensity a function of the level alone:

* noob's Huber estimates (:func:`~methylclass.pp.background.huber_weighted`) run on per-channel level counts
  (``np.bincount`` of the levels gathered at the channel's in-band / out-of-band bead positions — positions
  computed once per address layout), not on ~10⁶ floats;
* the normal-exponential correction and the linear dye-bias factor (noob), or the control scaling and the
  negative-control background (illumina), are evaluated once per level on a lookup table per channel, and the
  corrected IDAT means are gathered onto the probes exactly as the raw ones are;
* out-of-band intensities, which the betas do not need, are not corrected at all.

The results are identical, bit for bit, to the generic kernels — :func:`~methylclass.pp.background.noob` then
:func:`~methylclass.pp.dyebias.correct_dye_bias`, and :func:`~methylclass.pp.normalize.illumina_normalize` — as
the same float64 formulas are applied to the same values and cast to float32 at the same steps;
``tests/pp/test_levels.py`` checks that on real-manifest samples with absent, zero and saturated values.
Whenever a fast path does not apply — signals not straight from IDATs (:meth:`RawSignals.idat_levels` is None),
a noob channel with ≤ 8,192 values, non-integer controls, or any condition under which the generic kernels
raise a :class:`~methylclass.errors.DataError` — it returns None and the caller uses the generic kernels,
which give the result or the error message.

Written by hand because no library implements these methods; numpy's ``bincount``/``take`` do the work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from ..io.raw_types import IdatLevels, RawSignals
from .background import (
    NOOB_MIN_ALPHA,
    ChannelIndex,
    NormexpParams,
    channel_index,
    huber_weighted,
    integer_levels,
    negative_control_background,
    normexp_signal,
)
from .dyebias import control_means

#: IDAT means are uint16: one table entry per possible level
_N_LEVELS = 65536
#: below this many values per channel the generic Huber sorts instead of counting (keep results identical)
_MIN_COUNTED = 8192


@dataclass(frozen=True)
class ChannelPositions:
    """Positions in the ``[green, red]`` IDAT means of each noob channel's in-band and out-of-band beads
    (absent addresses dropped), for one manifest and address layout."""

    green_in: np.ndarray
    red_in: np.ndarray
    green_bg: np.ndarray
    red_bg: np.ndarray


def channel_positions(levels: IdatLevels, ix: ChannelIndex) -> ChannelPositions:
    """The :class:`ChannelPositions` of ``levels``' address layout (computed once per layout and cached)."""
    cached = levels.index.derived.get("noob")
    if isinstance(cached, tuple) and cached[0] is ix:
        return cached[1]
    g = levels.index

    def present(*parts: np.ndarray) -> np.ndarray:
        # sorted: counting ignores order, and ascending positions make the gather nearly sequential
        p = np.concatenate(parts)
        return np.sort(p[p >= 0]).astype(np.intp)

    pos = ChannelPositions(
        green_in=present(g.meth[ix.grn], g.unmeth[ix.grn], g.meth[ix.t2]),
        red_in=present(g.meth[ix.red], g.unmeth[ix.red], g.unmeth[ix.t2]),
        green_bg=present(g.oob_meth[ix.red], g.oob_unmeth[ix.red]),
        red_bg=present(g.oob_meth[ix.grn], g.oob_unmeth[ix.grn]),
    )
    g.derived["noob"] = (ix, pos)
    return pos


def _level_counts(mean: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """How many of the beads at ``positions`` have each level 0…65535, with level 0 counted as 1 (noob floors
    in-band values ≤ 0 and out-of-band values < 1 to 1)."""
    return _floor_level_zero(np.bincount(mean.take(positions), minlength=_N_LEVELS))


def _floor_level_zero(counts: np.ndarray) -> np.ndarray:
    counts[1] += counts[0]
    counts[0] = 0
    return counts


def background_counts(levels: IdatLevels, ix: ChannelIndex) -> tuple[np.ndarray, np.ndarray]:
    """Level counts (0…65535, as read) of the green and red out-of-band beads of one sample: noob's background
    and pOOBAH's null, counted once per sample (read-only)."""
    hit = levels.cache.get("background_counts")
    if hit is None:
        pos = channel_positions(levels, ix)
        hit = tuple(np.bincount(levels.mean.take(p), minlength=_N_LEVELS) for p in (pos.green_bg, pos.red_bg))
        for c in hit:
            c.flags.writeable = False
        levels.cache["background_counts"] = hit
    return hit


def complete_channels(manifest, ix: ChannelIndex) -> bool:
    """True when every probe of ``manifest`` is Type II, Type I Grn or Type I Red (so the channel a probe's
    ``meth``/``unmeth`` is read in, :func:`channel_offsets`, is the one noob and pOOBAH assign it)."""
    return ix.grn.size + ix.red.size + ix.t2.size == manifest.n_probes


def channel_keys(levels: IdatLevels) -> tuple[np.ndarray, np.ndarray]:
    """Per probe, the key of its ``meth`` / ``unmeth`` level in two stacked 65,536-level tables (green then
    red): ``level + 65536`` where the bead was read in red (:func:`channel_offsets`); an absent address has
    key 0. Computed once per sample and shared by noob's correction, pOOBAH and the QC medians (read-only)."""
    hit = levels.cache.get("keys")
    if hit is None:
        keys = []
        for target, off in zip(("meth", "unmeth"), channel_offsets(levels)):
            k = off + levels.gather(target)[0]
            k.flags.writeable = False
            keys.append(k)
        hit = levels.cache["keys"] = tuple(keys)
    return hit


def key_counts(levels: IdatLevels) -> tuple[np.ndarray, np.ndarray]:
    """How many probes have each :func:`channel_keys` key (0…131071), for ``meth`` and ``unmeth`` (read-only;
    absent addresses are counted at key 0)."""
    hit = levels.cache.get("key_counts")
    if hit is None:
        hit = tuple(np.bincount(k, minlength=2 * _N_LEVELS) for k in channel_keys(levels))
        for c in hit:
            c.flags.writeable = False
        levels.cache["key_counts"] = hit
    return hit


def level_counts_of(levels: IdatLevels, target: str) -> np.ndarray:
    """How many probes have each ``target`` (``meth``/``unmeth``) level 0…65535 (absent addresses at 0)."""
    c = key_counts(levels)[("meth", "unmeth").index(target)]
    return c[:_N_LEVELS] + c[_N_LEVELS:]


def _in_band_counts(levels: IdatLevels) -> tuple[np.ndarray, np.ndarray]:
    """noob's in-band level counts (green, red; level 0 counted as 1) from the per-probe key counts: the green
    in-band beads are the green-read ``meth`` and ``unmeth`` levels, the red ones the red-read; the absent
    addresses, all at key 0, are taken back out. The same counts as gathering the channel positions."""
    hm, hu = key_counts(levels)
    n_absent = sum(levels.index.plans[t][1].size for t in ("meth", "unmeth"))
    green = hm[:_N_LEVELS] + hu[:_N_LEVELS]
    green[0] -= n_absent
    return _floor_level_zero(green), _floor_level_zero(hm[_N_LEVELS:] + hu[_N_LEVELS:])


def _huber_of_counts(counts: np.ndarray) -> tuple[float, float]:
    vals = np.flatnonzero(counts)
    return huber_weighted(vals.astype(np.float64), counts[vals].astype(np.float64))


def _table(params: NormexpParams, offset: float, needed: np.ndarray) -> np.ndarray:
    """``normexp_signal(level) + offset`` (float32) at the levels where ``needed`` is true (and level 1, which
    level 0 takes); other entries are 0 and never read."""
    needed = needed.copy()
    needed[1] = True
    at = np.flatnonzero(needed)
    table = np.zeros(_N_LEVELS, dtype=np.float32)
    table[at] = (normexp_signal(at.astype(np.float64), params) + offset).astype(np.float32)
    table[0] = table[1]
    return table


def noob_by_levels(raw: RawSignals, *, offset: float, dye_bias: str
                   ) -> tuple[np.ndarray, np.ndarray, dict] | None:
    """noob (``offset``) then ``dye_bias`` (``"linear"`` or ``"none"``) of one sample on its IDAT levels.

    Returns ``(meth, unmeth, meta)`` — corrected float32 in-band signals and the ``{"noob": …, "dye_bias": …}``
    record the generic kernels leave in ``RawSignals.meta`` — or None when the fast path does not apply (see the
    module docstring).
    """
    levels = raw.idat_levels()
    if levels is None or dye_bias not in ("linear", "none"):
        return None
    green, red = raw.control_intensities()
    if green.size == 0:
        return None
    ix = channel_index(raw.manifest)
    pos = channel_positions(levels, ix)
    if min(p.size for p in (pos.green_in, pos.red_in, pos.green_bg, pos.red_bg)) <= _MIN_COUNTED:
        return None
    ctrl_g, ctrl_r = integer_levels(green), integer_levels(red)
    if ctrl_g is None or ctrl_r is None:
        return None
    if complete_channels(raw.manifest, ix):
        counts_g_in, counts_r_in = _in_band_counts(levels)
    else:
        counts_g_in, counts_r_in = _level_counts(levels.mean, pos.green_in), _level_counts(levels.mean, pos.red_in)
    bg_g, bg_r = (_floor_level_zero(c.copy()) for c in background_counts(levels, ix))
    try:
        params = []
        for c_in, c_bg in ((counts_g_in, bg_g), (counts_r_in, bg_r)):
            mu, sigma = _huber_of_counts(c_bg)
            alpha = max(_huber_of_counts(c_in)[0] - mu, NOOB_MIN_ALPHA)
            params.append(NormexpParams(mu=mu, sigma=sigma, alpha=alpha))
    except DataError:
        return None
    pg, pr = params
    if not all(p.sigma > 0 and p.alpha > 0 for p in params):
        return None

    need_g, need_r = counts_g_in > 0, counts_r_in > 0
    need_g[ctrl_g[0]] = True
    need_r[ctrl_r[0]] = True
    t_green, t_red = _table(pg, offset, need_g), _table(pr, offset, need_r)
    meta: dict = {"noob": {"green": pg, "red": pr, "offset": float(offset)}}
    if dye_bias == "linear":
        cg, cr = t_green[ctrl_g[0]], t_red[ctrl_r[0]]
        cg[ctrl_g[1]] = np.nan
        cr[ctrl_r[1]] = np.nan
        try:
            g, r = control_means(raw.sample, raw.manifest, cg.astype(np.float64), cr.astype(np.float64))
        except DataError:
            return None
        if not (g > 0 and r > 0):
            return None
        # dyebias.scale_channels: float32 signal × float64 factor, cast back to float32
        t_red = (t_red.astype(np.float64) * (g / r)).astype(np.float32)
        meta["dye_bias"] = {"method": "linear", "green_norm": g, "red_norm": r, "red_factor": g / r}

    meth, unmeth = _in_band(levels, t_green, t_red)
    return meth, unmeth, meta


def channel_offsets(levels: IdatLevels) -> tuple[np.ndarray, np.ndarray]:
    """Per probe, ``0`` where its ``meth`` (first array) / ``unmeth`` (second) bead was read in Green and
    ``65536`` where in Red: the offset of that channel's table in two stacked 65,536-level tables. Depends on
    the address layout only, so it is computed once per gather index."""
    out = []
    n_green = levels.mean.shape[0] // 2
    for target in ("meth", "unmeth"):
        key = f"channel_offset_{target}"
        off = levels.index.derived.get(key)
        if off is None:
            idx = levels.index.plans[target][0]
            off = levels.index.derived[key] = np.where(idx >= n_green, _N_LEVELS, 0).astype(np.intp)
        out.append(off)
    return out[0], out[1]


def _in_band(levels: IdatLevels, t_green: np.ndarray, t_red: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Corrected ``meth``/``unmeth`` (float32, NaN where absent): each probe's integer level (kept by the
    mapping) looked up in its channel's table (:func:`channel_offsets` into the two stacked tables). Same
    values as applying each table to its half of the IDAT means and gathering those onto the probes, without
    touching the other beads."""
    table = np.concatenate([t_green, t_red])
    out = []
    for target, keys in zip(("meth", "unmeth"), channel_keys(levels)):
        values = table.take(keys)
        absent = levels.index.plans[target][1]
        if absent.size:
            values[absent] = np.nan
        out.append(values)
    return out[0], out[1]


def illumina_by_levels(raw: RawSignals, *, reference: float) -> tuple[np.ndarray, np.ndarray, dict] | None:
    """The Heidelberg single-sample Illumina normalisation (:func:`~methylclass.pp.normalize.illumina_normalize`
    with ``reference``) of one sample on its IDAT levels.

    Returns ``(meth, unmeth, meta)`` like :func:`noob_by_levels`, or None when the fast path does not apply.
    """
    levels = raw.idat_levels()
    if levels is None:
        return None
    ctrl_g, ctrl_r = raw.control_intensities()
    if ctrl_g.size == 0:
        return None
    try:
        g, r = control_means(raw.sample, raw.manifest, ctrl_g, ctrl_r)
        if not (g > 0 and r > 0):
            return None
        f_green, f_red = reference / g, reference / r
        # dyebias.scale_channels: float32 signal × float64 factor, cast back to float32
        bg_g, bg_r = negative_control_background(raw.sample, raw.manifest,
                                                 (ctrl_g * f_green).astype(np.float32).astype(np.float64),
                                                 (ctrl_r * f_red).astype(np.float32).astype(np.float64))
    except DataError:
        return None
    level = np.arange(_N_LEVELS, dtype=np.float64)

    def table(factor: float, background: float) -> np.ndarray:
        # background.subtract_background: max(float32 scaled − float64 background, 0) cast to float32
        scaled = (level * factor).astype(np.float32).astype(np.float64)
        return np.maximum(scaled - background, 0).astype(np.float32)

    meth, unmeth = _in_band(levels, table(f_green, bg_g), table(f_red, bg_r))
    meta = {"illumina": {"reference": reference, "green_factor": f_green, "red_factor": f_red,
                         "background_green": bg_g, "background_red": bg_r}}
    return meth, unmeth, meta
