"""Read the sample sheets labs hand in and find each sample's IDAT files.

:func:`read_sample_sheet` accepts every layout seen in practice and returns one table with normalised columns
``sample`` (unique name), ``basename`` (IDAT path without ``_Grn.idat``/``_Red.idat``), ``sentrix_id`` and
``sentrix_position``, plus every original column unchanged:

* Illumina ``[Header]`` / ``[Data]`` sheets (also with old-Mac CR-only line endings, Windows CRLF, UTF-8 BOM,
  UTF-16 or cp1252 text, trailing commas from spreadsheets);
* plain CSV/TSV/semicolon tables with Sentrix_ID/Sentrix_Position or their aliases (Slide/Array, Chip/Position,
  Sentrix_Barcode, SentrixBarcode_A/SentrixPosition_A …), or a Basename column (minfi ``targets``);
* methylprep sheets (``GSM_ID, Sample_Name, Sentrix_ID, Sentrix_Position``, blank GSM ids allowed);
* GEO sheets: a pData-style table (``title``, ``geo_accession``, ``characteristics_ch1…``,
  ``supplementary_file``) or a GEO series-matrix text file (``!Sample_…`` rows). ``key: value``
  characteristics become their own columns (``subgroup: SHH`` → column ``subgroup``).

Basenames are resolved like minfi's ``read.metharray.sheet``: a Basename column relative to the sheet's folder,
otherwise ``<Sentrix_ID>_<Sentrix_Position>_Grn.idat`` searched recursively under it (GEO's
``GSM…_<barcode>_<position>`` names included). The search is one directory walk (:func:`scan_idats`), shared with
:mod:`methylclass.io.discover`. Rows whose files cannot be found keep ``basename`` empty (or the path the sheet
gave) and are listed in ``df.attrs["problems"]`` as ``(sample, path, message)`` triples.

The text parsing is hand-written on top of :mod:`csv` because pandas' reader cannot locate the ``[Data]``
section, tolerate ragged spreadsheet rows, nor report problems by sheet line number.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import SampleSheetError

#: normalised-key aliases (lower case, alphanumerics only), in order of preference
SAMPLE_ALIASES = ("samplename", "sampleid", "sample", "samplenames", "name", "geoaccession", "gsmid", "gsm",
                  "title")
SENTRIX_ID_ALIASES = ("sentrixid", "sentrixbarcode", "sentrixbarcodea", "slide", "slideid", "chip", "chipid",
                      "chipbarcode", "beadchip", "beadchipid", "beadchipbarcode", "barcode")
SENTRIX_POSITION_ALIASES = ("sentrixposition", "sentrixpositiona", "sentrixpos", "array", "arrayid",
                            "arrayposition", "position", "chipposition", "stripe")
BASENAME_ALIASES = ("basename", "basenames", "idatbasename", "idatprefix", "idatpath", "idat", "idatfile",
                    "filenames")
_GSM_ALIASES = ("geoaccession", "gsmid", "gsm")
NORMALISED = ("sample", "basename", "sentrix_id", "sentrix_position")

IDAT_NAME = re.compile(r"^(?P<stem>.+)_(?P<channel>grn|red)\.idat(?P<gz>\.gz)?$", re.IGNORECASE)
POSITION = re.compile(r"^(R\d{2}C\d{2}|[A-L])$", re.IGNORECASE)
_SCI = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def sentrix_from_stem(stem: str) -> tuple[str, str, str] | None:
    """Split an IDAT stem ``[prefix_]<barcode>_<position>`` into ``(prefix, barcode, position)``, or None."""
    parts = stem.rsplit("_", 2)
    if len(parts) < 2 or not parts[-2].isdigit() or not POSITION.match(parts[-1]):
        return None
    return (parts[0] if len(parts) == 3 else ""), parts[-2], parts[-1].upper()


# -- IDAT file index (one walk over a folder) -------------------------------------------------------------
@dataclass
class IdatIndex:
    """Every ``*_Grn.idat`` / ``*_Red.idat`` (and ``.gz``) under ``root``, grouped by basename.

    ``files[basename]["Grn"|"Red"]`` lists the files of that basename (plain and/or gzipped);
    ``by_key[(barcode, position)]``, ``by_stem[stem]`` and ``by_prefix[prefix]`` list basenames.
    """

    root: Path
    files: dict[Path, dict[str, list[Path]]] = field(default_factory=dict)
    by_key: dict[tuple[str, str], list[Path]] = field(default_factory=lambda: defaultdict(list))
    by_stem: dict[str, list[Path]] = field(default_factory=lambda: defaultdict(list))
    by_prefix: dict[str, list[Path]] = field(default_factory=lambda: defaultdict(list))
    #: (path, reason) of every sub-folder or IDAT-named entry the scan could not read (reported, not dropped)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)

    def add(self, path: Path) -> None:
        """Register one IDAT file (ignored when its name is not ``<stem>_Grn|Red.idat[.gz]``)."""
        m = IDAT_NAME.match(path.name)
        if m is None:
            return
        base = path.with_name(m["stem"])
        channel = "Grn" if m["channel"].lower() == "grn" else "Red"
        if base not in self.files:
            self.files[base] = {"Grn": [], "Red": []}
            self.by_stem[m["stem"]].append(base)
            parsed = sentrix_from_stem(m["stem"])
            if parsed is not None:
                self.by_key[parsed[1:]].append(base)
                if parsed[0]:
                    self.by_prefix[parsed[0]].append(base)
        self.files[base][channel].append(path)

    @property
    def n_files(self) -> int:
        """Number of IDAT files indexed."""
        return sum(len(v["Grn"]) + len(v["Red"]) for v in self.files.values())


def scan_idats(root: str | Path, *, recursive: bool = True) -> IdatIndex:
    """Index the IDAT files under ``root`` in one ``os.scandir`` pass per folder.

    Hidden folders (``.git``, ``.snakemake`` …) are skipped; symbolic links to folders are followed once
    (a link loop cannot hang the scan). A sub-folder that cannot be listed, or an IDAT-named entry that is not
    a readable file (a dangling link), is kept in ``index.unreadable`` so callers report it; ``root`` itself
    unreadable raises :class:`~methylclass.errors.SampleSheetError`.
    """
    root = Path(os.path.abspath(root))
    index = IdatIndex(root=root)
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            entries = list(os.scandir(folder))
        except OSError as exc:
            if folder == root:
                raise SampleSheetError(f"'{root}' cannot be read: {exc.strerror or exc}") from None
            index.unreadable.append((folder, f"folder cannot be read: {exc.strerror or exc}"))
            continue
        for entry in entries:
            is_idat = entry.name[-5:].lower() == ".idat" or entry.name[-8:].lower() == ".idat.gz"
            try:
                if entry.is_file():
                    if is_idat:
                        index.add(Path(entry.path))
                elif recursive and entry.is_dir() and not entry.name.startswith("."):
                    stack.append(Path(entry.path))
                elif is_idat and IDAT_NAME.match(entry.name):
                    index.unreadable.append((Path(entry.path), "not a readable file (a dangling link?)"))
            except OSError as exc:
                if is_idat or entry.name[:1] != ".":
                    index.unreadable.append((Path(entry.path), f"cannot be read: {exc.strerror or exc}"))
    return index


# -- text → rows ---------------------------------------------------------------------------------------------
def _decode(raw: bytes, path: Path) -> str:
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise SampleSheetError(f"'{path}' is a corrupt gzip file: {exc}") from None
    if raw[:4] == b"PK\x03\x04" or raw[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise SampleSheetError(f"'{path}' is an Excel workbook, not a text sample sheet: save it as CSV")
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = raw.decode("utf-16")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")  # spreadsheet exports on Windows
    if "\x00" in text:
        raise SampleSheetError(f"'{path}' is a binary file, not a text sample sheet")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _is_section(cell: str) -> bool:
    cell = cell.strip()
    return len(cell) > 2 and cell.startswith("[") and cell.endswith("]")


def _split(line: str) -> list[str]:
    return next(csv.reader([line], delimiter=_delimiter(line)), [])


def _locate_table(lines: list[str], path: Path) -> tuple[int, int, dict[str, str]]:
    """Return ``(first line, end line, header dict)`` of the sample table inside ``lines``."""
    header: dict[str, str] = {}
    data_at, section = None, ""
    for i, line in enumerate(lines):
        first = _split(line)[0].strip() if line.strip() else ""
        if _is_section(first):
            section = first
            if section.lower() == "[data]":
                data_at = i + 1
                break
            continue
        if section.lower() == "[header]" and first:
            values = [c.strip() for c in _split(line)[1:] if c.strip()]
            header[first] = values[0] if values else ""
    if data_at is None:
        if section:
            raise SampleSheetError(f"'{path}' has a {section} section but no [Data] section with the samples")
        known = set(SAMPLE_ALIASES + SENTRIX_ID_ALIASES + BASENAME_ALIASES)
        start = next((i for i, ln in enumerate(lines) if ln.strip()
                      and any(_key(c) in known for c in _split(ln))), None)
        if start is None:
            start = next((i for i, ln in enumerate(lines) if ln.strip()), len(lines))
        return start, len(lines), header
    end = next((i for i in range(data_at, len(lines))
                if lines[i].strip() and _is_section(_split(lines[i])[0])), len(lines))
    start = next((i for i in range(data_at, end) if lines[i].strip(",;\t \n")), end)
    return start, end, header


def _rows_to_frame(lines: list[str], start: int, end: int, path: Path) -> tuple[pd.DataFrame, list[int]]:
    """Parse ``lines[start:end]`` (header row first) into strings; return the frame and each row's line."""
    if start >= end:
        raise SampleSheetError(f"'{path}' lists no samples")
    sep = _delimiter(lines[start])
    reader = csv.reader(io.StringIO("\n".join(lines[start:end])), delimiter=sep, strict=True)
    try:
        head = [c.strip() for c in next(reader)]
        rows, line_nos = [], []
        for row in reader:
            cells = [c.strip() for c in row]
            if not any(cells):
                continue
            rows.append(cells)
            line_nos.append(start + reader.line_num)
    except csv.Error as exc:  # strict: an unclosed quote would otherwise swallow the following rows
        raise SampleSheetError(f"'{path}' cannot be parsed near line {start + reader.line_num}: {exc} "
                               "(unbalanced quotes?)") from None
    width = len(head)
    while width and not head[width - 1] and all(len(r) < width or not r[width - 1] for r in rows):
        width -= 1  # trailing empty columns written by spreadsheets
    for row, line_no in zip(rows, line_nos):
        if len(row) > width and any(row[width:]):
            raise SampleSheetError(f"'{path}' line {line_no} has {len(row)} values but the header has "
                                   f"{width} columns")
    names, used = [], set()
    for i, name in enumerate(head[:width]):
        name = name or f"Unnamed: {i}"
        base, k = name, 1
        while name in used:
            name, k = f"{base}.{k}", k + 1
        used.add(name)
        names.append(name)
    data = [(r + [""] * width)[:width] for r in rows]
    if not data:
        raise SampleSheetError(f"'{path}' lists no samples (only a header row)")
    return pd.DataFrame(data, columns=names, dtype=str), line_nos


