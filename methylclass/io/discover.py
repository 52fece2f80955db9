"""Find samples (Red/Grn IDAT pairs), read a pair, and guess the array type from an IDAT's address count.

* :func:`find_samples` turns a folder, a sample sheet or a list of basenames into a :class:`Discovery`: the
  usable :class:`SampleRef` pairs plus a :class:`Problem` for every file that cannot be used (missing partner,
  duplicate sample name, sheet row without files). One bad sample never stops the others; only a source
  without any IDAT file at all raises :class:`~methylclass.errors.SampleSheetError`.
* :func:`read_idat_pair` reads one sample's two channels and checks they belong together.
* :func:`peek_idat` reads only an IDAT's header (probe count, barcode, position) — a few hundred bytes
  instead of 8–14 MB — for fast summaries of large folders.
* :func:`guess_array` maps an address count onto the array family (:data:`ARRAY_ADDRESS_COUNTS`, the one
  table of these counts in methylclass). It is a cheap first guess; the manifest registry decides by address
  overlap.

When both ``X_Grn.idat`` and ``X_Grn.idat.gz`` exist, the uncompressed file is used (faster to read).
"""

from __future__ import annotations

import copy
import os
import struct
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import IdatError, SampleSheetError
from ..records import SampleFailure
from .idat import _ARRAY_FIELDS, BARCODE, CHIP_TYPE, MOSTLY_A, NSNPS, Idat, _decode_string, read_header, read_idat
from .samplesheet import IDAT_NAME, IdatIndex, read_sample_sheet, scan_idats, sentrix_from_stem

# -- array guess -----------------------------------------------------------------------------------------
#: (array, typical address count, lowest, highest) of the IDATs of each array family. Ranges follow minfi
#: ``read.metharray`` and mepylome ``ArrayType.from_probe_count``. Typical counts: HM27 and HM450 measured on
#: the real files of the shared data (4207113116_A, minfiData 5723646052_R02C02); EPIC/EPICv2 as reported for
#: real scans; MSA48 per mepylome (its manifest alone holds 361,738 distinct bead addresses, so its IDATs
#: cannot hold fewer). MM285 is the mouse array (not a human tumour array).
ARRAY_ADDRESS_COUNTS: tuple[tuple[str, int, int, int], ...] = (
    ("HM27", 55_300, 54_000, 56_000),
    ("MM285", 315_639, 315_000, 362_000),
    ("MSA", 384_500, 384_000, 385_000),
    ("HM450", 622_399, 622_000, 623_000),
    ("EPIC", 1_032_200, 1_032_000, 1_033_000),     # early EPIC v1 scans
    ("EPIC", 1_052_641, 1_050_000, 1_056_000),     # EPIC v1 B2/B4 scans (1,052,641; 1,051,943), EPIC+ 1,055,583
    ("EPICv2", 1_105_209, 1_100_000, 1_110_000),
)


def guess_array(n_addresses: int) -> str | None:
    """Array family (``"HM27"``, ``"HM450"``, ``"EPIC"``, ``"EPICv2"``, ``"MSA"``, ``"MM285"``) whose IDATs
    hold ``n_addresses`` bead types, or None when no known array matches."""
    for name, _typical, low, high in ARRAY_ADDRESS_COUNTS:
        if low <= n_addresses <= high:
            return name
    return None


# -- data types --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SampleRef:
    """One sample: its name, the Green and Red IDAT paths, and its sample-sheet columns (``meta``)."""

    name: str
    grn: Path
    red: Path
    meta: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def basename(self) -> Path:
        """The path without ``_Grn.idat[.gz]``."""
        m = IDAT_NAME.match(self.grn.name)
        return self.grn.with_name(m["stem"]) if m else self.grn


@dataclass(frozen=True)
class Problem(SampleFailure):
    """A file or sample discovery cannot use, and why (the reason names the file): the shared failure record
    :class:`~methylclass.records.SampleFailure` with ``stage="discover"`` (``Problem(sample, path, reason)``)."""

    stage: str = "discover"


