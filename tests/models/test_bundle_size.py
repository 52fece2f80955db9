"""Bundle size: a bundle holds what prediction needs and no more.

Reference: the 43 MB bundle of issue 10 (4-class logistic regression on 2,068 used CpGs). The cause was
per-training-column attributes (``feature_names_in_`` of the classifier, calibrator and selector; selector
variances and mask) serialised element by element in skops' JSON schema — 98 MB for 100,000 training columns.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from methylclass.models import load_bundle, make_pipeline, save_bundle


def test_wide_training_table_gives_a_small_bundle_with_identical_predictions(tmp_path):
    rng = np.random.default_rng(0)
    n, p = 48, 30_000
    X = pd.DataFrame(rng.random((n, p), dtype=np.float32), columns=[f"cg{i:08d}" for i in range(p)])
    y = np.repeat(list("ABCD"), n // 4)
    X.iloc[:12, :50] += 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = make_pipeline("logreg", n_features=2068).fit(X, y)
    path = save_bundle(clf, tmp_path / "b", classes=clf.classes_, features=list(X.columns), training_hash="h",
                       training_X=X)
    size = sum(f.stat().st_size for f in path.iterdir())
    assert size < 1_500_000, size  # was ~30 MB for these 30,000 columns
    b = load_bundle(path)
    assert len(b.card["features"]) == 2068 and b.card["n_training_features"] == p
    new = pd.DataFrame(rng.random((5, p)), columns=X.columns)
    np.testing.assert_array_equal(b.predict_proba(new).to_numpy(), clf.predict_proba(new))
