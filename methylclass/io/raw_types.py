"""Raw signals of one sample, aligned to a manifest: the input every normalisation kernel takes.

:func:`raw_signals_from_idats` does the address → probe mapping with sorted look-ups (vectorised, no Python
loop over probes).

Channel rules (the ones minfi's ``preprocessRaw`` uses; proven against the minfi oracle in the tests):

* Type II: ``meth = Grn[address_u]``, ``unmeth = Red[address_u]``;
* Type I Red: ``meth = Red[address_m]``, ``unmeth = Red[address_u]``; out-of-band = the same addresses in Grn;
* Type I Grn: ``meth = Grn[address_m]``, ``unmeth = Grn[address_u]``; out-of-band = the same addresses in Red.

Signals mapped from integer IDATs are built lazily: the sample keeps its uint16 IDAT means and the gather
index of its address layout (:class:`IdatLevels`), and each per-probe array (``meth``, ``unmeth``, the
out-of-band pair, the bead counts, the control table) is gathered on first access. The normalisation kernels
read what they need straight from the levels (:mod:`methylclass.pp.levels`), so the user's call path — read,
noob, pOOBAH, QC, betas — never builds the float copies, out-of-band arrays or bead arrays it does not use.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import IdatError
from .idat import Idat
from .manifest.types import Manifest

#: the per-probe fields a sample mapped from integer IDATs builds on first access (see :class:`RawSignals`)
_LAZY_FIELDS = frozenset({"meth", "unmeth", "oob_meth", "oob_unmeth", "beads_meth", "beads_unmeth", "controls"})
#: the intensity fields, read-only when built from IDAT levels
_SIGNALS = ("meth", "unmeth", "oob_meth", "oob_unmeth")


@dataclass
class RawSignals:
    """Raw intensities of one sample aligned to ``manifest.probes`` (element ``i`` ↔ probe row ``i``).

    ``meth``/``unmeth`` are in-band signals (float32). ``oob_meth``/``oob_unmeth`` are the same Type I bead
    addresses read in the *other* colour channel (NaN for Type II): the out-of-band background that noob and
    pOOBAH use (Type I Red probes give the Grn background, Type I Grn probes the Red background).
    ``beads_meth``/``beads_unmeth`` are bead counts (0 where an address is missing from the IDAT, in which
    case the intensity is NaN). ``controls`` is ``manifest.controls`` plus columns ``grn`` and ``red``.

    Signals mapped from IDATs keep their integer source in ``levels`` and build each of these seven fields on
    first access (:meth:`__getattr__`); their four intensity arrays are read-only, so the integer fast paths can
    trust them; to edit a sample, build a new one, e.g. ``dataclasses.replace(raw, meth=edited_copy)`` (which
    the kernels then treat as plain float input). Bead counts and the control table are the sample's own
    (writable) copies once built.
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

    @classmethod
    def from_levels(cls, sample: str, manifest: Manifest, levels: IdatLevels, meta: dict) -> RawSignals:
        """A sample whose per-probe fields are built from ``levels`` when first read (see the class docstring)."""
        obj = cls.__new__(cls)
        obj.__dict__.update(sample=sample, manifest=manifest, meta=meta, levels=levels)
        return obj

    def __getattr__(self, name: str):
        # reached only for an attribute not set on the instance: one of the per-probe fields of a sample mapped
        # from IDAT levels that nobody has read yet; built once and kept on the instance
        if name in _LAZY_FIELDS:
            levels = self.__dict__.get("levels")
            if levels is not None:
                value = levels.build(name, self.__dict__["manifest"])
                self.__dict__[name] = value
                return value
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def _from_levels(self, *names: str) -> IdatLevels | None:
        """``levels`` when none of ``names`` has been built or set on this instance (so they still are exactly
        what the levels give), else None."""
        lv = self.levels
        if lv is None or any(n in self.__dict__ for n in names):
            return None
        return lv

    def idat_levels(self) -> IdatLevels | None:
        """The integer IDAT source of ``meth``/``unmeth``/``oob_*`` when these arrays are still exactly the ones
        mapped from it (not built yet, or the same read-only objects), else None — so kernels may take integer
        fast paths without re-checking that every value is an IDAT integer, and never on signals derived by
        ``replace``."""
        lv = self.levels
        if lv is None or not lv.describes(self):
            return None
        return lv

    def missing(self) -> np.ndarray:
        """Boolean mask of probes whose ``meth`` or ``unmeth`` is NaN (an address absent from the IDATs); for
        signals straight from IDATs a read-only mask computed once per address layout."""
        lv = self.idat_levels()
        if lv is not None:
            return lv.index.missing_mask()
        return ~(np.isfinite(self.meth) & np.isfinite(self.unmeth))

    def few_beads(self, min_beads: int) -> np.ndarray:
        """Boolean mask of probes with fewer than ``min_beads`` beads on one of their addresses (an absent
        address has none): ``(beads_meth < min_beads) | (beads_unmeth < min_beads)``, computed from the IDAT
        bead counts without building the per-probe arrays when they are still the IDAT's."""
        lv = self._from_levels("beads_meth", "beads_unmeth")
        if lv is not None:
            mask = lv.few_beads(min_beads)
            if mask is not None:
                return mask
        return (self.beads_meth < min_beads) | (self.beads_unmeth < min_beads)

    def control_intensities(self) -> tuple[np.ndarray, np.ndarray]:
        """Green and red intensity of every control probe (float64, aligned with :meth:`control_table`; NaN
        where the address is absent), without building the ``controls`` table when it is still the IDAT's."""
        lv = self._from_levels("controls")
        if lv is not None:
            g, r = lv.control_signals()
            return g.astype(np.float64), r.astype(np.float64)
        return self.controls["grn"].to_numpy(np.float64), self.controls["red"].to_numpy(np.float64)

    def control_table(self) -> pd.DataFrame:
        """The table describing the control probes (``type``, ``name``, …): ``controls`` once built or set,
        otherwise the manifest's own table (the same rows; do not edit it)."""
        return self.manifest.controls if self._from_levels("controls") is not None else self.controls

    @property
    def probe_ids(self) -> np.ndarray:
        """Probe ids, aligned with the signal arrays."""
        return self.manifest.probes["probe_id"].to_numpy()

    @property
    def is_type1(self) -> np.ndarray:
        """Boolean mask of Type I probes (read-only; computed once per manifest probe table)."""
        return type1_mask(self.manifest)

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


