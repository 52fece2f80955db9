"""Raw signals of one sample, aligned to a manifest: the input every normalisation kernel takes.

:func:`raw_signals_from_idats` does the address → probe mapping with sorted look-ups (vectorised, no Python
loop over probes).

Channel rules (the ones minfi's ``preprocessRaw`` uses; proven against the minfi oracle in the tests):

* Type II: ``meth = Grn[address_u]``, ``unmeth = Red[address_u]``;
* Type I Red: ``meth = Red[address_m]``, ``unmeth = Red[address_u]``; out-of-band = the same addresses in Grn;
* Type I Grn: ``meth = Grn[address_m]``, ``unmeth = Grn[address_u]``; out-of-band = the same addresses in Red.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import IdatError
from .idat import Idat
from .manifest.types import Manifest


@dataclass
class RawSignals:
    """Raw intensities of one sample aligned to ``manifest.probes`` (element ``i`` ↔ probe row ``i``).

    ``meth``/``unmeth`` are in-band signals (float32). ``oob_meth``/``oob_unmeth`` are the same Type I bead
    addresses read in the *other* colour channel (NaN for Type II): the out-of-band background that noob and
    pOOBAH use (Type I Red probes give the Grn background, Type I Grn probes the Red background).
    ``beads_meth``/``beads_unmeth`` are bead counts (0 where an address is missing from the IDAT, in which
    case the intensity is NaN). ``controls`` is ``manifest.controls`` plus columns ``grn`` and ``red``.

    Signals mapped from IDATs keep their integer source in ``levels`` and their four intensity arrays are
    read-only, so the integer fast paths can trust them; to edit a sample, build a new one, e.g.
    ``dataclasses.replace(raw, meth=edited_copy)`` (which the kernels then treat as plain float input).
    """

    sample: str
    manifest: Manifest
    meth: np.ndarray
    unmeth: np.ndarray
    oob_meth: np.ndarray
    oob_unmeth: np.ndarray
    beads_meth: np.ndarray
    beads_unmeth: np.ndarray
    controls: pd.DataFrame
    meta: dict = field(default_factory=dict)
    #: the integer IDAT intensities these signals were mapped from (see :meth:`idat_levels`); None otherwise
    levels: IdatLevels | None = field(default=None, repr=False, compare=False)

    def idat_levels(self) -> IdatLevels | None:
        """The integer IDAT source of ``meth``/``unmeth``/``oob_*`` when these arrays are still exactly the ones
        mapped from it (same objects, read-only), else None — so kernels may take integer fast paths without
        re-checking that every value is an IDAT integer, and never on signals derived by ``replace``."""
        lv = self.levels
        if lv is None or not lv.describes(self):
            return None
        return lv

    @property
    def probe_ids(self) -> np.ndarray:
        """Probe ids, aligned with the signal arrays."""
        return self.manifest.probes["probe_id"].to_numpy()

    @property
    def is_type1(self) -> np.ndarray:
        """Boolean mask of Type I probes."""
        return self.manifest.probes["design"].to_numpy() == "I"

    @property
    def channel(self) -> np.ndarray:
        """``"Red"``, ``"Grn"`` or ``""`` per probe."""
        return self.manifest.probes["channel"].to_numpy()

    def total_intensity(self) -> np.ndarray:
        """``meth + unmeth`` per probe (the copy-number signal)."""
        return self.meth + self.unmeth

    def betas(self, offset: float = 100.0) -> np.ndarray:
        """Raw beta values ``meth / (meth + unmeth + offset)`` (minfi ``getBeta`` default offset is 0;
        Illumina/Heidelberg use 100)."""
        m = np.maximum(self.meth, 0)
        u = np.maximum(self.unmeth, 0)
        return (m / (m + u + offset)).astype(np.float32)


@dataclass(frozen=True)
class IdatLevels:
    """The uint16 IDAT means of one sample (``[green, red]`` concatenated) and the gather index that mapped
    them onto the manifest, kept beside the float32 signals built from them.

    ``arrays`` are the very (read-only) ``meth, unmeth, oob_meth, oob_unmeth`` arrays built from ``mean``;
    :meth:`describes` checks identity against them, so a ``RawSignals`` whose arrays were replaced no longer
    claims this source.
    """

    mean: np.ndarray
    index: _GatherIndex
    arrays: tuple[np.ndarray, ...]

    def describes(self, raw: RawSignals) -> bool:
        """True when ``raw``'s four signal arrays are the ones built from these levels."""
        a = self.arrays
        return (raw.meth is a[0] and raw.unmeth is a[1] and raw.oob_meth is a[2] and raw.oob_unmeth is a[3]
                and not any(x.flags.writeable for x in a))

    def gather(self, target: str) -> tuple[np.ndarray, np.ndarray]:
        """Integer levels of ``target`` (``meth``, ``unmeth``, ``oob_meth``, ``oob_unmeth``) per probe, 0 where
        the address is absent, and the rows of absent addresses."""
        idx, absent = self.index.plans[target]
        out = self.mean.take(idx)
        if absent.size:
            out[absent] = 0
        return out, absent