def _parse_series_matrix(lines: list[str], path: Path) -> tuple[pd.DataFrame, list[int]]:
    """Turn the ``!Sample_…`` rows of a GEO series matrix into one row per sample (GEOquery naming)."""
    cols: dict[str, list[str]] = {}
    for line in lines:
        if line.startswith("!series_matrix_table_begin"):
            break
        if not line.startswith("!Sample_"):
            continue
        cells = next(csv.reader([line], delimiter="\t"))
        name, values = cells[0][len("!Sample_"):], [c.strip() for c in cells[1:]]
        base, k = name, 1
        while name in cols:
            name, k = f"{base}.{k}", k + 1
        cols[name] = values
    n = max((len(v) for v in cols.values()), default=0)
    if n == 0:
        raise SampleSheetError(f"'{path}' is a GEO series matrix without samples")
    df = pd.DataFrame({k: (v + [""] * n)[:n] for k, v in cols.items()}, dtype=str)
    return df, [0] * n


def _expand_characteristics(df: pd.DataFrame) -> pd.DataFrame:
    """Add one column per ``key: value`` found in GEO ``characteristics_ch*`` columns."""
    char_cols = [c for c in df.columns if _key(c).startswith("characteristicsch")]
    new: dict[str, list[str]] = {}
    for col in char_cols:
        for i, cell in enumerate(df[col].tolist()):
            if ":" not in cell:
                continue
            k, v = (s.strip() for s in cell.split(":", 1))
            if k and k not in df.columns:
                new.setdefault(k, [""] * len(df))[i] = v
    return pd.concat([df, pd.DataFrame(new, index=df.index, dtype=str)], axis=1) if new else df