@dataclass(frozen=True, eq=False)
class IdatLevels:
    """One sample's uint16 IDAT means and uint8 bead counts (``[green, red]`` concatenated) and the gather index
    of its address layout: the source a :class:`RawSignals` builds its per-probe fields from, and what the
    kernels' integer fast paths read.

    ``built`` holds the read-only float32 intensity arrays handed out; :meth:`describes` checks identity against
    them, so a ``RawSignals`` whose arrays were replaced no longer claims this source. ``gathered`` keeps the
    read-only per-probe levels of each target, ``cache`` what kernels derive from this sample and share (level
    counts, table keys).
    """

    mean: np.ndarray
    beads: np.ndarray
    index: _GatherIndex
    gathered: dict = field(default_factory=dict)
    built: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)

    def describes(self, raw: RawSignals) -> bool:
        """True when each of ``raw``'s four intensity arrays is either not built yet or the read-only array
        built from these levels."""
        own = raw.__dict__
        for name in _SIGNALS:
            value = own.get(name)
            if value is not None and (value is not self.built.get(name) or value.flags.writeable):
                return False
        return True

    def gather(self, target: str) -> tuple[np.ndarray, np.ndarray]:
        """Integer levels of ``target`` (``meth``, ``unmeth``, ``oob_meth``, ``oob_unmeth``) per probe, 0 where
        the address is absent, and the rows of absent addresses (read-only, gathered once)."""
        hit = self.gathered.get(target)
        if hit is None:
            idx, absent = self.index.plans[target]
            out = self.mean.take(idx)
            if absent.size:
                out[absent] = 0
            out.flags.writeable = False
            hit = self.gathered[target] = (out, absent)
        return hit

    def control_signals(self) -> tuple[np.ndarray, np.ndarray]:
        """Green and red float32 intensities of the manifest's control probes (NaN where absent; read-only)."""
        hit = self.cache.get("controls")
        if hit is None:
            hit = tuple(_gather(self.mean, self.index.plans[t], np.float32(np.nan), np.float32)
                        for t in ("ctrl_grn", "ctrl_red"))
            for a in hit:
                a.flags.writeable = False
            self.cache["controls"] = hit
        return hit

    def few_beads(self, min_beads: int) -> np.ndarray | None:
        """:meth:`RawSignals.few_beads` from the IDAT bead counts: the (usually few) addresses below
        ``min_beads`` are mapped to their probes through the layout's inverse index; None when the layout
        reuses a position for two probes (the caller then gathers the bead counts)."""
        mask = np.zeros(self.index.n_probes, dtype=bool)
        if min_beads <= 0:
            return mask
        t = min(int(min_beads), 256)
        # one scan of the bead counts serves every threshold up to max(t, 3) (normalize asks for 1, the QC for 3)
        scan, low = self.cache.get("low_beads", (0, None))
        if t > scan:
            scan, low = max(t, 3), np.flatnonzero(self.beads < max(t, 3))
            self.cache["low_beads"] = (scan, low)
        if t < scan:
            low = low[self.beads[low] < t]
        for target in ("meth", "unmeth"):
            inverse = self.index.inverse(target)
            if inverse is None:
                return None
            rows = inverse[low]
            mask[rows[rows >= 0]] = True
            mask[self.index.plans[target][1]] = True  # an absent address has no bead
        return mask

    def build(self, name: str, manifest: Manifest):
        """The :class:`RawSignals` field ``name`` built from these levels (see the class docstring)."""
        if name in _SIGNALS:
            sig = self.built.get(name)
            if sig is None:
                lv, absent = self.gather(name)
                sig = lv.astype(np.float32)
                if absent.size:
                    sig[absent] = np.nan
                sig.flags.writeable = False
                self.built[name] = sig
            return sig
        if name in ("beads_meth", "beads_unmeth"):
            return _gather(self.beads, self.index.plans[name.removeprefix("beads_")], 0, np.uint16)
        if name == "controls":
            ctrl = manifest.controls.copy()
            green, red = self.control_signals()
            ctrl["grn"] = green.copy()
            ctrl["red"] = red.copy()
            return ctrl
        raise AttributeError(name)


