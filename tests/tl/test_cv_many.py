"""nested_cv_many: one pool for the folds of several models gives each model exactly its nested_cv result."""

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB

from methylclass.tl.cv import nested_cv, nested_cv_many


def _data(n=60, p=8, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(["a", "b", "c"], n // 3)
    X = rng.normal(size=(n, p)) + (y == "a")[:, None] * 1.5 - (y == "c")[:, None]
    return pd.DataFrame(X, index=[f"s{i}" for i in range(n)]), pd.Series(y, index=[f"s{i}" for i in range(n)])


def test_many_equals_one_by_one():
    X, y = _data()
    X2 = X.iloc[:, :4]  # models may see different columns of the same samples
    makers = {"lr": (X, lambda: LogisticRegression(C=0.5, max_iter=500)), "nb": (X2, GaussianNB)}
    many = nested_cv_many(makers, y, outer=4, inner=None, repeats=2, seed=3, n_jobs=2, progress=False)
    assert list(many) == ["lr", "nb"]
    for name, (Xm, make) in makers.items():
        one = nested_cv(Xm, y, make, outer=4, inner=None, repeats=2, seed=3, n_jobs=1, progress=False)
        got = many[name]
        np.testing.assert_array_equal(got.proba.to_numpy(), one.proba.to_numpy())
        pd.testing.assert_frame_equal(got.folds, one.folds)
        assert got.settings["span_seconds"] >= 0
        assert len(got.timings) == 8
    # the two models really differ (the dispatch does not hand every task to one model)
    assert not np.allclose(many["lr"].proba.to_numpy(), many["nb"].proba.to_numpy())