# -- normalisation -------------------------------------------------------------------------------------------
def _find(df: pd.DataFrame, aliases: tuple[str, ...]) -> list[str]:
    keys: dict[str, str] = {}
    for c in df.columns:
        keys.setdefault(_key(c), c)
    return [keys[a] for a in aliases if a in keys]


def _clean_barcode(value: str, sample: str, line: int, path: Path) -> str:
    value = value.strip()
    if _SCI.match(value):
        raise SampleSheetError(
            f"'{path}' line {line} (sample '{sample}'): Sentrix ID '{value}' was turned into scientific "
            "notation by a spreadsheet and its digits are lost; re-enter the barcode as text")
    return re.sub(r"\.0+$", "", value)


def _strip_idat_suffix(value: str) -> str:
    value = value.strip().replace("\\", "/") if os.sep == "/" else value.strip()
    m = IDAT_NAME.match(Path(value).name)
    return str(Path(value).with_name(m["stem"])) if m else value


def read_sample_sheet(path: str | Path, *, idat_dir: str | Path | None = None, recursive: bool = True,
                      index: IdatIndex | None = None) -> pd.DataFrame:
    """Read a sample sheet into a table with normalised columns (see the module docstring).

    Rows sharing a sample name are not resolved (``basename`` None) and each duplicated name is one entry of
    ``problems``: the other rows carry on.

    Parameters
    ----------
    path : str or Path
        The sample sheet (Illumina sheet, plain table or GEO series matrix).
    idat_dir : str or Path, optional
        The folder searched for IDATs (default: the sheet's folder).
    recursive : bool
        Search sub-folders of ``idat_dir`` too.
    index : IdatIndex, optional
        A scan of ``idat_dir`` to reuse.

    Returns
    -------
    DataFrame
        One row per sheet row, with ``sample``, ``basename``, ``sentrix_id`` and ``sentrix_position`` first;
        ``df.attrs`` holds ``source`` (the sheet), ``header`` (the ``[Header]`` key/values) and ``problems``
        (``(sample, path, message)`` for rows whose IDATs were not found and duplicated names).

    Raises
    ------
    SampleSheetError
        Naming the file for missing or unreadable sheets, sheets without sample columns or rows (or a row
        without any name) and spreadsheet-mangled barcodes.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SampleSheetError(f"sample sheet '{path}' does not exist") from None
    except OSError as exc:
        raise SampleSheetError(f"sample sheet '{path}' cannot be read: {exc}") from None
    lines = _decode(raw, path).split("\n")
    header: dict[str, str] = {}
    if any(ln.startswith("!Sample_") for ln in lines):
        df, line_nos = _parse_series_matrix(lines, path)
    else:
        start, end, header = _locate_table(lines, path)
        df, line_nos = _rows_to_frame(lines, start, end, path)
    df = _expand_characteristics(df)

    sample_cols = _find(df, SAMPLE_ALIASES)
    id_cols = _find(df, SENTRIX_ID_ALIASES)
    pos_cols = _find(df, SENTRIX_POSITION_ALIASES)
    base_cols = _find(df, BASENAME_ALIASES)
    supp_cols = [c for c in df.columns if _key(c).startswith("supplementaryfile")]
    if not (sample_cols or (id_cols and pos_cols) or base_cols):
        shown = ", ".join(str(c) for c in df.columns[:12])
        raise SampleSheetError(
            f"'{path}' has no sample columns (expected Sample_Name, Sentrix_ID + Sentrix_Position, Basename "
            f"or GEO title/geo_accession); its columns are: {shown}")

    n = len(df)
    sentrix_id = df[id_cols[0]].tolist() if id_cols and pos_cols else [""] * n
    sentrix_pos = [p.strip().upper() for p in df[pos_cols[0]]] if id_cols and pos_cols else [""] * n
    given_base = [_strip_idat_suffix(v) for v in df[base_cols[0]]] if base_cols else [""] * n
    supp_stems = [""] * n
    for col in supp_cols:
        for i, v in enumerate(df[col]):
            m = IDAT_NAME.match(v.rsplit("/", 1)[-1])
            if m and not supp_stems[i]:
                supp_stems[i] = m["stem"]
    gsm_cols = _find(df, _GSM_ALIASES)
    gsm = df[gsm_cols[0]].tolist() if gsm_cols else [""] * n

    names: list[str] = []
    for i in range(n):
        name = next((df.at[i, c] for c in sample_cols if df.at[i, c]), "")
        if not name and sentrix_id[i] and sentrix_pos[i]:
            name = f"{sentrix_id[i]}_{sentrix_pos[i]}"
        name = name or (Path(given_base[i]).name if given_base[i] else "") or supp_stems[i]
        if not name:
            raise SampleSheetError(f"'{path}' line {line_nos[i]} has no sample name, Sentrix ID/position "
                                   "or Basename")
        names.append(name)
    sentrix_id = [_clean_barcode(b, names[i], line_nos[i], path) for i, b in enumerate(sentrix_id)]

    seen: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(names):
        seen[name].append(line_nos[i])
    dups = {k: v for k, v in seen.items() if len(v) > 1}
    problems: list[tuple[str, Path | None, str]] = []
    for k, v in dups.items():  # per-sample failures: the rows of the other names carry on
        where = f"lines {', '.join(map(str, v))}" if v[0] else f"{len(v)} rows"
        problems.append((k, None, (f"duplicate sample name '{k}' in sample sheet '{path}' ({where}): none of "
                                  "these rows is processed; rename one")))

    root = Path(os.path.abspath(idat_dir if idat_dir is not None else path.parent))
    if index is None and root.is_dir():
        index = scan_idats(root, recursive=recursive)
    basenames = []
    for i in range(n):
        if names[i] in dups:
            basenames.append(None)
            continue
        base, message = _resolve(names[i], given_base[i], sentrix_id[i], sentrix_pos[i], supp_stems[i],
                                  gsm[i], Path(os.path.abspath(path.parent)), root, index)
        basenames.append(base)
        if message:
            problems.append((names[i], base, message))
        if base is not None and not sentrix_id[i]:
            parsed = sentrix_from_stem(Path(base).name)
            if parsed:
                sentrix_id[i], sentrix_pos[i] = parsed[1], parsed[2]

    out = df.drop(columns=[c for c in NORMALISED if c in df.columns])  # same names: replaced by normalised
    out.insert(0, "sample", names)
    out.insert(1, "basename", [str(b) if b is not None else None for b in basenames])
    out.insert(2, "sentrix_id", sentrix_id)
    out.insert(3, "sentrix_position", sentrix_pos)
    out.attrs = {"source": str(path), "header": header, "problems": problems}
    return out


def _resolve(name: str, given: str, barcode: str, pos: str, supp_stem: str, gsm: str, sheet_dir: Path,
             root: Path, index: IdatIndex | None) -> tuple[Path | None, str]:
    """Find one row's IDAT basename; return it (or None) and a problem message (or "")."""
    if given:
        cand = Path(given) if Path(given).is_absolute() else Path(os.path.abspath(sheet_dir / given))
        if index is not None and cand in index.files:
            return cand, ""
        if any(cand.with_name(f"{cand.name}_{ch}.idat{gz}").exists()
               for ch in ("Grn", "Red") for gz in ("", ".gz")):
            return cand, ""
    candidates: list[Path] = []
    if index is not None:
        if barcode and pos:
            candidates = list(index.by_key.get((barcode, pos), []))
            if len(candidates) > 1:  # prefer <barcode>_<pos>, then <GSM or name>_<barcode>_<pos>
                exact = [c for c in candidates if c.name in (f"{barcode}_{pos}", f"{gsm}_{barcode}_{pos}",
                                                               f"{name}_{barcode}_{pos}")]
                candidates = exact or candidates
        if not candidates and supp_stem:
            candidates = list(index.by_stem.get(supp_stem, []))
        if not candidates and gsm:
            candidates = list(index.by_prefix.get(gsm, []))
    if len(candidates) == 1:
        return candidates[0], ""
    if len(candidates) > 1:
        shown = ", ".join(f"'{c}'" for c in candidates[:4])
        return None, f"sample '{name}' matches several IDAT basenames under '{root}': {shown}"
    if given:
        cand = Path(given) if Path(given).is_absolute() else Path(os.path.abspath(sheet_dir / given))
        return cand, f"sample '{name}': no IDAT files at '{cand}_Grn.idat' / '_Red.idat'"
    what = (f"Sentrix {barcode}_{pos}" if barcode and pos else
            f"'{supp_stem}'" if supp_stem else f"GEO id {gsm}" if gsm else "its IDATs")
    return None, f"sample '{name}': no IDAT files for {what} found under '{root}'"
