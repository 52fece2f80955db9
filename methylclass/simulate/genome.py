"""Genome tables the simulator needs: chromosome lengths, arms, assembly gaps and the named focal genes.

Read from the shared data folder (``genome/<build>/`` and ``regions/``), cached per build. Coordinates are
**1-based closed** (``start``..``end`` inclusive), like the manifests' probe positions and conumee's regions.
The p/q boundary of a chromosome is the start/end of its ``acen`` cytobands (the centromere).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..pp.cnv.genome import CHROMOSOMES, load_genome, load_regions

#: acrocentric chromosomes: their p arms carry no unique sequence (never get arm events)
ACROCENTRIC = ("chr13", "chr14", "chr15", "chr21", "chr22")


@dataclass(frozen=True)
class GenomeTables:
    """Chromosome lengths, centromeres, gaps and focal genes of one genome build.

    ``arms`` has one row per chromosome arm: ``chrom, arm ("p"/"q"), name ("7p"), start, end`` (1-based closed).
    ``gaps`` lists unsequenced spans (``chrom, start, end``) that probes never fall into. ``genes`` are the
    focal-event genes (``name, chrom, start, end``) of ``regions/detail_regions_<build>.tsv`` (CDKN2A/B is
    also reachable as ``CDKN2A``).
    """

    build: str
    lengths: dict[str, int]
    cen_start: dict[str, int]
    cen_end: dict[str, int]
    arms: pd.DataFrame
    gaps: pd.DataFrame
    genes: pd.DataFrame

    def gene(self, name: str) -> pd.Series:
        """The row of a focal gene (case-insensitive; ``CDKN2A`` finds ``CDKN2A/B``); ConfigError if unknown."""
        key = name.strip().upper()
        names = self.genes["name"].str.upper()
        hit = self.genes[(names == key) | names.str.split("/").str[0].eq(key)]
        if hit.empty:
            raise ConfigError(
                f"unknown gene '{name}' for a focal copy-number event; known genes ({self.build}): "
                f"{', '.join(self.genes['name'])}")
        return hit.iloc[0]

    def arm(self, chrom: str, arm: str) -> pd.Series:
        """The row of one chromosome arm (``arm`` = ``p`` or ``q``)."""
        hit = self.arms[(self.arms["chrom"] == chrom) & (self.arms["arm"] == arm)]
        if hit.empty:
            raise ConfigError(f"unknown chromosome arm '{chrom}{arm}'")
        return hit.iloc[0]

    def allowed_intervals(self, chrom: str) -> np.ndarray:
        """Sequenced spans of ``chrom`` as an (n, 2) array of 1-based closed ``[start, end]`` (gaps removed)."""
        length = self.lengths[chrom]
        g = self.gaps[self.gaps["chrom"] == chrom].sort_values("start")
        out, cur = [], 1
        for s, e in zip(g["start"].to_numpy(), g["end"].to_numpy()):
            if s > cur:
                out.append((cur, s - 1))
            cur = max(cur, e + 1)
        if cur <= length:
            out.append((cur, length))
        return np.asarray(out, dtype=np.int64).reshape(-1, 2)


@lru_cache(maxsize=4)
def genome_tables(build: str = "hg19") -> GenomeTables:
    """Load (once per process) the genome tables of ``build`` (``hg19`` or ``hg38``) from the shared data.

    Built on the copy-number module's loaders (:func:`~methylclass.pp.cnv.genome.load_genome`,
    :func:`~methylclass.pp.cnv.genome.load_regions`), so simulator and analysis read the tables one way.
    """
    if build not in ("hg19", "hg38"):
        raise ConfigError(f"unknown genome build '{build}'; choose hg19 or hg38")
    g = load_genome(build)
    missing = [c for c in CHROMOSOMES if c not in g.chroms]
    if missing:
        raise DataError(f"seq_length_{build}.tsv lacks chromosomes {', '.join(missing)}")
    lengths = {c: int(n) for c, n in zip(g.chroms, g.lengths) if c in CHROMOSOMES}
    cen_start = {c: int(v) for c, v in zip(g.chroms, g.cen_start)}
    cen_end = {c: int(v) for c, v in zip(g.chroms, g.cen_end)}
    rows = []
    for c in CHROMOSOMES:
        short = c.removeprefix("chr")
        rows.append((c, "p", f"{short}p", 1, cen_start[c] - 1))
        rows.append((c, "q", f"{short}q", cen_end[c] + 1, lengths[c]))
    arms = pd.DataFrame(rows, columns=["chrom", "arm", "name", "start", "end"])
    gap = g.gaps[g.gaps["type"].isin(["telomere", "centromere", "heterochromatin", "short_arm"])]
    gaps = gap[["chrom", "start", "end"]].astype({"start": np.int64, "end": np.int64})
    genes = load_regions("detail", build)[["name", "chrom", "start", "end"]]
    return GenomeTables(build=build, lengths=lengths, cen_start=cen_start, cen_end=cen_end, arms=arms,
                        gaps=gaps.reset_index(drop=True), genes=genes.reset_index(drop=True))
