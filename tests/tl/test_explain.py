"""Per-sample SHAP explanations: shapes, additivity against the explained output, planted features dominate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ConfigError
from methylclass.models import hash_training_data, load_bundle, make_pipeline, save_bundle
from methylclass.tl.explain import Explanation, calibration_monotone, explain

N_INFORMATIVE = 3


def planted(n_per_class=(20, 20, 20), n_features=30, seed=0):
    """Three classes separated by the first three CpGs only (class i raises CpG i)."""
    rng = np.random.default_rng(seed)
    labels = np.array([f"c{i}" for i, n in enumerate(n_per_class) for _ in range(n)], dtype=object)
    X = rng.beta(2, 5, size=(len(labels), n_features))
    for i in range(len(n_per_class)):
        X[labels == f"c{i}", i] += 0.5
    cols = [f"cg{j:08d}" for j in range(n_features)]
    return pd.DataFrame(np.clip(X, 0, 1), columns=cols, index=[f"s{i}" for i in range(len(labels))]), labels


@pytest.fixture(scope="module")
def data():
    return planted()


def _explained_output(clf, exp: Explanation, X: pd.DataFrame) -> np.ndarray:
    """The output shap explains, computed independently of shap."""
    final = clf.final_estimator_
    Z = clf.transform_selected(X)
    if exp.method == "tree" and exp.output == "probability":
        return final.predict_proba(Z)
    if exp.method == "tree":  # xgboost margins
        import xgboost as xgb

        return final.booster_.predict(xgb.DMatrix(Z.astype(np.float32)), output_margin=True)
    return np.asarray(final.decision_function(Z), dtype=float)


@pytest.mark.parametrize("model,method,output,kw", [
    ("rf", "tree", "probability", {"n_estimators": 50}),
    ("xgb", "tree", "margin", {"n_estimators": 30}),
    ("logreg", "linear", "margin", {}),
    ("svm_rbf", "permutation", "margin", {}),
])
def test_shapes_additivity_and_planted_features(data, model, method, output, kw):
    X, y = data
    clf = make_pipeline(model, n_features=20, calibrate="ridge", inner_cv=2, **kw).fit(X, y)
    exp = explain(clf, X.iloc[:6])
    n, p, k = 6, len(clf.selected_features_), 3
    assert (exp.method, exp.output) == (method, output)
    assert exp.values.shape == (n, p, k) and exp.base_values.shape == (n, k) and exp.data.shape == (n, p)
    assert exp.samples == list(X.index[:6]) and exp.classes == ["c0", "c1", "c2"]
    assert exp.features == [str(f) for f in clf.selected_features_]
    np.testing.assert_allclose(exp.data, clf.transform_selected(X.iloc[:6]))
    # additivity: base + Σ values = the explained output of every sample and class
    np.testing.assert_allclose(exp.predicted(), _explained_output(clf, exp, X.iloc[:6]), atol=1e-4)
    # planted features dominate the global ranking
    imp = exp.importance().groupby("feature")["importance"].sum().sort_values(ascending=False)
    assert set(imp.index[:3]) <= {f"cg{j:08d}" for j in range(N_INFORMATIVE)}, imp.head(6)
    # the top features of one sample for its own class are the planted ones, CpG 0 pushing towards c0
    top = exp.top("s0", cls="c0", n=3)
    assert list(top.columns) == ["feature", "shap", "value"] and len(top) == 3
    assert len(set(top["feature"]) & {f"cg{j:08d}" for j in range(N_INFORMATIVE)}) >= 2
    assert "cg00000000" in set(top["feature"])
    assert top.set_index("feature").loc["cg00000000", "shap"] > 0


def test_top_defaults_to_predicted_class_and_importance_table(data):
    X, y = data
    clf = make_pipeline("logreg", n_features=20, calibrate=None).fit(X, y)
    exp = explain(clf, X.iloc[[0, 25, 45]])
    assert exp.predicted_class() == ["c0", "c1", "c2"]
    pd.testing.assert_frame_equal(exp.top("s25"), exp.top("s25", cls="c1"))
    pd.testing.assert_frame_equal(exp.top(1), exp.top("s25"))
    imp = exp.importance()
    assert list(imp.columns) == ["feature", "class", "importance"] and len(imp) == 20 * 3
    np.testing.assert_allclose(imp.query("`class` == 'c1'").set_index("feature")["importance"].sort_index(),
                               np.abs(exp.values[:, :, 1]).mean(axis=0)[np.argsort(exp.features)])
    with pytest.raises(KeyError):
        exp.top("nope")
    with pytest.raises(KeyError):
        exp.top("s0", cls="zz")


def test_bundle_and_model_object_are_accepted(data, tmp_path):
    X, y = data
    clf = make_pipeline("rf", n_features=20, calibrate="ridge", inner_cv=2, n_estimators=30).fit(X, y)
    path = save_bundle(clf, tmp_path / "b", classes=clf.classes_, features=list(X.columns),
                       training_hash=hash_training_data(X, y))
    bundle = load_bundle(path)
    direct = explain(clf, X.iloc[:5])
    shuffled = X.iloc[:5, ::-1]  # the bundle re-orders columns to its training order
    via_bundle = explain(bundle, shuffled)
    np.testing.assert_allclose(via_bundle.values, direct.values)

    class Model:  # the shape of the prediction API's model object
        def __init__(self, b):
            self.bundle, self.estimator = b, b.estimator

    np.testing.assert_allclose(explain(Model(bundle), X.iloc[:5]).values, direct.values)


def test_interventional_background_and_permutation_budget(data):
    X, y = data
    clf = make_pipeline("rf", n_features=20, calibrate=None, n_estimators=30).fit(X, y)
    exp = explain(clf, X.iloc[:4], background=X.iloc[10:40])
    np.testing.assert_allclose(exp.predicted(), clf.final_estimator_.predict_proba(clf.transform_selected(
        X.iloc[:4])), atol=1e-6)
    np.testing.assert_allclose(exp.base_values[0], clf.final_estimator_.predict_proba(
        clf.transform_selected(X.iloc[10:40])).mean(axis=0), atol=1e-6)
    mlp = make_pipeline("mlp", n_features=10, calibrate=None, hidden_layer_sizes=(8,), max_iter=2000).fit(X, y)
    with pytest.raises(ConfigError, match="max_evals"):
        explain(mlp, X.iloc[:2], max_evals=5)
    e = explain(mlp, X.iloc[:2], max_evals=63)
    assert e.output == "probability"
    np.testing.assert_allclose(e.predicted(), mlp.final_estimator_.predict_proba(
        mlp.transform_selected(X.iloc[:2])), atol=1e-6)


def test_calibration_monotone_reports_per_class(data):
    X, y = data
    ridge = make_pipeline("logreg", n_features=20, calibrate="ridge", inner_cv=2).fit(X, y)
    mono = calibration_monotone(ridge)
    assert set(mono) == {"c0", "c1", "c2"} and all(isinstance(v, bool) for v in mono.values())
    assert explain(ridge, X.iloc[:2]).notes["calibration_monotone"] == mono
    sig = make_pipeline("logreg", n_features=20, calibrate="sigmoid", inner_cv=2).fit(X, y)
    assert calibration_monotone(sig) == {"c0": True, "c1": True, "c2": True}
    assert calibration_monotone(make_pipeline("logreg", calibrate=None).fit(X, y)) is None
