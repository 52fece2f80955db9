"""Mixed-array cohorts: one cohort, several array layouts, the same classes (planted truth read back)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ConfigError
from methylclass.io.idat import read_idat
from methylclass.io.manifest import address_overlap, collapse_replicates, load_sesame_tsv
from methylclass.simulate import read_truth
from methylclass.simulate.mixed import simulate_mixed_cohort
from methylclass.workflows.ingest import preprocess_local


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed") / "cohort"
    return simulate_mixed_cohort(out, {"450k": 3, "EPIC": 2, "EPICv2": 3, "MSA": 1}, n_normals=1, n_probes=6000,
                                 classes=4, seed=5, low_quality_fraction=0.0, ffpe_fraction=0.0,
                                 dmps_per_class=120, dmps_per_family=80, purity=(0.8, 0.95))


def _betas(mixed, kind: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    sheet = pd.read_csv(mixed.samplesheet, dtype={"Sentrix_ID": str})
    man = mixed.manifests[kind]
    g = sheet[sheet["Array"] == man.array]
    probes, controls = mixed.manifest_files[kind]
    loaded = load_sesame_tsv(probes, array=man.array, controls=controls)
    refs = [{"sample": r.Sample_Name, "grn": str(mixed.out_dir / f"{r.Basename}_Grn.idat"),
             "red": str(mixed.out_dir / f"{r.Basename}_Red.idat")} for r in g.itertuples()]
    b, table = preprocess_local(refs, manifest=loaded)
    assert (table["status"] == "ok").all()
    return collapse_replicates(b.T, loaded).T, g


def test_truth_and_sheet_record_each_samples_array(mixed):
    """Reference: the requested layout (3 tumours × 4 classes + 1 normal on 450k, …)."""
    truth = read_truth(mixed.out_dir)
    counts = truth.samples.groupby("array").size().to_dict()
    assert counts == {"SIM450K": 13, "SIMEPIC": 9, "SIMEPICV2": 13, "SIMMSA": 5}
    sheet = pd.read_csv(mixed.samplesheet)
    assert list(sheet["Array"]) == list(truth.samples["array"])
    assert truth.samples["sample"].is_unique and sheet["Basename"].is_unique
    meta = json.loads((mixed.out_dir / "simulation.json").read_text())
    assert [a["kind"] for a in meta["arrays"]] == ["450k", "EPIC", "EPICv2", "MSA"]
    # the same classes on every array
    classes = truth.samples[~truth.samples["is_normal"]].groupby("array")["class"].apply(set)
    assert all(c == {"F1_A", "F1_B", "F2_A", "F2_B"} for c in classes)


def test_layouts_share_cpgs_as_array_generations_do(mixed):
    """Reference: the documented membership (450k ∩ EPICv2 ≈ 89 % of the 450k), EPICv2 replicate probes with
    Illumina suffixes whose cpg_id is the canonical id, and every IDAT carrying its own array's addresses."""
    m = mixed.manifests
    cpg = {k: set(v.probes["cpg_id"]) for k, v in m.items()}
    share = len(cpg["450k"] & cpg["EPICv2"]) / len(cpg["450k"])
    assert 0.84 < share < 0.94
    assert cpg["MSA"] < cpg["EPICv2"] and len(cpg["MSA"]) < 0.5 * len(cpg["450k"])
    v2 = m["EPICv2"].probes
    assert v2["probe_id"].str.match(r"^(cg\d+|rs\d+)_(TC|BC)[12]1$").all()
    reps = v2[v2["cpg_id"].duplicated(keep=False)]
    assert len(reps) > 0.08 * len(cpg["EPICv2"]) and set(reps["probe_id"].str[-4:]) >= {"TC21", "TC11"}
    back = load_sesame_tsv(mixed.manifest_files["EPICv2"][0], array="X")
    assert (back.probes.set_index("probe_id")["cpg_id"].reindex(v2["probe_id"]).to_numpy()
            == v2["cpg_id"].to_numpy()).all()
    truth = read_truth(mixed.out_dir)
    for kind, man in m.items():
        row = truth.samples[truth.samples["array"] == man.array].iloc[0]
        ids = read_idat(mixed.out_dir / f"{row.basename}_Grn.idat").illumina_ids
        assert address_overlap(man, ids)[0] == 1.0
        for other in set(m) - {kind}:
            assert address_overlap(m[other], ids)[0] < 0.05


def test_same_classes_on_every_array_with_an_array_shift(mixed):
    """Reference: the planted class DMPs (truth/dmps.tsv by canonical CpG id) separate the classes on the
    IDATs of every array alike; the 450k-vs-EPICv2 difference of shared-CpG means exceeds 450k-vs-450k noise
    (the per-array technical shift is real, but small next to the class signal)."""
    truth = read_truth(mixed.out_dir)
    dmps = truth.dmps[truth.dmps["level"] == "class"]
    cls_of = truth.samples.set_index("sample")["class"]
    means = {}
    for kind in ("450k", "EPICv2", "MSA"):
        b, _ = _betas(mixed, kind)
        for c in ("F1_A", "F2_B"):
            d = dmps[(dmps["class"] == c) & dmps["cpg_id"].isin(b.columns)]
            sign = np.where(d["direction"] == "hyper", 1.0, -1.0)
            score = np.nanmean((b[d["cpg_id"]].to_numpy() - d["beta_background"].to_numpy()) * sign, axis=1)
            own = cls_of.reindex(b.index).to_numpy() == c
            assert score[own].min() > score[~own].max(), (kind, c)
        means[kind] = b.mean()
    shared = means["450k"].index.intersection(means["EPICv2"].index)
    ok = means["450k"][shared].notna() & means["EPICv2"][shared].notna()
    r = np.corrcoef(means["450k"][shared][ok], means["EPICv2"][shared][ok])[0, 1]
    assert r > 0.95


def test_bad_mixed_parameters_are_refused(tmp_path: Path):
    with pytest.raises(ConfigError, match="unknown array kind"):
        simulate_mixed_cohort(tmp_path / "x", {"HM27": 2})
    with pytest.raises(ConfigError, match="named twice"):
        simulate_mixed_cohort(tmp_path / "x", {"epic": 2, "EPIC": 2})
    with pytest.raises(ConfigError, match="fixed"):
        simulate_mixed_cohort(tmp_path / "x", {"450k": 2}, n_per_class=3)
    assert not (tmp_path / "x").exists()


def test_simulate_command_writes_a_mixed_cohort(tmp_path: Path, capsys):
    from methylclass.cli import main

    assert main(["simulate", "--out", str(tmp_path / "m"), "--arrays", "450k=1,EPICv2=1", "--probes", "2000",
                 "--classes", "2", "--normals", "1", "--quiet"]) == 0
    truth = read_truth(tmp_path / "m")
    assert truth.samples.groupby("array").size().to_dict() == {"SIM450K": 3, "SIMEPICV2": 3}
    assert main(["simulate", "--out", str(tmp_path / "x"), "--arrays", "450k"]) == 2
    assert "KIND=N" in capsys.readouterr().err
