"""Inside the benchmark: out-of-fold SHAP per model, per-fold CpG choices, and cluster agreement next to the
classifiers in the report."""

from __future__ import annotations

import pandas as pd

from methylclass.config import load_config
from methylclass.workflows import benchmark, cli_data_block


def test_benchmark_explains_out_of_fold_and_reports_cluster_agreement(mb_tables, tmp_path):
    cfg = load_config("mb_quick", overrides=["defaults.models=[logreg]", f"experiment.out_dir={tmp_path / 'runs'}",
                                             "experiment.n_jobs=1", "report.formats=[png]", "cv.inner=null",
                                             "pipeline.n_features=60", "understand.explain=[logreg]",
                                             "understand.embed=[pca,hierarchical]", "understand.embed_features=100"])
    cfg["data"] = cli_data_block(betas=mb_tables["small"], label_column="subgroup", sample_column="GSM")
    res = benchmark(cfg, progress=False)
    p = res.path
    imp = pd.read_csv(p / "importance" / "logreg.csv")
    assert list(imp.columns) == ["feature", "class", "importance"]
    assert set(imp["class"]) == {"Group3", "Group4", "SHH", "WNT"}
    sel = pd.read_csv(p / "selection" / "logreg.csv")
    assert list(sel.columns) == ["feature", "folds", "stability", "chosen_in_every_fold"]
    assert sel["folds"].max() == 3 and sel["stability"].between(0, 1).all()
    # every feature with SHAP importance was chosen by at least one fold
    assert set(imp["feature"]) <= set(sel["feature"])
    agree = pd.read_csv(p / "embed" / "agreement.csv")
    assert list(agree["method"]) == ["pca", "hierarchical"]
    html = (p / "report.html").read_text(encoding="utf-8")
    assert "Cluster agreement next to the classifiers" in html and "classifier (nested CV)" in html
    assert (p / "plots" / "logreg_shap_bar.png").is_file()
