"""Which array a cohort is, from the IDAT headers alone, and which samples do not belong to it.

Reading the address count of an IDAT needs its first few hundred bytes, so the driver can look at every
sample of a cohort (1,000 files in well under a second) without reading any intensities. The counts are
matched against the array registry (:mod:`methylclass.io.manifest.registry`); the cohort's array is the one
most samples have (or the one the user names), and samples whose IDATs are of another registered array are
marked as failing references before any work is distributed. Samples whose count matches no registered array
go through the kernel, whose address-coverage check then decides.

The header is read here rather than with :func:`methylclass.io.discover.peek_idat` because that one
decompresses a whole ``.idat.gz`` (~50 ms for a 450k file); this reads its first 64 KB.
"""

from __future__ import annotations

import gzip
import struct
from collections import Counter
from pathlib import Path

from ...errors import ManifestError, MethylclassError
from .types import Manifest

_NSNPS = 1000
_HEAD = 1 << 16


def idat_address_count(path: str | Path) -> int | None:
    """Number of bead addresses an IDAT declares (its ``nSNPsRead`` field); None when unreadable."""
    path = Path(path)
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as fh:
            head = fh.read(_HEAD)
            if len(head) < 16 or head[:4] != b"IDAT" or struct.unpack_from("<q", head, 4)[0] != 3:
                return None
            n_fields = struct.unpack_from("<i", head, 12)[0]
            if not 0 < n_fields <= 1000 or 16 + 10 * n_fields > len(head):
                return None
            for i in range(n_fields):
                code, offset = struct.unpack_from("<Hq", head, 16 + 10 * i)
                if code == _NSNPS:
                    if offset + 4 <= len(head):
                        return struct.unpack_from("<i", head, offset)[0]
                    fh.seek(offset)
                    raw = fh.read(4)
                    return struct.unpack("<i", raw)[0] if len(raw) == 4 else None
    except (OSError, EOFError, struct.error):
        return None
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


def resolve_manifest(refs: list[dict], *, manifest: Manifest | str | Path | None = None,
                     array: str | None = None, controls: str | Path | None = None) -> Manifest:
    """The cohort's manifest: the one given, a manifest file (with an optional control-probe table), a
    named array, or the array detected from the IDATs."""
    from .load import load_manifest

    if isinstance(manifest, Manifest):
        return manifest
    if manifest is not None:
        return load_manifest(array, path=Path(manifest), controls=controls)
    if controls is not None:
        raise ManifestError("a control-probe table (--controls) goes with a manifest file (--manifest)")
    return load_manifest(array or detect_cohort_array(refs))


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
