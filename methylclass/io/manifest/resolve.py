"""Which array a cohort is, from the IDAT headers alone, and which samples do not belong to it.

Reading the address count of an IDAT needs its first few hundred bytes, so the driver can look at every
sample of a cohort (1,000 files in well under a second) without reading any intensities. The counts are
matched against the array registry (:mod:`methylclass.io.manifest.registry`); the cohort's array is the one
most samples have (or the one the user names), and samples whose IDATs are of another registered array are
marked as failing references before any work is distributed. Samples whose count matches no registered array
go through the kernel, whose address-coverage check then decides.

The header is read with :func:`methylclass.io.idat.read_header` (the one header parser) rather than with
:func:`methylclass.io.discover.peek_idat`, which decompresses a whole ``.idat.gz`` (~50 ms for a 450k file);
this decompresses only up to the address count.
"""

from __future__ import annotations

import gzip
import struct
from collections import Counter
from pathlib import Path

from ...errors import IdatError, ManifestError, MethylclassError
from ..idat import NSNPS, read_header
from .types import Manifest


def idat_address_count(path: str | Path) -> int | None:
    """Number of bead addresses an IDAT declares (its ``nSNPsRead`` field); None when unreadable.

    Reads the header with :func:`methylclass.io.idat.read_header` and then the 4-byte count only.
    """
    path = Path(path)
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as fh:
            offsets = read_header(fh, path)
            if NSNPS not in offsets:
                return None
            fh.seek(offsets[NSNPS])
            raw = fh.read(4)
            return struct.unpack("<i", raw)[0] if len(raw) == 4 else None
    except (OSError, EOFError, struct.error, IdatError):
        return None


def _array_of_count(n: int | None, grn: str, memo: dict) -> str | None:
    """Array of an IDAT with ``n`` addresses: the registry's count ranges, confirmed by address overlap
    (:func:`~methylclass.io.manifest.detect_array`, reading this one file) only when the count is ambiguous;
    memoised per count so a cohort costs at most one full read per distinct count."""
    if n is None:
        return None
    if n not in memo:
        from .load import detect_array
        from .registry import arrays_for_count

        found = arrays_for_count(n)
        if len(found) == 1:
            memo[n] = found[0].name
        else:
            try:
                memo[n] = detect_array(grn)
            except MethylclassError:
                memo[n] = None
    return memo[n]


def annotate_counts(refs: list[dict]) -> list[dict]:
    """Add ``n_addresses`` and ``detected_array`` to every reference that has a Grn file (in place)."""
    memo: dict[int, str | None] = {}
    for ref in refs:
        if ref.get("problem") or not ref.get("grn") or "n_addresses" in ref:
            continue
        ref["n_addresses"] = idat_address_count(ref["grn"])
        ref["detected_array"] = _array_of_count(ref["n_addresses"], ref["grn"], memo)
    return refs


def detect_cohort_array(refs: list[dict]) -> str:
    """The array most samples' IDATs belong to; ManifestError when no IDAT matches a known array."""
    annotate_counts(refs)
    votes = Counter(r["detected_array"] for r in refs if r.get("detected_array"))
    if not votes:
        counts = sorted({r.get("n_addresses") for r in refs if r.get("n_addresses")})
        shown = ", ".join(f"{c:,}" for c in counts[:5]) or "no readable IDAT"
        raise ManifestError(f"cannot tell the array type of these IDATs (addresses per file: {shown}); "
                            "pass --array NAME or --manifest PATH")
    return votes.most_common(1)[0][0]


def resolve_manifest(refs: list[dict] | None = None, *, manifest: Manifest | str | Path | None = None,
                     array: str | None = None, controls: str | Path | None = None,
                     first_idat=None) -> Manifest:
    """The one manifest resolver of every reading path (``read_raw``, ingestion, CNV).

    Parameters
    ----------
    refs : list of dict, optional
        Sample references whose IDAT headers vote for the array when nothing else decides.
    manifest : Manifest, str or Path, optional
        A manifest, a manifest file (Illumina CSV / sesame TSV) or, when no such file exists, an array name.
    array : str, optional
        A registered array name (also the array a manifest file is read as).
    controls : str or Path, optional
        Control-probe table of a manifest file that has none.
    first_idat : Idat, str or Path, optional
        An IDAT whose array is detected (address count confirmed by overlap) when no manifest/array is given.

    Returns
    -------
    Manifest
        The resolved manifest.
    """
    from .load import detect_array, load_manifest
    from .registry import get_array, list_arrays

    if isinstance(manifest, Manifest):
        return manifest
    if manifest is not None:
        if not Path(manifest).exists() and array is None and controls is None:
            try:
                spec = get_array(str(manifest))
            except ManifestError:
                known = ", ".join(s.name for s in list_arrays())
                raise ManifestError(f"'{manifest}' is neither a known array ({known}) nor a manifest "
                                    "file") from None
            return load_manifest(spec.name)
        return load_manifest(array, path=Path(manifest), controls=controls)
    if controls is not None:
        raise ManifestError("a control-probe table (--controls) goes with a manifest file (--manifest)")
    if array:
        return load_manifest(array)
    if first_idat is not None:
        return load_manifest(detect_array(first_idat))
    return load_manifest(detect_cohort_array(refs or []))


def flag_other_arrays(refs: list[dict], manifest: Manifest) -> list[dict]:
    """Mark references whose IDATs are of a registered array other than ``manifest.array`` as failing."""
    from .registry import get_array

    try:
        cohort = get_array(manifest.array).name
    except ManifestError:
        return refs  # a custom manifest: the kernel's address-coverage check decides
    annotate_counts(refs)
    out = []
    for ref in refs:
        other = ref.get("detected_array")
        if not ref.get("problem") and other and other != cohort:
            ref = {**ref, "problem": f"sample '{ref['sample']}': its IDAT '{ref['grn']}' holds "
                                     f"{ref['n_addresses']:,} bead addresses, an {other} array; this cohort "
                                     f"is {cohort}"}
        out.append(ref)
    return out
