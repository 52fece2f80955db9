"""Attacks on a model bundle from elsewhere: every one must be refused with one line, and nothing may run.

References: the attacks of issue 10 — a card naming a pickle/joblib file, a skops file whose only "foreign"
object is a function re-exported under a ``sklearn.`` name (``sklearn.utils._testing.check_output`` is
``subprocess.check_output``), card edits (class rename, class swap, lowered threshold), file names leading
outside the bundle, truncated / foreign bundles — and the trust list regenerated from every registry model.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import DataError
from methylclass.models import available_models, load_bundle, make_pipeline, save_bundle
from methylclass.models.bundle_files import CHECKSUMS, TRUSTED_TYPES, sign_bundle


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.random((40, 60)), columns=[f"cg{i:08d}" for i in range(60)])
    y = np.repeat(["A", "B", "C", "D"], 10)
    X.iloc[:10, :5] += 1.0  # planted signal so the classes differ
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = make_pipeline("logreg", n_features=20, calibrate=None).fit(X, y)
    return clf, X, y


def _bundle(trained, path, **kw):
    clf, X, _y = trained
    return save_bundle(clf, path, classes=clf.classes_, features=list(X.columns), training_hash="sha256:x",
                       config={"decision": {"threshold": 0.9}}, training_X=X, **kw)


def _reseal(path):
    """Recompute checksums.sha256 as an attacker rewriting the whole bundle would."""
    lines = []
    for line in (path / CHECKSUMS).read_text().splitlines():
        name = line.split("  ", 1)[1]
        lines.append(f"{hashlib.sha256((path / name).read_bytes()).hexdigest()}  {name}")
    card = json.loads((path / "card.json").read_text())
    names = {ln.split("  ", 1)[1] for ln in lines}
    for e in card["files"].values():
        if e["path"] not in names and (path / e["path"]).is_file():
            lines.append(f"{hashlib.sha256((path / e['path']).read_bytes()).hexdigest()}  {e['path']}")
    (path / CHECKSUMS).write_text("\n".join(lines) + "\n")


def _edit_card(path, fn, reseal=False):
    card = json.loads((path / "card.json").read_text())
    fn(card)
    (path / "card.json").write_text(json.dumps(card))
    if reseal:
        _reseal(path)


class _Boom:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_or_joblib_file_is_never_loaded(trained, tmp_path):
    """A card naming a pickle/joblib model (checksums recomputed) is refused and the payload never runs."""
    path = _bundle(trained, tmp_path / "b")
    marker = tmp_path / "pwned"
    (path / "model.joblib").write_bytes(pickle.dumps(_Boom(str(marker))))
    for fmt in ("joblib", "pickle"):
        _edit_card(path, lambda c, f=fmt: c["files"].update(model={"path": "model.joblib", "format": f,
                                                                   "sha256": "0" * 64}), reseal=True)
        with pytest.raises(DataError, match=f"unsupported file format '{fmt}'.*never loaded"):
            load_bundle(path)
    assert not marker.exists()


def test_sklearn_reexport_of_subprocess_is_refused(trained, tmp_path):
    """A skops file naming ``sklearn.utils._testing.check_output`` (subprocess.check_output under a sklearn
    module) passed a ``sklearn.`` prefix rule; the exact trust list refuses it."""
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    path = _bundle(trained, tmp_path / "b")
    raw = tmp_path / "ft.skops"
    sio.dump(FunctionTransformer(func=np.sum), raw)
    with zipfile.ZipFile(raw) as z:
        members = {n: z.read(n) for n in z.namelist()}
    schema = members["schema.json"].decode()
    schema = schema.replace('"__class__": "sum",\n        "__module__": "numpy"',
                            '"__class__": "check_output",\n        "__module__": "sklearn.utils._testing"')
    assert "sklearn.utils._testing" in schema
    members["schema.json"] = schema.encode()
    with zipfile.ZipFile(path / "model.skops", "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    assert "sklearn.utils._testing.check_output" in sio.get_untrusted_types(file=path / "model.skops")
    _reseal(path)
    with pytest.raises(DataError, match="outside the allow-list: sklearn.utils._testing.check_output"):
        load_bundle(path)
    assert not any(t.startswith("sklearn.utils._testing") for t in TRUSTED_TYPES)


@pytest.mark.parametrize("edit, what", [
    (lambda c: c.update(classes=["A", "B", "C", "GBM"]), "rename"),
    (lambda c: c.update(classes=["B", "A", "C", "D"]), "swap"),
    (lambda c: c["config"]["decision"].update(threshold=0.1), "threshold"),
])
def test_card_edits_are_refused(trained, tmp_path, edit, what):
    """Renaming or swapping classes or lowering the threshold in card.json breaks its checksum; resealing
    the checksums too is still caught for classes (the model's own classes) and, with a key, for anything."""
    path = _bundle(trained, tmp_path / "b", key=b"shared secret")
    assert load_bundle(path, key=b"shared secret").card["classes"] == ["A", "B", "C", "D"]
    _edit_card(path, edit)
    with pytest.raises(DataError, match="card.json' does not match its checksum"):
        load_bundle(path)
    _reseal(path)
    if what in ("rename", "swap"):
        with pytest.raises(DataError, match="differ from the model's own"):
            load_bundle(path)
    else:
        assert load_bundle(path).card["config"]["decision"]["threshold"] == 0.1  # the honest limit
    with pytest.raises(DataError, match="signature does not match"):
        load_bundle(path, key=b"shared secret")
    sign_bundle(path, b"another key")
    with pytest.raises(DataError, match="signature does not match"):
        load_bundle(path, key=b"shared secret")


@pytest.mark.parametrize("name", ["../outside.skops", "/etc/passwd", "sub/model.skops", "..", ""])
def test_paths_outside_the_bundle_are_refused(trained, tmp_path, name):
    path = _bundle(trained, tmp_path / "b")
    (tmp_path / "outside.skops").write_bytes((path / "model.skops").read_bytes())
    _edit_card(path, lambda c: c["files"]["model"].update(path=name))
    with pytest.raises(DataError, match="not a plain file name inside the bundle"):
        load_bundle(path)


def test_symlink_leading_outside_is_refused(trained, tmp_path):
    path = _bundle(trained, tmp_path / "b")
    (tmp_path / "elsewhere.skops").write_bytes((path / "model.skops").read_bytes())
    (path / "model.skops").unlink()
    (path / "model.skops").symlink_to(tmp_path / "elsewhere.skops")
    with pytest.raises(DataError, match="leads outside the bundle"):
        load_bundle(path)


def test_truncated_foreign_and_old_bundles(trained, tmp_path):
    path = _bundle(trained, tmp_path / "b")
    data = (path / "model.skops").read_bytes()
    (path / "model.skops").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="model.skops' does not match its checksum"):
        load_bundle(path)
    _reseal(path)
    with pytest.raises(DataError, match="not a readable skops file"):
        load_bundle(path)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "card.json").write_text('{"format": "something-else"}')
    with pytest.raises(DataError, match="not a methylclass bundle card"):
        load_bundle(foreign)
    (foreign / "card.json").write_text("{not json")
    with pytest.raises(DataError, match="unreadable card"):
        load_bundle(foreign)
    old = _bundle(trained, tmp_path / "old")
    (old / CHECKSUMS).unlink()
    with pytest.raises(DataError, match="no checksums.sha256"):
        load_bundle(old)


