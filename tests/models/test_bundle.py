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
    sums = dict(line.split("  ")[::-1] for line in (path / "checksums.sha256").read_text().splitlines())
    assert sums["card.json"] == hashlib.sha256((path / "card.json").read_bytes()).hexdigest()
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
    assert list(out.columns[:4]) == ["sample", "status", "prediction", "score"]
    assert [c for c in out.columns if c.startswith("proba_")] == [f"proba_{c}" for c in clf.classes_]
    assert {"ood_pvalue", "ood", "prediction_set"} <= set(out.columns)
    assert out["sample"].tolist() == [str(s) for s in Xte.index]
    P = clf.predict_proba(Xte)
    np.testing.assert_allclose(out["score"], P.max(axis=1))
    confident = (P.max(axis=1) >= 0.9) & ~out["ood"].to_numpy()
    np.testing.assert_array_equal(out["prediction"][confident], clf.classes_[P.argmax(axis=1)][confident])
    assert (out["prediction"][~confident] == "no_match").all()


def test_column_alignment_and_missing_features(fitted, tmp_path):
    """Shuffled and extra columns are aligned; missing unused features change nothing; up to 5 % of the used
    CpGs missing (absent or NaN) are filled with training medians; more is no_match / low_coverage with the
    number, not scored; all-NaN and half-NaN samples likewise."""
    clf, Xtr, ytr, Xte = fitted
    b = load_bundle(_save(clf, Xtr, ytr, tmp_path / "b"))
    ref = clf.predict_proba(Xte)
    shuffled = Xte[Xte.columns[::-1]].assign(cg_extra=0.5)
    np.testing.assert_allclose(b.predict_proba(shuffled).to_numpy(), ref)
    unused = [c for c in Xtr.columns if c not in set(clf.selected_features_)]
    np.testing.assert_allclose(b.predict_proba(Xte.drop(columns=unused[:10])).to_numpy(), ref)
    gone = list(clf.selected_features_[:2])  # 2 of 40 used = 5 %: allowed
    out = b.predict(Xte.drop(columns=gone))
    filled = Xte.copy()
    for c in gone:
        filled[c] = np.nanmedian(Xtr[c].to_numpy())
    np.testing.assert_allclose(out[[f"proba_{c}" for c in clf.classes_]].to_numpy(), clf.predict_proba(filled))
    np.testing.assert_allclose(out["coverage"], 38 / 40)
    assert (out["reason"] != "low_coverage").all()
    many = Xte.iloc[:3].copy()
    many.loc[many.index[0], list(clf.selected_features_[:3])] = np.nan        # 3 NaN of 40 = 7.5 %
    many.loc[many.index[1], list(clf.selected_features_[::2])] = np.nan       # half NaN
    many.loc[many.index[2], :] = np.nan                                       # all NaN
    out = b.predict(many)
    assert (out["prediction"] == "no_match").all() and (out["reason"] == "low_coverage").all()
    np.testing.assert_allclose(out["coverage"], [37 / 40, 0.5, 0.0])
    assert out["score"].isna().all() and out[f"proba_{clf.classes_[0]}"].isna().all()
    assert "3 of the model's 40 CpGs are missing" in out["reason_detail"].iloc[0]
    absent = b.predict(Xte.iloc[:2].drop(columns=list(clf.selected_features_[:5])))
    assert (absent["reason"] == "low_coverage").all()
    with pytest.raises(DataError, match="DataFrame"):
        b.predict_proba(Xte.to_numpy())


def test_infinite_and_duplicated_columns_are_refused(fitted, tmp_path):
    """inf / -inf in a model column and a repeated column are refused with one line naming the column."""
    clf, Xtr, ytr, Xte = fitted
    b = load_bundle(_save(clf, Xtr, ytr, tmp_path / "b"))
    col = str(clf.selected_features_[3])
    for bad in (np.inf, -np.inf):
        X = Xte.iloc[:4].copy()
        X.loc[X.index[1], col] = bad
        with pytest.raises(DataError, match=f"column '{col}' holds a non-finite value"):
            b.predict(X)
    dup = pd.concat([Xte.iloc[:3], Xte.iloc[:3][[col]]], axis=1)
    with pytest.raises(DataError, match=f"column '{col}' appears more than once"):
        b.predict(dup)


def test_integrity_and_allowlist(fitted, tmp_path):
    """A modified model file fails its checksum; a component of a type outside the exact allow-list is
    refused unless explicitly trusted."""
    clf, Xtr, ytr, _ = fitted
    path = _save(clf, Xtr, ytr, tmp_path / "b")
    model_file = path / "model.skops"
    data = bytearray(model_file.read_bytes())
    data[-10] ^= 0xFF
    model_file.write_bytes(bytes(data))
    with pytest.raises(DataError, match="does not match its checksum"):
        load_bundle(path)
    from fractions import Fraction

    odd = _save(clf, Xtr, ytr, tmp_path / "odd", components={"extra": Fraction(1, 3)})
    with pytest.raises(DataError, match="outside the allow-list: fractions.Fraction"):
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
