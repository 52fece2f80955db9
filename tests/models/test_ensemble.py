"""``ensemble`` in the model zoo: soft voting of calibrated members and stacking (meta-learner on inner
out-of-fold probabilities). Leakage on noise labels is covered in ``test_leakage.py``."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from methylclass.errors import ConfigError
from methylclass.models import (
    EnsembleClassifier,
    available_models,
    hash_training_data,
    load_bundle,
    make_pipeline,
    save_bundle,
)
from tests.models.conftest import brier_multiclass, make_blobs_table

MEMBERS = {"logreg": {"balance": "class_weight"}, "svm": {"balance": "class_weight", "C": 0.1},
           "rf": {"n_estimators": 60}}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_ensemble_is_registered():
    assert "ensemble" in available_models()


@pytest.mark.parametrize("combine", ["soft", "geometric", "stack"])
def test_ensemble_probabilities_and_members(combine):
    X, y = make_blobs_table(n_per_class=(30, 20, 12), shift=0.3)
    est = make_pipeline("ensemble", n_features=40, calibrate=None, members=MEMBERS, combine=combine).fit(X, y)
    model = est.final_estimator_
    assert isinstance(model, EnsembleClassifier)
    P = est.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-9)
    parts = model.member_proba(est.transform_selected(X))
    assert sorted(parts) == sorted(MEMBERS)
    if combine == "soft":  # the soft vote is the plain mean of the calibrated members
        np.testing.assert_allclose(P, np.mean(list(parts.values()), axis=0), atol=1e-12)
    if combine == "geometric":  # the log pool: normalised geometric mean of the calibrated members
        G = np.exp(np.mean([np.log(np.clip(p, 1e-6, 1)) for p in parts.values()], axis=0))
        np.testing.assert_allclose(P, G / G.sum(axis=1, keepdims=True), atol=1e-12)


def test_log_pool_is_sharper_than_the_mean_when_members_agree():
    """Two calibrated members agreeing on a class at 0.93 and 0.88: the mean is 0.905, the log pool keeps the
    agreement (0.93·0.88)^½ / ((0.93·0.88)^½ + (0.07·0.12)^½) = 0.909…; a class one member rules out stays low."""
    class Fixed:
        def __init__(self, p):
            self.p = np.asarray([p])

        def predict_proba(self, X):
            return np.repeat(self.p, len(X), axis=0)

    ens = EnsembleClassifier([("a", None), ("b", None)], combine="geometric")
    ens.members_ = [("a", Fixed([0.93, 0.07])), ("b", Fixed([0.88, 0.12]))]
    ens.classes_ = np.array(["x", "y"])
    p = ens.predict_proba(np.zeros((1, 1)))[0, 0]
    g, h = np.sqrt(0.93 * 0.88), np.sqrt(0.07 * 0.12)
    assert p == pytest.approx(g / (g + h)) and p > (0.93 + 0.88) / 2
    ens.members_ = [("a", Fixed([0.6, 0.4])), ("b", Fixed([1e-9, 1.0]))]
    assert ens.predict_proba(np.zeros((1, 1)))[0, 0] < 0.01  # vs 0.3 for the mean


def test_member_scale_and_search_are_fitted_with_the_member():
    """A member's ``scale`` puts that step in front of it alone; its ``search`` tunes it on the data it is fitted
    on (here: inside the member's calibration folds and on the full training set)."""
    from sklearn.pipeline import Pipeline

    from methylclass.models import MethylClassifier

    X, y = make_blobs_table(n_per_class=(30, 20, 12), shift=0.3)
    est = make_pipeline("ensemble", n_features=40, calibrate=None, combine="geometric",
                        members={"lda": {}, "knn": {"scale": "mvalue_standard",
                                                    "search": {"space": {"n_neighbors": [3, 7]}}},
                                 "logreg": {"scale": "standard"}}).fit(X, y)
    members = dict(est.final_estimator_.members_)
    assert type(members["lda"].estimator_).__name__ == "LinearDiscriminantAnalysis"
    knn = members["knn"].estimator_
    assert isinstance(knn, MethylClassifier) and knn.best_params_["n_neighbors"] in (3, 7)
    assert est.best_params_ == {"knn.n_neighbors": knn.best_params_["n_neighbors"]}  # → params.csv in a run
    assert [n for n, _ in knn.base_pipeline_.steps] == ["mvalue", "scale", "model"]
    assert isinstance(members["logreg"].estimator_, Pipeline)
    assert [n for n, _ in members["logreg"].estimator_.steps] == ["scale", "model"]


def test_ensemble_out_of_fold_brier_not_worse_than_its_worst_member():
    X, y = make_blobs_table(n_per_class=(30, 25, 20), shift=0.2, seed=3)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    classes = np.unique(y)
    scores = {}
    for name, kw in MEMBERS.items():
        kw = dict(kw)
        bal = kw.pop("balance", None)
        est = make_pipeline(name, n_features=40, balance=bal, **kw)
        scores[name] = brier_multiclass(cross_val_predict(est, X, y, cv=cv, method="predict_proba"), y, classes)
    for combine in ("soft", "stack"):
        ens = make_pipeline("ensemble", n_features=40, calibrate=None, members=MEMBERS, combine=combine)
        b = brier_multiclass(cross_val_predict(ens, X, y, cv=cv, method="predict_proba"), y, classes)
        assert b <= max(scores.values()) + 1e-9, (combine, b, scores)


def test_ensemble_bundle_round_trip(tmp_path):
    X, y = make_blobs_table(n_per_class=(20, 20, 20), shift=0.3)
    est = make_pipeline("ensemble", n_features=40, calibrate=None, combine="stack",
                        members={"logreg": {}, "rf": {"n_estimators": 20}}).fit(X, y)
    save_bundle(est, tmp_path / "b", classes=list(est.classes_), features=list(X.columns),
                training_hash=hash_training_data(X, y))
    again = load_bundle(tmp_path / "b")
    np.testing.assert_allclose(again.predict_proba(X).to_numpy(), est.predict_proba(X))


@pytest.mark.parametrize("kw", [{"combine": "hard"}, {"members": {"ensemble": {}}}, {"members": [3]},
                                {"members": {"logreg": {"balance": "smote"}}},
                                {"members": {"logreg": {"scale": "log"}}},
                                {"members": {"logreg": {"search": {"method": "bayes", "space": {"C": [1]}}}}}])
def test_bad_ensembles_are_config_errors(kw):
    with pytest.raises(ConfigError):
        make_pipeline("ensemble", calibrate=None, **kw)