class _GatherIndex:
    """Positions of a manifest's addresses in one IDAT address layout, computed once and reused.

    Samples of one array type almost always share the exact address order, so mapping a sample reduces to
    a handful of fancy-indexing gathers (the expensive sorted look-up runs once per layout, not per sample).
    Positions index the concatenation ``[grn values, red values]``; ``-1`` marks an absent address.
    """

    def __init__(self, illumina_ids: np.ndarray, manifest: Manifest) -> None:
        ids = np.asarray(illumina_ids, dtype=np.int64)
        self.ids = ids.copy()
        n = ids.shape[0]
        order = None if np.all(ids[1:] >= ids[:-1]) else np.argsort(ids, kind="stable")
        sorted_ids = ids if order is None else ids[order]

        def find(addresses: np.ndarray) -> np.ndarray:
            pos = np.clip(np.searchsorted(sorted_ids, addresses), 0, max(n - 1, 0))
            found = (addresses >= 0) & (sorted_ids[pos] == addresses) if n else np.zeros(len(addresses), bool)
            idx = pos if order is None else order[pos]
            return np.where(found, idx, -1).astype(np.int64)

        p = manifest.probes
        u = find(p["address_u"].to_numpy(np.int64))
        m = find(p["address_m"].to_numpy(np.int64))
        design = p["design"].to_numpy()
        t2 = design == "II"
        red1 = (design == "I") & (p["channel"].to_numpy() == "Red")

        def on(idx: np.ndarray, red: np.ndarray | bool) -> np.ndarray:
            return np.where(idx < 0, -1, idx + np.where(red, n, 0))

        none = np.full(u.shape, -1, dtype=np.int64)
        self.meth = np.where(t2, on(u, False), on(m, red1))
        self.unmeth = np.where(t2, on(u, True), on(u, red1))
        self.oob_meth = np.where(t2, none, on(m, ~red1))
        self.oob_unmeth = np.where(t2, none, on(u, ~red1))
        c = find(manifest.controls["address"].to_numpy(np.int64))
        self.ctrl_grn = c
        self.ctrl_red = on(c, True)
        # (clipped positions, positions of absent addresses) per target, so a gather is one `take`
        self.plans = {name: (np.maximum(v, 0).astype(np.intp), np.flatnonzero(v < 0))
                      for name, v in (("meth", self.meth), ("unmeth", self.unmeth),
                                      ("oob_meth", self.oob_meth), ("oob_unmeth", self.oob_unmeth),
                                      ("ctrl_grn", self.ctrl_grn), ("ctrl_red", self.ctrl_red))}
        #: per-layout look-ups that kernels derive from this index (e.g. noob's channel positions), by name
        self.derived: dict[str, object] = {}

    def matches(self, illumina_ids: np.ndarray) -> bool:
        """True when ``illumina_ids`` is the layout this index was built for."""
        return self.ids.shape == illumina_ids.shape and np.array_equal(self.ids, illumina_ids)


#: one index per (manifest, layout); small, as a cohort has one or two layouts
_INDEX_CACHE: dict[tuple[int, int], _GatherIndex] = {}
_INDEX_CACHE_MAX = 8


def _gather_index(illumina_ids: np.ndarray, manifest: Manifest) -> _GatherIndex:
    key = (id(manifest.probes), int(illumina_ids.shape[0]))
    hit = _INDEX_CACHE.get(key)
    if hit is not None and hit.matches(illumina_ids):
        return hit
    index = _GatherIndex(illumina_ids, manifest)
    if len(_INDEX_CACHE) >= _INDEX_CACHE_MAX:
        _INDEX_CACHE.pop(next(iter(_INDEX_CACHE)))
    _INDEX_CACHE[key] = index
    return index


def _gather(values: np.ndarray, plan: tuple[np.ndarray, np.ndarray], missing, dtype) -> np.ndarray:
    idx, absent = plan
    out = values.take(idx)
    if out.dtype != dtype:
        out = out.astype(dtype)
    if absent.size:
        out[absent] = missing
    return out


def raw_signals_from_idats(grn: Idat, red: Idat, manifest: Manifest, sample: str) -> RawSignals:
    """Map one sample's Green and Red IDATs onto ``manifest`` (see the module docstring for the rules)."""
    if grn.n_probes != red.n_probes or not np.array_equal(grn.illumina_ids, red.illumina_ids):
        raise IdatError(
            f"sample '{sample}': Red and Grn IDATs disagree ({grn.path} has {grn.n_probes:,} addresses, "
            f"{red.path} has {red.n_probes:,}, or their address sets differ)")
    ix = _gather_index(grn.illumina_ids, manifest)
    # gather from the compact on-disk dtypes (uint16 means, uint8 bead counts) and convert only what is kept
    mean = np.concatenate([grn.mean, red.mean])
    beads = np.concatenate([grn.n_beads, red.n_beads])
    nan, f32, plans = np.float32(np.nan), np.float32, ix.plans
    ctrl = manifest.controls.copy()
    ctrl["grn"] = _gather(mean, plans["ctrl_grn"], nan, f32)
    ctrl["red"] = _gather(mean, plans["ctrl_red"], nan, f32)
    meta = {"barcode": grn.barcode, "position": grn.position, "chip_type": grn.chip_type,
            "array": manifest.array}
    signals = tuple(_gather(mean, plans[t], nan, f32) for t in ("meth", "unmeth", "oob_meth", "oob_unmeth"))
    levels = None
    if _is_idat_integer(grn.mean) and _is_idat_integer(red.mean):
        for a in signals:
            a.flags.writeable = False
        levels = IdatLevels(mean=mean.astype(np.uint16, copy=False), index=ix, arrays=signals)
    return RawSignals(
        sample=sample, manifest=manifest, meth=signals[0], unmeth=signals[1], oob_meth=signals[2],
        oob_unmeth=signals[3],
        beads_meth=_gather(beads, plans["meth"], 0, np.uint16),
        beads_unmeth=_gather(beads, plans["unmeth"], 0, np.uint16),
        controls=ctrl, meta=meta, levels=levels)


def _is_idat_integer(values: np.ndarray) -> bool:
    """True for unsigned integer arrays of at most 16 bits (what IDAT means are on disk)."""
    return values.dtype.kind == "u" and values.dtype.itemsize <= 2
