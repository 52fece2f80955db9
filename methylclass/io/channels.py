"""Is the ``_Grn`` file of a pair really the Green channel? Detecting Red/Green files swapped by renaming.

An IDAT does not say which colour it holds in any usable way: the header's ``RedGreen`` field (code 400)
is 0 in both files of the real HM27 pairs and in the real 450k Green file of the shared data (illuminaio's
parse), RunInfo lists scan software steps, not a channel, and both channels hold the same bead addresses in
the same order. So the colour is read from the intensities, with a rule that needs only the manifest:

* a Type I probe of colour Red has both its beads (``address_u``, ``address_m``) read *in band* in Red; its
  Green signal at the same addresses is out-of-band background. Type I Green probes are the mirror image.
* ``separation = median log2(Red / Grn) over Type I Red addresses + median log2(Grn / Red) over Type I Grn
  addresses``. A gain on one channel (dye bias, scanner) adds to one term what it takes from the other, so
  the sum measures how much brighter the in-band colour is, whatever the channel balance.
* Real scans: HM27 4207113116_A/B 3.55 / 4.11, the six minfiData 450k samples 4.8–6.7 (their 1,938-address
  subset in the shared data). Swapping the files negates the statistic exactly. A pair whose separation is
  below :data:`SWAP_SEPARATION` (−1: in-band half the out-of-band level) is reported as "Grn/Red swapped?";
  a pair near 0 (no signal at all) is left to the QC, which fails it for its own reason.

Written here because no library checks IDAT channel identity (minfi, sesame and methylprep trust the names).
"""

from __future__ import annotations

import threading

import numpy as np

from ..errors import IdatError
from .idat import Idat
from .manifest.types import Manifest

#: separation (log2) below which a pair is reported as swapped; see the module docstring
SWAP_SEPARATION = -1.0
#: fewest Type I addresses of each colour needed to judge (fewer: no verdict)
MIN_TYPE_I = 50


def _positions(ids_sorted: np.ndarray, order: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    wanted = wanted[wanted >= 0]
    if not ids_sorted.size or not wanted.size:
        return np.empty(0, dtype=np.int64)
    pos = np.clip(np.searchsorted(ids_sorted, wanted), 0, ids_sorted.size - 1)
    hit = ids_sorted[pos] == wanted
    return order[pos[hit]]


#: layouts remembered by :func:`_type_i_positions` (an array's IDATs share one address order, so a cohort
#: needs one; a mixed cohort one per array)
_MAX_LAYOUTS = 4
_LAYOUTS: list[tuple[object, np.ndarray, tuple[np.ndarray, np.ndarray]]] = []
_LAYOUTS_LOCK = threading.Lock()


def _type_i_positions(ids: np.ndarray, probes) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``ids`` (an IDAT's address order) of the Type I Red and Type I Grn probes' beads.

    Finding them costs ~0.1 s on a 450k pair (sorting 622k addresses, matching 270k), which was the largest
    step of the per-sample kernel; the positions depend only on the manifest's probe table and the IDAT's
    address order, which every IDAT of an array shares. So the last few layouts are kept, keyed on the
    probe table object itself (held, so its id cannot be reused) and an exact copy of the addresses."""
    with _LAYOUTS_LOCK:
        for key, known, positions in _LAYOUTS:
            if key is probes and known.shape == ids.shape and np.array_equal(known, ids):
                return positions
    order = np.argsort(ids, kind="stable")
    ids_sorted = ids[order]
    type_i = probes["design"].to_numpy() == "I"
    channel = probes["channel"].to_numpy()
    found = []
    for colour in ("Red", "Grn"):
        sel = type_i & (channel == colour)
        wanted = np.concatenate([probes["address_u"].to_numpy(np.int64)[sel],
                                 probes["address_m"].to_numpy(np.int64)[sel]])
        found.append(_positions(ids_sorted, order, wanted))
    positions = (found[0], found[1])
    with _LAYOUTS_LOCK:
        _LAYOUTS.insert(0, (probes, ids.copy(), positions))
        del _LAYOUTS[_MAX_LAYOUTS:]
    return positions


def channel_separation(grn: Idat, red: Idat, manifest: Manifest) -> float | None:
    """In-band minus out-of-band log2 intensity of the Type I probes, summed over both colours (see the
    module docstring); positive for a correctly named pair, negative when the files are swapped. ``red``
    must be aligned to ``grn`` (:func:`~methylclass.io.discover.check_pair`). None when the manifest or the
    IDATs hold fewer than :data:`MIN_TYPE_I` Type I addresses of a colour."""
    ids = np.asarray(grn.illumina_ids, dtype=np.int64)
    positions = _type_i_positions(ids, manifest.probes)
    total = 0.0
    for colour, at in zip(("Red", "Grn"), positions):
        if at.size < MIN_TYPE_I:
            return None
        g = np.log2(np.maximum(np.asarray(grn.mean)[at].astype(np.float64), 1.0))
        r = np.log2(np.maximum(np.asarray(red.mean)[at].astype(np.float64), 1.0))
        total += float(np.median(r - g) if colour == "Red" else np.median(g - r))
    return total


def check_channels(grn: Idat, red: Idat, manifest: Manifest, sample: str) -> float | None:
    """Raise :class:`~methylclass.errors.IdatError` ("Grn/Red swapped?") naming both files when the pair's
    :func:`channel_separation` is below :data:`SWAP_SEPARATION`; return the separation otherwise."""
    sep = channel_separation(grn, red, manifest)
    if sep is not None and sep < SWAP_SEPARATION:
        raise IdatError(f"sample '{sample}': Grn/Red swapped? '{red.path}' reads like a Green channel and "
                        f"'{grn.path}' like a Red one (Type I probes read brighter out of their colour than "
                        f"in it: channel separation {sep:.2f} log2, a correct pair is > 0); rename the two "
                        "files")
    return sep
