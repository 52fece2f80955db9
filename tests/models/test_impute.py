"""Class-centroid imputation of missing CpGs (cross-array prediction), against planted class structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer

from methylclass.errors import ConfigError
from methylclass.models import make_pipeline
from methylclass.models.impute import CentroidImputer


def _planted(n_per=15, n_feat=400, n_inf=40, seed=0):
    """3 classes; the first ``n_inf`` features carry class means 0.2 / 0.5 / 0.8 (sd 0.05), the rest are
    N(0.5, 0.1) noise for every class."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.array(["A", "B", "C"]), n_per)
    mu = {"A": 0.2, "B": 0.5, "C": 0.8}
    X = rng.normal(0.5, 0.1, size=(y.size, n_feat))
    X[:, :n_inf] = np.array([mu[c] for c in y])[:, None] + rng.normal(0, 0.05, size=(y.size, n_inf))
    return X, y, mu


def test_fills_informative_cpgs_with_the_samples_class_and_noise_with_the_mean():
    X, y, mu = _planted()
    imp = CentroidImputer().fit(X, y)
    assert set(imp.informative_) <= set(range(40)) and len(imp.informative_) >= 35  # noise shrunk away
    Xq, yq, _ = _planted(n_per=5, seed=1)
    Xm = Xq.copy()
    rng = np.random.default_rng(2)
    miss = rng.random(Xm.shape) < 0.4
    Xm[miss] = np.nan
    out = imp.transform(Xm)
    assert not np.isnan(out).any()
    np.testing.assert_array_equal(out[~miss], Xq[~miss])  # observed values untouched
    inf_miss = miss.copy()
    inf_miss[:, 40:] = False
    want = np.array([mu[c] for c in yq])[:, None].repeat(X.shape[1], axis=1)
    assert np.abs(out[inf_miss] - want[inf_miss]).max() < 0.05
    # median imputation puts the same informative CpGs at the class-agnostic middle
    med = SimpleImputer(strategy="median").fit(X).transform(Xm)
    assert np.abs(med[inf_miss] - want[inf_miss]).mean() > 0.15
    noise_miss = miss.copy()
    noise_miss[:, :40] = False
    noise_miss[:, imp.informative_] = False
    col_mean = np.broadcast_to(X.mean(axis=0), Xm.shape)
    np.testing.assert_allclose(out[noise_miss], col_mean[noise_miss])  # the training mean, whatever the class
    w = imp.class_weights(Xm)
    assert (imp.classes_[w.argmax(axis=1)] == yq).all()


def test_without_labels_it_is_median_imputation():
    X, _, _ = _planted()
    X[0, 3] = np.nan
    Xq = X[:5].copy()
    Xq[:, :10] = np.nan
    a = CentroidImputer().fit(X).transform(Xq)
    b = SimpleImputer(strategy="median").fit(X).transform(Xq)
    np.testing.assert_allclose(a, b)


def test_pipeline_option_and_accuracy_at_low_coverage():
    """A 3-class pipeline with impute='centroid' keeps its accuracy with 60 % of the CpGs missing."""
    X, y, _ = _planted(n_per=20, seed=3)
    Xq, yq, _ = _planted(n_per=10, seed=4)
    cols = [f"cg{i:05d}" for i in range(X.shape[1])]
    rng = np.random.default_rng(5)
    Xq = Xq.copy()
    Xq[rng.random(Xq.shape) < 0.6] = np.nan
    est = make_pipeline("logreg", n_features=200, impute="centroid", calibrate=None).fit(
        pd.DataFrame(X, columns=cols), y)
    assert est.base_pipeline_.named_steps["impute"].__class__ is CentroidImputer
    acc = np.mean(est.predict(pd.DataFrame(Xq, columns=cols)) == yq)
    assert acc >= 0.95
    with pytest.raises(ConfigError, match="centroid"):
        make_pipeline("logreg", impute="knn")
