"""Per-sample SHAP explanations of a fitted methylclass classifier (the shap library does the work).

:func:`explain` explains the pipeline's *final estimator* on the features it actually sees (after CpG selection,
imputation and the CNV block; samplers are skipped), with the shap explainer that is exact or cheap for it:

============================== ============== =====================================================================
final estimator                method         output space explained (``Explanation.output``)
============================== ============== =====================================================================
random forest (``rf``,         ``tree``       ``probability``: the forest's vote share per class (TreeSHAP,
balanced RF)                                  path-dependent; interventional with ``background``). Exact.
XGBoost (``xgb``)              ``tree``       ``margin``: the booster's raw per-class score (softmax logit). Exact.
logistic regression            ``linear``     ``margin``: ``decision_function`` (multinomial logits); features
(``logreg``, ``enet``)                        independent, reference = mean of the background. Exact.
anything else (``svm``,        ``permutation`` ``margin`` (``decision_function``) when the model has one, else
``svm_rbf``, ``mlp``)                         ``probability``; shap's Permutation explainer on a k-means summary of
                                              the background (``k ≤ 10`` rows).
============================== ============== =====================================================================

Additivity: ``values.sum(axis=1) + base_values`` equals the explained output for every sample, for all three
methods (the permutation explainer's antithetic passes keep it exact whatever the number of permutations).

Cost of the model-agnostic path: one permutation needs ``2·p + 1`` masked evaluations per sample, each on ``k``
background rows, i.e. ``(2·p + 1)·k`` model predictions per sample and permutation (p = 10,000 CpGs, k = 10:
≈ 200,000 predictions per sample). ``max_evals`` (default ``2·p + 1``: one permutation) bounds it; values below
``2·p + 1`` are refused. Prefer fewer selected CpGs (``n_features``) for ``svm_rbf``/``mlp`` when explaining.

Calibration: the pipeline's probabilities are a calibrator applied to the base model's scores. Sigmoid (Platt,
one-vs-rest) and isotonic calibration are monotone per class; the ridge calibrator (multinomial LR on all class
scores) is monotone in class ``c``'s own score when, on the standardised scores, its coefficient of class ``c``
for score ``c`` exceeds every other class's coefficient for score ``c`` — :func:`calibration_monotone` checks it.
Where it holds, a CpG that raises a class's explained score raises its calibrated probability too (signs and
rankings carry over; magnitudes are in the explained output space, not calibrated probability).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError

__all__ = ["Explanation", "calibration_monotone", "explain", "unwrap_model"]

_MAX_BACKGROUND = 10


@dataclass
class Explanation:
    """SHAP values of a set of samples: ``values`` (samples × features × classes), ``base_values`` (samples ×
    classes), ``data`` (the model-input values, samples × features), names of ``samples``, ``features``,
    ``classes``; ``method`` (``tree``/``linear``/``permutation``), ``output`` (``margin``/``probability``) and
    ``notes`` (e.g. calibration monotonicity)."""

    values: np.ndarray
    base_values: np.ndarray
    data: np.ndarray
    samples: list[str]
    features: list[str]
    classes: list[str]
    method: str
    output: str = ""
    notes: dict[str, Any] = field(default_factory=dict)

    def predicted(self) -> np.ndarray:
        """The explained output per sample and class: ``base_values + values.sum(features)``."""
        return self.base_values + self.values.sum(axis=1)

    def predicted_class(self) -> list[str]:
        """Per sample, the class with the largest explained output."""
        return [self.classes[i] for i in np.argmax(self.predicted(), axis=1)]

    def top(self, sample: str | int, cls: str | None = None, n: int = 10) -> pd.DataFrame:
        """The ``n`` features with the largest |SHAP| for ``sample`` (name or row position) and class ``cls``
        (None: the class with the largest explained output). Columns ``feature, shap, value``; sorted by |shap|.
        """
        if isinstance(sample, (int, np.integer)) and not isinstance(sample, bool):
            i = int(sample)
            if not 0 <= i < len(self.samples):
                raise IndexError(f"sample position {i} out of range (0..{len(self.samples) - 1})")
        else:
            try:
                i = self.samples.index(str(sample))
            except ValueError:
                raise KeyError(f"unknown sample {sample!r}") from None
        if cls is None:
            j = int(np.argmax(self.predicted()[i]))
        else:
            try:
                j = self.classes.index(str(cls))
            except ValueError:
                raise KeyError(f"unknown class {cls!r}; classes: {self.classes}") from None
        v = self.values[i, :, j]
        order = np.argsort(-np.abs(v), kind="stable")[: max(int(n), 0)]
        return pd.DataFrame({"feature": [self.features[k] for k in order], "shap": v[order],
                             "value": self.data[i, order]})

    def importance(self) -> pd.DataFrame:
        """Global importance: mean |SHAP| over the samples, per feature and class. Columns
        ``feature, class, importance``, sorted by class then decreasing importance."""
        imp = np.abs(self.values).mean(axis=0)  # features × classes
        out = pd.DataFrame({"feature": np.repeat(self.features, len(self.classes)),
                            "class": np.tile(self.classes, len(self.features)),
                            "importance": imp.reshape(-1)})
        return out.sort_values(["class", "importance"], ascending=[True, False], kind="stable",
                               ignore_index=True)


# ------------------------------------------------------------------------------------------------ resolution
def unwrap_model(model: Any) -> tuple[Any, Any]:
    """``(fitted pipeline, align)``: the fitted classifier inside a bundle / model object, and the bundle's
    column-alignment function (or None). Accepts a fitted :class:`~methylclass.models.MethylClassifier`, a
    :class:`~methylclass.models.Bundle`, any object exposing the fitted pipeline as ``.estimator`` (and maybe a
    ``.bundle``), or a plain fitted scikit-learn classifier."""
    align = None
    obj = model
    for _ in range(4):
        if hasattr(obj, "transform_selected") or hasattr(obj, "final_estimator_"):
            break
        for holder in (obj, getattr(obj, "bundle", None)):
            if align is None and holder is not None and callable(getattr(holder, "align", None)):
                align = holder.align
        nxt = getattr(obj, "estimator", None)
        if nxt is None or nxt is obj or not hasattr(nxt, "predict_proba"):
            break
        obj = nxt
    return obj, align


def _model_input(est: Any, X: pd.DataFrame) -> tuple[np.ndarray, list[str], Any]:
    """Model-input matrix, its feature names and the final estimator."""
    if hasattr(est, "transform_selected"):
        Z = est.transform_selected(X)
        names = [str(f) for f in est.selected_features_]
        return np.asarray(Z, dtype=float), names, est.final_estimator_
    return np.asarray(X, dtype=float), [str(c) for c in X.columns], est


def _classes(est: Any) -> list[str]:
    return [str(c) for c in est.classes_]


def _is_forest(m: Any) -> bool:
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    return isinstance(m, (RandomForestClassifier, ExtraTreesClassifier, DecisionTreeClassifier))


def _is_linear(m: Any) -> bool:
    from sklearn.linear_model import LogisticRegression

    return isinstance(m, LogisticRegression)


def _two_class(v: np.ndarray, k: int) -> np.ndarray:
    """A single-output explanation (…, ) of a two-class margin → (…, 2) as (−d/2, d/2): softmax of the pair is
    the logistic of d, the convention of ``SoftmaxDecisionClassifier``."""
    if k == 2 and (v.ndim == 1 or v.ndim == 2 and v.shape[-1] != 2 or v.ndim == 3 and v.shape[-1] == 1):
        v = v[..., 0] if v.ndim == 3 else v
        return np.stack([-v / 2.0, v / 2.0], axis=-1)
    return v


def _tree(m: Any, Z: np.ndarray, bg: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray, str]:
    import shap

    from ..models.estimators import XGBLabelClassifier

    if isinstance(m, XGBLabelClassifier):
        target, output = m.booster_, "margin"
    else:
        target, output = m, "probability"
    if bg is None:
        ex = shap.TreeExplainer(target, feature_perturbation="tree_path_dependent")
    else:
        ex = shap.TreeExplainer(target, data=bg, feature_perturbation="interventional")
    vals = np.asarray(ex.shap_values(Z, check_additivity=False), dtype=float)
    base = np.atleast_1d(np.asarray(ex.expected_value, dtype=float))
    vals = _two_class(vals, k)
    if base.size == 1 and k == 2:
        base = np.array([-base[0] / 2.0, base[0] / 2.0])
    return vals, np.broadcast_to(base, (Z.shape[0], k)).copy(), output


def _linear(m: Any, Z: np.ndarray, bg: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, str]:
    import shap

    ex = shap.LinearExplainer(m, shap.maskers.Independent(bg, max_samples=len(bg)))
    e = ex(Z)
    vals = _two_class(np.asarray(e.values, dtype=float), k)
    base = np.asarray(e.base_values, dtype=float)
    base = _two_class(base.reshape(len(Z), -1), k) if base.ndim <= 1 or base.shape[-1] != k else base
    return vals, base.reshape(len(Z), k), "margin"


def _permutation(m: Any, Z: np.ndarray, bg: np.ndarray, k: int, seed: int, max_evals: int | None
                 ) -> tuple[np.ndarray, np.ndarray, str]:
    import shap

    p = Z.shape[1]
    need = 2 * p + 1
    if max_evals is None:
        max_evals = need
    if max_evals < need:
        raise ConfigError(f"explain: max_evals={max_evals} is below the {need} evaluations one permutation of "
                          f"{p} features needs; select fewer features or raise max_evals")
    if hasattr(m, "decision_function"):
        def f(A):
            return _two_class(np.asarray(m.decision_function(A), dtype=float), k)
        output = "margin"
    else:
        def f(A):
            return np.asarray(m.predict_proba(A), dtype=float)
        output = "probability"
    if len(bg) > _MAX_BACKGROUND:
        from sklearn.cluster import KMeans

        bg = KMeans(n_clusters=_MAX_BACKGROUND, n_init=3, random_state=seed).fit(bg).cluster_centers_
    ex = shap.explainers.Permutation(f, shap.maskers.Independent(bg, max_samples=len(bg)), seed=seed)
    e = ex(Z, max_evals=int(max_evals), silent=True)
    return np.asarray(e.values, dtype=float), np.asarray(e.base_values, dtype=float).reshape(len(Z), k), output


def _training_reference(est: Any, X: pd.DataFrame) -> np.ndarray | None:
    """The training median profile in model-input space: an all-missing row passed through the fitted
    selection/imputation steps comes out as the training medians (CNV block: medians, standardised). None when
    the pipeline does not impute."""
    if not hasattr(est, "transform_selected") or getattr(est, "impute", None) in (None, "none", ""):
        return None
    empty = pd.DataFrame(np.full((1, X.shape[1]), np.nan), columns=X.columns)
    try:
        ref = np.asarray(est.transform_selected(empty), dtype=float)
    except ValueError:
        return None
    return None if np.isnan(ref).any() else ref


def calibration_monotone(model: Any) -> dict[str, bool] | None:
    """Per class, whether the pipeline's calibration is monotone in that class's own base score.

    ``None`` when the pipeline is uncalibrated or the calibrator is unknown. Sigmoid and isotonic calibration are
    monotone per class by construction. For the ridge calibrator (``StandardScaler`` + multinomial LR on the
    class scores) a sufficient condition is checked: ``W[c, c] > W[j, c]`` for every other class ``j`` — then
    every log-ratio ``logit_j − logit_c`` falls as score ``c`` rises, so the calibrated ``P_c`` rises.
    """
    est, _ = unwrap_model(model)
    cal = getattr(est, "estimator_", None)
    if cal is None:
        return None
    from ..models.calibration import RidgeCalibratedClassifier, SklearnCalibratedClassifier

    classes = _classes(cal) if hasattr(cal, "classes_") else []
    if isinstance(cal, SklearnCalibratedClassifier):
        return {c: True for c in classes}
    if not isinstance(cal, RidgeCalibratedClassifier):
        return None
    lr = cal.calibrator_[-1]
    W = np.asarray(lr.coef_, dtype=float)
    if W.shape[0] == 1 or W.shape[1] != len(classes):  # two-class margin calibrator: one score, one coefficient
        return {c: bool(W[0, 0] > 0) for c in classes}
    out = {}
    for c in range(len(classes)):
        others = np.delete(W[:, c], c)
        out[classes[c]] = bool(np.all(W[c, c] > others))
    return out


def explain(model: Any, X: pd.DataFrame, *, background: pd.DataFrame | None = None, seed: int = 0,
            max_evals: int | None = None) -> Explanation:
    """Per-sample SHAP values of a fitted methylclass model on the samples of ``X``.

    Parameters
    ----------
    model
        A fitted pipeline (``make_pipeline(...).fit(...)``), a loaded :class:`~methylclass.models.Bundle`, or any
        object exposing the fitted pipeline as ``.estimator``. Bundles align ``X`` to their training columns.
    X
        Samples × features (CpGs [+ CNV features]) DataFrame; its index names the samples.
    background
        Reference samples (same columns as ``X``). Tree models: None → path-dependent TreeSHAP (the reference is
        the training data as the trees saw it); given → interventional TreeSHAP against it. Linear and
        model-agnostic explainers: None → the training median profile (an all-missing row through the fitted
        imputation; ``X`` itself if the pipeline does not impute), so a single sample is explained against the
        training cohort, not against itself; a given background is summarised by k-means to at most 10 rows on
        the model-agnostic path.
    seed
        Seed of the permutations and of the k-means summary (model-agnostic path only).
    max_evals
        Model evaluations per sample for the model-agnostic path (default ``2·p + 1``, one antithetic
        permutation of the ``p`` model-input features); ignored by the exact explainers.

    Returns
    -------
    Explanation
        ``values[i, j, c]``: contribution of feature ``j`` to class ``c``'s explained output for sample ``i``.
    """
    if not isinstance(X, pd.DataFrame):
        raise DataError("explain: give a samples × features DataFrame with feature names as columns")
    if len(X) == 0:
        raise DataError("explain: no samples to explain")
    est, align = unwrap_model(model)
    if not hasattr(est, "classes_"):
        raise ConfigError(f"explain: {type(model).__name__} is not a fitted classifier")
    if align is not None:
        X = align(X)
        background = None if background is None else align(background)
    Z, names, final = _model_input(est, X)
    bg = None if background is None else _model_input(est, background)[0]
    ref = bg if bg is not None else _training_reference(est, X)
    if ref is None:
        ref = Z
    classes = _classes(est)
    fclasses = _classes(final)
    if fclasses != classes:
        raise ConfigError(f"explain: the final estimator's classes {fclasses} differ from the pipeline's {classes}")
    k = len(classes)
    from ..models.estimators import XGBLabelClassifier

    if _is_forest(final) or isinstance(final, XGBLabelClassifier):
        vals, base, output = _tree(final, Z, bg, k)
        method = "tree"
    elif _is_linear(final):
        vals, base, output = _linear(final, Z, ref, k)
        method = "linear"
    else:
        vals, base, output = _permutation(final, Z, ref, k, seed, max_evals)
        method = "permutation"
    if vals.shape != (Z.shape[0], Z.shape[1], k):
        raise RuntimeError(f"explain: shap returned values of shape {vals.shape}, expected "
                           f"{(Z.shape[0], Z.shape[1], k)}")
    notes: dict[str, Any] = {"estimator": type(final).__name__}
    mono = calibration_monotone(est)
    if mono is not None:
        notes["calibration_monotone"] = mono
    return Explanation(values=vals, base_values=base, data=Z, samples=[str(s) for s in X.index],
                       features=names, classes=classes, method=method, output=output, notes=notes)
