"""The CNV reference panel (copy-neutral normals): built from IDATs or loaded from a saved ``.npz`` panel.

Missing probes: a probe whose raw signal was not measured — an address with no beads, or for raw
intensities a mean of 0 (what an IDAT holds for an address without beads: in the real 450k Green file of
the shared data, 7 of its 8 zero means have 0 beads and the 8th has 1) — is NaN, not conumee's floor of 1.
The floor makes it a log2 ratio of about −13 in a query, or shifts the prediction of that probe for every
query when it happens in a normal, and the noise metric (root mean square of successive ratio differences)
is dominated by a few such probes. Missing probes are skipped by the fit; a probe missing in any normal
leaves the panel. A store normalised with noob or illumina has no bead counts and keeps the normaliser's
value for a zero signal (noob: its floor, ~70), which cannot be told from a measurement: there, only probes
the normalisation stored as NaN are missing.

The reference panel built from a folder of normals is cached in ``cache_dir()/cnv_reference`` keyed by the
normals' paths, sizes and modification times and the bin set's probes; ``--reference`` may also name a panel
saved with :meth:`CNVReference.save` (``.npz``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ...errors import DataError, MethylclassError
from ...io.manifest.types import Manifest
from ...paths import cache_dir
from .bins import Bins
from .reference import MIN_REFERENCES, RECOMMENDED_REFERENCES, CNVReference, reference_cache_key
from .task import raw_total

#: part of the cache key of panels built from IDATs (bump when the intensities fed to the panel change)
_PANEL_INPUT_VERSION = "missing-probes-nan-v2"


def _with_build(man: Manifest, genome: str) -> Manifest:
    """``man`` with coordinates on ``genome``: the same array's manifest loaded for that build when the
    probe rows are identical (only the coordinates differ), else ``man`` unchanged (make_bins then names
    the mismatch)."""
    if not man.genome_build or man.genome_build == genome:
        return man
    from ...io.manifest import load_manifest

    try:
        other = load_manifest(man.array, genome_build=genome)
    except MethylclassError:
        return man
    same = other.n_probes == man.n_probes and np.array_equal(other.probes["probe_id"].to_numpy(),
                                                             man.probes["probe_id"].to_numpy())
    return other if same else man


def _read(source, manifest):
    from ...io.raw import read_raw

    return read_raw(source, manifest=manifest)


def load_reference(source: str | Path | Sequence[str | Path], manifest: Manifest, bins: Bins, *,
                   cache: bool = True, log: Callable[[str], None] = lambda m: None) -> CNVReference:
    """A reference panel from a saved ``.npz`` panel, or from normals' IDATs (folder / sheet / basenames),
    cached on disk. Raises DataError when fewer than 3 usable normals remain."""
    if isinstance(source, (str, Path)) and str(source).endswith(".npz"):
        return _load_panel(source, bins)
    from ...io.discover import find_samples

    found = find_samples(source)
    files = [p for ref in found.samples for p in (ref.grn, ref.red)]
    if len(found.samples) < MIN_REFERENCES:
        raise DataError(f"reference panel '{source}': {len(found.samples)} normal sample(s) found, need ≥ 3 "
                        "copy-neutral references (16 or more recommended)")
    key = reference_cache_key(files, bins, extra=_PANEL_INPUT_VERSION)
    path = cache_dir() / "cnv_reference" / f"{bins.array}_{bins.build}_{key}.npz"
    if cache and path.exists():
        try:
            log(f"reference panel: cached {path.name}")
            return CNVReference.load(path)
        except DataError:
            pass
    raw = _read(source, manifest)
    intens = np.vstack([raw_total(s) for s in raw.samples])
    ref = as_saved(CNVReference.from_intensities(intens, bins, [s.sample for s in raw.samples],
                                                 meta={"source": str(source)}))
    log(f"reference panel: {ref.n_references} normals, {int(ref.probe_mask.sum()):,} probes")
    if cache:
        ref.save(path)
    return ref


def as_saved(ref: CNVReference) -> CNVReference:
    """``ref`` with its log2 intensities rounded to float32, as :meth:`CNVReference.save` stores them, so a
    freshly built panel, the same panel from the cache and a saved ``.npz`` give identical results (the
    rounding, < 1e-6 in log2, is far below any copy-number signal)."""
    return dataclasses.replace(ref, log2=ref.log2.astype(np.float32).astype(np.float64), _gram=None, _sums=None)


def _load_panel(source: str | Path, bins: Bins) -> CNVReference:
    ref = CNVReference.load(source)
    if ref.probe_key != bins.probe_key:
        raise DataError(f"CNV reference '{source}' was built for {ref.array}/{ref.build} probes that "
                        f"differ from this analysis ({bins.array}/{bins.build})")
    return ref


def _note_panel_size(ref: CNVReference, log: Callable[[str], None]) -> None:
    if ref.n_references < RECOMMENDED_REFERENCES:
        log(f"note: the reference panel has {ref.n_references} normals; conumee recommends ≥ "
            f"{RECOMMENDED_REFERENCES} copy-neutral references")