class _GatherIndex:
    """Positions of a manifest's addresses in one IDAT address layout, computed once and reused.

    Samples of one array type almost always share the exact address order, so mapping a sample reduces to
    a handful of fancy-indexing gathers (the expensive sorted look-up runs once per layout, not per sample).
    Positions index the concatenation ``[grn values, red values]``; ``-1`` marks an absent address. The index
    keeps the probe and control tables it was computed from and a copy of the layout's addresses, so the cache
    (:func:`_gather_index`) can check that it serves exactly this manifest and layout.
    """

    def __init__(self, illumina_ids: np.ndarray, manifest: Manifest) -> None:
        self.ids = np.array(illumina_ids, copy=True)
        self.ids.flags.writeable = False
        self.probes, self.controls = manifest.probes, manifest.controls
        ids = self.ids.astype(np.int64)
        n = ids.shape[0]
        self.n_idat = n
        self.n_probes = len(manifest.probes)
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

    def serves(self, illumina_ids: np.ndarray, manifest: Manifest) -> bool:
        """True when this index was built for ``manifest``'s very probe and control tables and for exactly the
        address layout ``illumina_ids`` (every address compared)."""
        return (self.probes is manifest.probes and self.controls is manifest.controls
                and self.ids.shape == illumina_ids.shape and self.ids.dtype == illumina_ids.dtype
                and np.array_equal(self.ids[::4099], illumina_ids[::4099])  # cheap reject of another layout
                and np.array_equal(self.ids, illumina_ids))

    def missing_mask(self) -> np.ndarray:
        """Read-only mask of the probes with an absent ``meth`` or ``unmeth`` address."""
        hit = self.derived.get("missing")
        if hit is None:
            hit = np.zeros(self.n_probes, dtype=bool)
            hit[self.plans["meth"][1]] = True
            hit[self.plans["unmeth"][1]] = True
            hit.flags.writeable = False
            self.derived["missing"] = hit
        return hit

    def inverse(self, target: str) -> np.ndarray | None:
        """For each position of ``[grn, red]``, the probe row whose ``target`` (``meth``/``unmeth``) is read
        there (-1: none); None when two probes read one position (then no single row answers)."""
        key = f"inverse_{target}"
        if key not in self.derived:
            positions = getattr(self, target)
            rows = np.flatnonzero(positions >= 0)
            pos = positions[rows]
            s = np.sort(pos)
            inverse = None
            if not (s[1:] == s[:-1]).any():
                inverse = np.full(2 * self.n_idat, -1, dtype=np.int32 if self.n_probes < 2**31 else np.int64)
                inverse[pos] = rows
                inverse.flags.writeable = False
            self.derived[key] = inverse
        return self.derived[key]


#: the indexes of the (manifest, layout) pairs met most recently, newest last; small, as a cohort has one or
#: two layouts
_INDEX_CACHE: list[_GatherIndex] = []
_INDEX_CACHE_MAX = 8
_INDEX_LOCK = threading.Lock()


