"""Nested CV engine (methylclass.tl.cv) against scikit-learn's own CV, planted truths and the real MB set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline as sk_pipeline

from methylclass.errors import ConfigError, DataError
from methylclass.tl.cv import apply_rare_policy, min_class_size, nested_cv


@pytest.fixture(scope="module")
def toy():
    """150 samples × 20 features, 3 separable-ish classes with string labels and sample ids."""
    X, y = make_classification(n_samples=150, n_features=20, n_informative=6, n_classes=3, random_state=3)
    idx = pd.Index([f"S{i:03d}" for i in range(150)], name="sample")
    return pd.DataFrame(X, index=idx), pd.Series(np.array(["alpha", "beta", "gamma"])[y], index=idx)


class FitOnce(ClassifierMixin, BaseEstimator):
    """Stand-in that refuses a second ``fit`` on the same instance (proves a fresh clone per fold)."""

    def __init__(self, inner_cv=3):
        self.inner_cv = inner_cv

    def fit(self, X, y):
        if hasattr(self, "model_"):
            raise AssertionError("estimator fitted twice: folds must use clones")
        self.model_ = LogisticRegression(max_iter=500).fit(X, y)
        self.classes_ = self.model_.classes_
        self.seen_inner_ = self.inner_cv
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


def test_oof_equals_sklearn_cross_val_predict(toy):
    """Reference: sklearn cross_val_predict(method="predict_proba") with the same StratifiedKFold(shuffle,
    seed) gives the identical out-of-fold probabilities; every sample is predicted exactly once."""
    X, y = toy
    res = nested_cv(X, y, lambda: LogisticRegression(max_iter=500), outer=5, inner=None, seed=11, n_jobs=1,
                    progress=False)
    ref = cross_val_predict(LogisticRegression(max_iter=500), X, y.to_numpy(),
                            cv=StratifiedKFold(5, shuffle=True, random_state=11), method="predict_proba")
    np.testing.assert_allclose(res.proba.to_numpy(), ref, atol=1e-12)
    assert list(res.proba.index) == list(X.index) and res.classes == ["alpha", "beta", "gamma"]
    assert sorted(res.folds["repeat_0"].unique()) == [0, 1, 2, 3, 4]
    assert len(res.timings) == 5 and (res.timings["fit_seconds"] > 0).all()
    assert res.timings["n_test"].sum() == 150


def test_parallel_equals_serial_and_clones(toy):
    """n_jobs=2 (joblib processes) gives the same probabilities as n_jobs=1; a fit-once stand-in proves each
    fold fits a fresh clone; inner_cv is passed to the estimator."""
    X, y = toy
    a = nested_cv(X, y, FitOnce, outer=4, inner=2, n_jobs=1, progress=False)
    b = nested_cv(X, y, FitOnce(), outer=4, inner=2, n_jobs=2, progress=False)
    np.testing.assert_allclose(a.proba.to_numpy(), b.proba.to_numpy(), atol=1e-12)
    seen = {}

    def factory(inner_cv):
        seen["inner_cv"] = inner_cv
        return FitOnce(inner_cv=inner_cv)

    nested_cv(X, y, factory, outer=3, inner=4, n_jobs=1, progress=False)
    assert seen == {"inner_cv": 4}


def test_injected_map_fn_gets_picklable_fold_fits_and_equal_results(toy):
    """A custom ``map_fn`` (what the Spark backend injects) receives one picklable fit and the fold specs;
    running them in reverse order through a pickle round trip (as executors do) gives results identical to
    the default joblib backend, bit for bit."""
    import pickle

    X, y = toy
    calls = []

    def reverse_map(fit, tasks):
        calls.append(len(tasks))
        fit = pickle.loads(pickle.dumps(fit))  # shipped once, like a broadcast
        return [fit(pickle.loads(pickle.dumps(t))) for t in reversed(list(tasks))]

    a = nested_cv(X, y, lambda: LogisticRegression(max_iter=500), outer=4, inner=None, repeats=2, seed=5,
                  n_jobs=2, progress=False)
    b = nested_cv(X, y, lambda: LogisticRegression(max_iter=500), outer=4, inner=None, repeats=2, seed=5,
                  progress=False, map_fn=reverse_map)
    assert calls == [8]
    assert np.array_equal(a.proba.to_numpy(), b.proba.to_numpy())
    assert a.folds.equals(b.folds)
    assert list(b.timings["repeat"]) == [0, 0, 0, 0, 1, 1, 1, 1] and list(b.timings["fold"]) == [0, 1, 2, 3] * 2


def test_repeats_and_stratification(toy):
    """Repeats reshuffle the folds (seed, seed+1); the mean table is the average of the repeat tables; each
    outer test fold holds each class in proportion (±1 sample), as StratifiedKFold guarantees."""
    X, y = toy
    res = nested_cv(X, y, lambda: LogisticRegression(max_iter=500), outer=5, inner=None, repeats=3, seed=0,
                    n_jobs=1, progress=False)
    assert len(res.proba_repeats) == 3 and len(res.timings) == 15
    np.testing.assert_allclose(res.proba.to_numpy(), sum(p.to_numpy() for p in res.proba_repeats) / 3)
    assert not res.folds["repeat_0"].equals(res.folds["repeat_1"])
    counts = pd.crosstab(res.folds["repeat_0"], y)
    assert (counts.max() - counts.min()).max() <= 1
    ev = res.evaluate()
    assert "balanced_accuracy_sd" in ev.scalars and ev.scalars["balanced_accuracy_sd"] >= 0


def test_groups_never_split(toy):
    """With groups (e.g. patients), StratifiedGroupKFold keeps all samples of a group in one outer fold."""
    X, y = toy
    groups = pd.Series([f"P{i // 3}" for i in range(150)], index=X.index)
    res = nested_cv(X, y, lambda: LogisticRegression(max_iter=500), outer=5, inner=None, groups=groups,
                    n_jobs=1, progress=False)
    per_group = pd.DataFrame({"g": groups, "f": res.folds["repeat_0"]}).groupby("g")["f"].nunique()
    assert (per_group == 1).all()
    assert res.settings["grouped"]


def test_rare_class_policies(toy):
    """A class with 3 members under 5 outer folds: refuse names class and count; merge pools the rare
    classes into one label; drop removes their samples — each recorded in the report."""
    X, y = toy
    y = y.copy()
    y.iloc[:3] = "tiny"
    y.iloc[3:7] = "small"
    assert min_class_size(5, 3) == 5 and min_class_size(3, 3) == 3 and min_class_size(2, 3) == 4
    assert min_class_size(5, None) == 5
    with pytest.raises(ConfigError, match=r"'tiny' has 3.*'small' has 4"):
        nested_cv(X, y, LogisticRegression, outer=5, inner=3, progress=False)
    res = nested_cv(X, y, lambda: LogisticRegression(max_iter=500), outer=5, inner=None, rare="merge",
                    n_jobs=1, progress=False)
    assert "rare_merged" in res.classes and "tiny" not in res.classes
    assert (res.y.iloc[:7] == "rare_merged").all() and "merged" in res.rare.describe()
    res = nested_cv(X, y, lambda: LogisticRegression(max_iter=500), outer=5, inner=None, rare="drop",
                    n_jobs=1, progress=False)
    assert len(res.proba) == 143 and res.rare.dropped_samples == 7
    y2 = y.copy()
    y2.iloc[3:7] = "alpha"
    with pytest.raises(ConfigError, match="gives only 3 samples"):
        apply_rare_policy(y2, min_count=5, policy="merge")
    with pytest.raises(ConfigError, match="rare-class policy"):
        apply_rare_policy(y2, min_count=5, policy="keep")


def test_reduced_inner_folds_reported(toy):
    """A class of 5 under 5×3 CV has 4 ≥ 3 training members per outer fold (nothing to report); a class of 4
    under 3×3 CV keeps its samples but has only 2 training members per fold: listed under reduced_inner."""
    X, y = toy
    y = y.copy()
    y.iloc[:5] = "five"
    res = nested_cv(X, y, FitOnce, outer=5, inner=3, n_jobs=1, progress=False)
    assert res.rare.reduced_inner == {} and not res.rare.rare
    y.iloc[:5] = "alpha"
    y.iloc[:4] = "four"
    res = nested_cv(X, y, FitOnce, outer=3, inner=3, n_jobs=1, progress=False)
    assert res.rare.reduced_inner == {"four": 4} and "fewer inner folds" in res.rare.describe()


def test_bad_inputs(toy):
    """Missing labels, too few folds and a factory without predict_proba give methylclass errors."""
    X, y = toy
    with pytest.raises(DataError, match="labels do not cover"):
        nested_cv(X, y.iloc[:100], LogisticRegression, progress=False)
    with pytest.raises(ConfigError, match="outer folds"):
        nested_cv(X, y, LogisticRegression, outer=1, progress=False)
    with pytest.raises(ConfigError, match="lacks fit/predict_proba"):
        nested_cv(X, y, lambda: object(), inner=None, progress=False)


def test_leakage_supervised_selection_refit_per_fold():
    """Planted truth: pure-noise labels. Supervised selection inside the CV'd estimator gives chance balanced
    accuracy; the same selection done once on all samples before CV (the classic leak, Ambroise &
    McLachlan 2002) looks far better than chance — the engine refits every step per fold."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.random((90, 3000)))
    y = pd.Series(rng.choice(["a", "b", "c"], size=90))
    honest = nested_cv(X, y, lambda: sk_pipeline(SelectKBest(f_classif, k=20), LogisticRegression(max_iter=500)),
                       outer=5, inner=None, n_jobs=1, progress=False).evaluate()
    leaky_X = pd.DataFrame(SelectKBest(f_classif, k=20).fit_transform(X, y))
    leaky = nested_cv(leaky_X, y, lambda: LogisticRegression(max_iter=500), outer=5, inner=None, n_jobs=1,
                      progress=False).evaluate()
    assert honest.scalars["balanced_accuracy"] < 0.5
    assert leaky.scalars["balanced_accuracy"] > 0.6


