"""Benchmark / evaluate run folders (methylclass.workflows): every file is written, consistent with an
independent recomputation from the written out-of-fold probabilities, and a failed run leaves nothing."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest

from methylclass.config import load_config, read_yaml
from methylclass.tl.metrics import evaluate as evaluate_metrics
from methylclass.workflows import benchmark, cli_data_block, evaluate, load_dataset


def _config(tmp_path, betas, models=("logreg", "svm"), **over):
    cfg = load_config("mb_quick", overrides=[f"defaults.models=[{','.join(models)}]",
                                             f"experiment.out_dir={tmp_path / 'runs'}", "experiment.n_jobs=1",
                                             "report.formats=[png]",
                                             "report.criteria={balanced_accuracy: '>= 0.9'}",
                                             *[f"{k}={v}" for k, v in over.items()]])
    cfg["data"] = cli_data_block(betas=betas, label_column="subgroup", sample_column="GSM")
    return cfg


@pytest.fixture(scope="module")
def run(mb_tables, tmp_path_factory):
    """One benchmark run of two real pipelines (ridge-calibrated logreg and linear SVM), 3×3 nested CV, on
    120 real medulloblastomas × 150 CpGs."""
    tmp = tmp_path_factory.mktemp("bench")
    cfg = _config(tmp, mb_tables["small"])
    return benchmark(cfg, progress=False), cfg


def test_run_folder_contents(run):
    """The run folder holds config, metrics (CSV + JSON), per-class table, timings, out-of-fold tables, one
    confusion and one reliability PNG per model and the report; `latest` points at it; no temporary
    folder or file is left behind."""
    res, cfg = run
    p = res.path
    assert p.parent.name == "mb_quick" and re.fullmatch(r"\d{8}-\d{6}(-\d+)?", p.name)
    names = {f.relative_to(p).as_posix() for f in p.rglob("*") if f.is_file()}
    assert names == {"config.yaml", "metrics.csv", "metrics.json", "per_class.csv", "timings.csv", "report.html",
                     "params.csv",
                     "oof/logreg.csv", "oof/svm.csv", "plots/logreg_confusion.png", "plots/logreg_reliability.png",
                     "plots/svm_confusion.png", "plots/svm_reliability.png", "selection/logreg.csv",
                     "selection/svm.csv"}
    assert (p.parent / "latest").resolve() == p.resolve()
    assert not [f for f in p.parent.iterdir() if f.name.startswith(".")]
    saved = read_yaml(p / "config.yaml")
    assert saved["models"] == cfg["models"] and saved["cv"]["outer"] == 3
    timings = pd.read_csv(p / "timings.csv")
    assert len(timings) == 6 and (timings["fit_seconds"] > 0).all()


def test_metrics_match_recomputation_from_oof_files(run):
    """Reference: the written out-of-fold probabilities. Re-evaluating them with tl.metrics gives exactly the
    numbers of metrics.csv / metrics.json; each sample appears once with probabilities summing to 1."""
    res, _ = run
    table = pd.read_csv(res.path / "metrics.csv", index_col="model")
    payload = json.loads((res.path / "metrics.json").read_text())
    for model in ("logreg", "svm"):
        oof = pd.read_csv(res.path / "oof" / f"{model}.csv")
        assert len(oof) == 120 and oof["sample"].is_unique and set(oof["fold_0"]) == {0, 1, 2}
        proba = oof[[c for c in oof.columns if c.startswith("proba_")]]
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
        proba.columns = [c.removeprefix("proba_") for c in proba.columns]
        ev = evaluate_metrics(oof["y_true"], proba)
        for key in ("balanced_accuracy", "brier", "log_loss", "ece", "auc_hand_till", "classifiable"):
            assert table.loc[model, key] == pytest.approx(ev.scalars[key], abs=1e-9), key
            assert payload["models"][model]["scalars"][key] == pytest.approx(ev.scalars[key], abs=1e-9)
        assert table.loc[model, "balanced_accuracy"] > 0.9  # real signal: 4 subgroups separate well
    assert payload["data"]["n_samples"] == 120 and payload["data"]["class_counts"]["WNT"] == 30
    assert payload["criteria"]["per_model"] == {m: table.loc[m, "balanced_accuracy"] >= 0.9 for m in ("logreg", "svm")}


def test_report_is_self_contained(run):
    """report.html: no external resource (every image is an embedded PNG that decodes), each model's
    metrics, confusion matrix and reliability diagram, the timing table, data summary and config."""
    res, _ = run
    html = (res.path / "report.html").read_text()
    assert not re.search(r"""(src|href)=["'](https?:|//|file:)""", html)
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(uris) == 4
    assert all(base64.b64decode(u)[:8] == b"\x89PNG\r\n\x1a\n" for u in uris)
    for text in ("confusion matrix of logreg", "reliability diagram of svm", "balanced accuracy", "Brier (0–2)",
                 "AUC (Hand–Till)", "ECE (top-label, 15 bins)", "Timing", "GSM", "subgroup", "Acceptance criteria"):
        assert text in html, text
    bal = pd.read_csv(res.path / "metrics.csv", index_col="model").loc["logreg", "balanced_accuracy"]
    assert f"{bal:.3f}" in html


def test_evaluate_one_model_and_failed_run_leaves_nothing(mb_tables, tmp_path):
    """evaluate() runs a single model; a run that fails inside (a model rejecting its parameters at fit
    time) raises and leaves neither a run folder nor a temporary one."""
    cfg = _config(tmp_path, mb_tables["small"], models=("logreg",), **{"cv.outer": 2, "cv.inner": 2})
    res = evaluate(cfg, progress=False)
    assert list(res.metrics.index) == ["logreg"]
    bad = _config(tmp_path / "bad", mb_tables["small"], models=("logreg",),
                  **{"models.logreg.params.C": -1.0, "models.logreg.search": "null",
                     "cv.outer": 2})
    with pytest.raises(Exception, match="C"):
        benchmark(bad, progress=False)
    runs = tmp_path / "bad" / "runs" / "mb_quick"
    assert not runs.exists() or [p.name for p in runs.iterdir()] == []


def test_load_dataset_feature_blocks_and_exclusions(mb_frame, tmp_path):
    """A table with cnv_ columns keeps them (not range-checked) when data.feature_blocks names the prefix;
    exclude_classes leaves a class out; the summary counts the block features."""
    df = mb_frame.iloc[:60, :20].copy()
    df["subgroup"] = mb_frame["subgroup"].iloc[:60]
    df["cnv_arm_7q"] = np.linspace(-1, 1, 60)
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    data = cli_data_block(betas=path, label_column="subgroup") | {"feature_blocks": ["cnv_"],
                                                                   "exclude_classes": ["WNT"]}
    ds = load_dataset(data)
    assert "cnv_arm_7q" in ds.X.columns and ds.X["cnv_arm_7q"].min() == pytest.approx(-1.0)
    assert "WNT" not in set(ds.y) and ds.summary["n_block_features"] == 1
    plain = load_dataset(cli_data_block(betas=path, label_column="subgroup"))
    assert "cnv_arm_7q" not in plain.X.columns
