"""Feature selectors: top-variance CpGs and Boruta.

References: pandas' ``DataFrame.var(ddof=0)`` (NaN-skipping) for the variance ranking; planted truth (a few
informative CpGs among noise) for Boruta; selection refitted on the training rows only (recomputed by hand).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from methylclass.models import BorutaSelector, VarianceSelector, make_pipeline
from methylclass.models.selectors import top_variance_indices


def test_variance_matches_pandas_with_nan():
    """The kept columns are the k largest pandas variances (NaN skipped); ties go to the earlier column."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.beta(0.5, 0.5, size=(40, 300)) * rng.uniform(0.1, 1, 300),
                     columns=[f"cg{i:05d}" for i in range(300)])
    X = X.mask(rng.random(X.shape) < 0.05)
    X["cg_allnan"] = np.nan
    sel = VarianceSelector(n_features=25).fit(X)
    expected = X.var(ddof=0).sort_values(ascending=False, kind="stable").index[:25]
    assert set(sel.get_feature_names_out()) == set(expected)
    assert "cg_allnan" not in set(sel.get_feature_names_out())
    np.testing.assert_allclose(sel.variances_[:300], X.var(ddof=0).to_numpy()[:300])
    tie = np.array([[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]])
    assert top_variance_indices(tie, 2).tolist() == [0, 1]


def test_variance_k_larger_than_p():
    """Asking for more CpGs than exist keeps them all."""
    X = np.random.default_rng(1).random((10, 7))
    assert VarianceSelector(n_features=100).fit(X).get_support().all()


def test_selection_uses_training_rows_only(make_blobs):
    """A pipeline fitted on a subset selects by the subset's variances, never the full table's."""
    X, y = make_blobs(n_per_class=(30, 30), n_features=50, n_informative=3, shift=0.3)
    X.iloc[:20, 40:] *= 3  # rows 0–19 make columns 40–49 highly variable
    sub = np.arange(20, 60)
    clf = make_pipeline("logreg", n_features=10, calibrate=None).fit(X.iloc[sub], y[sub])
    expected = X.iloc[sub].var(ddof=0).sort_values(ascending=False, kind="stable").index[:10]
    assert set(clf.selected_features_) == set(expected)
    full = X.var(ddof=0).sort_values(ascending=False, kind="stable").index[:10]
    assert set(full) != set(expected)


def _planted(n=80, p=150, k=5, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array(["a", "b"] * (n // 2), dtype=object)
    X = rng.normal(size=(n, p))
    X[:, :k] += np.where(y == "a", 1.5, -1.5)[:, None]
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(p)]), y


def test_boruta_finds_planted_features():
    """Boruta confirms the 5 planted informative features and almost nothing else."""
    X, y = _planted()
    sel = BorutaSelector(n_estimators=30, max_iter=20, prefilter=None, min_features=1, random_state=0).fit(X, y)
    chosen = set(sel.get_feature_names_out())
    assert {f"f{i}" for i in range(5)} <= chosen
    assert len(chosen - {f"f{i}" for i in range(5)}) <= 2
    assert sel.n_confirmed_ >= 5 and sel.n_iter_ >= 1


def test_boruta_prefilter_and_noise_fallback():
    """On pure noise Boruta confirms ~nothing; the selector still returns ``min_features`` columns, all from
    the variance pre-filter."""
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.random((40, 200)), columns=[f"f{i}" for i in range(200)])
    y = np.array(["a", "b"] * 20, dtype=object)
    sel = BorutaSelector(n_estimators=30, max_iter=15, prefilter=50, min_features=8, random_state=0).fit(X, y)
    assert sel.get_support().sum() == 8
    prefiltered = set(X.columns[top_variance_indices(X.to_numpy(), 50)])
    assert set(sel.get_feature_names_out()) <= prefiltered
    assert sel.n_confirmed_ <= 2


def test_boruta_in_pipeline(make_blobs):
    """``select='boruta'`` = variance pre-filter → median impute → Boruta; NaN input is accepted."""
    X, y = _planted(n=60, p=60)
    X.iloc[0, 0] = np.nan
    clf = make_pipeline("logreg", select="boruta", n_features=40, calibrate=None,
                        boruta_kwargs={"n_estimators": 30, "max_iter": 20, "min_features": 3}).fit(X, y)
    steps = [name for name, _ in clf.base_pipeline_.steps]
    assert steps == ["variance", "impute", "boruta", "model"]
    assert set(clf.selected_features_) >= {f"f{i}" for i in range(5)}
    assert clf.transform_selected(X).shape == (60, len(clf.selected_features_))


def test_bad_boruta_kwargs():
    """Misspelled Boruta options surface as ConfigError at fit."""
    from methylclass.errors import ConfigError

    X, y = _planted(n=20, p=10)
    with pytest.raises(ConfigError, match="boruta_kwargs"):
        make_pipeline("logreg", select="boruta", calibrate=None, boruta_kwargs={"trees": 3}).fit(X, y)
