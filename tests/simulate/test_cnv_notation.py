"""The copy-number event notation and the per-probe copy-number arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from methylclass.errors import ConfigError
from methylclass.simulate.cnv import (
    base_copy_number,
    chrom_codes,
    parse_class_specs,
    parse_event,
    probe_copy_number,
)
from methylclass.simulate.genome import genome_tables


@pytest.fixture(scope="module")
def hg19():
    return genome_tables("hg19")


def test_arm_and_chromosome_events_follow_the_cytobands(hg19):
    """Reference: UCSC hg19 cytobands (chr7 acen 58.0–61.7 Mb; chr9 acen 47.3–50.7 Mb) and chromosome
    lengths (chr7 159,138,663 bp), 1-based closed coordinates."""
    ev = parse_event("+7", hg19)
    assert (ev.chrom, ev.start, ev.end, ev.kind, ev.region) == ("chr7", 1, 159_138_663, "gain", "7")
    p = parse_event("-9p", hg19)
    assert (p.chrom, p.start, p.end, p.kind) == ("chr9", 1, 47_300_000, "loss")
    q = parse_event("+7q:4", hg19)
    assert (q.start, q.end, q.copy_number) == (61_700_001, 159_138_663, 4.0)
    assert parse_event("-chrX", hg19).chrom == "chrX"


def test_gene_events_cover_the_named_gene(hg19, data_dir):
    """Reference: data/regions/detail_regions_hg19.tsv (EGFR chr7:55,084,726-55,275,031; CDKN2A/B
    chr9:21,967,752-22,011,312). The event spans the gene plus flanks; CDKN2A finds CDKN2A/B."""
    rng = np.random.default_rng(0)
    amp = parse_event("EGFR:amp:12", hg19, rng)
    assert amp.chrom == "chr7" and amp.start < 55_084_726 and amp.end > 55_275_031 and amp.copy_number == 12
    assert amp.end - amp.start < 2_000_000
    hd = parse_event("cdkn2a:homdel", hg19, rng)
    assert hd.region == "CDKN2A/B" and hd.start < 21_967_752 and hd.end > 22_011_312 and hd.absolute_cn(2) == 0
    reg = parse_event("chr12:1000-900000:amp:8", hg19)
    assert (reg.start, reg.end, reg.copy_number) == (1000, 900_000, 8.0)


@pytest.mark.parametrize("spec, msg", [
    ("+7x", "cannot parse"), ("FOO:amp", "unknown gene"), ("+25", "unknown chromosome"),
    ("chr7:5-999999999:amp", "outside chr7"), ("EGFR:explode", "cannot parse"),
])
def test_bad_event_specs_are_refused(hg19, spec, msg):
    """Reference: the notation table of methylclass.simulate.cnv; each error names the bad spec."""
    with pytest.raises(ConfigError, match=msg):
        parse_event(spec, hg19)


def test_class_specs_and_probe_copy_numbers(hg19):
    """Reference: hand-computed copy numbers. A male sample with +7, -9p and a CDKN2A homozygous deletion:
    chr7 probes 3, 9p probes 1 except 0 inside the deletion (focal events win), autosomes 2, chrX 1, chrY 1;
    a female has chrX 2 and chrY 0."""
    specs = parse_class_specs(["A=+7,-9p,CDKN2A:homdel"], ["A", "B"], hg19, np.random.default_rng(1))
    assert [e.kind for e in specs["A"]] == ["gain", "loss", "homdel"] and specs["B"] == []
    chrom = np.array(["chr7", "chr9", "chr9", "chr9", "chr1", "chrX", "chrY", ""])
    pos = np.array([1_000_000, 10_000_000, 21_990_000, 100_000_000, 5, 1_000_000, 3_000_000, -1])
    codes = chrom_codes(chrom)
    assert codes[-1] == -1
    male = base_copy_number(codes, male=True)
    cn = probe_copy_number(specs["A"], codes, pos, male)
    assert cn.tolist() == [3, 1, 0, 2, 2, 1, 1, 2]
    female = base_copy_number(codes, male=False)
    assert female[5] == 2 and female[6] == 0
    with pytest.raises(ConfigError, match="CLASS=EVENT"):
        parse_class_specs(["+7"], ["A"], hg19, np.random.default_rng(0))


@pytest.mark.parametrize("gamma", [1.0, 0.5])
def test_cn_gamma_scales_the_log2_effect(tmp_path, gamma):
    """Reference: the documented response log2 shift = cn_gamma · log2(purity·CN/2 + 1 − purity). A 4-copy
    gain of chr7 at purity 0.9 shifts median log2(M+U) against the normals by γ·log2(1.9) ± 0.15."""
    from methylclass.io.idat import read_idat
    from methylclass.io.raw_types import raw_signals_from_idats
    from methylclass.simulate import read_truth, simulate_cohort

    res = simulate_cohort(tmp_path / "g", n_probes=4000, classes=1, n_per_class=3, n_normals=3, seed=6,
                          cnv=["F1_A=+7:4"], cnv_penetrance=1.0, sample_cnv_rate=0.0, purity=(0.9, 0.9),
                          cn_gamma=gamma, ffpe_fraction=0.0, low_quality_fraction=0.0, dmps_per_class=30)
    truth = read_truth(res.out_dir)
    p = res.manifest.probes
    chrom = p["chrom"].to_numpy()
    auto = ~np.isin(chrom, ["chrX", "chrY"])
    lt = {}
    for row in truth.samples.itertuples(index=False):
        base = res.out_dir / row.basename
        raw = raw_signals_from_idats(read_idat(f"{base}_Grn.idat"), read_idat(f"{base}_Red.idat"), res.manifest,
                                     row.sample)
        lt[row.sample] = np.log2(np.maximum(raw.total_intensity(), 1))
    ref = np.median([lt[n] for n in truth.samples.loc[truth.samples["is_normal"], "sample"]], axis=0)
    want = gamma * np.log2(0.9 * 4 / 2 + 0.1)
    for n in truth.samples.loc[~truth.samples["is_normal"], "sample"]:
        d = lt[n] - ref
        d -= np.median(d[auto & (chrom != "chr7")])
        assert abs(np.median(d[chrom == "chr7"]) - want) < 0.15