@dataclass
class Discovery:
    """What :func:`find_samples` found: usable ``samples`` and the ``problems`` that excluded others."""

    samples: list[SampleRef] = field(default_factory=list)
    problems: list[SampleFailure] = field(default_factory=list)
    source: str = ""

    def __iter__(self) -> Iterator[SampleRef]:
        return iter(self.samples)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def names(self) -> list[str]:
        """Sample names, in discovery order."""
        return [s.name for s in self.samples]

    def to_frame(self) -> pd.DataFrame:
        """One row per sample: ``sample, grn, red`` then the sheet columns."""
        rows = [{**s.meta, "sample": s.name, "grn": str(s.grn), "red": str(s.red)} for s in self.samples]
        df = pd.DataFrame(rows)
        if df.empty:
            return pd.DataFrame(columns=["sample", "grn", "red"])
        first = ["sample", "grn", "red"]
        return df[first + [c for c in df.columns if c not in first]]


# -- locating and reading pairs -------------------------------------------------------------------------
def _pick(paths: list[Path]) -> Path:
    """Prefer the uncompressed file when both ``.idat`` and ``.idat.gz`` exist."""
    return min(paths, key=lambda p: (p.name.lower().endswith(".gz"), str(p)))


def _channel_files(base: Path, channel: str) -> list[Path]:
    found = []
    for ch in (channel, channel.lower(), channel.upper()):
        for suffix in (".idat", ".idat.gz"):
            cand = base.with_name(f"{base.name}_{ch}{suffix}")
            if cand.is_file() and cand not in found:
                found.append(cand)
    return found


def locate_pair(source: str | Path) -> tuple[Path, Path]:
    """Return ``(grn, red)`` paths for a basename or either channel's file (``.idat`` or ``.idat.gz``).

    Raises :class:`IdatError` naming the file when a partner (or both files) is missing.
    """
    path = Path(source)
    m = IDAT_NAME.match(path.name)
    base = path.with_name(m["stem"]) if m else path
    grn, red = _channel_files(base, "Grn"), _channel_files(base, "Red")
    if grn and red:
        return _pick(grn), _pick(red)
    if m and not path.exists():
        raise IdatError(f"'{path}' does not exist")
    if grn or red:
        have, need = (_pick(grn), "Red") if grn else (_pick(red), "Grn")
        raise IdatError(f"'{have}' has no {need} partner (looked for '{base}_{need}.idat' and .idat.gz)")
    if path.is_dir():
        raise IdatError(f"'{path}' is a folder, not an IDAT basename (use find_samples for folders)")
    raise IdatError(f"no IDAT files for '{base}' (looked for '{base}_Grn.idat', '{base}_Red.idat' "
                    "and .idat.gz)")


def check_pair(grn: Idat, red: Idat) -> Idat:
    """Check that ``grn`` and ``red`` are the two channels of one scan; return ``red`` aligned to ``grn``.

    Barcode and position must agree (when both files carry them), and the two files must hold the same
    probe addresses. A Red file holding the same addresses in another order is reordered to the Green
    order; any other disagreement raises :class:`IdatError` naming both files.
    """
    names = f"'{grn.path}' and '{red.path}'"
    for what, a, b in (("barcode", grn.barcode, red.barcode), ("position", grn.position, red.position)):
        if a and b and a != b:
            raise IdatError(f"{names} are not a pair: {what} {a} vs {b}")
    if grn.n_probes != red.n_probes:
        raise IdatError(f"{names} are not a pair: {grn.n_probes:,} vs {red.n_probes:,} probes")
    if np.array_equal(grn.illumina_ids, red.illumina_ids):
        # the same addresses: share Green's array, so the mapping sees one layout without comparing again (a
        # shallow copy: arrays a sparse read left unread stay unread)
        shared = copy.copy(red)
        shared.illumina_ids = grn.illumina_ids
        return shared
    g_order, r_order = np.argsort(grn.illumina_ids, kind="stable"), np.argsort(red.illumina_ids, kind="stable")
    g_sorted, r_sorted = grn.illumina_ids[g_order], red.illumina_ids[r_order]
    if not np.array_equal(g_sorted, r_sorted):
        n_diff = int(np.setdiff1d(g_sorted, r_sorted, assume_unique=False).size)
        raise IdatError(f"{names} are not a pair: they hold different probe addresses "
                        f"({n_diff:,} Green addresses are missing from Red)")
    take = np.empty_like(g_order)
    take[g_order] = r_order  # position in red of each green address
    return Idat(illumina_ids=red.illumina_ids[take], mean=red.mean[take], sd=red.sd[take],
                n_beads=red.n_beads[take], mid_block=red.mid_block, raw_fields=dict(red.raw_fields),
                header_order=red.header_order, data_order=red.data_order, version=red.version, path=red.path)


