"""Panel evaluation refits rankings per training fold; the smallest-panel rule; embeddings' agreement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ConfigError
from methylclass.tl.embed import agreement, embed
from methylclass.tl.panel import PanelOptions, PanelResult, evaluate_panels


@pytest.fixture(scope="module")
def small(planted_cohort):
    return planted_cohort.X.iloc[:, :150], planted_cohort.y


def test_rankings_are_fitted_on_the_training_folds_only(small):
    X, y = small
    opts = PanelOptions(rankings=("variance", "pca"), models=("logreg",), sizes=(5, 10), outer=3, prefilter=150)
    res = evaluate_panels(X, y, opts)
    fp = res.fold_panels
    for f in range(3):
        train = res.folds.to_numpy() != f
        var = X[train].var(axis=0, ddof=0).sort_values(ascending=False, kind="stable")
        chosen = fp[(fp["ranking"] == "variance") & (fp["fold"] == f)].sort_values("rank")["feature"]
        assert list(chosen) == list(var.index[:10])
    c = res.curve
    assert set(c["size"]) == {5, 10, 150} and len(c) == 2 * 2 + 1
    assert c["balanced_accuracy"].between(0, 1).all() and (c["brier"] >= 0).all()
    st = res.stability("variance", 10)
    assert st.max() <= 1.0 and set(res.always_chosen("variance", 10)) == set(st.index[st == 1.0])


def test_smallest_panel_rule():
    curve = pd.DataFrame({"ranking": ["all", "all", "a", "a", "b", "b"],
                          "model": ["m1", "m2", "m1", "m1", "m2", "m2"],
                          "size": [100, 100, 5, 10, 5, 10],
                          "balanced_accuracy": [0.95, 0.90, 0.93, 0.945, 0.89, 0.95],
                          "brier": [0.1, 0.2, 0.15, 0.12, 0.2, 0.1]})
    res = PanelResult(curve=curve, fold_panels=pd.DataFrame(), y=pd.Series(dtype=str), folds=pd.Series(dtype=int),
                      options=PanelOptions(), n_features=100)
    best = res.smallest_panel()
    # reference = best full model (m1, 0.95); within 1 point: (a, m1, 10) 0.945 and (b, m2, 10) 0.95 → size 10,
    # the tie broken by the higher balanced accuracy
    assert (best["ranking"], best["model"], best["size"], best["within"]) == ("b", "m2", 10, True)
    assert best["full_model"] == "m1"
    assert res.smallest_panel(tolerance=0.03)["size"] == 5
    assert not res.smallest_panel(tolerance=-0.5)["within"]


def test_bad_options_are_refused(small):
    X, y = small
    with pytest.raises(ConfigError, match="ranking"):
        evaluate_panels(X, y, PanelOptions(rankings=("nope",)))


def test_embeddings_recover_planted_classes(small):
    X, y = small
    views = [embed(X, m, n_features=150, n_clusters=4) for m in ("pca", "hierarchical")]
    a = agreement(views, y)
    assert list(a.columns) == ["method", "ari", "nmi", "silhouette"]
    assert (a["ari"] > 0.5).all() and (a["silhouette"] > 0).all()
    pca = views[0]
    assert np.all(np.diff(pca.extra["explained_variance_ratio"]) <= 1e-12)
    assert pca.extra["loadings"].shape == (150, pca.coords.shape[1])
    # labels shuffled → agreement collapses (the metric can fail)
    shuffled = pd.Series(np.random.default_rng(0).permutation(y.to_numpy()), index=y.index)
    assert agreement(views[:1], shuffled)["ari"].iloc[0] < 0.2
