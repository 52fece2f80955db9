"""MedianImputer against scikit-learn's SimpleImputer(strategy="median"): the reference it must equal."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.impute import SimpleImputer

from methylclass.models.impute import MedianImputer


@pytest.mark.parametrize("n", [1, 2, 5, 6, 51, 600, 601])
def test_statistics_and_output_bit_identical_to_sklearn(n):
    """Odd and even sample counts, ties, complete data (fast path) and data with NaN / all-NaN columns
    (scikit-learn's own path): statistics_ and transform() equal SimpleImputer's exactly."""
    rng = np.random.default_rng(n)
    X = rng.beta(0.5, 0.5, (n, 300))
    X[:, :20] = np.round(X[:, :20], 1)  # ties
    for data in (X, np.where(rng.random(X.shape) < 0.05, np.nan, X)):
        data = data.copy()
        if np.isnan(data).any():
            data[:, 5] = np.nan
        ref = SimpleImputer(strategy="median", keep_empty_features=True).fit(data)
        ours = clone(MedianImputer()).fit(data)
        assert np.array_equal(ref.statistics_, ours.statistics_, equal_nan=True)
        assert np.array_equal(ref.transform(data), ours.transform(data), equal_nan=True)


def test_pipeline_uses_it_and_predictions_unchanged():
    """make_pipeline's median imputation is a MedianImputer; the same calibrated pipeline with scikit-learn's
    imputer swapped back in gives the same probabilities bit for bit."""
    import pandas as pd

    from methylclass.models import make_pipeline
    from methylclass.models.calibration import RidgeCalibratedClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.beta(0.5, 0.5, (60, 50)), columns=[f"cg{i:04d}" for i in range(50)])
    y = np.repeat(["a", "b", "c"], 20)
    X.iloc[:20, :5] += 0.3
    ours = make_pipeline("logreg", n_features=30, inner_cv=2, random_state=0).build_base()
    assert sum(isinstance(s, MedianImputer) for _, s in ours.steps) == 1
    ref = clone(ours)
    ref.steps = [(n, SimpleImputer(strategy="median", keep_empty_features=True) if isinstance(s, MedianImputer)
                  else s) for n, s in ref.steps]
    a = RidgeCalibratedClassifier(ours, inner_cv=2, random_state=0).fit(X, y).predict_proba(X)
    b = RidgeCalibratedClassifier(ref, inner_cv=2, random_state=0).fit(X, y).predict_proba(X)
    assert np.array_equal(a, b)
