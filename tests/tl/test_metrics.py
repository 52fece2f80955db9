"""Metrics of methylclass.tl.metrics against hand-computed examples, scikit-learn and independent code."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from methylclass.errors import DataError
from methylclass.tl import metrics as M

CLASSES = ["a", "b", "c"]
# five samples whose top-label confidences (0.95, 0.92, 0.62, 0.50, 0.94) fall in 15-bin bins 14, 13, 9, 7, 14
P5 = np.array([[0.95, 0.03, 0.02],
               [0.92, 0.05, 0.03],
               [0.62, 0.28, 0.10],
               [0.10, 0.50, 0.40],
               [0.94, 0.03, 0.03]])
Y5 = np.array(["a", "b", "a", "c", "b"])


def _ht_reference(y, P, classes):
    """Hand & Till (2001) M by direct counting: Â(i|j) = P(p_i(x∈i) > p_i(x∈j)) + ½ P(tie)."""
    y = np.asarray(y)
    present = [c for c in classes if (y == c).any()]
    vals = []
    for i, j in combinations(present, 2):
        ci, cj = classes.index(i), classes.index(j)

        def a_hat(col, pos, neg):
            s_pos = P[y == pos, col][:, None]
            s_neg = P[y == neg, col][None, :]
            return ((s_pos > s_neg).sum() + 0.5 * (s_pos == s_neg).sum()) / (s_pos.size * s_neg.size)

        vals.append((a_hat(ci, i, j) + a_hat(cj, j, i)) / 2)
    return float(np.mean(vals))


@pytest.fixture(scope="module")
def noisy():
    """120 samples, 4 classes, informative but imperfect Dirichlet probabilities rounded to create ties."""
    rng = np.random.default_rng(7)
    classes = ["w", "x", "y", "z"]
    y = rng.choice(classes, size=120, p=[0.4, 0.3, 0.2, 0.1])
    alpha = np.ones((120, 4)) + 2.0 * (y[:, None] == np.array(classes)[None, :])
    P = np.vstack([rng.dirichlet(a) for a in alpha])
    P = np.round(P, 2)
    P = P / P.sum(axis=1, keepdims=True)
    return y, P, classes


def test_brier_hand_example_and_sklearn():
    """Brier (0–2) on three samples computed by hand: (0.14 + 0.06 + 0.54) / 3; equals sklearn's
    brier_score_loss(scale_by_half=False) for the multiclass case."""
    P = np.array([[.7, .2, .1], [.1, .8, .1], [.3, .3, .4]])
    y = ["a", "b", "c"]
    assert M.multiclass_brier(y, P, CLASSES) == pytest.approx((0.14 + 0.06 + 0.54) / 3, abs=1e-12)
    assert M.multiclass_brier(y, P, CLASSES) == pytest.approx(
        skm.brier_score_loss(y, P, labels=CLASSES, scale_by_half=False), abs=1e-12)
    perfect = np.eye(3)
    assert M.multiclass_brier(y, perfect, CLASSES) == 0.0
    assert M.multiclass_brier(y, perfect[[1, 2, 0]], CLASSES) == pytest.approx(2.0)  # worst case


def test_log_loss_hand_example():
    """Log loss = −mean ln p(true class), by hand on the five-sample example; equals sklearn's log_loss."""
    expected = -np.mean(np.log([0.95, 0.05, 0.62, 0.40, 0.03]))
    assert M.log_loss(Y5, P5, CLASSES) == pytest.approx(expected, rel=1e-12)
    assert M.log_loss(Y5, P5, CLASSES) == pytest.approx(skm.log_loss(Y5, P5, labels=CLASSES), rel=1e-12)


def test_hand_till_matches_direct_count_and_sklearn_ovo(noisy):
    """Hand–Till AUC equals a direct Mann–Whitney count of the Hand & Till (2001) definition and sklearn's
    roc_auc_score(multi_class="ovo", average="macro") — which therefore is Hand–Till (ties included)."""
    y, P, classes = noisy
    ours = M.hand_till_auc(y, P, classes)
    assert ours == pytest.approx(_ht_reference(y, P, classes), abs=1e-12)
    assert ours == pytest.approx(skm.roc_auc_score(y, P, multi_class="ovo", labels=classes), abs=1e-12)
    assert 0.6 < ours < 1.0


def test_hand_till_with_absent_class(noisy):
    """A class missing from y_true (small test fold) drops out of the pairs instead of raising."""
    y, P, classes = noisy
    keep = y != "z"
    ours = M.hand_till_auc(y[keep], P[keep], classes)
    assert ours == pytest.approx(_ht_reference(y[keep], P[keep], classes), abs=1e-12)
    assert np.isnan(M.hand_till_auc(np.array(["w", "w"]), P[:2], classes))


def test_ece_hand_example():
    """Top-label ECE, 15 bins, by hand: bin 14 holds 0.95 (right) and 0.94 (wrong): |0.5 − 0.945|·2/5;
    bins 13, 9, 7 hold one sample each: |0 − 0.92|, |1 − 0.62|, |0 − 0.50|, each ·1/5 → 0.538."""
    assert M.expected_calibration_error(Y5, P5, CLASSES) == pytest.approx(0.538, abs=1e-12)
    curve = M.reliability_curve(Y5, P5, CLASSES)
    assert len(curve) == 15 and curve["count"].sum() == 5
    row = curve.iloc[14]
    assert (row["count"], row["confidence"], row["accuracy"]) == (2, pytest.approx(0.945), 0.5)
    assert curve.loc[curve["count"] > 0].index.tolist() == [7, 9, 13, 14]
    assert curve.loc[curve["count"] == 0, "accuracy"].isna().all()


