"""Decisions: thresholded calls with "no_match", conformal prediction sets, out-of-distribution flags.

References: hand-computed calls; the finite-sample guarantee of split conformal prediction
(1 − α ≤ coverage ≤ 1 − α + 1/(n+1) in expectation; Vovk 2005, Angelopoulos & Bates 2021) checked by simulation
with labels drawn from known probabilities; a brute-force ``scipy.spatial.distance.cdist`` implementation of
the kNN distance score; and, on the real medulloblastoma cohort, a subgroup left out of training (planted
truth: none of its samples belongs to any training class).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist
from sklearn.model_selection import train_test_split

from methylclass.errors import ConfigError, DataError
from methylclass.models import (
    NO_MATCH,
    ConformalClassifier,
    KNNDistanceOOD,
    decide,
    format_sets,
    make_pipeline,
    set_coverage,
    set_sizes,
)
from methylclass.models.decision import conformal_quantile

CLASSES = np.array(["A", "B", "C"], dtype=object)


def test_decide_by_hand():
    """Threshold, per-class thresholds, OOD mask and DataFrame input give the hand-computed calls."""
    P = np.array([[0.95, 0.03, 0.02], [0.50, 0.45, 0.05], [0.05, 0.10, 0.85], [0.02, 0.93, 0.05]])
    assert decide(P, CLASSES).tolist() == ["A", NO_MATCH, NO_MATCH, "B"]
    assert decide(P, CLASSES, per_class={"C": 0.8}).tolist() == ["A", NO_MATCH, "C", "B"]
    assert decide(P, CLASSES, threshold=0.0).tolist() == ["A", "A", "C", "B"]
    ood = np.array([False, False, False, True])
    assert decide(P, CLASSES, ood=ood).tolist() == ["A", NO_MATCH, NO_MATCH, NO_MATCH]
    df = pd.DataFrame(P, columns=[f"proba_{c}" for c in CLASSES])
    assert decide(df).tolist() == ["A", NO_MATCH, NO_MATCH, "B"]
    with pytest.raises(ConfigError, match="unknown classes"):
        decide(P, CLASSES, per_class={"D": 0.5})
    with pytest.raises(DataError, match="NaN"):
        decide(np.where(P > 0.9, np.nan, P), CLASSES)
    with pytest.raises(DataError, match="3 classes"):
        decide(P[:, :2], CLASSES)


def _simulate(rng, n, k=3, concentration=0.6):
    """Probabilities from a Dirichlet and labels drawn from them (a perfectly calibrated model)."""
    P = rng.dirichlet(np.full(k, concentration), size=n)
    u = rng.random(n)[:, None]
    y = (u > np.cumsum(P, axis=1)).sum(axis=1)
    return P, CLASSES[np.minimum(y, k - 1)]


@pytest.mark.parametrize("score", ["lac", "aps"])
@pytest.mark.parametrize("mode", ["split", "class_conditional"])
def test_conformal_coverage_guarantee(score, mode):
    """Over 300 simulated calibration/test splits (n_cal = 150), mean coverage lies in
    [1 − α − 0.01, 1 − α + 1/(n+1) + 0.01]; class-conditional mode also covers every class."""
    rng = np.random.default_rng(0)
    alpha, n_cal, n_test, reps = 0.1, 150, 200, 300
    cover, per_class = [], {c: [] for c in CLASSES}
    for _ in range(reps):
        Pc, yc = _simulate(rng, n_cal)
        Pt, yt = _simulate(rng, n_test)
        sets = ConformalClassifier(score, mode).fit(Pc, yc, CLASSES).predict_sets(Pt, alpha)
        cover.append(set_coverage(sets, yt, CLASSES))
        for c in CLASSES:
            per_class[c].append(set_coverage(sets[yt == c], yt[yt == c], CLASSES))
    mean = float(np.mean(cover))
    upper = 1 - alpha + (1 / (n_cal + 1) if mode == "split" else 1 / (n_cal / 3 + 1))
    assert 1 - alpha - 0.01 <= mean <= upper + 0.01
    if mode == "class_conditional":
        for c in CLASSES:
            assert np.mean(per_class[c]) >= 1 - alpha - 0.015


def test_pvalues_agree_with_sets():
    """Class k is in the 1 − α set exactly when its conformal p-value exceeds α (two independent code paths)."""
    rng = np.random.default_rng(1)
    Pc, yc = _simulate(rng, 97)
    Pt, _ = _simulate(rng, 500)
    for mode in ("split", "class_conditional"):
        cc = ConformalClassifier("lac", mode).fit(Pc, yc, CLASSES)
        for alpha in (0.05, 0.1, 0.2):
            np.testing.assert_array_equal(cc.predict_sets(Pt, alpha), cc.pvalues(Pt) > alpha)


def test_quantile_and_helpers():
    """The ⌈(n+1)(1−α)⌉-th order statistic, +inf when n is too small; set sizes and formatting."""
    s = np.arange(1, 20, dtype=float)  # n = 19 → rank ⌈20 · 0.9⌉ = 18
    assert conformal_quantile(s, 0.1) == 18.0
    assert conformal_quantile(s[:5], 0.1) == np.inf
    sets = np.array([[True, False, True], [False, False, False]])
    assert set_sizes(sets).tolist() == [2, 0]
    assert format_sets(sets, CLASSES) == ["A|C", ""]
    df = pd.DataFrame([[0.2, 0.7, 0.1]], columns=["C", "A", "B"])  # columns in another order
    cc = ConformalClassifier().fit(np.eye(3)[[0, 1, 2, 0]] * 0.8 + 0.2 / 3, ["A", "B", "C", "A"], CLASSES)
    np.testing.assert_array_equal(cc.predict_sets(df, 0.5), cc.predict_sets(np.array([[0.7, 0.1, 0.2]]), 0.5))
    with pytest.raises(ConfigError):
        ConformalClassifier(score="raps")


def test_knn_ood_matches_bruteforce_and_false_flag_rate():
    """kNN score = mean of the k smallest cdist distances (training LOO excludes self); on held-out
    in-distribution data the calibrated flag rate is ≈ α, a far cluster is flagged entirely."""
    rng = np.random.default_rng(2)
    train, cal, test = rng.normal(size=(300, 6)), rng.normal(size=(300, 6)), rng.normal(size=(2000, 6))
    ood = KNNDistanceOOD(k=5).fit(train)
    d = np.sort(cdist(test[:50], train), axis=1)[:, :5].mean(axis=1)
    np.testing.assert_allclose(ood.score(test[:50]), d)
    loo = np.sort(np.sort(cdist(train, train), axis=1)[:, 1:6].mean(axis=1))
    np.testing.assert_allclose(ood.train_scores_, loo)
    ood.calibrate(cal)
    assert ood.reference_ == "calibration"
    assert abs(ood.flag(test, 0.05).mean() - 0.05) < 0.025
    far = rng.normal(loc=4.0, size=(100, 6))
    assert ood.flag(far, 0.05).all()
    with pytest.raises(DataError, match="NaN"):
        ood.score(np.full((1, 6), np.nan))
    with pytest.raises(DataError, match="columns"):
        ood.score(np.zeros((1, 5)))


@pytest.mark.parametrize("held_out", ["WNT", "SHH"])
def test_held_out_subgroup_is_flagged(held_out, mb):
    """Leave one medulloblastoma subgroup out of training: ≥ 80 % of its samples come out "no_match"
    (threshold 0.9 + kNN OOD at α = 0.05), while held-out in-distribution samples keep conformal coverage
    ≥ 0.9 − 0.08 at α = 0.1, lose ≤ 30 % to no_match (Group 3/4 overlap) and are ≥ 95 % correct when called."""
    X, y = mb
    novel = y == held_out
    Xi, yi = X[~novel], y[~novel]
    Xtr, Xrest, ytr, yrest = train_test_split(Xi, yi, test_size=0.5, stratify=yi, random_state=0)
    Xcal, Xte, ycal, yte = train_test_split(Xrest, yrest, test_size=0.5, stratify=yrest, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = make_pipeline("logreg", n_features=400).fit(Xtr, ytr)
    conformal = ConformalClassifier("lac", "class_conditional").fit(clf.predict_proba(Xcal), ycal, clf.classes_)
    ood = KNNDistanceOOD(k=5).fit(clf.transform_selected(Xtr)).calibrate(clf.transform_selected(Xcal))

    def call(Xs):
        P = clf.predict_proba(Xs)
        flags = ood.flag(clf.transform_selected(Xs), alpha=0.05)
        return decide(P, clf.classes_, threshold=0.9, ood=flags), conformal.predict_sets(P, alpha=0.1)

    novel_calls, _ = call(X[novel])
    assert (novel_calls == NO_MATCH).mean() >= 0.8
    calls, sets = call(Xte)
    assert set_coverage(sets, yte, clf.classes_) >= 0.82
    called = calls != NO_MATCH
    assert called.mean() >= 0.7
    assert (calls[called] == yte[called]).mean() >= 0.95


def _profile_cohort(rng, n_per_class=12, n_cpg=20_000, n_dmp=200, classes="ABCD"):
    """Planted truth: background betas with Beta noise; each class shifts its own ``n_dmp`` CpGs by 0.4."""
    base = rng.uniform(0.05, 0.95, n_cpg)
    rows, labels = [], []
    for k, c in enumerate(classes):
        mean = base.copy()
        dmp = np.arange(k * n_dmp, (k + 1) * n_dmp)
        mean[dmp] = np.where(mean[dmp] < 0.5, mean[dmp] + 0.4, mean[dmp] - 0.4)
        for _ in range(n_per_class):
            purity = rng.uniform(0.6, 0.95)
            m = purity * mean + (1 - purity) * base
            rows.append(np.clip(rng.beta(m * 60, (1 - m) * 60), 0, 1))
            labels.append(c)
    cols = [f"cg{i:08d}" for i in range(n_cpg)]
    return pd.DataFrame(np.asarray(rows, np.float32), columns=cols), np.asarray(labels, dtype=object)


def test_profile_ood_flags_an_unseen_class_and_not_held_out_known_samples():
    """ProfileOOD on planted data: the panel is the most variable CpGs (the classes' DMPs among them); every
    sample of a class absent from training gets the smallest p-value, held-out samples of the trained classes
    look like the cross-fitted training references (few flagged)."""
    from methylclass.models.decision import ProfileOOD

    X, y = _profile_cohort(np.random.default_rng(0))
    known = y != "D"
    train = known & (np.arange(len(y)) % 12 < 9)
    test_known = known & ~train
    ood = ProfileOOD(max_features=2_000).fit(X[train], y[train])
    assert len(ood.features_) == 2_000
    dmps = {f"cg{i:08d}" for i in range(600)}  # the DMPs of A, B, C
    assert len(dmps & set(ood.features_)) >= 580
    level = 2.0 / (len(ood.train_scores_) + 1)
    p_unseen = ood.pvalue(X[y == "D"])
    assert (p_unseen <= level).all(), p_unseen
    p_known = ood.pvalue(X[test_known])
    assert (p_known <= level).mean() <= 0.2, p_known