def test_real_pipeline_noise_labels_give_chance():
    """Leakage check with the real make_pipeline (variance selection, SMOTE rebalancing, ridge calibration
    fitted on inner folds): pure-noise labels on noise betas give chance-level balanced accuracy."""
    from methylclass.models import make_pipeline

    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.random((90, 500)).astype(np.float32),
                     columns=[f"cg{i:08d}" for i in range(500)])
    y = pd.Series(rng.choice(["a", "b", "c"], size=90, p=[0.5, 0.3, 0.2]))
    res = nested_cv(X, y, lambda: make_pipeline("logreg", n_features=100, balance="smote"), outer=3, inner=3,
                    n_jobs=1, progress=False)
    ev = res.evaluate()
    assert ev.scalars["balanced_accuracy"] < 0.5
    assert ev.scalars["classifiable"] < 0.2  # calibrated scores stay low: almost everything is "no match"


@pytest.mark.parametrize("model,outer", [("logreg", 3), ("svm", 5)])
def test_real_mb_set_reduced_setting(mb_small, model, outer):
    """Real data (GSE85212 medulloblastoma, 341 × 399), reduced CI setting with the real make_pipeline and
    ridge calibration on 3 inner folds: the two fast models reach the issue's done-means thresholds,
    balanced accuracy ≥ 0.97 and multiclass Brier ≤ 0.06 (logreg already at 3 × 3; the linear SVM needs
    5 outer folds: 0.969 at 3 × 3, 0.973 at 5 × 3). The five-model 5 × 3 run is pipelines/benchmark.py."""
    from methylclass.models import make_pipeline

    X, y = mb_small
    res = nested_cv(X, y, lambda: make_pipeline(model, balance="class_weight"), outer=outer, inner=3, n_jobs=1,
                    progress=False)
    s = res.evaluate().scalars
    assert s["balanced_accuracy"] >= 0.97
    assert s["brier"] <= 0.06
    assert s["auc_hand_till"] >= 0.99 and s["ece"] <= 0.05


def test_cross_fold_conformal_sets(toy):
    """Conformal sets from out-of-fold probabilities: coverage close to the requested 90 % (split conformal
    guarantee ≥ 1 − α on exchangeable samples), and the sets of fold f do not depend on fold f's own labels
    (relabelling fold 0 leaves its sets unchanged): the calibration never sees the samples it covers."""
    X, y = toy
    res = nested_cv(X, y, lambda: LogisticRegression(max_iter=500), outer=5, inner=None, n_jobs=1,
                    progress=False)
    sets = res.conformal_sets(coverage=0.9)
    res.sets = sets
    s = res.evaluate().scalars
    assert 0.85 <= s["conformal_coverage"] <= 0.97 and 1.0 <= s["conformal_set_size"] < 3.0
    fold0 = (res.folds["repeat_0"] == 0).to_numpy()
    res.y = res.y.where(~fold0, "alpha")
    np.testing.assert_array_equal(res.conformal_sets(coverage=0.9).to_numpy()[fold0], sets.to_numpy()[fold0])
    cc = res.conformal_sets(coverage=0.9, mode="class_conditional")
    assert cc.shape == sets.shape
