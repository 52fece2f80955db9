"""Genome tables and CNV bins.

References: the UCSC cytoband/gap tables themselves (centromere = acen span), and a naive line-by-line
transcription of conumee2's ``CNV.create_bins`` + ``CNV.merge_bins`` R loops (pure Python, O(n²)) that the
vectorised, heap-driven implementation must reproduce bin for bin.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import DataError, ManifestError
from methylclass.pp.cnv.bins import Bins, make_bins
from methylclass.pp.cnv.genome import load_genome, load_regions, read_regions


def test_genome_centromeres_from_acen_bands(genome, data_dir):
    """chr1 centromere = UCSC acen bands 121,500,000–128,900,000 (0-based) → 1-based 121,500,001–128,900,000."""
    i = genome.index("chr1")
    assert genome.cen_start[i] == 121_500_001 and genome.cen_end[i] == 128_900_000
    assert genome.lengths[i] == 249_250_621
    cyto = pd.read_csv(data_dir / "genome/hg19/cytoband_hg19.tsv", sep="\t")
    acen = cyto[cyto.gieStain == "acen"].groupby("chrom").chromEnd.max()
    assert all(genome.cen_end[genome.index(c)] == acen[c] for c in genome.chroms)
    assert genome.build == "hg19" and len(genome.chroms) == 24
    with pytest.raises(DataError, match="unknown genome build"):
        load_genome("hg17")


def test_region_tables(tmp_path):
    """Bundled region sets have chrom/start/end/name; a BED file is converted from 0-based to 1-based."""
    det = load_regions("detail", "hg19")
    assert len(det) == 20 and {"EGFR", "CDKN2A/B", "MYCN"} <= set(det["name"])
    egfr = det[det.name == "EGFR"].iloc[0]
    assert (egfr.chrom, egfr.start, egfr.end) == ("chr7", 55084726, 55275031)
    assert len(load_regions("exclude", "hg19")) == 3
    assert len(load_regions("exclude", "hg38")) == 0  # no hg38 exclude table is shipped
    assert len(load_regions("cancer_genes", "hg19")) > 700
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t99\t200\tG1\n")
    r = read_regions(bed)
    assert (r.chrom[0], r.start[0], r.end[0], r.name[0]) == ("chr1", 100, 200, "G1")
    with pytest.raises(DataError, match="unknown region set"):
        load_regions("nope")


def _naive_conumee_bins(genome, chrom, probe_pos, forbidden, tile=50_000, min_probes=15, max_size=5_000_000):
    """conumee2 CNV.create_bins + CNV.merge_bins for one chromosome, transcribed literally (slow)."""
    length = int(genome.lengths[genome.index(chrom)])
    fb = sorted(forbidden)
    rows = []
    for t0 in range(1, length + 1, tile):
        s, e = t0, min(t0 + tile - 1, length)
        pieces = [(s, e)]
        for fs, fe in fb:  # setdiff(tile, forbidden)
            new = []
            for a, b in pieces:
                if fe < a or fs > b:
                    new.append((a, b))
                    continue
                if a < fs:
                    new.append((a, fs - 1))
                if fe < b:
                    new.append((fe + 1, b))
            pieces = new
        rows.extend(pieces)
    df = [[a, b, int(np.sum((probe_pos >= a) & (probe_pos <= b)))] for a, b in rows]
    while df and min(r[2] for r in df) < min_probes:
        m = min(r[2] for r in df)
        mw = next(i for i, r in enumerate(df) if r[2] == m)
        mwn, mwns = None, float("inf")
        if mw > 0 and df[mw - 1][1] == df[mw][0] - 1:
            mwn, mwns = mw - 1, df[mw - 1][2]
        if mw + 1 < len(df) and df[mw + 1][0] == df[mw][1] + 1 and df[mw + 1][2] < mwns:
            mwn = mw + 1
        if mwn is not None:
            df[mwn] = [min(df[mwn][0], df[mw][0]), max(df[mwn][1], df[mw][1]), df[mwn][2] + df[mw][2]]
        del df[mw]
    return [(a, b) for a, b, _ in df if b - a + 1 <= max_size]


@pytest.mark.parametrize("chrom", ["chr21", "chr6"])
def test_bins_match_literal_conumee_transcription(bins, genome, chrom):
    """Bins of a chromosome equal the literal conumee loop (chr6 carries the HLA exclude region)."""
    pos = bins.probe_pos[bins.probe_chrom == chrom]
    gaps = genome.gaps[genome.gaps.chrom == chrom]
    excl = load_regions("exclude", "hg19")
    excl = excl[excl.chrom == chrom]
    forbidden = list(zip(gaps.start, gaps.end)) + list(zip(excl.start, excl.end))
    expected = _naive_conumee_bins(genome, chrom, pos, forbidden)
    sel = bins.chrom == chrom
    assert list(zip(bins.start[sel].tolist(), bins.end[sel].tolist())) == expected


def test_bin_invariants(bins, genome):
    """≥ 15 probes and ≤ 5 Mb per bin, sorted and disjoint, outside gaps/excludes, arm split at the centromere."""
    assert bins.n_bins > 14_000 and bins.n_fit_probes > 450_000
    assert bins.n_probes.min() >= 15 and (bins.end - bins.start + 1).max() <= 5_000_000
    t = bins.table()
    for c, g in t.groupby("chrom"):
        assert (g.start.to_numpy()[1:] > g.end.to_numpy()[:-1]).all()
        pq = genome.pq[genome.index(c)]
        assert ((g.midpoint <= pq) == (g.arm == "p")).all()
    hla = (t.chrom == "chr6") & (t.end >= 32_400_001) & (t.start <= 32_800_000)
    assert not hla.any()
    # every binned probe lies inside its bin, and n_probes counts them
    inb = bins.probe_bin >= 0
    b = bins.probe_bin[inb]
    assert (bins.probe_pos[inb] >= bins.start[b]).all() and (bins.probe_pos[inb] <= bins.end[b]).all()
    assert np.array_equal(np.bincount(b, minlength=bins.n_bins), bins.n_probes)
    assert set(bins.chroms) == {f"chr{i}" for i in range(1, 23)}


def test_bins_cache_and_roundtrip(hm450, bins, tmp_path):
    """A second make_bins call loads the cached file; save/load reproduces every array."""
    again = make_bins(hm450, "hg19")
    assert again.key == bins.key and np.array_equal(again.start, bins.start)
    path = bins.save(tmp_path / "b.npz")
    loaded = Bins.load(path)
    for f in ("probe_index", "probe_pos", "probe_bin", "start", "end", "n_probes"):
        assert np.array_equal(getattr(loaded, f), getattr(bins, f))
    assert list(loaded.chrom) == list(bins.chrom) and loaded.probe_key == bins.probe_key
    other = make_bins(hm450, "hg19", min_probes=20, cache=False)
    assert other.key != bins.key and other.probe_key == bins.probe_key and other.n_bins < bins.n_bins


def test_manifest_without_coordinates_is_refused(hm450):
    """A manifest whose probes have no chrom/pos cannot be binned: ManifestError naming the manifest."""
    p = hm450.probes.copy()
    p["chrom"], p["pos"] = "", -1
    man = dataclasses.replace(hm450, probes=p, sha256="nocoords", extra={})
    with pytest.raises(ManifestError, match="no probe coordinates"):
        make_bins(man, "hg19", cache=False)
    with pytest.raises(ManifestError, match="hg19 coordinates but CNV bins were requested on hg38"):
        make_bins(hm450, "hg38", cache=False)


def test_hg38_bins(data_dir):
    """HM450 on hg38 (sesame coordinates): bins use the hg38 gaps/cytobands, no exclude table ships."""
    from methylclass.io.manifest import load_manifest

    man = load_manifest("HM450", genome_build="hg38")
    b = make_bins(man, "hg38")
    g = load_genome("hg38")
    assert b.build == "hg38" and b.n_bins > 14_000 and b.n_probes.min() >= 15
    mid = b.midpoint
    pq = np.array([g.pq[g.index(c)] for c in b.chrom])
    assert np.array_equal(mid <= pq, b.arm == "p")
    assert b.probe_key != make_bins(man, "hg38", min_probes=20, cache=False).key
