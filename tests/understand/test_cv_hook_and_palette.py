"""nested_cv keeps every fold's chosen features and runs a fold hook; one palette colours every plot."""

from __future__ import annotations

import numpy as np
import pandas as pd

from methylclass.models import make_pipeline
from methylclass.pl import class_colors, colors_for
from methylclass.tl.cv import nested_cv
from methylclass.tl.importance import combine_explanations, explain_hook, explanation_of


def _n_test(est, X_test):
    return (len(X_test), len(est.selected_features_))


def test_fold_features_and_hook(planted_cohort):
    s = planted_cohort
    X = s.X.iloc[:, :200]
    res = nested_cv(X, s.y, make_pipeline("logreg", n_features=30, calibrate=None), outer=3, inner=None,
                    n_jobs=1, fold_hook=_n_test, progress=False)
    ff = res.fold_features
    assert list(ff.columns) == ["repeat", "fold", "rank", "feature"]
    assert (ff.groupby("fold").size() == 30).all() and set(ff["feature"]) <= set(X.columns)
    assert sorted(d["fold"] for d in res.fold_outputs) == [0, 1, 2]
    assert sum(d["output"][0] for d in res.fold_outputs) == len(X)
    assert all(len(d["test"]) == d["output"][0] for d in res.fold_outputs)


def test_out_of_fold_explanation_uses_each_folds_own_model(planted_cohort):
    s = planted_cohort
    X = s.X.iloc[:, :200]
    res = nested_cv(X, s.y, make_pipeline("logreg", n_features=30, calibrate=None), outer=3, inner=None,
                    n_jobs=1, fold_hook=explain_hook, progress=False)
    exp = explanation_of(res)
    assert exp.samples == list(X.index)
    # each sample's SHAP is non-zero only on the features its own fold's model used
    fold_of = res.folds["repeat_0"]
    for f, feats in res.fold_features.groupby("fold")["feature"]:
        rows = np.flatnonzero(fold_of.to_numpy() == f)
        unused = [i for i, name in enumerate(exp.features) if name not in set(feats)]
        assert np.all(exp.values[np.ix_(rows, unused)] == 0)
        assert np.isnan(exp.data[np.ix_(rows, unused)]).all()
    # additivity survives the combination: base + Σ = the fold model's margin, i.e. argmax = OOF prediction
    pred = np.asarray(exp.classes)[np.argmax(exp.predicted(), axis=1)]
    oof = res.proba.idxmax(axis=1).to_numpy()
    assert (pred == oof).mean() == 1.0
    assert combine_explanations([exp]).values.shape == exp.values.shape


def test_one_palette_for_every_plot():
    a = class_colors(["WNT", "SHH", "Group3", "Group4"])
    b = class_colors(["Group4", "Group3", "SHH", "WNT", "Group4"])
    assert a == b and len(set(a.values())) == 4
    assert class_colors(["A", "no_match"])["no_match"] == "#9e9e9e"
    assert colors_for(["SHH", "WNT"], a) == [a["SHH"], a["WNT"]]
    many = class_colors([f"c{i}" for i in range(30)])
    assert len(set(many.values())) == 30
    assert isinstance(pd.Series(list(a.values())).str.startswith("#").all(), (bool, np.bool_))
