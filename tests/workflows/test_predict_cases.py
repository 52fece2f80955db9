"""Diagnose new cases from IDATs: the one-call path of issue 10 on a simulated cohort with planted truth.

A cohort is simulated (``methylclass simulate``); the training tumours and the normals are preprocessed into a
store and analysed for copy number (``preprocess --local``, ``cnv --from-store --local``); a model is trained
through the CLI from the store with the CNV block (``train --betas STORE --cnv``). New IDATs — held-out
tumours of the trained classes, every tumour of a class kept out of training, and one corrupt IDAT — are then
predicted with default settings through the CLI and through ``load_model(...).predict(...)``. References: the
simulation's truth table (classes) and the store path of the same files (parity of betas and CNV features).

The SYNTH cohort (20,000-probe synthetic array) runs in the default suite; the same test on a simulated 450k
cohort is marked ``slow`` (≈ 3-4 min on 2 busy cores).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import methylclass as mc
from methylclass.cli import main

UNSEEN = "D"


def _cli(*argv) -> None:
    assert main([str(a) for a in argv]) == 0, argv


def _cohort(root, array: str):
    sim = root / "sim"
    args = ["simulate", "--out", sim, "--classes", "A,B,C,D", "--families", "4", "--per-class", "16",
            "--normals", "4", "--low-quality", "0", "--seed", "3", "--quiet", "--jobs", "2"]
    args += ["--array", "HM450"] if array == "HM450" else ["--probes", "20000"]
    _cli(*args)
    sheet = pd.read_csv(sim / "samplesheet.csv")
    sheet["Basename"] = [str(sim / b) for b in sheet["Basename"]]
    tumours = sheet[sheet["Sample_Group"] != "normal"]
    new = pd.concat([tumours[tumours["Sample_Group"] == UNSEEN]]
                    + [g.tail(4) for c, g in tumours[tumours["Sample_Group"] != UNSEEN].groupby("Sample_Group")])
    train = sheet[~sheet["Sample_Name"].isin(new["Sample_Name"])]
    train.to_csv(root / "train.csv", index=False)
    man = [] if array == "HM450" else ["--manifest", sim / "manifest" / "probes.tsv.gz",
                                       "--controls", sim / "manifest" / "controls.tsv"]
    store = root / "store"
    _cli("preprocess", root / "train.csv", "--out", store, "--local", *man)
    _cli("cnv", "--from-store", store, "--normals-group", "normal", "--local")
    model = root / "model"
    _cli("train", "--betas", store, "--label-column", "Sample_Group", "--exclude", "normal", "--cnv",
         "--model", "logreg", "--out", model, "--set", "pipeline.n_features=2000", "--conformal-folds", "3",
         "--n-jobs", "1", "--no-progress")
    # a corrupt IDAT pair among the new cases
    bad = root / "bad"
    bad.mkdir()
    good = sheet["Basename"].iloc[0]
    (bad / "999999999999_R01C01_Grn.idat").write_bytes(Path(good + "_Grn.idat").read_bytes()[:5000])
    (bad / "999999999999_R01C01_Red.idat").write_bytes(Path(good + "_Red.idat").read_bytes())
    inputs = [b + "_Grn.idat" for b in new["Basename"]] + [str(bad / "999999999999_R01C01")]
    truth = dict(zip(new["Sample_Name"], new["Sample_Group"]))
    # IDAT stems are Sentrix names; map them back to the sheet's names for the truth
    truth.update({b.rsplit("/", 1)[1]: g for b, g in zip(new["Basename"], new["Sample_Group"])})
    return {"array": array, "root": root, "sim": sim, "store": store, "model": model, "inputs": inputs, "truth": truth,
            "manifest": None if array == "HM450" else (sim / "manifest" / "probes.tsv.gz",
                                                      sim / "manifest" / "controls.tsv"),
            "train_sheet": train}


@pytest.fixture(scope="module", params=["SYNTH", pytest.param("HM450", marks=pytest.mark.slow)])
def cohort(request, tmp_path_factory):
    return _cohort(tmp_path_factory.mktemp(f"diagnose_{request.param}"), request.param)


def _check(pred: pd.DataFrame, truth: dict) -> None:
    failed = pred[pred["status"] == "failed"]
    assert len(failed) == 1 and failed["sample"].iloc[0] == "999999999999_R01C01"
    assert "999999999999_R01C01_Grn.idat" in failed["reason"].iloc[0] and failed["prediction"].iloc[0] == ""
    ok = pred[pred["status"] == "ok"].copy()
    ok["truth"] = ok["sample"].map(truth)
    assert ok["truth"].notna().all()
    assert ok["coverage"].between(0.95, 1.0).all()
    assert {"top_classes", "prediction_set", "qc_status", "ood_pvalue"} <= set(pred.columns)
    assert any(c.startswith("cnv_arm_") for c in pred.columns)
    known, unseen = ok[ok["truth"] != UNSEEN], ok[ok["truth"] == UNSEEN]
    correct = (known["prediction"] == known["truth"]).mean()
    wrong = known[(known["prediction"] != known["truth"]) & (known["prediction"] != "no_match")]
    assert correct >= 0.9, known[["sample", "truth", "prediction", "score", "reason", "ood_pvalue"]]
    assert wrong.empty, wrong
    # every unseen sample is no_match; one that failed QC (e.g. low intensity: its betas cannot be judged) says
    # so, the others must be recognised as unlike every training class
    assert (unseen["prediction"] == "no_match").all(), unseen[["sample", "prediction", "score", "reason"]]
    judged = unseen[unseen["qc_status"] != "failed"]
    assert len(judged) >= 0.8 * len(unseen), unseen[["sample", "qc_status"]]
    flagged = (judged["reason"] == "out_of_distribution").mean()
    assert flagged >= 0.9, unseen[["sample", "prediction", "score", "reason", "ood_pvalue", "ood_level"]]


def test_cli_predicts_new_idats_with_defaults(cohort, tmp_path, monkeypatch):
    """``methylclass predict --model DIR IDAT… --out DIR`` with defaults: ≥ 90 % of new cases of trained
    classes correct and no wrong call; ≥ 90 % of the unseen class no_match / out_of_distribution; the
    corrupt IDAT a failed row; predictions.csv + predictions.json written; Spark never imported."""
    monkeypatch.setitem(sys.modules, "pyspark", None)  # importing pyspark on this path would fail
    man = [] if cohort["manifest"] is None else ["--manifest", cohort["manifest"][0],
                                                 "--controls", cohort["manifest"][1]]
    _cli("predict", "--model", cohort["model"], *cohort["inputs"], "--out", tmp_path / "out", "--no-report", *man)
    pred = pd.read_csv(tmp_path / "out" / "predictions.csv", keep_default_na=False,
                       na_values={"score": [""], "ood_pvalue": [""], "coverage": [""]})
    _check(pred, cohort["truth"])
    js = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert len(js["predictions"]) == len(pred) and js["classes"] == ["A", "B", "C"]


def test_load_model_predict_and_parity_with_the_store(cohort):
    """The same through ``load_model(...).predict(...)``; the betas and CNV features computed for IDATs equal
    those of the store built from the same files (training samples predicted both ways)."""
    man = cohort["manifest"]
    model = mc.load_model(cohort["model"], manifest=None if man is None else man[0],
                          controls=None if man is None else man[1])
    pred = model.predict(cohort["inputs"])
    assert (pred["status"] == "failed").sum() == 1
    card = model.card
    assert card["preprocessing"]["method"] == "noob" and card["preprocessing"]["cnv"]["input"] == "store"
    assert card["class_counts"] == {"A": 12, "B": 12, "C": 12} and {"cnv_bins", "cnv_reference"} <= set(
        card["files"])
    sheet = cohort["train_sheet"]
    some = sheet[sheet["Sample_Group"] == "A"].head(3)
    diag = model.diagnose([b + "_Grn.idat" for b in some["Basename"]])
    stems = {b.rsplit("/", 1)[1]: n for b, n in zip(some["Basename"], some["Sample_Name"])}
    from_idats = diag.X.rename(index=stems)
    store_pred = model.diagnose(cohort["store"])
    from_store = store_pred.X.loc[from_idats.index, from_idats.columns]
    cpg = [c for c in from_idats.columns if not c.startswith("cnv_")]
    np.testing.assert_array_equal(from_idats[cpg].to_numpy(), from_store[cpg].to_numpy())
    cnv = [c for c in from_idats.columns if c.startswith("cnv_")]
    assert cnv
    np.testing.assert_array_equal(from_idats[cnv].to_numpy(np.float32), from_store[cnv].to_numpy(np.float32))
    _check(pred, cohort["truth"])


def test_table_without_cnv_columns_is_refused_like_a_store(cohort, tmp_path):
    """A beta table lacking the model's cnv_ columns is refused (as a store without CNV features is)."""
    from methylclass.errors import DataError
    from methylclass.io.store import load_betas

    model = mc.load_model(cohort["model"])
    cpgs = [f for f in model.card["features"] if not f.startswith("cnv_")]
    table = tmp_path / "t.csv"
    load_betas(cohort["store"], probes=cpgs).head(3).to_csv(table)
    with pytest.raises(DataError, match="copy-number features"):
        model.predict(table)


def test_cli_writes_the_report_pages(cohort, tmp_path):
    """With the report (default), OUT/report/index.html and one page per sample are written, the failed
    sample included."""
    man = [] if cohort["manifest"] is None else ["--manifest", cohort["manifest"][0],
                                                 "--controls", cohort["manifest"][1]]
    inputs = [cohort["inputs"][0], cohort["inputs"][-2], cohort["inputs"][-1]]  # unseen, known, corrupt
    _cli("predict", "--model", cohort["model"], *inputs, "--out", tmp_path / "out", *man)
    pred = pd.read_csv(tmp_path / "out" / "predictions.csv")
    report = tmp_path / "out" / "report"
    assert (report / "index.html").is_file()
    pages = {p.stem for p in report.glob("*.html")}
    assert pages == {*pred["sample"], "index", "card"}, sorted(pages)

