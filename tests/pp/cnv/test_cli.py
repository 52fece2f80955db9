"""``methylclass cnv`` end to end on IDATs written by ``methylclass.simulate`` (planted truth in its tables).

References: the simulator's truth table (class events +7, −10, EGFR amplification) and the error contract
(too few shared probes, a panel with < 3 usable normals, a manifest without coordinates → one-line error,
exit status 2).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from methylclass.cli import main
from methylclass.io.idat import Idat, read_idat, write_idat


@pytest.fixture(scope="module")
def cohort(tmp_path_factory, data_dir):
    """A synthetic 60k-probe cohort: 5 normals, 2 tumours of class F1_A with +7, −10, EGFR:amp."""
    from methylclass.simulate.cohort import SimulationConfig, simulate_cohort

    out = tmp_path_factory.mktemp("cnvsim")
    res = simulate_cohort(out / "sim", SimulationConfig(
        manifest="synthetic", n_probes=60_000, classes=1, n_per_class=2, n_normals=5,
        cnv=["F1_A=+7,-10,EGFR:amp"], cnv_penetrance=1.0, sample_cnv_rate=0.0, ffpe_fraction=0,
        low_quality_fraction=0, purity=(0.9, 0.95), seed=3))
    s = res.samples
    normals = out / "normals"
    normals.mkdir()
    for b in s[s.is_normal].basename:
        for ch in ("Grn", "Red"):
            shutil.copy(res.out_dir / f"{b}_{ch}.idat", normals)
    tumours = [str(res.out_dir / b) for b in s[~s.is_normal].basename]
    return {"res": res, "normals": normals, "tumours": tumours, "manifest": res.manifest_files[0], "root": out}


def test_cli_calls_planted_events(cohort, tmp_path, capsys):
    """Every tumour: +7p/+7q/−10p/−10q and EGFR amplification; plots, tables and features written."""
    out = tmp_path / "out"
    rc = main(["cnv", *cohort["tumours"], "--reference", str(cohort["normals"]), "--out", str(out),
               "--manifest", str(cohort["manifest"])])
    assert rc == 0
    printed = capsys.readouterr().out
    for t in cohort["tumours"]:
        name = Path(t).name
        arms = pd.read_csv(out / f"{name}.arms.tsv", sep="\t", keep_default_na=False).set_index("arm")["call"]
        assert arms[["7p", "7q"]].eq("gain").all() and arms[["10p", "10q"]].eq("loss").all()
        others = arms.drop(["7p", "7q", "10p", "10q"])
        assert others.isin(["balanced", "NA"]).mean() >= 0.95
        focal = pd.read_csv(out / f"{name}.focal.tsv", sep="\t").set_index("gene")["call"]
        assert focal["EGFR"] == "amplification"
        for ext in ("png", "svg"):
            assert (out / f"{name}.cnv.{ext}").stat().st_size > 10_000
        assert (out / f"{name}.cnv.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "EGFR:amp" in printed
    feats = pd.read_csv(out / "cnv_features.tsv", sep="\t", index_col=0)
    assert len(feats) == 2 and (feats["cnv_arm_7q"] > 0.2).all() and (feats["cnv_arm_10q"] < -0.2).all()
    assert (out / "cnv_frequency.svg").exists() and (out / "cnv_summary.tsv").exists()
    assert not list(out.glob(".*.tmp"))


def test_cli_error_too_few_normals(cohort, tmp_path, capsys):
    """A reference folder with two normals → 'error: … need ≥ 3 …', exit 2."""
    two = tmp_path / "two"
    two.mkdir()
    for f in sorted(cohort["normals"].iterdir())[:4]:
        shutil.copy(f, two)
    rc = main(["cnv", cohort["tumours"][0], "--reference", str(two), "--out", str(tmp_path / "o"),
               "--manifest", str(cohort["manifest"])])
    err = capsys.readouterr().err
    assert rc == 2 and "2 normal sample(s) found, need ≥ 3" in err
    assert "Traceback" not in err


def test_cli_error_too_few_shared_probes(cohort, tmp_path, capsys):
    """A query IDAT missing 45 % of its bead addresses is refused by the one acceptance rule (≥ 95 % of the
    manifest's addresses, the same as preprocess) → one error line naming it, exit 2."""
    base = Path(cohort["tumours"][0])
    q = tmp_path / "q"
    q.mkdir()
    rng = np.random.default_rng(0)
    keep = None
    for ch in ("Grn", "Red"):
        idat = read_idat(f"{base}_{ch}.idat")
        if keep is None:
            keep = np.sort(rng.choice(idat.n_probes, int(0.55 * idat.n_probes), replace=False))
        write_idat(q / f"{base.name}_{ch}.idat", Idat.from_arrays(idat.illumina_ids[keep], idat.mean[keep],
                                                                   barcode=idat.barcode,
                                                                   position=idat.position))
    rc = main(["cnv", str(q / base.name), "--reference", str(cohort["normals"]), "--out",
               str(tmp_path / "o"), "--manifest", str(cohort["manifest"])])
    err = capsys.readouterr().err
    assert rc == 2 and f"sample '{base.name}': only 55" in err and "probe addresses" in err


def test_cli_error_manifest_without_coordinates(cohort, tmp_path, capsys):
    """A manifest without chromosome/position columns → 'error: … has no probe coordinates', exit 2."""
    df = pd.read_csv(cohort["manifest"], sep="\t")
    bare = tmp_path / "nocoords.tsv"
    df.drop(columns=["chr_hg19", "pos_hg19"]).to_csv(bare, sep="\t", index=False)
    rc = main(["cnv", cohort["tumours"][0], "--reference", str(cohort["normals"]), "--out",
               str(tmp_path / "o"), "--manifest", str(bare)])
    err = capsys.readouterr().err
    assert rc == 2 and "has no probe coordinates" in err and "Traceback" not in err
