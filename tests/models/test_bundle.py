"""Model bundles: card, safe formats, integrity checks, feature alignment and atomic writes.

References: the in-memory estimator's own predictions (a loaded bundle must reproduce them bit for bit);
``hashlib.sha256`` of the written files; training-set medians computed with numpy for imputed features.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ConfigError, DataError
from methylclass.models import (
    ConformalClassifier,
    KNNDistanceOOD,
    hash_training_data,
    load_bundle,
    make_pipeline,
    save_bundle,
)
from methylclass.models import bundle as bundle_mod


@pytest.fixture(scope="module")
def fitted(mb):
    """A ridge-calibrated logistic regression on 200 MB samples × 100 CpGs, plus held-out rows."""
    X, y = mb
    X = X.iloc[:, :100]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = make_pipeline("logreg", n_features=40).fit(X.iloc[:200], y[:200])
    return clf, X.iloc[:200], y[:200], X.iloc[200:]


def _save(clf, Xtr, ytr, path, **kw):
    return save_bundle(clf, path, classes=clf.classes_, features=list(Xtr.columns),
                       training_hash=hash_training_data(Xtr, ytr), **kw)


def test_round_trip_and_card(fitted, tmp_path):
    """Loaded predictions equal the original's; the card records classes, features, used features, hash,
    versions, creation time and a correct sha256 per file; metrics become plain JSON."""
    clf, Xtr, ytr, Xte = fitted
    path = _save(clf, Xtr, ytr, tmp_path / "bundle",
                 metrics={"balanced_accuracy": np.float64(0.97), "log_loss": float("nan")},
                 config={"model": "logreg", "out": tmp_path})
    b = load_bundle(path)
    pd.testing.assert_frame_equal(b.predict_proba(Xte),
                                  pd.DataFrame(clf.predict_proba(Xte), index=Xte.index, columns=clf.classes_))
    card = json.loads((path / "card.json").read_text())
    assert card["classes"] == list(clf.classes_) and card["features"] == list(Xtr.columns)
    assert card["used_features"] == list(clf.selected_features_) and len(card["used_features"]) == 40
    assert card["training_hash"] == hash_training_data(Xtr, ytr).lower()
    assert card["training_hash"] != hash_training_data(Xtr, ytr[::-1])
    assert {"python", "numpy", "sklearn", "skops"} <= set(card["versions"])
    assert dt.datetime.fromisoformat(card["created"]).tzinfo is not None
    assert card["metrics"] == {"balanced_accuracy": 0.97, "log_loss": None}
    for entry in card["files"].values():
        assert entry["format"] == "skops"
        assert hashlib.sha256((path / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]  # no temporary folders left


@pytest.mark.parametrize("model, kwargs", [("xgb", {"n_estimators": 10}),
                                           ("rf", {"n_estimators": 10, "balance": "downsample"}),
                                           ("svm", {"select": "boruta", "boruta_kwargs": {"n_estimators": 10,
                                                                                          "max_iter": 5}})])
def test_other_models_round_trip(model, kwargs, mb, tmp_path):
    """XGBoost (booster as JSON inside), balanced RF and a Boruta-selected SVM survive the round trip."""
    X, y = mb
    X = X.iloc[:120, :60]
    y = y[:120]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = make_pipeline(model, n_features=30, calibrate=None, **kwargs).fit(X, y)
    b = load_bundle(_save(clf, X, y, tmp_path / model))
    np.testing.assert_array_equal(b.predict_proba(X).to_numpy(), clf.predict_proba(X))


def test_predict_frame_with_components(fitted, tmp_path):
    """``Bundle.predict`` writes the CLI columns plus OOD and conformal outputs from saved components."""
    clf, Xtr, ytr, Xte = fitted
    ood = KNNDistanceOOD().fit(clf.transform_selected(Xtr))
    conformal = ConformalClassifier().fit(clf.predict_proba(Xtr), ytr, clf.classes_)
    b = load_bundle(_save(clf, Xtr, ytr, tmp_path / "b", components={"ood": ood, "conformal": conformal}))
    out = b.predict(Xte, threshold=0.9)
    assert list(out.columns[:3]) == ["sample", "prediction", "score"]
    assert [c for c in out.columns if c.startswith("proba_")] == [f"proba_{c}" for c in clf.classes_]
    assert {"ood_pvalue", "ood", "prediction_set"} <= set(out.columns)
    assert out["sample"].tolist() == [str(s) for s in Xte.index]
    P = clf.predict_proba(Xte)
    np.testing.assert_allclose(out["score"], P.max(axis=1))
    confident = (P.max(axis=1) >= 0.9) & ~out["ood"].to_numpy()
    np.testing.assert_array_equal(out["prediction"][confident], clf.classes_[P.argmax(axis=1)][confident])
    assert (out["prediction"][~confident] == "no_match").all()


def test_column_alignment_and_missing_features(fitted, tmp_path):
    """Shuffled and extra columns are aligned; missing unused features change nothing; a few missing used
    features are filled with training medians (warning); too many are a DataError naming count and names."""
    clf, Xtr, ytr, Xte = fitted
    b = load_bundle(_save(clf, Xtr, ytr, tmp_path / "b"))
    ref = clf.predict_proba(Xte)
    shuffled = Xte[Xte.columns[::-1]].assign(cg_extra=0.5)
    np.testing.assert_allclose(b.predict_proba(shuffled).to_numpy(), ref)
    unused = [c for c in Xtr.columns if c not in set(clf.selected_features_)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(b.predict_proba(Xte.drop(columns=unused[:10])).to_numpy(), ref)
    gone = list(clf.selected_features_[:2])  # 2 of 40 used = 5 %
    with pytest.warns(UserWarning, match="2 of 40 used features missing"):
        got = b.predict_proba(Xte.drop(columns=gone)).to_numpy()
    filled = Xte.copy()
    for c in gone:
        filled[c] = np.nanmedian(Xtr[c].to_numpy())
    np.testing.assert_allclose(got, clf.predict_proba(filled))
    many = list(clf.selected_features_[:5])
    with pytest.raises(DataError, match=f"5 of the 40 features the model uses are missing.*{many[0]}"):
        b.predict_proba(Xte.drop(columns=many))
    with pytest.raises(DataError, match="DataFrame"):
        b.predict_proba(Xte.to_numpy())


def test_integrity_and_allowlist(fitted, tmp_path):
    """A modified model file fails its sha256 check; a component of a type outside the allowlist is refused
    unless explicitly trusted."""
    clf, Xtr, ytr, _ = fitted
    path = _save(clf, Xtr, ytr, tmp_path / "b")
    model_file = path / "model.skops"
    data = bytearray(model_file.read_bytes())
    data[-10] ^= 0xFF
    model_file.write_bytes(bytes(data))
    with pytest.raises(DataError, match="does not match the sha256"):
        load_bundle(path)
    from fractions import Fraction

    odd = _save(clf, Xtr, ytr, tmp_path / "odd", components={"extra": Fraction(1, 3)})
    with pytest.raises(DataError, match="outside the allowlist.*fractions.Fraction"):
        load_bundle(odd)
    assert load_bundle(odd, trusted=["fractions.Fraction"]).components["extra"] == Fraction(1, 3)


def test_overwrite_rules_and_atomicity(fitted, tmp_path):
    """Existing bundles need overwrite=True; foreign folders are never replaced; a failed save leaves nothing."""
    clf, Xtr, ytr, _ = fitted
    path = _save(clf, Xtr, ytr, tmp_path / "b")
    with pytest.raises(ConfigError, match="already exists"):
        _save(clf, Xtr, ytr, path)
    _save(clf, Xtr, ytr, path, overwrite=True)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not a model bundle"):
        _save(clf, Xtr, ytr, foreign, overwrite=True)
    assert (foreign / "notes.txt").read_text() == "keep me"
    with pytest.raises(TypeError, match="generator"):
        _save(clf, Xtr, ytr, tmp_path / "broken", components={"bad": (i for i in range(3))})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "mine"]
    with pytest.raises(ConfigError, match="classes"):
        save_bundle(clf, tmp_path / "c", classes=["x"], features=list(Xtr.columns), training_hash="h")
    with pytest.raises(ConfigError, match="feature names"):
        save_bundle(clf, tmp_path / "c", classes=clf.classes_, features=["a"], training_hash="h")
    with pytest.raises(DataError, match="not a model bundle"):
        load_bundle(foreign)


def test_joblib_fallback_is_honest(fitted, tmp_path, monkeypatch):
    """Without skops the bundle falls back to joblib, records it, verifies the hash and warns on load."""
    clf, Xtr, ytr, Xte = fitted
    monkeypatch.setattr(bundle_mod, "_skops", lambda: None)
    path = _save(clf, Xtr, ytr, tmp_path / "b")
    card = json.loads((path / "card.json").read_text())
    assert card["files"]["model"]["format"] == "joblib"
    with pytest.warns(UserWarning, match="pickles can run code"):
        b = load_bundle(path)
    np.testing.assert_allclose(b.predict_proba(Xte).to_numpy(), clf.predict_proba(Xte))
