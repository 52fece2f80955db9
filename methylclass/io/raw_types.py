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
from .manifest_types import Manifest


@dataclass
class RawSignals:
    """Raw intensities of one sample aligned to ``manifest.probes`` (element ``i`` ↔ probe row ``i``).

    ``meth``/``unmeth`` are in-band signals (float32). ``oob_meth``/``oob_unmeth`` are the same Type I bead
    addresses read in the *other* colour channel (NaN for Type II): the out-of-band background that noob and
    pOOBAH use (Type I Red probes give the Grn background, Type I Grn probes the Red background).
    ``beads_meth``/``beads_unmeth`` are bead counts (0 where an address is missing from the IDAT, in which
    case the intensity is NaN). ``controls`` is ``manifest.controls`` plus columns ``grn`` and ``red``.
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


def _lookup(idat: Idat, addresses: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean intensity and bead count of ``addresses`` in ``idat`` (NaN / 0 where absent, -1 addresses)."""
    ids = np.asarray(idat.illumina_ids, dtype=np.int64)
    order = np.argsort(ids, kind="stable") if not np.all(ids[1:] >= ids[:-1]) else None
    sorted_ids = ids if order is None else ids[order]
    pos = np.searchsorted(sorted_ids, addresses)
    pos = np.clip(pos, 0, len(sorted_ids) - 1)
    found = (sorted_ids[pos] == addresses) & (addresses >= 0)
    idx = pos if order is None else order[pos]
    mean = np.where(found, idat.mean[idx].astype(np.float32), np.float32(np.nan))
    beads = np.where(found, idat.n_beads[idx], 0).astype(np.uint16)
    return mean.astype(np.float32), beads


def raw_signals_from_idats(grn: Idat, red: Idat, manifest: Manifest, sample: str) -> RawSignals:
    """Map one sample's Green and Red IDATs onto ``manifest`` (see the module docstring for the rules)."""
    if grn.n_probes != red.n_probes or not np.array_equal(grn.illumina_ids, red.illumina_ids):
        raise IdatError(
            f"sample '{sample}': Red and Grn IDATs disagree ({grn.path} has {grn.n_probes:,} addresses, "
            f"{red.path} has {red.n_probes:,}, or their address sets differ)")
    p = manifest.probes
    addr_u = p["address_u"].to_numpy(np.int64)
    addr_m = p["address_m"].to_numpy(np.int64)
    design = p["design"].to_numpy()
    chan = p["channel"].to_numpy()
    t2 = design == "II"
    red1 = (design == "I") & (chan == "Red")

    g_u, gb_u = _lookup(grn, addr_u, "grn")
    r_u, rb_u = _lookup(red, addr_u, "red")
    g_m, gb_m = _lookup(grn, addr_m, "grn")
    r_m, rb_m = _lookup(red, addr_m, "red")

    meth = np.where(t2, g_u, np.where(red1, r_m, g_m)).astype(np.float32)
    unmeth = np.where(t2, r_u, np.where(red1, r_u, g_u)).astype(np.float32)
    oob_meth = np.where(t2, np.nan, np.where(red1, g_m, r_m)).astype(np.float32)
    oob_unmeth = np.where(t2, np.nan, np.where(red1, g_u, r_u)).astype(np.float32)
    beads_meth = np.where(t2, gb_u, np.where(red1, rb_m, gb_m)).astype(np.uint16)
    beads_unmeth = np.where(t2, rb_u, np.where(red1, rb_u, gb_u)).astype(np.uint16)

    ctrl = manifest.controls.copy()
    c_addr = ctrl["address"].to_numpy(np.int64)
    ctrl["grn"] = _lookup(grn, c_addr, "grn")[0]
    ctrl["red"] = _lookup(red, c_addr, "red")[0]
    meta = {"barcode": grn.barcode, "position": grn.position, "chip_type": grn.chip_type,
            "array": manifest.array}
    return RawSignals(sample=sample, manifest=manifest, meth=meth, unmeth=unmeth, oob_meth=oob_meth,
                      oob_unmeth=oob_unmeth, beads_meth=beads_meth, beads_unmeth=beads_unmeth,
                      controls=ctrl, meta=meta)
