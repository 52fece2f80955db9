"""Genome annotation tables for copy-number analysis: chromosome lengths, centromeres, gaps and regions.

Everything is read from the shared data folder (``genome/<build>/`` and ``regions/``), never downloaded.
All intervals are returned **1-based and closed** (``start``..``end`` inclusive), the GenomicRanges convention
conumee uses: UCSC cytobands (0-based half-open) get ``start + 1``; ``gap_info_*.tsv``, ``exclude_regions``,
``detail_regions`` and ``cancer_genes`` already are 1-based (they were exported from GRanges objects).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataError
from ...paths import data_dir

#: genome builds with tables in the shared data folder
BUILDS = ("hg19", "hg38")
#: chromosome order used everywhere (plots, bins, features)
CHROMOSOMES = tuple(f"chr{c}" for c in [*range(1, 23), "X", "Y"])
AUTOSOMES = CHROMOSOMES[:22]
REGION_COLUMNS = ("chrom", "start", "end", "name")


def _norm_chrom(values: pd.Series) -> pd.Series:
    s = values.astype(str).str.strip()
    return s.where(s.str.startswith("chr"), "chr" + s)


def _read_tsv(path: Path, what: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep="\t")
    except FileNotFoundError:
        raise DataError(f"{what} table not found: '{path}'") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{what} table '{path}' cannot be read: {exc}") from None


def _check_build(build: str) -> str:
    if build not in BUILDS:
        raise DataError(f"unknown genome build '{build}'; choose one of {', '.join(BUILDS)}")
    return build


@dataclass(frozen=True)
class Genome:
    """Chromosome sizes, centromeres and assembly gaps of one build (1-based closed coordinates).

    ``chroms`` lists the chromosomes in plotting order; ``lengths``/``cen_start``/``cen_end`` are aligned
    with it. The centromere is the span of the cytoband ``acen`` bands; ``pq`` (its midpoint) splits
    every chromosome into the p and q arms. ``offsets`` is the cumulative start of each chromosome on a
    concatenated genome axis (for plots).
    """

    build: str
    chroms: tuple[str, ...]
    lengths: np.ndarray
    cen_start: np.ndarray
    cen_end: np.ndarray
    gaps: pd.DataFrame
    cytobands: pd.DataFrame

    @property
    def pq(self) -> np.ndarray:
        """p/q boundary per chromosome: the midpoint of the acen bands."""
        return (self.cen_start + self.cen_end) // 2

    @property
    def offsets(self) -> np.ndarray:
        """Start of each chromosome on the concatenated genome axis (0 for the first)."""
        return np.concatenate([[0], np.cumsum(self.lengths[:-1])]).astype(np.int64)

    def index(self, chrom: str) -> int:
        """Position of ``chrom`` in :attr:`chroms` (DataError when unknown)."""
        try:
            return self.chroms.index(chrom)
        except ValueError:
            raise DataError(f"chromosome '{chrom}' is not part of genome {self.build}") from None

    def subset(self, chroms: tuple[str, ...] | list[str]) -> Genome:
        """The same genome restricted to ``chroms`` (in the given order)."""
        idx = [self.index(c) for c in chroms]
        return Genome(self.build, tuple(chroms), self.lengths[idx], self.cen_start[idx], self.cen_end[idx],
                      self.gaps[self.gaps["chrom"].isin(chroms)].reset_index(drop=True),
                      self.cytobands[self.cytobands["chrom"].isin(chroms)].reset_index(drop=True))


@lru_cache(maxsize=4)
def load_genome(build: str = "hg19", root: str | None = None) -> Genome:
    """Load chromosome lengths, cytobands (→ centromeres) and gaps of ``build`` from ``genome/<build>/``."""
    _check_build(build)
    d = (Path(root) if root else data_dir()) / "genome" / build
    seq = _read_tsv(d / f"seq_length_{build}.tsv", "chromosome length")
    cyto = _read_tsv(d / f"cytoband_{build}.tsv", "cytoband")
    gap = _read_tsv(d / f"gap_info_{build}.tsv", "assembly gap")
    seq["chrom"] = _norm_chrom(seq["chromosome"])
    lengths = dict(zip(seq["chrom"], seq["seq_length"].astype(np.int64)))
    chroms = tuple(c for c in CHROMOSOMES if c in lengths)
    cyto = cyto.rename(columns={"chromStart": "start", "chromEnd": "end", "gieStain": "stain"})
    cyto["chrom"] = _norm_chrom(cyto["chrom"])
    cyto["start"] = cyto["start"].astype(np.int64) + 1  # UCSC 0-based half-open → 1-based closed
    cyto["end"] = cyto["end"].astype(np.int64)
    cyto = cyto[cyto["chrom"].isin(chroms)].reset_index(drop=True)
    acen = cyto[cyto["stain"] == "acen"].groupby("chrom").agg(start=("start", "min"), end=("end", "max"))
    missing = [c for c in chroms if c not in acen.index]
    if missing:
        raise DataError(f"cytoband table of {build} has no acen (centromere) band for {', '.join(missing)}")
    gap = gap.rename(columns={"chromosome": "chrom"})
    gap["chrom"] = _norm_chrom(gap["chrom"])
    gap = gap[gap["chrom"].isin(chroms)][["chrom", "start", "end", "type"]].reset_index(drop=True)
    gap[["start", "end"]] = gap[["start", "end"]].astype(np.int64)
    return Genome(
        build=build, chroms=chroms, lengths=np.array([lengths[c] for c in chroms], dtype=np.int64),
        cen_start=acen.loc[list(chroms), "start"].to_numpy(np.int64),
        cen_end=acen.loc[list(chroms), "end"].to_numpy(np.int64), gaps=gap, cytobands=cyto)


def _regions_frame(df: pd.DataFrame, path: Path, name_col: str = "name") -> pd.DataFrame:
    cols = {c.lower(): c for c in df.columns}
    chrom = cols.get("chrom") or cols.get("chr") or cols.get("seqnames")
    if chrom is None or "start" not in cols or "end" not in cols:
        raise DataError(f"region table '{path}' needs chrom/chr, start and end columns")
    name = cols.get(name_col.lower()) or cols.get("name") or cols.get("symbol")
    out = pd.DataFrame({
        "chrom": _norm_chrom(df[chrom]),
        "start": pd.to_numeric(df[cols["start"]], errors="coerce"),
        "end": pd.to_numeric(df[cols["end"]], errors="coerce"),
        "name": df[name].astype(str) if name else [f"region{i + 1}" for i in range(len(df))],
    })
    bad = out["start"].isna() | out["end"].isna() | (out["end"] < out["start"])
    if bad.any():
        raise DataError(f"region table '{path}': {int(bad.sum())} rows with missing or inverted start/end")
    out[["start", "end"]] = out[["start", "end"]].astype(np.int64)
    return out.reset_index(drop=True)


def read_regions(path: str | Path) -> pd.DataFrame:
    """Read a region table (TSV with chrom/chr, start, end, name; or a BED file, 0-based → 1-based).

    Returns columns :data:`REGION_COLUMNS` (1-based closed intervals).
    """
    path = Path(path)
    if path.suffix.lower() == ".bed":
        try:
            df = pd.read_csv(path, sep="\t", header=None, comment="#")
        except (OSError, ValueError) as exc:
            raise DataError(f"BED file '{path}' cannot be read: {exc}") from None
        if df.shape[1] < 3:
            raise DataError(f"BED file '{path}' needs at least chrom, start, end columns")
        names = df[3].astype(str) if df.shape[1] > 3 else [f"region{i + 1}" for i in range(len(df))]
        df = pd.DataFrame({"chrom": df[0], "start": df[1] + 1, "end": df[2], "name": names})
        return _regions_frame(df, path)
    return _regions_frame(_read_tsv(path, "region"), path)


def load_regions(kind: str, build: str = "hg19", root: str | None = None) -> pd.DataFrame:
    """Load a bundled region set: ``"exclude"``, ``"detail"`` (20 focal genes) or ``"cancer_genes"``.

    Only hg19 ships exclude regions (HLA, CEACAM-PSG, GSTT1, as conumee); for other builds an empty table
    is returned.
    """
    _check_build(build)
    d = (Path(root) if root else data_dir()) / "regions"
    files = {"exclude": f"exclude_regions_{build}.tsv", "detail": f"detail_regions_{build}.tsv",
             "cancer_genes": f"cancer_genes_{build}.tsv"}
    if kind not in files:
        raise DataError(f"unknown region set '{kind}'; choose one of {', '.join(files)}")
    path = d / files[kind]
    if kind == "exclude" and not path.exists():
        return pd.DataFrame({"chrom": pd.Series(dtype=str), "start": pd.Series(dtype=np.int64),
                             "end": pd.Series(dtype=np.int64), "name": pd.Series(dtype=str)})
    df = _read_tsv(path, f"{kind} region")
    out = _regions_frame(df, path, name_col="SYMBOL" if kind == "cancer_genes" else "name")
    return out.drop_duplicates("name").reset_index(drop=True)


def arm_of(genome: Genome, chrom: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``"p"`` or ``"q"`` for each (chrom, pos): left or right of the centromere midpoint (vectorised)."""
    chrom = np.asarray(chrom)
    lookup = dict(zip(genome.chroms, genome.pq))
    uniq, inv = np.unique(chrom, return_inverse=True)
    split = np.array([lookup.get(c, -1) for c in uniq], dtype=np.int64)[inv]
    return np.where(np.asarray(pos) <= split, "p", "q")
