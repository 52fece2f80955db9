"""Where a model's CpGs lie: chromosome, position, gene and CpG-island context from a loaded manifest.

:func:`annotate_cpgs` is used for the "top CpGs behind the call" tables of the prediction report and the
SHAP summaries. It is a pure look-up: nothing is downloaded and no file is read.

What the annotation can say depends on what the manifest keeps. Every :class:`~methylclass.io.Manifest` has
``chrom``/``pos`` (see :data:`~methylclass.io.manifest.types.PROBE_COLUMNS`). Gene names and island context
come from optional ``gene`` / ``island`` columns of ``manifest.probes`` when a loader keeps them (Illumina's
``UCSC_RefGene_Name`` / ``Relation_to_UCSC_CpG_Island``); the manifests shipped with the project have neither,
so a gene can instead be assigned from a region table (``genes=``, e.g. the ~730 cancer genes of
``regions/cancer_genes_<build>.tsv`` loaded with :func:`methylclass.pp.cnv.genome.load_regions`): a CpG gets
every gene whose body, extended by ``flank`` bp on both sides, contains it. That table and the manifest must use
the same genome build (``manifest.genome_build``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # only for the annotation: keeps this module independent of where the manifest lives
    from .manifest.types import Manifest

#: columns of :func:`annotate_cpgs`'s result, in this order (``gene``/``island`` only when available)
ANNOTATION_COLUMNS = ("chrom", "pos", "gene", "island")
#: manifest probe-table columns read for gene names / island context, first match wins
GENE_COLUMNS = ("gene", "UCSC_RefGene_Name", "GencodeBasicV12_NAME", "genesUniq")
ISLAND_COLUMNS = ("island", "Relation_to_UCSC_CpG_Island", "Relation_to_Island")


def _first(columns: pd.Index, names: Sequence[str]) -> str | None:
    lower = {str(c).lower(): c for c in columns}
    for n in names:
        if n.lower() in lower:
            return lower[n.lower()]
    return None


def _unique_genes(value: object) -> str:
    """``"TP53;TP53;WRAP53"`` → ``"TP53;WRAP53"`` (Illumina repeats a gene once per transcript)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    parts = [p.strip() for p in str(value).replace(",", ";").split(";")]
    return ";".join(dict.fromkeys(p for p in parts if p))


def _probe_rows(features: pd.Index, probes: pd.DataFrame) -> np.ndarray:
    """Row of ``probes`` for each feature (by ``probe_id``, else ``cpg_id``; first replicate), -1 if absent."""
    rows = np.full(len(features), -1, dtype=np.int64)
    for col in ("probe_id", "cpg_id"):
        if col not in probes.columns:
            continue
        ids = pd.Index(probes[col].astype(str))
        if not ids.is_unique:
            ids = ids.where(~ids.duplicated(), None)  # first replicate wins
        hit = ids.get_indexer(features)
        todo = rows < 0
        rows[todo] = hit[todo]
    return rows


def genes_at(chrom: np.ndarray, pos: np.ndarray, genes: pd.DataFrame, flank: int = 0) -> np.ndarray:
    """Names (``;``-joined, in table order) of the regions of ``genes`` that contain each (chrom, pos).

    ``genes`` has ``chrom, start, end, name`` (1-based closed intervals); ``flank`` extends each on both sides.
    Positions < 0 or empty chromosomes get ``""``. Interval look-up per chromosome with sorted starts, so the
    cost is O((n + m) log m) for n CpGs and m genes.
    """
    chrom = np.asarray(chrom, dtype=object)
    pos = np.asarray(pos, dtype=np.int64)
    out = np.full(len(pos), "", dtype=object)
    if genes is None or len(genes) == 0 or len(pos) == 0:
        return out
    g = genes.reset_index(drop=True)
    gchrom = g["chrom"].astype(str).to_numpy()
    gstart = g["start"].to_numpy(np.int64) - flank
    gend = g["end"].to_numpy(np.int64) + flank
    gname = g["name"].astype(str).to_numpy()
    max_len = int((gend - gstart).max()) if len(g) else 0
    for c in pd.unique(chrom):
        if not c:
            continue
        sel = np.flatnonzero((chrom == c) & (pos >= 0))
        on = np.flatnonzero(gchrom == c)
        if len(sel) == 0 or len(on) == 0:
            continue
        order = on[np.argsort(gstart[on], kind="stable")]
        starts = gstart[order]
        for i in sel:
            p = pos[i]
            # candidates: genes starting in [p - max_len, p]; keep those that also end at or after p
            lo, hi = np.searchsorted(starts, p - max_len, "left"), np.searchsorted(starts, p, "right")
            cand = order[lo:hi]
            cand = np.sort(cand[gend[cand] >= p])
            if len(cand):
                out[i] = ";".join(dict.fromkeys(gname[cand]))
    return out


