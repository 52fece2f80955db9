"""The explain / panel / embed commands end to end on tiny data: files, columns, plots, refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from methylclass.cli import main
from methylclass.models import hash_training_data, make_pipeline, save_bundle


@pytest.fixture(scope="module")
def table(planted_cohort, tmp_path_factory):
    """The planted cohort (first 300 CpGs) as a CSV beta table with a label and a batch column."""
    s = planted_cohort
    X = s.X.iloc[:, :300]
    df = X.copy()
    df.insert(0, "class", s.y)
    df["batch"] = np.where(np.arange(len(df)) % 2 == 0, "b1", "b2")
    path = tmp_path_factory.mktemp("data") / "betas.csv"
    df.rename_axis("sample").to_csv(path)
    return path, X, s.y


def test_explain_command_writes_importance_samples_and_plots(table, tmp_path, capsys):
    path, X, y = table
    clf = make_pipeline("rf", n_features=100, calibrate=None, n_estimators=50).fit(X, y)
    model = save_bundle(clf, tmp_path / "model", classes=clf.classes_, features=list(X.columns),
                        training_hash=hash_training_data(X, y))
    out = tmp_path / "explain"
    assert main(["explain", "--model", str(model), "--betas", str(path), "--out", str(out), "--top", "5"]) == 0
    imp = pd.read_csv(out / "importance.csv")
    assert list(imp.columns[:3]) == ["feature", "class", "importance"]
    assert len(imp) == 100 * 4 and (imp["importance"] >= 0).all()
    samples = pd.read_csv(out / "samples.csv")
    assert list(samples.columns) == ["sample", "class", "rank", "feature", "shap", "value"]
    assert len(samples) == len(X) * 5 and set(samples["sample"]) == set(X.index)
    assert (out / "shap_bar.png").stat().st_size > 10_000 and (out / "index.html").is_file()
    assert len(list(out.glob("shap_beeswarm_*.png"))) == 4
    assert "top CpGs" in capsys.readouterr().out


def test_panel_command_writes_curve_panel_and_fold_choices(table, tmp_path):
    path, X, _ = table
    out = tmp_path / "panel"
    rc = main(["panel", "--betas", str(path), "--label-column", "class", "--out", str(out), "--sizes", "5,20",
               "--rankings", "variance,shap", "--models", "logreg", "--outer", "3", "--prefilter", "100"])
    assert rc == 0
    curve = pd.read_csv(out / "panel_curve.csv")
    assert list(curve.columns) == ["ranking", "model", "size", "balanced_accuracy", "brier"]
    assert set(curve["ranking"]) == {"all", "variance", "shap"} and set(curve["size"]) == {5, 20, X.shape[1]}
    panel = pd.read_csv(out / "panel.csv")
    assert list(panel.columns[:3]) == ["feature", "stability", "importance"]
    assert panel["stability"].between(0, 1).all() and len(panel) in (5, 20)
    folds = pd.read_csv(out / "fold_panels.csv")
    assert set(folds["fold"]) == {0, 1, 2} and (folds.groupby(["ranking", "fold"]).size() == 20).all()
    assert (out / "panel_curve.png").is_file() and (out / "summary.json").is_file()


def test_embed_command_writes_embeddings_agreement_and_plots(table, tmp_path):
    path, X, _ = table
    out = tmp_path / "embed"
    rc = main(["embed", "--betas", str(path), "--label-column", "class", "--out", str(out),
               "--methods", "pca,hierarchical,tsne", "--n-features", "200", "--color-by", "batch"])
    assert rc == 0
    agree = pd.read_csv(out / "agreement.csv")
    assert list(agree.columns) == ["method", "ari", "nmi", "silhouette"]
    assert list(agree["method"]) == ["pca", "hierarchical", "tsne"]
    assert (agree["ari"] > 0.5).all()  # planted classes separate
    emb = pd.read_csv(out / "embedding_pca.csv")
    assert list(emb.columns[:3]) == ["sample", "PC1", "PC2"] and "label" in emb.columns
    assert set(emb["sample"]) == set(X.index)
    for f in ("pca_class.png", "pca_batch.png", "tsne_class.png", "heatmap_hierarchical.png", "index.html",
              "pca_loadings.csv"):
        assert (out / f).is_file(), f


def test_bad_input_is_one_line_and_no_output(tmp_path, capsys):
    out = tmp_path / "embed"
    rc = main(["embed", "--betas", str(tmp_path / "missing.csv"), "--label-column", "class", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("error:")
    assert not out.exists()
