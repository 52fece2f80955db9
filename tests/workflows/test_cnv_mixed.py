"""CNV across arrays: one EPICv2-like tumour analysed against 450k-like normals in a mixed store."""

from __future__ import annotations

import warnings

import pytest

from methylclass.simulate import read_truth
from methylclass.simulate.mixed import simulate_mixed_cohort
from methylclass.workflows.cnv import run_cnv_store
from methylclass.workflows.ingest import ingest

PLANTED = ["F1_A=+7,-10,-13q", "F1_B=+1q"]


@pytest.fixture(scope="module")
def mixed_cnv(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixcnv")
    sim = simulate_mixed_cohort(root / "sim", {"450k": 1, "EPICv2": 1},
                                n_normals={"450k": 8, "EPICv2": 0}, n_probes=20000, classes=["F1_A", "F1_B"],
                                families=1, seed=21, cnv=PLANTED, cnv_penetrance=1.0, sample_cnv_rate=0.0,
                                purity=(0.8, 0.9), low_quality_fraction=0.0, ffpe_fraction=0.0)
    ingest(sim.samplesheet, root / "store", backend="local")
    return sim, root / "store"


def test_epicv2_sample_against_450k_normals_gives_the_planted_arms(mixed_cnv):
    """Reference: truth/cnv.tsv of the simulator (7 gained, 10 and 13q lost in the EPICv2 tumour); the panel
    is built on the CpGs the 450k normals share and the query is fitted on the ones it also has."""
    sim, store = mixed_cnv
    truth = read_truth(sim.out_dir)
    s = truth.samples
    normals = s.loc[s["is_normal"], "sample"].tolist()
    query = s.loc[(s["array"] == "SIMEPICV2") & (s["class"] == "F1_A"), "sample"].tolist()
    assert len(normals) == 8 and len(query) == 1 and all(n.startswith("450K") for n in normals)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 8 normals < the 16 conumee recommends
        run = run_cnv_store(store, normals, query, write_features=False)
    assert not run.failures
    res = run.results[0]
    calls = dict(zip(res.arms["arm"], res.arms["call"]))
    for arm in ("7p", "7q"):
        assert calls[arm] == "gain", (arm, calls)
    for arm in ("10p", "10q", "13q"):
        assert calls[arm] == "loss", (arm, calls)
    neutral = [a for a in calls if a[:-1] not in ("7", "10", "13", "X", "Y") and a not in ("13p",)]
    false = [a for a in neutral if calls[a] in ("gain", "loss")]
    assert len(false) <= 0.1 * len(neutral), false
    # the 450k panel holds no EPICv2-only CpG: the fit used the shared probes only
    assert run.reference.probe_mask.sum() < run.bins.n_fit_probes
