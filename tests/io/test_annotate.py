"""annotate_cpgs: chromosome/position/gene/island of CpG ids from a manifest (planted and real data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from methylclass.io.annotate import annotate_cpgs, genes_at


def _probes(**extra) -> pd.DataFrame:
    t = pd.DataFrame({
        "probe_id": ["cg1", "cg2_TC21", "cg2_BC21", "cg3", "cg4"],
        "cpg_id": ["cg1", "cg2", "cg2", "cg3", "cg4"],
        "address_u": [1, 2, 3, 4, 5], "address_m": [-1] * 5, "design": ["II"] * 5, "channel": [""] * 5,
        "chrom": ["chr1", "chr2", "chr2", "chr3", ""], "pos": [100, 5_000, 5_001, 10_000, -1],
    })
    for k, v in extra.items():
        t[k] = v
    return t


def test_positions_probe_and_cpg_ids_and_unknown_features():
    a = annotate_cpgs(["cg3", "cg2", "cg2_BC21", "cg4", "cnv_chr7p", "cg1"], _probes())
    assert a.index.name == "feature"
    assert list(a.index) == ["cg3", "cg2", "cg2_BC21", "cg4", "cnv_chr7p", "cg1"]
    assert list(a["chrom"]) == ["chr3", "chr2", "chr2", "", "", "chr1"]
    # a canonical CpG id takes its first replicate; an exact probe id wins over it
    assert a.loc["cg2", "pos"] == 5_000 and a.loc["cg2_BC21", "pos"] == 5_001
    assert a["pos"].isna().tolist() == [False, False, False, True, True, False]
    assert str(a["pos"].dtype) == "Int64"
    assert "gene" not in a and "island" not in a  # the manifest has neither and no gene table was given


def test_gene_regions_with_flank_and_overlaps():
    genes = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2", "chr3"], "start": [50, 90, 6_000, 1],
                          "end": [120, 95, 7_000, 9_000], "name": ["A", "B", "C", "LONG"]})
    a = annotate_cpgs(["cg1", "cg2", "cg3", "cg4"], _probes(), genes=genes, flank=0)
    assert list(a["gene"]) == ["A", "", "", ""]
    a = annotate_cpgs(["cg1", "cg2", "cg3", "cg4"], _probes(), genes=genes, flank=1_000)
    assert list(a["gene"]) == ["A;B", "C", "LONG", ""]


def test_manifest_gene_and_island_columns_win():
    t = _probes(UCSC_RefGene_Name=["TP53;TP53;WRAP53", "", "", np.nan, "X"],
                Relation_to_UCSC_CpG_Island=["Island", "N_Shore", "S_Shelf", np.nan, "Island"])
    genes = pd.DataFrame({"chrom": ["chr3"], "start": [1], "end": [20_000], "name": ["IGNORED"]})
    a = annotate_cpgs(["cg1", "cg2", "cg3", "nope"], t, genes=genes)
    assert list(a["gene"]) == ["TP53;WRAP53", "", "", ""]
    assert list(a["island"]) == ["Island", "N_Shore", "", ""]


def test_real_hm27_matches_brute_force(data_dir):
    from methylclass.io.manifest import load_manifest
    from methylclass.pp.cnv.genome import load_regions

    man = load_manifest("HM27")
    genes = load_regions("cancer_genes", man.genome_build)
    rng = np.random.default_rng(0)
    ids = list(rng.choice(man.probes["probe_id"].to_numpy(), 3_000, replace=False))
    a = annotate_cpgs(ids, man, genes=genes, flank=2_000)
    probes = man.probes.set_index("probe_id").loc[ids]
    assert (a["chrom"].to_numpy() == probes["chrom"].to_numpy()).all()
    known = probes["pos"].to_numpy() >= 0
    assert (a["pos"].to_numpy(dtype=float)[known] == probes["pos"].to_numpy()[known]).all()
    expect = []
    for c, p in zip(probes["chrom"], probes["pos"]):
        hit = genes[(genes["chrom"] == c) & (genes["start"] - 2_000 <= p) & (genes["end"] + 2_000 >= p)]
        expect.append(";".join(dict.fromkeys(hit["name"])) if p >= 0 else "")
    assert list(a["gene"]) == expect
    assert 0 < (a["gene"] != "").sum() < len(a)
    # TP53 (chr17:7,668,402-7,687,550 hg38): the HM27 CpGs in its body/promoter are annotated with it
    tp53 = annotate_cpgs(man.probes["probe_id"], man, genes=genes)
    tp53 = tp53[tp53["gene"].str.split(";").apply(lambda g: "TP53" in g)]
    assert len(tp53) >= 2 and (tp53["chrom"] == "chr17").all()
    assert tp53["pos"].between(7_666_000, 7_690_000).all()


@pytest.mark.parametrize("flank", [0, 500])
def test_genes_at_handles_empty_inputs(flank):
    empty = pd.DataFrame(columns=["chrom", "start", "end", "name"])
    assert genes_at(np.array(["chr1"], dtype=object), np.array([5]), empty, flank).tolist() == [""]
    assert genes_at(np.array([], dtype=object), np.array([], dtype=np.int64), empty, flank).tolist() == []
