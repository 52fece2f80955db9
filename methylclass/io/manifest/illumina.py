"""Read Illumina's own manifest CSV (the file shipped with every BeadChip: 27k, 450k, EPIC, EPICv2, MSA).

Layout (comma-separated, usually CRLF, sometimes zipped or gzipped)::

    Illumina, Inc.
    [Heading]
    Descriptor File Name,HumanMethylation450_15017482_v.1.2.bpm
    Assay Format,Infinium HD Methylation
    Loci Count ,485577
    [Assay]
    IlmnID,Name,AddressA_ID,AlleleA_ProbeSeq,AddressB_ID,AlleleB_ProbeSeq,Infinium_Design_Type,...
    cg00035864,cg00035864,31729416,AAAAC...,,,II,,,...,37,Y,8553009,...
    [Controls]
    21630339,STAINING,-99,DNP(20K)

methylprep's variant (no ``[Heading]``, the file starts with the ``IlmnID`` header) is accepted too.

Column meaning: for Type I probes ``AddressA_ID`` is the *unmethylated* bead and ``AddressB_ID`` the
*methylated* bead; a Type II probe has only ``AddressA_ID``. ``Color_Channel`` (Red/Grn) is set for Type I
probes. ``CHR``/``MAPINFO`` give the CpG's 1-based position in ``Genome_Build`` (37 → hg19, GRCh38 → hg38).
EPICv2 ``IlmnID`` values carry replicate suffixes (``cg00000029_TC21``); ``probe_id`` keeps them and
``cpg_id`` is the id without the suffix (the ``Name`` column is not used: it is not the bare id in every
manifest release). The 27k file has no ``Infinium_Design_Type`` (all probes are Type I) and spells
``Chr``/``MapInfo``/``GenomeBuild``; aliases cover that.

pandas does the CSV parsing; this module only finds the sections (on the raw bytes, no per-line loop over
the assay) and maps the columns onto the manifest contract.
"""

from __future__ import annotations

import gzip
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import ManifestError
from .tables import (
    build_control_table,
    build_probe_table,
    empty_controls,
    normalize_build,
    normalize_channel,
    normalize_chrom,
    normalize_design,
    normalize_pos,
    to_address,
)
from .types import Manifest

_SECTION = re.compile(rb"^\[(Heading|Assay|Controls)\][^\n]*$", re.MULTILINE | re.IGNORECASE)
_ILMN_HEADER = re.compile(rb"^\s*\"?IlmnID\"?\s*,", re.MULTILINE | re.IGNORECASE)

#: contract field → accepted column names (lower case)
_ALIASES = {
    "ilmnid": ("ilmnid",),
    "address_a": ("addressa_id", "address_a", "addressa"),
    "address_b": ("addressb_id", "address_b", "addressb"),
    "design": ("infinium_design_type", "design_type"),
    "channel": ("color_channel", "colour_channel"),
    "chrom": ("chr", "chromosome"),
    "pos": ("mapinfo", "map_info"),
    "build": ("genome_build", "genomebuild"),
}

#: descriptor-file (bpm) name patterns → registry array names, most specific first
_ARRAY_PATTERNS = (
    (re.compile(r"HumanMethylation27|HM27", re.IGNORECASE), "HM27"),
    (re.compile(r"HumanMethylation450|HM450", re.IGNORECASE), "HM450"),
    (re.compile(r"EPIC[-_ ]?(8)?v2|EPICv2", re.IGNORECASE), "EPICv2"),
    (re.compile(r"EPIC", re.IGNORECASE), "EPIC"),
    (re.compile(r"\bMSA|Screening", re.IGNORECASE), "MSA"),
)


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    """The (decompressed) bytes of a manifest file: plain, ``.gz`` or a ``.zip`` holding one CSV.

    ``limit``: read at most that many (decompressed) bytes — enough to sniff the format.
    """
    n = -1 if limit is None else int(limit)
    try:
        if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                names = [m for m in zf.namelist() if m.lower().endswith((".csv", ".tsv", ".txt"))]
                if len(names) != 1:
                    raise ManifestError(f"'{path}' is a zip archive with {len(names)} CSV files; expected one "
                                        "manifest CSV — unzip it and pass the CSV")
                with zf.open(names[0]) as fh:
                    return fh.read(n)
        with open(path, "rb") as fh:
            head = fh.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as fh:
            return fh.read(n)
    except FileNotFoundError:
        raise ManifestError(f"manifest file '{path}' does not exist") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ManifestError(f"manifest file '{path}' cannot be read: {exc}") from None


def looks_like_illumina_csv(head: bytes) -> bool:
    """True when the first bytes of a file look like an Illumina (or methylprep) manifest CSV."""
    return bool(re.search(rb"^\[(Heading|Assay)\]", head, re.MULTILINE | re.IGNORECASE)
                or _ILMN_HEADER.search(head))


def _line_end(data: bytes, start: int) -> int:
    nl = data.find(b"\n", start)
    return len(data) if nl < 0 else nl + 1


