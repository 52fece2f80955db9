"""Hyperparameter search inside the training data (``make_pipeline(..., search=...)``).

Planted truth: on a table where only a few CpGs carry the classes, a ridge logistic regression with an absurdly
strong penalty (C = 1e-6) predicts the prior; the inner search must reject it. In a nested CV every outer fold
records the parameters its inner search chose.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold, cross_val_score

from methylclass.errors import ConfigError
from methylclass.models import candidate_grid, check_search, make_pipeline
from methylclass.tl.cv import nested_cv
from tests.models.conftest import make_blobs_table


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_search_rejects_a_useless_penalty_and_keeps_calibration():
    X, y = make_blobs_table(n_per_class=(30, 30, 30), shift=0.3)
    est = make_pipeline("logreg", n_features=40, search={"method": "grid", "space": {"C": [1e-6, 1.0]}})
    est.fit(X, y)
    assert est.best_params_ == {"C": 1.0}
    assert len(est.search_results_) == 2
    assert {r["C"]: r["rank"] for r in est.search_results_} == {1.0: 1, 1e-6: 2}
    # the chosen model is ridge-calibrated on inner out-of-fold scores of the chosen parameters
    assert est.estimator_.estimator_[-1].C == 1.0
    assert est.estimator_.oof_scores_.shape == (90, 3)
    np.testing.assert_allclose(est.predict_proba(X).sum(axis=1), 1.0)


def test_pipeline_options_and_halving_search():
    X, y = make_blobs_table(n_per_class=(30, 30, 30), shift=0.3)
    space = {"C": [1e-6, 0.1, 1.0], "pipeline.n_features": [5, 40]}
    est = make_pipeline("logreg", n_features=40, search={"method": "halving", "n_iter": 6, "space": space})
    est.fit(X, y)
    assert est.best_params_["C"] != 1e-6
    assert est.best_params_["pipeline.n_features"] in (5, 40)
    assert any("round" in r for r in est.search_results_)


def test_random_search_draws_n_iter_candidates():
    spec = {"method": "random", "n_iter": 3, "space": {"C": [0.01, 0.1, 1, 10, 100], "l1_ratio": [0.0, 0.5]}}
    cands = candidate_grid(spec, random_state=0)
    assert len(cands) == 3 and all(set(c) == {"C", "l1_ratio"} for c in cands)
    assert len(candidate_grid({**spec, "method": "grid"})) == 10


@pytest.mark.parametrize("bad", [{"method": "bayes", "space": {"C": [1]}}, {"space": {"C": 1}},
                                 {"space": {"C": [1]}, "oops": 1}])
def test_bad_search_blocks_are_config_errors(bad):
    with pytest.raises(ConfigError):
        check_search(bad)
    with pytest.raises(ConfigError):
        make_pipeline("logreg", search=bad)


def test_nested_cv_records_chosen_parameters_per_outer_fold():
    X, y = make_blobs_table(n_per_class=(24, 24, 24), shift=0.3)
    factory = lambda: make_pipeline("logreg", n_features=40,
                                    search={"space": {"C": [1e-6, 1.0]}})
    res = nested_cv(X, pd.Series(y, index=X.index), factory, outer=3, inner=3, n_jobs=1, progress=False)
    assert res.params is not None
    assert list(res.params.columns) == ["repeat", "fold", "C"]
    assert len(res.params) == 3 and (res.params["C"] == 1.0).all()


def test_tuned_pipeline_scores_like_default_on_easy_data():
    """Tuning must not break an easy problem (same outer folds, ≥ default − 0.05)."""
    X, y = make_blobs_table(n_per_class=(30, 30, 30), shift=0.3)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    tuned = make_pipeline("logreg", n_features=40, search={"space": {"C": [0.1, 1.0, 10.0]}})
    default = make_pipeline("logreg", n_features=40)
    assert cross_val_score(tuned, X, y, cv=cv).mean() >= cross_val_score(default, X, y, cv=cv).mean() - 0.05


@pytest.mark.parametrize("model,space", [("logreg", {"C": [0.05, 1.0, 20.0]}), ("svm", {"C": [0.01, 1.0]}),
                                         ("knn", {"n_neighbors": [3, 9]})])
def test_search_reuses_fold_models_for_the_calibrator_with_the_same_result(model, space, monkeypatch):
    """grid search + ridge calibration: the chosen candidate's inner models feed the calibrator, and the
    fitted classifier equals GridSearchCV's choice refitted with its own calibration inner CV."""
    from sklearn.base import clone

    from methylclass.models.calibration import RidgeCalibratedClassifier
    from methylclass.models.tuning import run_search

    reused = []
    original = RidgeCalibratedClassifier.fit

    def spy(self, X, y, oof_scores=None):
        reused.append(oof_scores is not None)
        return original(self, X, y, oof_scores=oof_scores)

    monkeypatch.setattr(RidgeCalibratedClassifier, "fit", spy)

    rng = np.random.default_rng(4)
    y = np.repeat(["a", "b", "c"], 20)
    X = pd.DataFrame(rng.normal(size=(60, 30)) + (y == "a")[:, None] * 0.8 - (y == "b")[:, None] * 0.5,
                     columns=[f"cg{i:05d}" for i in range(30)])
    search = {"method": "grid", "space": space}
    est = make_pipeline(model, n_features=30, inner_cv=3, random_state=0, search=search).fit(X, y)
    assert reused == [True]
    probe = clone(est).set_params(search=None, calibrate=None)
    best, params, table = run_search(probe, X, y, search, n_splits=3, random_state=0)
    assert est.best_params_ == best
    assert [r["mean_score"] for r in est.search_results_] == pytest.approx([r["mean_score"] for r in table],
                                                                           rel=1e-12)
    assert [r["rank"] for r in est.search_results_] == [r["rank"] for r in table]
    reference = clone(est).set_params(search=None, **params).build().fit(X, y)
    np.testing.assert_allclose(est.predict_proba(X), reference.predict_proba(X), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(est.estimator_.oof_scores_, reference.oof_scores_, rtol=1e-10, atol=1e-12)


def test_halving_search_scores_candidates_that_missed_a_class():
    """A halving search's first subsample of a many-class, imbalanced table leaves some classes out of inner
    training folds (the Heidelberg shape: 91 classes down to 5 samples). Those candidates predict fewer classes;
    their log loss is taken over every class (probability 0 for the unseen ones) instead of failing."""
    rng = np.random.default_rng(7)
    y = np.array(["big"] * 300 + [f"small{i}" for i in range(9) for _ in range(4)], dtype=object)
    X = pd.DataFrame(rng.normal(size=(len(y), 20)), columns=[f"cg{i:05d}" for i in range(20)])
    for i in range(9):
        X.loc[y == f"small{i}", f"cg{i:05d}"] += 3.0
    search = {"method": "halving", "n_iter": 3, "space": {"C": [0.01, 0.1, 1.0]}}
    est = make_pipeline("logreg", n_features=20, inner_cv=2, search=search).fit(X, y)
    first = [r for r in est.search_results_ if r.get("round") == 0]
    assert len(first) == 3 and all(np.isfinite(r["mean_score"]) for r in first)
    assert len(est.classes_) == 10
