"""Rebalancing acts inside ``fit`` and changes the class counts the base learner sees exactly as intended.

References: the class counts recorded by a spy model registered in the registry; the SMOTE definition
(synthetic samples lie on segments between two members of the same class; Chawla et al. 2002); the
mnp_training per-tree sample sizes ``sampsize = rep(min(table(y)), k)`` for RF down-sampling.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from imblearn.over_sampling import SMOTE

from methylclass.errors import ConfigError
from methylclass.models import AdaptiveSMOTE, make_pipeline
from methylclass.models.rebalance import check_balance

COUNTS = (30, 20, 10)


@pytest.mark.parametrize("balance, expected", [
    (None, {"class_A": 30, "class_B": 20, "class_C": 10}),
    ("oversample", {"class_A": 30, "class_B": 30, "class_C": 30}),
    ("undersample", {"class_A": 10, "class_B": 10, "class_C": 10}),
    ("smote", {"class_A": 30, "class_B": 30, "class_C": 30}),
    ("class_weight", {"class_A": 30, "class_B": 20, "class_C": 10}),
])
def test_counts_seen_by_model(balance, expected, spy_model, make_blobs):
    """The spy's recorded counts equal the intended rebalanced counts; class weights reach the model."""
    X, y = make_blobs(n_per_class=COUNTS, n_features=12)
    make_pipeline("spy", select=None, calibrate=None, balance=balance).fit(X, y)
    assert spy_model[-1]["counts"] == expected
    assert spy_model[-1]["class_weight"] == ("balanced" if balance == "class_weight" else None)


def test_rebalancing_repeated_in_every_inner_fit(spy_model, make_blobs):
    """With ridge calibration each inner-fold fit and the final refit are oversampled on their own data:
    every recorded fit is balanced, inner fits see 2/3 of the data, the refit the full majority count."""
    X, y = make_blobs(n_per_class=COUNTS, n_features=12)
    make_pipeline("spy", select=None, calibrate="ridge", inner_cv=3, balance="oversample",
                  calibration_kwargs={"C": 1.0}).fit(X, y)
    assert len(spy_model) == 4
    for rec in spy_model:
        assert len(set(rec["counts"].values())) == 1
    assert [rec["counts"]["class_A"] for rec in spy_model] == [20, 20, 20, 30]


def _distance_to_segments(points: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Distance of each point to the nearest segment joining two members (brute force, reference)."""
    a = members[:, None, :]
    b = members[None, :, :]
    ab = (b - a).reshape(-1, members.shape[1])
    a = np.broadcast_to(a, (len(members), len(members), members.shape[1])).reshape(-1, members.shape[1])
    out = np.empty(len(points))
    for i, p in enumerate(points):
        denom = np.maximum((ab * ab).sum(1), 1e-300)
        t = np.clip(((p - a) * ab).sum(1) / denom, 0, 1)
        out[i] = np.sqrt((((a + t[:, None] * ab) - p) ** 2).sum(1)).min()
    return out


def test_smote_samples_on_class_segments(spy_model, make_blobs):
    """Every synthetic sample lies on a segment between two training members of its own class."""
    X, y = make_blobs(n_per_class=COUNTS, n_features=6, seed=4)
    clf = make_pipeline("spy", select=None, calibrate=None, balance="smote").fit(X, y)
    spy = clf.final_estimator_
    rows, labels = spy.fit_rows_, spy.fit_labels_
    np.testing.assert_array_equal(rows[: len(X)], X.to_numpy())  # originals first, untouched
    for cls in ("class_B", "class_C"):
        synth = rows[len(X):][labels[len(X):] == cls]
        assert len(synth) == 30 - dict(zip(("class_A", "class_B", "class_C"), COUNTS))[cls]
        assert _distance_to_segments(synth, X.to_numpy()[y == cls]).max() < 1e-9


def test_adaptive_smote_small_classes(make_blobs):
    """A 3-member class breaks plain SMOTE (k=5) but not AdaptiveSMOTE (k shrinks to 2); a single member is
    duplicated with a warning naming it."""
    X, y = make_blobs(n_per_class=(20, 3), n_features=5)
    with pytest.raises(ValueError):
        SMOTE(random_state=0).fit_resample(X.to_numpy(), y)
    sm = AdaptiveSMOTE(random_state=0)
    Xr, yr = sm.fit_resample(X.to_numpy(), y)
    assert sm.k_neighbors_used_ == {"class_B": 2}
    assert (yr == "class_B").sum() == 20
    X1, y1 = make_blobs(n_per_class=(10, 1), n_features=5)
    with pytest.warns(UserWarning, match="class_B"):
        Xr, yr = AdaptiveSMOTE(random_state=0).fit_resample(X1.to_numpy(), y1)
    np.testing.assert_array_equal(Xr[yr == "class_B"], np.repeat(X1.to_numpy()[y1 == "class_B"], 10, axis=0))


def test_rf_downsample_per_tree(make_blobs):
    """``balance='downsample'``: every tree is grown on min-class-count members of each class (Capper 2018)."""
    X, y = make_blobs(n_per_class=COUNTS, n_features=10)
    clf = make_pipeline("rf", select=None, calibrate=None, balance="downsample", n_estimators=15).fit(X, y)
    forest = clf.final_estimator_
    assert type(forest).__name__ == "BalancedRandomForestClassifier"
    assert len(forest.samplers_) == 15
    for sampler in forest.samplers_:
        drawn = y[sampler.sample_indices_]
        labels, counts = np.unique(drawn, return_counts=True)
        assert dict(zip(labels, counts)) == {"class_A": 10, "class_B": 10, "class_C": 10}


def test_balance_option_errors():
    """Unknown options are ConfigErrors listing the valid ones."""
    with pytest.raises(ConfigError, match="oversample.*smote"):
        check_balance("adasyn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_balance("None") is None
