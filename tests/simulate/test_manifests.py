"""Any manifest the toolkit loads: real HM27 / MSA, a user's manifest file, EPICv2-style replicate probes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from methylclass.io.idat import read_idat
from methylclass.io.manifest import load_manifest
from methylclass.io.raw_types import raw_signals_from_idats
from methylclass.simulate import read_truth, simulate_cohort, synthetic_manifest, write_manifest_tsv
from methylclass.simulate.design import unique_addresses


def _read_back(res, row):
    base = res.out_dir / row.basename
    return raw_signals_from_idats(read_idat(f"{base}_Grn.idat"), read_idat(f"{base}_Red.idat"), res.manifest,
                                  row.sample)


def test_hm27_cohort_uses_the_hm27_chip_layout(tmp_path):
    """Reference: the real HM27 IDATs (55,300 addresses, 'BeadChip 12x1', positions A–L). Simulated HM27
    pairs have the same address count, chip type and position naming, and every probe gets a beta."""
    res = simulate_cohort(tmp_path / "hm27", manifest="HM27", classes=2, n_per_class=2, n_normals=1, seed=2,
                          dmps_per_class=100)
    truth = read_truth(res.out_dir)
    assert set(truth.samples["sentrix_position"]) <= set("ABCDEFGHIJKL")
    for row in truth.samples.itertuples(index=False):
        grn = read_idat(res.out_dir / f"{row.basename}_Grn.idat")
        assert grn.n_probes == 55_300 and grn.chip_type == "BeadChip 12x1"
        raw = _read_back(res, row)
        assert np.isfinite(raw.betas()).mean() > 0.99


@pytest.mark.slow
def test_msa_cohort(tmp_path):
    """Reference: the MSA manifest (284,309 probes incl. rs/ch/ctl rows; 48-sample chips). Pairs read back
    with every manifest address present."""
    man = load_manifest("MSA")
    res = simulate_cohort(tmp_path / "msa", manifest=man, classes=1, n_per_class=1, n_normals=1, seed=2)
    truth = read_truth(res.out_dir)
    for row in truth.samples.itertuples(index=False):
        raw = _read_back(res, row)
        assert (raw.beads_meth > 0).mean() > 0.99


def test_a_users_manifest_file_can_be_simulated(tmp_path):
    """Reference: the design the file was written from. A sesame-style manifest file handed in by path
    (as a user's EPIC/EPICv2 manifest would be) is loaded, simulated, and its addresses fill the IDATs."""
    design = synthetic_manifest(3000, seed=9, array="EPICTEST")
    write_manifest_tsv(design, tmp_path / "probes.tsv.gz", tmp_path / "controls.tsv")
    res = simulate_cohort(tmp_path / "out", manifest=str(tmp_path / "probes.tsv.gz"), array="EPICTEST",
                          classes=2, n_per_class=2, n_normals=1, seed=1, dmps_per_class=30)
    truth = read_truth(res.out_dir)
    assert res.manifest.n_probes == 3000
    assert set(res.manifest.probes["address_u"]) == set(design.probes["address_u"])
    grn = read_idat(res.out_dir / f"{truth.samples['basename'][0]}_Grn.idat")
    assert np.isin(design.probes["address_u"], grn.illumina_ids).all()


def test_epicv2_style_replicates_share_their_cpg(tmp_path):
    """Reference: the EPICv2 convention (replicate probes cg…_TC21 / cg…_BC21 measure one CpG). Replicates
    get the same planted truth rows and their raw betas agree across samples (r > 0.95), while independent
    technical noise keeps them from being identical."""
    base = synthetic_manifest(4000, seed=12)
    p = base.probes
    rng = np.random.default_rng(0)
    rep = p.iloc[rng.choice(len(p), 400, replace=False)].copy()
    used = np.concatenate([p["address_u"], p["address_m"], base.controls["address"]])
    new = unique_addresses(rng, 2 * len(rep), exclude=used[used >= 0])
    rep["address_u"] = new[: len(rep)]
    rep["address_m"] = np.where(rep["design"] == "I", new[len(rep):], -1)
    orig = p.copy()
    orig.loc[rep.index, "probe_id"] = orig.loc[rep.index, "probe_id"] + "_TC21"
    rep["probe_id"] = rep["probe_id"] + "_BC21"
    probes = pd.concat([orig, rep], ignore_index=True)
    man = dataclasses.replace(base, probes=probes, array="EPICV2LIKE")
    res = simulate_cohort(tmp_path / "v2", manifest=man, classes=2, n_per_class=4, n_normals=2, seed=5,
                          dmps_per_class=100, dmps_per_family=0)
    truth = read_truth(res.out_dir)
    dm = truth.dmps
    twins = dm[dm["probe_id"].str.endswith(("_TC21", "_BC21"))]
    assert len(twins) > 0 and (twins.groupby("cpg_id").size() == 2).all()
    raws = [_read_back(res, row) for row in truth.samples.itertuples(index=False)]
    b = np.vstack([r.betas() for r in raws])
    ids = probes["probe_id"].to_numpy()
    pos = pd.Series(np.arange(len(ids)), index=ids)
    a_idx = pos[rep["probe_id"].str.replace("_BC21", "_TC21")].to_numpy()
    b_idx = pos[rep["probe_id"]].to_numpy()
    r = np.corrcoef(b[:, a_idx].ravel(), b[:, b_idx].ravel())[0, 1]
    assert r > 0.95 and not np.allclose(b[:, a_idx], b[:, b_idx])