def test_ece_bins_are_right_closed():
    """A confidence exactly on a bin edge belongs to the lower bin ((b/15, (b+1)/15], Guo et al. 2017);
    confidence 1.0 goes to the last bin."""
    edges = np.linspace(0, 1, 16)
    P = np.array([[edges[8], 1 - edges[8]], [1.0, 0.0]])
    curve = M.reliability_curve(["a", "a"], P, ["a", "b"])
    assert curve["count"].tolist()[7] == 1 and curve["count"].tolist()[14] == 1
    assert M.expected_calibration_error(["a", "b"], np.array([[0.5, 0.5], [0.5, 0.5]]), ["a", "b"]) == \
        pytest.approx(0.0)


def test_ece_of_perfectly_calibrated_sample_is_small():
    """Planted truth: labels drawn from the predicted probabilities themselves → ECE ≈ 0 (< 0.02 at n=20000)."""
    rng = np.random.default_rng(1)
    P = rng.dirichlet([0.5, 0.5, 0.5], size=20000)
    y = np.array([rng.choice(CLASSES, p=p) for p in P])
    assert M.expected_calibration_error(y, P, CLASSES) < 0.02
    overconfident = P ** 3 / (P ** 3).sum(axis=1, keepdims=True)
    assert M.expected_calibration_error(y, overconfident, CLASSES) > 0.05


def test_classifiable_and_thresholds():
    """Threshold 0.9 by hand: 0.95 (right), 0.92 (wrong), 0.94 (wrong) pass → 3/5 classifiable, 1/3 right.
    A per-class threshold of 0.96 for 'a' (default 0.9) leaves none classifiable (accuracy NaN)."""
    frac, acc = M.classifiable(Y5, P5, CLASSES, threshold=0.9)
    assert (frac, acc) == (pytest.approx(0.6), pytest.approx(1 / 3))
    calls = M.classify_with_threshold(P5, CLASSES, threshold=0.9)
    assert calls.tolist() == ["a", "a", "no_match", "no_match", "a"]
    frac, acc = M.classifiable(Y5, P5, CLASSES, threshold={"a": 0.96, "default": 0.9})
    assert frac == 0.0 and np.isnan(acc)
    with pytest.raises(DataError, match="unknown classes"):
        M.classifiable(Y5, P5, CLASSES, threshold={"q": 0.5})


def test_conformal_coverage_hand_example():
    """Sets {a},{a,b},{b,c},{c},{a} for labels a,b,a,c,b: covered 1,1,0,1,0 → 0.6; sizes → 1.4; a boolean
    matrix gives the same; a label absent from the classes is never covered."""
    sets = [{"a"}, {"a", "b"}, {"b", "c"}, {"c"}, {"a"}]
    assert M.conformal_coverage(Y5, sets, CLASSES) == (pytest.approx(0.6), pytest.approx(1.4))
    mat = np.array([[c in s for c in CLASSES] for s in sets])
    assert M.conformal_coverage(Y5, mat, CLASSES) == (pytest.approx(0.6), pytest.approx(1.4))
    df = pd.DataFrame(mat, columns=CLASSES)
    assert M.conformal_coverage(Y5, df, CLASSES)[0] == pytest.approx(0.6)
    assert M.conformal_coverage(["z"], [{"a", "b", "c"}], CLASSES) == (0.0, 3.0)


def test_evaluate_matches_sklearn(noisy):
    """evaluate(): accuracy, balanced accuracy, macro/weighted P/R/F1, confusion matrix and per-class table
    equal scikit-learn's functions on the argmax predictions; timings are summed over folds."""
    y, P, classes = noisy
    df = pd.DataFrame(P, columns=classes)
    timings = pd.DataFrame({"fit_seconds": [1.0, 2.0], "predict_seconds": [0.1, 0.3]})
    ev = M.evaluate(y, df, timings=timings, sets=np.ones_like(P, dtype=bool))
    pred = np.array(classes)[P.argmax(axis=1)]
    s = ev.scalars
    assert s["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert s["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    for avg in ("macro", "weighted"):
        assert s[f"{avg}_precision"] == pytest.approx(skm.precision_score(y, pred, average=avg, zero_division=0))
        assert s[f"{avg}_recall"] == pytest.approx(skm.recall_score(y, pred, average=avg, zero_division=0))
        assert s[f"{avg}_f1"] == pytest.approx(skm.f1_score(y, pred, average=avg, zero_division=0))
    np.testing.assert_array_equal(ev.confusion.to_numpy(), skm.confusion_matrix(y, pred, labels=classes))
    np.testing.assert_allclose(ev.per_class["f1"], skm.f1_score(y, pred, average=None, labels=classes))
    assert s["brier"] == pytest.approx(M.multiclass_brier(y, P, classes))
    assert (s["conformal_coverage"], s["conformal_set_size"]) == (1.0, 4.0)
    assert (s["fit_seconds"], s["predict_seconds"], s["fit_seconds_per_fold"]) == (3.0, pytest.approx(0.4), 1.5)
    d = ev.to_dict()
    assert d["confusion"]["labels"] == classes and len(d["reliability"]) == 15


def test_bad_inputs_raise_data_errors():
    """NaN probabilities, a wrong number of labels and true labels outside the classes are DataErrors."""
    bad = P5.copy()
    bad[0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        M.multiclass_brier(Y5, bad, CLASSES)
    with pytest.raises(DataError, match="labels for 5"):
        M.multiclass_brier(Y5[:3], P5, CLASSES)
    with pytest.raises(DataError, match="not among the model's classes"):
        M.evaluate(np.array(["a", "b", "a", "c", "zz"]), P5, CLASSES)
    with pytest.raises(DataError, match="classes="):
        M.multiclass_brier(Y5, P5)