def test_cli_refuses_a_tampered_bundle_with_one_line(trained, tmp_path):
    _clf, X, _ = trained
    path = _bundle(trained, tmp_path / "b")
    _edit_card(path, lambda c: c.update(classes=["B", "A", "C", "D"]))
    table = tmp_path / "t.csv"
    X.iloc[:2].to_csv(table, index_label="sample")
    proc = subprocess.run([sys.executable, "-m", "methylclass", "predict", "--model", str(path), str(table),
                           "--out", str(tmp_path / "out"), "--no-report"], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "card.json" in lines[0], proc.stderr
    assert not (tmp_path / "out" / "predictions.csv").exists()


def test_trust_list_covers_every_model():
    """Every registry model (with calibration, balancing, Boruta and the CNV block) loads under the exact
    list: the list is complete, so no user needs ``trusted=`` for a bundle methylclass wrote."""
    import skops.io as sio

    from methylclass.models import ConformalClassifier, KNNDistanceOOD

    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.random((32, 41)), columns=[f"cg{i:05d}" for i in range(38)] + ["cnv_a", "cnv_b", "cov_m"])
    X["cov_m"] = np.tile([0.0, 1.0], 16)
    y = np.repeat(list("ABCD"), 8)
    small = {"rf": {"n_estimators": 5}, "xgb": {"n_estimators": 5}}
    combos = [dict(model=m, feature_blocks="cnv_", **small.get(m, {})) for m in available_models()
              if m != "ensemble"]
    combos += [dict(model=m, impute=i, **small.get(m, {})) for m in ("logreg", "rf") for i in ("centroid", "median")]
    combos += [{"model": "logreg", "adjust": True}, {"model": "logreg", "search": {"method": "grid",
                                                                                 "space": {"C": [0.1, 1.0]}}}]
    combos += [{"model": "ensemble", "calibrate": None, "combine": c, "members": {"logreg": {}, "rf": small["rf"]}}
               for c in ("stack", "soft")]
    combos += [{"model": "ensemble", "calibrate": None, "combine": "geometric",
                "members": {"lda": {}, "knn": {"n_neighbors": 3, "scale": "mvalue_standard"},
                            "logreg": {"scale": "standard", "search": {"space": {"C": [0.1, 1.0]}}}}}]
    combos += [{"model": "logreg", "scale": s} for s in ("standard", "mvalue", "mvalue_standard")]
    combos += [{"model": "logreg", "feature_blocks": "cnv_", "block_weight": 0.1}]
    combos += [{"model": "logreg", "calibrate": "sigmoid"}, {"model": "logreg", "calibrate": "isotonic"}]
    combos += [{"model": "rf", "balance": b, "n_estimators": 5}
               for b in ("oversample", "undersample", "smote", "downsample")]
    combos += [{"model": "rf", "select": "boruta", "n_estimators": 5,
                "boruta_kwargs": {"max_iter": 5, "n_estimators": 5}}]
    seen = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kw in combos:
            m = kw.pop("model")
            data = X if kw.get("adjust") else X.drop(columns="cov_m")
            est = make_pipeline(m, n_features=10, inner_cv=2, **kw).fit(data, y)
            seen |= set(sio.get_untrusted_types(data=sio.dumps(est)))
        seen |= set(sio.get_untrusted_types(data=sio.dumps(KNNDistanceOOD().fit(est.transform_selected(data)))))
        seen |= set(sio.get_untrusted_types(data=sio.dumps(ConformalClassifier().fit(np.full((32, 4), .25), y,
                                                                                      list("ABCD")))))
    assert seen - TRUSTED_TYPES == set()
