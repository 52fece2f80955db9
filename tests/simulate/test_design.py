"""The synthetic array design and the CpG-context rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ConfigError
from methylclass.io.manifest import load_manifest
from methylclass.io.manifest.types import CONTROL_COLUMNS, PROBE_COLUMNS
from methylclass.simulate import cpg_context, synthetic_manifest
from methylclass.simulate.design import ISLAND, SEA, SHORE
from methylclass.simulate.genome import genome_tables


@pytest.fixture(scope="module")
def design():
    return synthetic_manifest(30_000, seed=5)


def test_synthetic_manifest_honours_the_manifest_contract(design):
    """Reference: methylclass.io.manifest.types (column contract) and the requested mix. Unique probe ids and
    addresses, Type I ≈ 28 % (Red:Grn ≈ 2:1 as on the 450k), Type II with address_m = -1 and no channel,
    every usual control type present with ≥ 400 NEGATIVE."""
    p, c = design.probes, design.controls
    assert tuple(p.columns) == PROBE_COLUMNS and tuple(c.columns) == CONTROL_COLUMNS
    assert design.array == "SYNTH" and design.n_probes == 30_000 and design.has_coordinates
    assert p["probe_id"].is_unique
    t1 = p["design"] == "I"
    assert 0.25 < t1.mean() < 0.31
    assert 0.6 < (p.loc[t1, "channel"] == "Red").mean() < 0.72
    assert (p.loc[~t1, "address_m"] == -1).all() and (p.loc[~t1, "channel"] == "").all()
    addr = np.concatenate([p["address_u"], p.loc[t1, "address_m"], c["address"]])
    assert len(np.unique(addr)) == len(addr) and addr.min() >= 10_000_000 and addr.max() <= 99_999_999
    counts = c["type"].value_counts()
    for t in ("STAINING", "EXTENSION", "HYBRIDIZATION", "TARGET REMOVAL", "BISULFITE CONVERSION I",
              "BISULFITE CONVERSION II", "SPECIFICITY I", "SPECIFICITY II", "NON-POLYMORPHIC", "NORM_A", "NORM_C",
              "NORM_G", "NORM_T"):
        assert counts.get(t, 0) > 0, t
    assert counts["NEGATIVE"] >= 400
    assert p["probe_id"].str.startswith("rs").sum() >= 5  # SNP probes for identity checks


def test_positions_lie_in_sequenced_genome_and_cover_focal_genes(design, data_dir):
    """Reference: data/genome/hg19 (lengths, gaps) and data/regions/detail_regions_hg19.tsv. Every probe lies
    inside its chromosome and outside assembly gaps (centromeres, heterochromatin, acrocentric short arms);
    all 24 chromosomes are covered (≥ 20 chrY probes); each of the 20 focal genes holds ≥ 8 probes."""
    gt = genome_tables("hg19")
    p = design.probes
    assert set(p["chrom"]) == {f"chr{c}" for c in [*range(1, 23), "X", "Y"]}
    assert (p["chrom"] == "chrY").sum() >= 20
    for chrom, grp in p.groupby("chrom"):
        assert grp["pos"].between(1, gt.lengths[chrom]).all()
        assert grp["pos"].is_unique
        for g in gt.gaps[gt.gaps["chrom"] == chrom].itertuples(index=False):
            assert not grp["pos"].between(g.start, g.end).any(), (chrom, g)
    genes = pd.read_csv(data_dir / "regions" / "detail_regions_hg19.tsv", sep="\t")
    for g in genes.itertuples(index=False):
        inside = (p["chrom"] == g.chr) & p["pos"].between(g.start, g.end)
        assert inside.sum() >= 8, g.name


def test_cpg_context_reproduces_island_structure():
    """Reference: the real 450k manifest, where ~31 % of probes are in Illumina-annotated islands and ~23 % in
    shores: the density rule calls 55–70 % of them island-like, and Type I probes (designed for islands) are
    mostly island-like (> 80 %). On the synthetic design the planted island clusters are recovered."""
    m = load_manifest("HM450")
    ctx = cpg_context(m)
    assert 0.55 < np.mean(ctx == ISLAND) < 0.7
    assert np.mean(ctx[(m.probes["design"] == "I").to_numpy()] == ISLAND) > 0.8
    d = synthetic_manifest(8000, seed=1, island_fraction=0.5)
    c = cpg_context(d)
    assert 0.45 < np.mean(c == ISLAND) < 0.62 and np.mean(c == SHORE) > 0.05 and np.mean(c == SEA) > 0.2


def test_synthetic_design_is_deterministic_and_validated():
    """Reference: itself under the same / another seed; bad sizes and fractions raise ConfigError."""
    a, b, c = synthetic_manifest(2000, seed=3), synthetic_manifest(2000, seed=3), synthetic_manifest(2000, seed=4)
    pd.testing.assert_frame_equal(a.probes, b.probes)
    pd.testing.assert_frame_equal(a.controls, b.controls)
    assert not a.probes["address_u"].equals(c.probes["address_u"])
    with pytest.raises(ConfigError, match="at least 1,000 probes"):
        synthetic_manifest(500)
    with pytest.raises(ConfigError, match="type1_fraction"):
        synthetic_manifest(2000, type1_fraction=1.5)
    with pytest.raises(ConfigError, match="400 NEGATIVE"):
        synthetic_manifest(2000, n_negative=10)


def test_hg38_designs_use_hg38_coordinates():
    """Reference: data/genome/hg38 lengths and detail_regions_hg38 (EGFR at chr7:55.0 Mb in hg38)."""
    d = synthetic_manifest(3000, seed=2, genome_build="hg38")
    assert d.genome_build == "hg38"
    gt = genome_tables("hg38")
    egfr = gt.gene("EGFR")
    p = d.probes
    assert ((p["chrom"] == "chr7") & p["pos"].between(egfr["start"], egfr["end"])).sum() >= 4
    mx = p.groupby("chrom")["pos"].max()
    assert (mx <= pd.Series(gt.lengths)[mx.index]).all()
