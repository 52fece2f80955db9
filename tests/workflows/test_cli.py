"""The train / predict / evaluate / benchmark CLI contract, end to end on real GSE85212 data."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from methylclass.cli import main


@pytest.fixture(scope="module")
def bundle(mb_tables, tmp_path_factory):
    """`methylclass train` of the ridge-calibrated logistic regression on 75 % of the non-WNT samples (the WNT
    subgroup is held out of training entirely), with split-conformal sets from 3-fold out-of-fold scores."""
    out = tmp_path_factory.mktemp("bundle") / "model"
    status = main(["train", "--betas", str(mb_tables["train"]), "--label-column", "subgroup", "--sample-column",
                   "GSM", "--model", "logreg", "--out", str(out), "--conformal-folds", "3", "--inner", "3",
                   "--n-jobs", "1", "--no-progress"])
    assert status == 0
    return out


def test_train_writes_bundle(bundle, capsys):
    """The bundle folder has a card naming the three trained classes and every training CpG, out-of-fold
    metrics, and conformal + OOD components next to the model file."""
    card = json.loads((bundle / "card.json").read_text())
    assert card["classes"] == ["Group3", "Group4", "SHH"]
    assert card["n_features"] == 150 and card["features"][0].startswith("cg")
    assert set(card["files"]) == {"model", "conformal", "ood"}
    assert card["metrics"]["balanced_accuracy"] > 0.9
    assert card["config"]["decision"]["threshold"] == 0.9


def test_predict_contract_and_held_out_class(bundle, mb_tables, tmp_path):
    """`methylclass predict` writes one row per sample with sample, prediction (class or no_match), score
    (= the largest calibrated probability) and proba_<class> per class (+ prediction_set, ood_pvalue, ood).
    Held-out class (planted truth): WNT was never trained on, so most WNT samples come out as no_match and
    outside the conformal set, while unseen samples of the trained classes are called and mostly right."""
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", str(bundle), "--betas", str(mb_tables["wnt"]), "--out", str(out)]) == 0
    pred = pd.read_csv(out, keep_default_na=False)
    wnt = pd.read_csv(mb_tables["wnt"])
    assert list(pred["sample"]) == list(wnt["GSM"])
    assert list(pred.columns[:4]) == ["sample", "status", "prediction", "score"]
    probas = ["proba_Group3", "proba_Group4", "proba_SHH"]
    assert probas == [c for c in pred.columns if c.startswith("proba_")]
    assert {"prediction_set", "ood_pvalue", "ood"} <= set(pred.columns)
    np.testing.assert_allclose(pred["score"], pred[probas].max(axis=1), atol=1e-9)
    np.testing.assert_allclose(pred[probas].sum(axis=1), 1.0, atol=1e-6)
    assert set(pred["prediction"]) <= {"Group3", "Group4", "SHH", "no_match"}
    assert (pred["prediction"] == "no_match").mean() >= 0.7
    assert (pred["prediction_set"] == "").mean() >= 0.5  # the true class is never in the set: empty is right

    out2 = tmp_path / "pred_test.csv"
    assert main(["predict", "--model", str(bundle), "--betas", str(mb_tables["test"]), "--out", str(out2),
                 "--label-column", "subgroup"]) == 0
    known = pd.read_csv(out2, keep_default_na=False)
    called = known[known["prediction"] != "no_match"]
    assert len(called) >= 0.7 * len(known)
    assert (called["prediction"] == called["label"]).mean() >= 0.95
    covered = [lab in s.split("|") for lab, s in zip(known["label"], known["prediction_set"])]
    assert np.mean(covered) >= 0.85  # 90 % conformal sets on exchangeable samples


def test_predict_threshold_option(bundle, mb_tables, tmp_path):
    """--threshold 0 calls every sample (no no_match unless out of distribution); 1.0 calls none."""
    out = tmp_path / "p.csv"
    main(["predict", "--model", str(bundle), "--betas", str(mb_tables["test"]), "--out", str(out),
          "--threshold", "0", "--ood-alpha", "0.0000001"])
    assert (pd.read_csv(out)["prediction"] != "no_match").all()
    main(["predict", "--model", str(bundle), "--betas", str(mb_tables["test"]), "--out", str(out),
          "--threshold", "1.0"])
    assert (pd.read_csv(out)["prediction"] == "no_match").all()


def test_evaluate_and_benchmark_commands(mb_tables, tmp_path, capsys):
    """`evaluate` (one model) and `benchmark --config FILE --models` write run folders with a report and
    print the metric table; --strict turns failed acceptance criteria into exit status 1."""
    runs = tmp_path / "runs"
    assert main(["evaluate", "--betas", str(mb_tables["small"]), "--label-column", "subgroup", "--model", "logreg",
                 "--outer", "2", "--inner", "2", "--out-dir", str(runs), "--n-jobs", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "balanced_accuracy" in out and "report:" in out
    assert (runs / "evaluate_logreg" / "latest" / "report.html").is_file()
    cfg = tmp_path / "exp.yaml"
    cfg.write_text("experiment: {name: tiny}\ncv: {outer: 2, inner: 2}\nreport: {formats: [png], criteria: "
                   "{balanced_accuracy: '>= 0.999'}}\n")
    status = main(["benchmark", "--config", str(cfg), "--models", "logreg,svm", "--betas", str(mb_tables["small"]),
                   "--label-column", "subgroup", "--out-dir", str(runs), "--n-jobs", "1", "--no-progress",
                   "--strict"])
    out = capsys.readouterr().out
    assert status == 1 and "0 of 2 models pass" in out
    metrics = pd.read_csv(runs / "tiny" / "latest" / "metrics.csv", index_col="model")
    assert list(metrics.index) == ["logreg", "svm"]


@pytest.mark.parametrize("argv,message", [
    (["train", "--betas", "{small}", "--label-column", "diagnosis", "--model", "logreg", "--out", "{tmp}/m"],
     r"has no label column 'diagnosis'.*subgroup"),
    (["train", "--betas", "{small}", "--label-column", "subgroup", "--model", "nosuch", "--out", "{tmp}/m"],
     r"unknown estimator 'nosuch'"),
    (["train", "--betas", "{small}", "--model", "logreg", "--out", "{tmp}/m"], r"needs --label-column"),
    (["benchmark", "--label-column", "subgroup"], r"give --betas too"),
    (["evaluate", "--model", "logreg", "--set", "cv.outr=2"], r"unknown key 'cv\.outr'"),
    (["predict", "--model", "{tmp}", "--betas", "{small}", "--out", "{tmp}/p.csv"], r"not a model bundle"),
    (["benchmark", "--experiment", "nope"], r"no experiment config 'nope'"),
])
def test_bad_input_is_one_line_error(argv, message, mb_tables, tmp_path, capsys):
    """Bad input exits with status 2 and one `error: …` line naming the problem (no traceback)."""
    argv = [a.format(small=mb_tables["small"], tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert re.search(message, err[0]), err[0]


def test_predict_table_missing_model_cpgs_is_low_coverage(bundle, mb_frame, tmp_path):
    """A table lacking the model's CpGs gives no_match / low_coverage per sample with the number missing
    (not imputed, not scored)."""
    cols = [c for c in mb_frame.columns if c.startswith("cg")][200:260]
    mb_frame[["GSM", *cols]].head(5).to_csv(tmp_path / "other.csv", index=False)
    assert main(["predict", "--model", str(bundle), "--betas", str(tmp_path / "other.csv"),
                 "--out", str(tmp_path / "p.csv")]) == 0
    pred = pd.read_csv(tmp_path / "p.csv")
    assert (pred["prediction"] == "no_match").all() and (pred["reason"] == "low_coverage").all()
    assert (pred["coverage"] == 0).all() and pred["score"].isna().all()
    assert pred["reason_detail"].str.contains("150 of the model's 150 CpGs are missing").all()


def test_train_refuses_existing_output(bundle, mb_tables, capsys):
    """Training into an existing folder needs --overwrite."""
    assert main(["train", "--betas", str(mb_tables["small"]), "--label-column", "subgroup", "--model", "logreg",
                 "--out", str(bundle)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_python_dash_m_runs_the_same_cli():
    """``python -m methylclass`` is the ``methylclass`` script: same help, same one-line errors (exit 2)."""
    import subprocess
    import sys

    ok = subprocess.run([sys.executable, "-m", "methylclass", "--help"], capture_output=True, text=True,
                        timeout=120, check=False)
    assert ok.returncode == 0 and ok.stdout.startswith("usage: methylclass")
    bad = subprocess.run([sys.executable, "-m", "methylclass", "info", "/no/such/file_Grn.idat"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stderr.startswith("error:")