def _gather_index(illumina_ids: np.ndarray, manifest: Manifest) -> _GatherIndex:
    """The :class:`_GatherIndex` of ``manifest`` and this address layout, from the cache when one serves it."""
    with _INDEX_LOCK:  # samples may be mapped from several threads
        for i in range(len(_INDEX_CACHE) - 1, -1, -1):
            hit = _INDEX_CACHE[i]
            if hit.serves(illumina_ids, manifest):
                if i != len(_INDEX_CACHE) - 1:
                    _INDEX_CACHE.append(_INDEX_CACHE.pop(i))
                return hit
        index = _GatherIndex(illumina_ids, manifest)
        if len(_INDEX_CACHE) >= _INDEX_CACHE_MAX:
            _INDEX_CACHE.pop(0)
        _INDEX_CACHE.append(index)
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
    """Map one sample's Green and Red IDATs onto ``manifest`` (see the module docstring for the rules).

    Integer IDAT means (every real IDAT) give a sample whose per-probe fields are built on first access from
    the kept levels (:meth:`RawSignals.from_levels`); other means are mapped at once.
    """
    if grn.illumina_ids is not red.illumina_ids and (
            grn.n_probes != red.n_probes or not np.array_equal(grn.illumina_ids, red.illumina_ids)):
        raise IdatError(
            f"sample '{sample}': Red and Grn IDATs disagree ({grn.path} has {grn.n_probes:,} addresses, "
            f"{red.path} has {red.n_probes:,}, or their address sets differ)")
    ix = _gather_index(grn.illumina_ids, manifest)
    meta = {"barcode": grn.barcode, "position": grn.position, "chip_type": grn.chip_type,
            "array": manifest.array}
    # the compact on-disk dtypes (uint16 means, uint8 bead counts), copied: the sample owns its source
    mean = np.concatenate([grn.mean, red.mean])
    beads = np.concatenate([grn.n_beads, red.n_beads])
    if _is_idat_integer(grn.mean) and _is_idat_integer(red.mean):
        levels = IdatLevels(mean=mean.astype(np.uint16, copy=False), beads=beads, index=ix)
        return RawSignals.from_levels(sample, manifest, levels, meta)
    nan, f32, plans = np.float32(np.nan), np.float32, ix.plans
    ctrl = manifest.controls.copy()
    ctrl["grn"] = _gather(mean, plans["ctrl_grn"], nan, f32)
    ctrl["red"] = _gather(mean, plans["ctrl_red"], nan, f32)
    signals = tuple(_gather(mean, plans[t], nan, f32) for t in _SIGNALS)
    return RawSignals(
        sample=sample, manifest=manifest, meth=signals[0], unmeth=signals[1], oob_meth=signals[2],
        oob_unmeth=signals[3],
        beads_meth=_gather(beads, plans["meth"], 0, np.uint16),
        beads_unmeth=_gather(beads, plans["unmeth"], 0, np.uint16),
        controls=ctrl, meta=meta)


#: per-manifest look-ups derived from the probe table, keyed by ``id(probes)`` (the table is kept beside to make
#: the id unambiguous); a few manifests at most per process
_TYPE1_CACHE: dict[int, tuple[pd.DataFrame, np.ndarray]] = {}


def type1_mask(manifest: Manifest) -> np.ndarray:
    """Read-only boolean mask of the Type I probes of ``manifest`` (string comparison over the design column
    once per probe table, ~15 ms on a 450k manifest, instead of once per sample)."""
    probes = manifest.probes
    hit = _TYPE1_CACHE.get(id(probes))
    if hit is not None and hit[0] is probes:
        return hit[1]
    mask = probes["design"].to_numpy() == "I"
    mask.flags.writeable = False
    if len(_TYPE1_CACHE) >= _INDEX_CACHE_MAX:
        _TYPE1_CACHE.pop(next(iter(_TYPE1_CACHE)))
    _TYPE1_CACHE[id(probes)] = (probes, mask)
    return mask


def layout_address_coverage(index: _GatherIndex, manifest: Manifest) -> float:
    """Fraction of the manifest's probe bead addresses present in the IDAT layout of ``index`` (Type II probes
    have one address, Type I two); depends on the layout only, so it is computed once per layout."""
    hit = index.derived.get("address_coverage")
    if hit is None:
        t1 = type1_mask(manifest)
        n_absent = index.plans["meth"][1].size + int(t1[index.plans["unmeth"][1]].sum())
        total = len(t1) + int(t1.sum())
        hit = index.derived["address_coverage"] = float((total - n_absent) / total) if total else 0.0
    return hit


def _is_idat_integer(values: np.ndarray) -> bool:
    """True for unsigned integer arrays of at most 16 bits (what IDAT means are on disk)."""
    return values.dtype.kind == "u" and values.dtype.itemsize <= 2
