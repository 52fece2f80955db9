"""Leakage: selection, rebalancing and calibration are refitted inside every outer training fold.

Reference: pure-noise labels on random features (planted truth: nothing is learnable, chance = 1/3 for three
balanced classes). An honest nested CV must score at chance even with Boruta, SMOTE and ridge calibration on;
the classic leaks — selecting features on all rows first (Ambroise & McLachlan 2002) or SMOTE before the split —
score far above chance on the same data, which shows that the test can detect leakage at all.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from imblearn.over_sampling import SMOTE
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.model_selection import StratifiedKFold, cross_val_score

from methylclass.models import make_pipeline

CHANCE = 1 / 3


def _noise(seed: int, counts=(30, 30, 30), p: int = 400) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.random((sum(counts), p)), columns=[f"cg{i:05d}" for i in range(p)])
    y = np.array([c for c, n in zip("ABC", counts) for _ in range(n)], dtype=object)
    rng.shuffle(y)
    return X, y


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_noise_labels_chance_with_boruta_smote_ridge():
    """Boruta + SMOTE + ridge calibration inside a 3-fold outer CV: chance accuracy (< 1/3 + 0.12, about
    2.5 standard errors for n = 90); selecting the top-20 ANOVA CpGs on all rows first: ≥ 0.5 and ≥ 0.15 above."""
    X, y = _noise(seed=0)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    honest = make_pipeline("logreg", select="boruta", balance="smote", calibrate="ridge", inner_cv=2,
                           boruta_kwargs={"n_estimators": 20, "max_iter": 10, "min_features": 15,
                                          "prefilter": 100},
                           calibration_kwargs={"C": 1.0})
    acc_honest = cross_val_score(honest, X, y, cv=cv).mean()
    leaked_cols = X.columns[SelectKBest(f_classif, k=20).fit(X, y).get_support()]
    leaky = make_pipeline("logreg", select=None, balance="smote", calibrate="ridge", inner_cv=2,
                          calibration_kwargs={"C": 1.0})
    acc_leaky = cross_val_score(leaky, X[leaked_cols], y, cv=cv).mean()
    assert acc_honest < CHANCE + 0.12
    assert acc_leaky >= 0.5
    assert acc_leaky - acc_honest >= 0.15


def test_smote_inside_fold_versus_before_split():
    """Imbalanced noise labels: in-fold SMOTE gives chance balanced accuracy; SMOTE on all rows before the
    split puts synthetic neighbours of test samples into training and scores ≥ 0.7."""
    X, y = _noise(seed=1, counts=(50, 25, 15))
    cv = StratifiedKFold(3, shuffle=True, random_state=1)
    est = make_pipeline("rf", select=None, calibrate=None, balance="smote", n_estimators=100)
    honest = cross_val_score(est, X, y, cv=cv, scoring="balanced_accuracy").mean()
    Xs, ys = SMOTE(random_state=0).fit_resample(X, y)
    leaky = cross_val_score(est.set_params(balance=None), Xs, ys, cv=cv, scoring="balanced_accuracy").mean()
    assert honest < CHANCE + 0.12
    assert leaky >= 0.7


def test_noise_labels_chance_with_tuning_stacking_and_material_adjustment():
    """Issue 12's steps on pure-noise labels, each refitted inside the outer folds: an inner hyperparameter
    search, a stacked ensemble whose meta-learner sees inner out-of-fold probabilities, the log pool of
    calibrated LDA and a kNN member that tunes its k (scaled to M-values in-fold), and the material
    adjustment (a random covariate column) — all at chance (< 1/3 + 0.12). The contrast: tuning C on all rows
    with the outer test rows included scores its own training data, far above chance."""
    X, y = _noise(seed=2)
    cv = StratifiedKFold(3, shuffle=True, random_state=2)
    tuned = make_pipeline("logreg", n_features=200, inner_cv=2, calibration_kwargs={"C": 1.0},
                          search={"space": {"C": [0.01, 1.0, 100.0]}})
    stacked = make_pipeline("ensemble", n_features=200, calibrate=None, combine="stack", inner_cv=2,
                            members={"logreg": {}, "rf": {"n_estimators": 30}})
    pooled = make_pipeline("ensemble", n_features=200, calibrate=None, combine="geometric", inner_cv=2,
                           members={"lda": {}, "knn": {"scale": "mvalue_standard",
                                                       "search": {"space": {"n_neighbors": [3, 10]}}}})
    Xc = X.assign(cov_material=np.random.default_rng(2).choice(["FFPE", "Frozen"], size=len(X)))
    adjusted = make_pipeline("logreg", n_features=200, inner_cv=2, calibration_kwargs={"C": 1.0}, adjust=True)
    for name, est, data in (("tuned", tuned, X), ("stacked", stacked, X), ("pooled", pooled, X),
                            ("adjusted", adjusted, Xc)):
        acc = cross_val_score(est, data, y, cv=cv).mean()
        assert acc < CHANCE + 0.12, (name, acc)
    resub = make_pipeline("logreg", select=None, calibrate=None, C=100.0).fit(X, y).score(X, y)
    assert resub >= 0.9


def test_noise_labels_chance_with_scaled_cpgs_and_an_auto_weighted_cnv_block():
    """The new in-fold steps on pure-noise labels: M-values standardised with training-fold statistics and a CNV
    block weighted by the training fold's median CpG SD — both fitted per outer fold, accuracy at chance."""
    X, y = _noise(seed=3)
    X = X.assign(**{f"cnv_{j}": np.random.default_rng(3 + j).normal(size=len(X)) for j in range(10)})
    cv = StratifiedKFold(3, shuffle=True, random_state=3)
    est = make_pipeline("logreg", n_features=200, inner_cv=2, calibration_kwargs={"C": 1.0}, scale="mvalue_standard",
                        feature_blocks="cnv_", block_weight="auto")
    assert cross_val_score(est, X, y, cv=cv).mean() < CHANCE + 0.12