def _heading(block: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in block.decode("utf-8", errors="replace").splitlines()[1:]:
        cells = [c.strip().strip('"') for c in line.split(",")]
        if cells and cells[0] and not cells[0].startswith("["):
            out[cells[0]] = cells[1] if len(cells) > 1 else ""
    return out


def _controls(block: bytes, path: Path) -> pd.DataFrame:
    lines = [ln for ln in block.decode("utf-8", errors="replace").splitlines() if ln.strip(" ,\r\t")]
    if not lines:
        return empty_controls()
    first = lines[0].split(",")[0].strip().strip('"')
    if not first.isdigit():  # a header line (mepylome / methylprep style)
        lines = lines[1:]
    if not lines:
        return empty_controls()
    width = max(4, max(ln.count(",") + 1 for ln in lines))
    df = pd.read_csv(io.StringIO("\n".join(lines)), header=None, names=list(range(width)), dtype=str,
                     keep_default_na=False)
    return build_control_table(address=df[0], type_=df[1], channel=df[2], name=df[3], source=path)


def infer_array(heading: dict[str, str], fallback: str = "CUSTOM") -> str:
    """Registry array name from a ``[Heading]`` descriptor-file name (``fallback`` when unrecognised)."""
    text = " ".join(str(heading.get(k, "")) for k in ("Descriptor File Name", "Assay Format"))
    for pattern, name in _ARRAY_PATTERNS:
        if pattern.search(text):
            return name
    return fallback


def read_illumina_csv(path: str | Path, *, array: str | None = None,
                      genome_build: str | None = None) -> Manifest:
    """Parse an Illumina manifest CSV into a :class:`Manifest` (no caching; see ``load_manifest``).

    ``array`` defaults to the array named by the ``[Heading]`` descriptor file (else ``"CUSTOM"``);
    ``genome_build`` defaults to the file's ``Genome_Build`` and, when given, must agree with it.
    Raises :class:`ManifestError` naming the file when it is not a manifest CSV, lacks required columns,
    is truncated (fewer rows than the heading's ``Loci Count``) or contradicts itself.
    """
    path = Path(path)
    data = read_bytes(path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    marks = {m.group(1).decode().lower(): m for m in _SECTION.finditer(data)}
    if "assay" in marks:
        assay_start = _line_end(data, marks["assay"].start())
    else:
        hdr = _ILMN_HEADER.search(data)
        if hdr is None:
            raise ManifestError(f"'{path}' is not an Illumina manifest CSV: it has no [Assay] section and "
                                "no 'IlmnID,…' header line")
        assay_start = hdr.start()
    ctrl_mark = marks.get("controls")
    assay_end = ctrl_mark.start() if ctrl_mark is not None and ctrl_mark.start() > assay_start else len(data)
    heading = _heading(data[marks["heading"].start():marks["assay"].start()]) \
        if "heading" in marks and "assay" in marks else {}

    wanted = {alias for names in _ALIASES.values() for alias in names}
    try:
        df = pd.read_csv(io.BytesIO(data[assay_start:assay_end]), dtype=str, keep_default_na=False,
                         usecols=lambda c: str(c).strip().lower() in wanted, engine="c")
    except (ValueError, pd.errors.ParserError) as exc:
        raise ManifestError(f"'{path}': the [Assay] section cannot be parsed: {exc}") from None
    cols: dict[str, str] = {}
    for col in df.columns:
        for field, names in _ALIASES.items():
            if str(col).strip().lower() in names and field not in cols:
                cols[field] = col
    missing = [f for f in ("ilmnid", "address_a") if f not in cols]
    if missing:
        names = ", ".join("IlmnID" if m == "ilmnid" else "AddressA_ID" for m in missing)
        raise ManifestError(f"'{path}' lacks the column(s) {names} "
                            "in its [Assay] section; is this an Illumina manifest CSV?")
    df = df[df[cols["ilmnid"]].str.strip() != ""].reset_index(drop=True)
    declared = heading.get("Loci Count", "").replace(",", "").strip()
    if declared.isdigit() and len(df) < int(declared):
        raise ManifestError(f"'{path}' is truncated: its [Heading] declares {int(declared):,} loci but the "
                            f"[Assay] section holds {len(df):,} rows")

    build = None
    if "build" in cols:
        values = df[cols["build"]].str.strip()
        values = values[values != ""]
        if len(values):
            build = normalize_build(values.mode().iloc[0], source=str(path))
    if genome_build is not None:
        wanted_build = normalize_build(genome_build)
        if build is not None and wanted_build != build:
            raise ManifestError(f"'{path}' has coordinates for {build} only; {wanted_build} was requested")
        build = wanted_build
    build = build or "hg19"

    empty = pd.Series("", index=df.index)
    design = normalize_design(df[cols["design"]]) if "design" in cols else normalize_design(empty)
    probes, dropped = build_probe_table(
        probe_id=df[cols["ilmnid"]].str.strip(),
        address_u=to_address(df[cols["address_a"]], what="AddressA_ID", source=str(path)),
        address_m=to_address(df[cols["address_b"]], what="AddressB_ID", source=str(path))
        if "address_b" in cols else np.full(len(df), -1, dtype=np.int64),
        design=design,
        channel=normalize_channel(df[cols["channel"]]) if "channel" in cols else normalize_channel(empty),
        chrom=normalize_chrom(df[cols["chrom"]]) if "chrom" in cols else normalize_chrom(empty),
        pos=normalize_pos(df[cols["pos"]]) if "pos" in cols else normalize_pos(empty),
        source=path)
    controls = _controls(data[_line_end(data, ctrl_mark.start()):], path) if ctrl_mark is not None \
        else empty_controls()
    extra = {"format": "illumina_csv", "heading": heading, "dropped_probes": dropped}
    return Manifest(array=array or infer_array(heading), probes=probes, controls=controls,
                    genome_build=build, source=path, extra=extra)