def read_idat_pair(source: str | Path | SampleRef) -> tuple[Idat, Idat]:
    """Read one sample's ``(green, red)`` IDATs from a basename, either channel's path or a :class:`SampleRef`.

    Parameters
    ----------
    source : str, Path or SampleRef
        The sample's basename, the path of either channel's IDAT, or a :class:`SampleRef`.

    Returns
    -------
    tuple of (Idat, Idat)
        The green and red IDATs.

    Raises
    ------
    IdatError
        Naming the file for a missing partner, an unreadable file, or a Red/Grn pair that disagree (barcode,
        position, probe count, address set); see :func:`check_pair`.
    """
    grn_path, red_path = (source.grn, source.red) if isinstance(source, SampleRef) else locate_pair(source)
    grn = read_idat(grn_path)
    red = read_idat(red_path)
    return grn, check_pair(grn, red)


@dataclass(frozen=True)
class IdatSummary:
    """Header facts of one IDAT file (what :func:`peek_idat` returns)."""

    path: Path
    n_probes: int
    barcode: str
    position: str
    chip_type: str

    @property
    def array(self) -> str | None:
        """The array family guessed from the address count (:func:`guess_array`)."""
        return guess_array(self.n_probes)


def peek_idat(path: str | Path) -> IdatSummary:
    """Read only the header of an IDAT (plain files: a few hundred bytes; ``.gz``: the whole file).

    Falls back to :func:`read_idat` whenever the header looks damaged, so errors are the reader's
    :class:`IdatError` naming the file. A peek does not verify that the probe arrays are complete.
    """
    path = Path(path)
    if path.name.lower().endswith(".gz"):
        idat = read_idat(path)
        return IdatSummary(path, idat.n_probes, idat.barcode, idat.position, idat.chip_type)
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            offsets = read_header(fh, path)  # the one header parser; IdatError → read_idat words it
            if NSNPS not in offsets or any(not 0 <= o <= size for o in offsets.values()):
                raise ValueError
            fh.seek(offsets[NSNPS])
            n = struct.unpack("<i", fh.read(4))[0]
            if n < 0 or any(offsets.get(code, size + 1) + n * np.dtype(dt).itemsize > size
                            for code, dt in _ARRAY_FIELDS.items()):
                raise ValueError  # truncated or corrupt: let read_idat word the error
            strings = {}
            for code in (BARCODE, CHIP_TYPE, MOSTLY_A):
                if code in offsets:
                    fh.seek(offsets[code])
                    strings[code] = _decode_string(fh.read(300), 0, path)[0]
    except FileNotFoundError:
        raise IdatError(f"'{path}' does not exist") from None
    except (ValueError, struct.error, IdatError, OSError):
        idat = read_idat(path)  # raises the precise error
        return IdatSummary(path, idat.n_probes, idat.barcode, idat.position, idat.chip_type)
    return IdatSummary(path, n, strings.get(BARCODE, ""), strings.get(MOSTLY_A, ""), strings.get(CHIP_TYPE, ""))


