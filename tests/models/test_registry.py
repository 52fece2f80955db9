"""The model registry: every built-in model fits and predicts string labels; names, errors and registration.

References: the labels themselves (string classes in → the same strings out, probabilities summing to 1) and a
planted signal (a few informative CpGs) that every model must pick up well above chance.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import train_test_split

from methylclass.errors import ConfigError
from methylclass.models import (
    MODELS,
    XGBLabelClassifier,
    available_models,
    build_model,
    make_pipeline,
    register_model,
)

BUILT_IN = ["enet", "knn", "lda", "logreg", "mlp", "rf", "svm", "svm_rbf", "xgb"]
TINY = {"rf": {"n_estimators": 50}, "xgb": {"n_estimators": 50}, "mlp": {"max_iter": 300}}


def test_builtin_names():
    """All models of the issue are registered (``enet`` is the elastic-net entry)."""
    assert set(BUILT_IN) <= set(available_models())
    assert available_models() == sorted(MODELS)


@pytest.mark.parametrize("name", BUILT_IN)
@pytest.mark.parametrize("calibrate", [None, "ridge"])
def test_model_fits_string_labels(name, calibrate, make_blobs):
    """Each model, bare and ridge-calibrated, returns the original string classes and beats chance clearly on
    a planted signal (reference: the known informative CpGs; chance = 1/3)."""
    X, y = make_blobs(n_per_class=(40, 30, 20), n_features=30, n_informative=6, shift=0.4, seed=1)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    clf = make_pipeline(name, n_features=20, calibrate=calibrate, **TINY.get(name, {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of saga / adam on tiny data
        clf.fit(Xtr, ytr)
    assert list(clf.classes_) == ["class_A", "class_B", "class_C"]
    pred = clf.predict(Xte)
    assert set(pred) <= set(clf.classes_) and all(isinstance(p, str) for p in pred)
    P = clf.predict_proba(Xte)
    assert P.shape == (len(Xte), 3)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-9)
    assert (pred == yte).mean() >= 0.65  # chance: 1/3 (uniform), 0.44 (majority class)


def test_xgb_wrapper_labels_and_json_state(make_blobs):
    """XGBoost sees 0…k−1 internally but speaks strings; its pickled state carries the booster as XGBoost JSON
    (reference: ``json.loads`` of the stored bytes and identical predictions after a pickle round trip)."""
    import json

    X, y = make_blobs(n_per_class=(20, 20), n_features=10, n_informative=3, shift=0.4)
    m = XGBLabelClassifier(n_estimators=10).fit(X, y)
    state = m.__getstate__()
    assert "_model" not in state and "booster_" not in state
    parsed = json.loads(state["_booster_json"])
    assert "learner" in parsed
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m2.predict_proba(X), m.predict_proba(X))
    assert set(m2.predict(X)) == {"class_A", "class_B"}


def test_xgb_class_weight_changes_fit(make_blobs):
    """``class_weight='balanced'`` really reaches XGBoost: the minority class gains probability mass."""
    X, y = make_blobs(n_per_class=(60, 8), n_features=8, n_informative=2, shift=0.1, seed=3)
    plain = XGBLabelClassifier(n_estimators=20).fit(X, y).predict_proba(X)[:, 1].mean()
    bal = XGBLabelClassifier(n_estimators=20, class_weight="balanced").fit(X, y).predict_proba(X)[:, 1].mean()
    assert bal > plain + 0.05


def test_unknown_model_lists_names():
    """An unknown name is a ConfigError listing the available ones."""
    with pytest.raises(ConfigError, match="unknown model 'forest'.*logreg.*rf"):
        make_pipeline("forest")
    with pytest.raises(ConfigError, match="unknown model"):
        build_model("nope")


def test_register_and_variant():
    """Users add factories by name and declare variants of registered models (as a conf/ file would)."""
    from sklearn.ensemble import ExtraTreesClassifier

    try:
        register_model("et", lambda random_state=0, n_jobs=1, class_weight=None: ExtraTreesClassifier(
            n_estimators=5, random_state=random_state, n_jobs=n_jobs, class_weight=class_weight))
        register_model("rf_small", "rf", n_estimators=7)
        assert isinstance(build_model("et", class_weight="balanced"), ExtraTreesClassifier)
        assert build_model("rf_small").n_estimators == 7
        assert build_model("rf_small", n_estimators=9).n_estimators == 9
        with pytest.raises(ConfigError, match="already registered"):
            register_model("et", lambda: None)
        est = make_pipeline("et", n_features=5, calibrate=None)
        assert clone(est).get_params()["model"] == "et"
    finally:
        MODELS.pop("et", None)
        MODELS.pop("rf_small", None)


def test_unsupported_options_refused():
    """Options a model cannot honour are refused, not silently ignored."""
    try:
        register_model("plain", lambda: XGBLabelClassifier(n_estimators=2))
        with pytest.raises(ConfigError, match="does not support class weights"):
            make_pipeline("plain", balance="class_weight")
    finally:
        MODELS.pop("plain", None)
    with pytest.raises(ConfigError, match="per-tree stratified down-sampling"):
        make_pipeline("logreg", balance="downsample")
    with pytest.raises(ConfigError, match="invalid parameters"):
        make_pipeline("rf", n_trees=10)
    with pytest.raises(ConfigError, match="l1_ratio"):
        make_pipeline("enet", l1_ratio=0.0)