def annotate_cpgs(features: Sequence[str], manifest: Manifest | pd.DataFrame, *,
                  genes: pd.DataFrame | None = None, flank: int = 2000) -> pd.DataFrame:
    """Chromosome, position, gene and island context of CpG ids, looked up in a loaded manifest.

    Parameters
    ----------
    features
        Feature names, e.g. the columns of a model (``cg…`` CpG ids, EPICv2 probe ids with their ``_TC21``-style
        suffix, or non-CpG features such as ``cnv_*``). Order and duplicates are kept.
    manifest
        A :class:`~methylclass.io.Manifest` (or its ``probes`` table). Features are matched on ``probe_id``
        first, then on ``cpg_id`` (the first replicate of an EPICv2 CpG).
    genes
        Optional region table (``chrom, start, end, name``) used for ``gene`` when the manifest has no gene
        column; must be in the manifest's genome build.
    flank
        Base pairs added on both sides of every region of ``genes`` (promoters lie just outside the body).

    Returns
    -------
    pandas.DataFrame
        Index = ``features`` (named ``feature``). Columns ``chrom`` (str, ``""`` when unknown), ``pos`` (nullable
        ``Int64``, missing when unknown), then ``gene`` (str, ``""`` = none; genes ``;``-joined) when the
        manifest has a gene column or ``genes`` is given, and ``island`` (str, e.g. ``"Island"``, ``"N_Shore"``,
        ``""`` = open sea / unknown) when the manifest has an island column.
    """
    probes = manifest if isinstance(manifest, pd.DataFrame) else manifest.probes
    idx = pd.Index([str(f) for f in features], name="feature")
    rows = _probe_rows(idx, probes)
    found = rows >= 0
    take = np.where(found, rows, 0)
    chrom = np.full(len(idx), "", dtype=object)
    pos = np.full(len(idx), -1, dtype=np.int64)
    if len(probes):
        chrom[found] = probes["chrom"].astype(str).to_numpy(dtype=object)[take[found]]
        pos[found] = probes["pos"].to_numpy(np.int64)[take[found]]
    pos = np.where(chrom == "", -1, pos)
    out = pd.DataFrame({"chrom": chrom, "pos": pd.array(np.where(pos >= 0, pos, 0), dtype="Int64")}, index=idx)
    out.loc[pos < 0, "pos"] = pd.NA
    gene_col = _first(probes.columns, GENE_COLUMNS)
    if gene_col is not None:
        vals = probes[gene_col].to_numpy(dtype=object)
        out["gene"] = [_unique_genes(vals[r]) if ok else "" for r, ok in zip(take, found)]
    elif genes is not None:
        out["gene"] = genes_at(chrom, pos, genes, flank=flank)
    island_col = _first(probes.columns, ISLAND_COLUMNS)
    if island_col is not None:
        vals = probes[island_col].to_numpy(dtype=object)
        out["island"] = ["" if not ok or pd.isna(vals[r]) else str(vals[r]) for r, ok in zip(take, found)]
    return out