# -- discovery -------------------------------------------------------------------------------------------
def _meta_from_stem(stem: str) -> dict:
    parsed = sentrix_from_stem(stem)
    return {"sentrix_id": parsed[1], "sentrix_position": parsed[2]} if parsed else {}


def _unreadable_problems(index: IdatIndex | None) -> list[Problem]:
    """A :class:`Problem` for every sub-folder or IDAT entry the folder scan could not read (never silent)."""
    out = []
    for path, why in (index.unreadable if index is not None else []):
        try:
            label = path.relative_to(index.root).as_posix()
        except ValueError:
            label = path.name
        label = f"{label}/" if "folder" in why else label
        out.append(Problem(label, path, f"'{path}' {why}; IDATs in it (if any) are not included"
                           if "folder" in why else f"'{path}' {why}"))
    return out


def _from_index(index: IdatIndex, bases: Iterable[Path] | None = None) -> Discovery:
    """Pair the files of ``index`` (all basenames, or ``bases``) into samples named by their file stem."""
    found = Discovery(source=str(index.root), problems=_unreadable_problems(index) if bases is None else [])
    by_name: dict[str, list[tuple[Path, Path]]] = defaultdict(list)
    for base in (bases if bases is not None else sorted(index.files)):
        files = index.files[base]
        if files["Grn"] and files["Red"]:
            by_name[base.name].append((_pick(files["Grn"]), _pick(files["Red"])))
        else:
            have, need = (_pick(files["Grn"]), "Red") if files["Grn"] else (_pick(files["Red"]), "Grn")
            found.problems.append(Problem(base.name, have, f"'{have}' has no {need} partner "
                                                           f"(expected '{base}_{need}.idat')"))
    for name, pairs in by_name.items():
        if len(pairs) == 1:
            grn, red = pairs[0]
            found.samples.append(SampleRef(name, grn, red, {"basename": str(grn.parent / name),
                                                            **_meta_from_stem(name)}))
            continue
        others = ", ".join(f"'{g.parent}'" for g, _ in pairs)
        for grn, _red in pairs:
            found.problems.append(Problem(name, grn, f"duplicate sample name '{name}': '{grn}' — the same "
                                                     f"name is found in {others}; rename or remove copies"))
    return found


def _from_sheet(df: pd.DataFrame, index: IdatIndex | None) -> Discovery:
    found = Discovery(source=str(df.attrs.get("source", "")), problems=_unreadable_problems(index))
    for sample, base, message in df.attrs.get("problems", []):
        found.problems.append(Problem(sample, Path(base) if base else None, message))
    bad = {p.sample for p in found.problems}
    for row in df.to_dict(orient="records"):
        name, base = row["sample"], row["basename"]
        if name in bad or not base:
            continue
        base = Path(base)
        files = index.files.get(base) if index is not None else None
        try:
            if files and files["Grn"] and files["Red"]:
                grn, red = _pick(files["Grn"]), _pick(files["Red"])
            else:
                grn, red = locate_pair(base)
        except IdatError as exc:
            found.problems.append(Problem(name, base, f"sample '{name}': {exc}"))
            continue
        found.samples.append(SampleRef(name, grn, red, row))
    return found


def _from_list(items: Iterable[str | Path]) -> Discovery:
    found = Discovery(source="<list>")
    pairs: dict[str, list[tuple[Path, Path]]] = defaultdict(list)
    for item in items:
        try:
            grn, red = locate_pair(item)
        except IdatError as exc:
            found.problems.append(Problem(Path(item).name, Path(item), str(exc)))
            continue
        m = IDAT_NAME.match(grn.name)
        if (grn, red) not in pairs[m["stem"]]:
            pairs[m["stem"]].append((grn, red))
    for name, got in pairs.items():
        if len(got) > 1:
            for grn, _ in got:
                found.problems.append(Problem(name, grn, f"duplicate sample name '{name}': '{grn}' is one of "
                                                         f"{len(got)} basenames with that name"))
            continue
        grn, red = got[0]
        found.samples.append(SampleRef(name, grn, red, {"basename": str(grn.with_name(name)),
                                                        **_meta_from_stem(name)}))
    return found


