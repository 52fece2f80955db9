"""Out-of-bag scores of forests and the ``oob`` hyperparameter search.

References: scikit-learn's own ``oob_decision_function_`` (computed inside ``RandomForestClassifier.fit``) for a
bootstrapped forest; by definition for the balanced forest (a sample's score averages exactly the trees whose
sampler did not draw it); pure-noise labels for leakage (chance accuracy); a fresh fit of the chosen parameters
for the "no refit" shortcut (same seed → the same trees).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline as sk_pipeline
from sklearn.preprocessing import StandardScaler

from methylclass.errors import ConfigError
from methylclass.models import make_pipeline
from methylclass.models.oob import forest_oob_proba
from methylclass.models.tuning import run_oob_search

CHANCE = 1 / 3


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _table(seed: int = 0, shift: float = 1.0, counts=(30, 20, 10), p: int = 20):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.array(["a", "b", "c"], dtype=object), counts)
    X = rng.normal(size=(len(y), p)) + shift * (y == "a")[:, None] - shift * (y == "c")[:, None]
    return pd.DataFrame(X, columns=[f"cg{i:05d}" for i in range(p)]), y


def test_oob_equals_scikit_learn_oob_decision_function():
    X, y = _table()
    pipe = sk_pipeline(StandardScaler(), RandomForestClassifier(200, oob_score=True, random_state=0)).fit(X, y)
    np.testing.assert_allclose(forest_oob_proba(pipe[-1], pipe[:-1].transform(X)), pipe[-1].oob_decision_function_,
                               rtol=0, atol=1e-12)


def test_balanced_forest_oob_averages_only_trees_that_did_not_draw_the_sample():
    X, y = _table(counts=(40, 15, 6))
    est = make_pipeline("rf", n_features=20, balance="downsample", calibrate=None, n_estimators=60).fit(X, y)
    forest = est.base_pipeline_[-1]
    Xt = est.transform_selected(X)
    oob = forest_oob_proba(forest, Xt)
    i = int(np.flatnonzero(y == "c")[0])  # a minority sample: drawn by many trees
    trees = [t for t, s in zip(forest.estimators_, forest.samplers_, strict=True) if i not in s.sample_indices_]
    assert 0 < len(trees) < len(forest.estimators_)
    expected = np.mean([t.predict_proba(Xt[[i]])[0] for t in trees], axis=0)
    np.testing.assert_allclose(oob[i], expected, atol=1e-12)
    np.testing.assert_allclose(oob.sum(axis=1), 1.0)


def test_oob_search_keeps_the_chosen_forest_and_calibrates_on_its_oob_scores():
    X, y = _table(shift=0.6)
    space = {"max_features": ["sqrt", 0.5], "min_samples_leaf": [1, 5]}
    est = make_pipeline("rf", n_features=20, balance="downsample", n_estimators=80,
                        search={"method": "oob", "space": space}).fit(X, y)
    assert len(est.search_results_) == 4 and min(r["rank"] for r in est.search_results_) == 1
    best = next(r for r in est.search_results_ if r["rank"] == 1)
    assert est.best_params_ == {k: best[k] for k in space}
    # no refit: the kept forest is the one a fresh fit of the chosen parameters grows (same seed, same trees)
    fresh = make_pipeline("rf", n_features=20, balance="downsample", n_estimators=80, calibrate=None,
                          **est.best_params_).fit(X, y)
    np.testing.assert_array_equal(est.base_pipeline_.predict_proba(X), fresh.predict_proba(X))
    # the calibrator saw the out-of-bag log-probabilities of that forest
    oob = forest_oob_proba(fresh.final_estimator_, fresh.transform_selected(X))
    np.testing.assert_allclose(est.estimator_.oof_scores_, np.log(np.clip(oob, 1e-4, 1.0)))
    np.testing.assert_allclose(est.predict_proba(X).sum(axis=1), 1.0)


def test_oob_search_scores_planted_signal_above_noise():
    """Planted truth: max_features=1 on a table with 2 informative CpGs among 60 is worse than considering
    all CpGs at each split; the out-of-bag log loss must see it."""
    rng = np.random.default_rng(3)
    y = np.repeat(np.array(["a", "b"], dtype=object), 40)
    X = pd.DataFrame(rng.normal(size=(80, 60)), columns=[f"cg{i:05d}" for i in range(60)])
    X.iloc[:, :2] += 2.5 * (y == "a")[:, None]
    probe = make_pipeline("rf", n_features=60, calibrate=None, n_estimators=100)
    best, _, table, _, _ = run_oob_search(probe, X, y, {"method": "oob", "space": {"max_features": [1, 1.0]}})
    assert best == {"max_features": 1.0}, table


def test_oob_search_needs_a_bagged_forest():
    X, y = _table()
    est = make_pipeline("logreg", n_features=20, search={"method": "oob", "space": {"C": [0.1, 1.0]}})
    with pytest.raises(ConfigError, match="bagged forest"):
        est.fit(X, y)


def test_oob_search_on_noise_labels_stays_at_chance():
    """Leakage: tuning and calibration on out-of-bag scores inside each outer training fold score pure-noise
    labels at chance (< 1/3 + 0.12)."""
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.random((90, 200)), columns=[f"cg{i:05d}" for i in range(200)])
    y = np.repeat(np.array(list("ABC"), dtype=object), 30)
    rng.shuffle(y)
    est = make_pipeline("rf", n_features=200, balance="downsample", n_estimators=60,
                        search={"method": "oob", "space": {"max_features": ["sqrt", 0.3]}})
    acc = cross_val_score(clone(est), X, y, cv=StratifiedKFold(3, shuffle=True, random_state=5)).mean()
    assert acc < CHANCE + 0.12
