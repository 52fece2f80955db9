"""The pipeline builder: structure, CNV feature block, option validation and scikit-learn composability.

References: the planted structure of the inputs (which columns are CNV features, their training mean/SD),
``sklearn.base.clone`` / ``get_params`` semantics, and an independent StandardScaler fitted by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score

from methylclass.errors import ConfigError
from methylclass.models import MethylClassifier, make_pipeline


def _with_cnv(make_blobs, n_cnv=3):
    X, y = make_blobs(n_per_class=(25, 25), n_features=30, n_informative=0, seed=5)
    rng = np.random.default_rng(5)
    for j in range(n_cnv):  # low-variance copy-number features; the first carries the class signal
        X[f"cnv_{j}"] = rng.normal(0, 0.01, len(X)) + (0.05 * (y == "class_A") if j == 0 else 0)
    return X, y


def test_cnv_block_bypasses_selection_and_is_scaled(make_blobs):
    """``feature_blocks='cnv_'``: every CNV column survives variance selection (which would drop them) and
    enters the model standardised with the training mean and SD."""
    X, y = _with_cnv(make_blobs)
    plain = make_pipeline("logreg", n_features=5, calibrate=None).fit(X, y)
    assert not any(f.startswith("cnv_") for f in plain.selected_features_)
    clf = make_pipeline("logreg", n_features=5, calibrate=None, feature_blocks="cnv_").fit(X, y)
    names = list(clf.selected_features_)
    assert [n for n in names if n.startswith("cnv_")] == ["cnv_0", "cnv_1", "cnv_2"]
    assert sum(not n.startswith("cnv_") for n in names) == 5
    Z = pd.DataFrame(clf.transform_selected(X), columns=names)
    cnv = X[["cnv_0", "cnv_1", "cnv_2"]]
    np.testing.assert_allclose(Z[["cnv_0", "cnv_1", "cnv_2"]].to_numpy(),
                               ((cnv - cnv.mean()) / cnv.std(ddof=0)).to_numpy(), atol=1e-9)
    assert (clf.predict(X) == y).mean() > 0.9  # the signal lives in cnv_0 only
    assert make_pipeline("logreg", feature_blocks=True).fit(X, y).selected_features_[-1] == "cnv_2"


def test_feature_blocks_need_dataframe(make_blobs):
    """Without column names the CNV block cannot be found: ConfigError, not a cryptic failure."""
    X, y = _with_cnv(make_blobs)
    with pytest.raises(ConfigError, match="DataFrame"):
        make_pipeline("logreg", feature_blocks="cnv_").fit(X.to_numpy(), y)


def test_clone_params_and_set_params(make_blobs):
    """The classifier is an ordinary scikit-learn estimator: clone, get/set_params, cross_val_score."""
    X, y = make_blobs(n_per_class=(20, 20), n_features=20, n_informative=4, shift=0.4)
    est = make_pipeline("rf", n_features=10, balance="downsample", n_estimators=20, calibrate=None)
    params = est.get_params()
    assert params["model"] == "rf" and params["balance"] == "downsample"
    assert params["model_params"] == {"n_estimators": 20}
    twin = clone(est)
    assert twin.get_params() == params and twin is not est
    twin.set_params(model="logreg", balance=None, model_params=None)
    assert type(twin.fit(X, y).final_estimator_).__name__ == "LogisticRegression"
    scores = cross_val_score(est, X, y, cv=3)
    assert scores.mean() > 0.7


def test_numpy_input_and_nan(make_blobs):
    """Plain arrays work; missing betas are median-imputed with training statistics."""
    X, y = make_blobs(n_per_class=(20, 20), n_features=15, n_informative=4, shift=0.4)
    A = X.to_numpy().copy()
    A[0, 0] = np.nan
    clf = make_pipeline("svm", n_features=10, calibrate=None).fit(A, y)
    assert clf.selected_features_[0].startswith("x")
    B = A.copy()
    B[1, :] = np.nan
    assert np.isfinite(clf.predict_proba(B)).all()
    imputer = clf.base_pipeline_.named_steps["impute"]
    sel = clf.base_pipeline_.named_steps["variance"].get_support()
    np.testing.assert_allclose(imputer.statistics_, np.nanmedian(A[:, sel], axis=0))


@pytest.mark.parametrize("kwargs, message", [
    ({"select": "lasso"}, "unknown select"),
    ({"calibrate": "platt"}, "unknown calibrate"),
    ({"balance": "adasyn"}, "unknown balance"),
    ({"n_features": 0}, "n_features"),
    ({"inner_cv": 1}, "inner_cv"),
    ({"impute": "knn"}, "unknown impute"),
    ({"feature_blocks": [""]}, "feature_blocks"),
    ({"calibration_kwargs": {"alpha": 1}}, "calibration_kwargs"),
])
def test_bad_options(kwargs, message, make_blobs):
    """Each bad option is a one-line ConfigError naming it (at construction or, for calibrator options, fit)."""
    X, y = make_blobs(n_per_class=(10, 10), n_features=5)
    with pytest.raises(ConfigError, match=message):
        make_pipeline("logreg", **kwargs).fit(X, y)


def test_predict_before_fit_and_wrong_columns(make_blobs):
    """Unfitted use and mismatched feature names are refused by scikit-learn's validation."""
    from sklearn.exceptions import NotFittedError

    X, y = make_blobs(n_per_class=(10, 10), n_features=6)
    with pytest.raises(NotFittedError):
        MethylClassifier("logreg").predict(X)
    clf = make_pipeline("logreg", calibrate=None).fit(X, y)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(X.rename(columns={X.columns[0]: "cg_other"}))