def find_samples(source: str | Path | Iterable[str | Path], *, sheet: str | Path | None = None,
                 recursive: bool = True) -> Discovery:
    """Find the IDAT pairs of ``source``: a folder, a sample sheet, one IDAT/basename, or a list of basenames.

    * folder: every ``*_Grn.idat`` / ``*_Red.idat`` (and ``.gz``) below it (one scan), samples named by file
      stem; with ``sheet``, the sheet's rows are matched to the files found in the folder instead;
    * sample sheet: :func:`~methylclass.io.samplesheet.read_sample_sheet` resolves the rows under the sheet's
      folder; ``SampleRef.meta`` holds the row (labels, sex …);
    * list of basenames or IDAT paths (either channel).

    Missing partners, duplicate names and unresolved sheet rows become :class:`Problem` s (the other samples
    carry on).

    Parameters
    ----------
    source : str, Path or iterable of str or Path
        A folder, a sample sheet, one IDAT file or basename, or a list of basenames / IDAT paths.
    sheet : str or Path, optional
        A sample sheet whose rows are matched to the IDATs found in the folder ``source`` (folders only).
    recursive : bool
        Scan sub-folders too.

    Returns
    -------
    Discovery
        The samples found (:class:`SampleRef` s) and the problems met.

    Raises
    ------
    SampleSheetError
        A folder without any IDAT file, a missing source, or ``sheet`` given with a list or a non-folder source.
    """
    if not isinstance(source, (str, os.PathLike)):
        if sheet is not None:
            raise SampleSheetError("a sample sheet can be combined with a folder, not with a list of basenames")
        return _from_list(list(source))
    path = Path(source)
    if path.is_dir():
        index = scan_idats(path, recursive=recursive)
        if sheet is not None:
            df = read_sample_sheet(sheet, idat_dir=path, recursive=recursive, index=index)
            return _from_sheet(df, index)
        if not index.files:
            where = "under" if recursive else "in"
            skipped = "; ".join(p.message for p in _unreadable_problems(index)[:3])
            raise SampleSheetError(f"no IDAT files (*_Grn.idat / *_Red.idat, optionally .gz) found {where} "
                                   f"'{path}'" + (f" (unreadable: {skipped})" if skipped else ""))
        return _from_index(index)
    if sheet is not None:
        raise SampleSheetError(f"'{path}' is not a folder: a sample sheet needs the folder holding the IDATs")
    if path.is_file() and not IDAT_NAME.match(path.name):
        index = scan_idats(path.parent, recursive=recursive)
        df = read_sample_sheet(path, recursive=recursive, index=index)
        return _from_sheet(df, index)
    m = IDAT_NAME.match(path.name)
    base = path.with_name(m["stem"]) if m else path
    if not (_channel_files(base, "Grn") or _channel_files(base, "Red")):
        raise SampleSheetError(f"'{path}' does not exist (it is neither a folder, a sample sheet, an IDAT file "
                               "nor an IDAT basename)")
    try:
        grn, red = locate_pair(path)
    except IdatError as exc:
        return Discovery(problems=[Problem(base.name, path, str(exc))], source=str(path))
    return Discovery(samples=[SampleRef(base.name, grn, red, {"basename": str(base), **_meta_from_stem(base.name)})],
                     source=str(path))


__all__ = ["ARRAY_ADDRESS_COUNTS", "Discovery", "IdatSummary", "Problem", "SampleRef", "check_pair",
           "find_samples", "guess_array", "locate_pair", "peek_idat", "read_idat_pair"]
