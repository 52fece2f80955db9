"""CpG panels for a lighter assay: rank CpGs inside every training fold, evaluate the top-k panels out of fold.

For every outer fold (stratified ``outer``-fold CV) and every ranking, the ranking is computed on the training
part only — never on the held-out samples (selection inside the fold, Ambroise & McLachlan 2002) — and each panel
size ``k`` fits each model on the top-``k`` CpGs of that fold's ranking and predicts the held-out samples. The
pooled out-of-fold probabilities give balanced accuracy and the multiclass Brier score per (ranking, model,
size); the size ``"all"`` fits every model on all features. Rankings:

``variance``  NaN-ignoring variance across the training samples (Capper et al. 2018 use the most variable
              probes).
``pca``       PCA loadings: ``sqrt(Σ_c λ_c · L_cj²)`` over the first components (``λ`` explained variance) —
              the CpGs that carry most of the variance the leading components explain.
``boruta``    all-relevant selection with :class:`~methylclass.models.BorutaSelector` (fixed ``n_estimators``,
              capped iterations); order: confirmed, tentative, then by Boruta rank (ties: higher variance).
``shap``      mean |SHAP| (summed over classes) of a random forest fitted on the training part, TreeSHAP on the
              training samples.

To stay affordable, every ranking works on the ``prefilter`` most variable CpGs of the training part (default
2,000); the ``all`` size does not. The per-fold choices are kept (:attr:`PanelResult.fold_panels`) so the
stability of a CpG — the fraction of folds whose panel contains it — can be read for any ranking and size.
The smallest panel within ``tolerance`` (default 0.01 = one point) of the ``all`` balanced accuracy of the same
model is named by :meth:`PanelResult.smallest_panel`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold

from ..errors import ConfigError, DataError
from .cv import apply_rare_policy, min_class_size
from .metrics import multiclass_brier

__all__ = ["DEFAULT_SIZES", "RANKINGS", "PanelOptions", "PanelResult", "evaluate_panels", "final_ranking",
           "rank_features"]

RANKINGS: tuple[str, ...] = ("boruta", "shap", "variance", "pca")
DEFAULT_SIZES: tuple[int, ...] = (5, 10, 25, 50, 100, 250, 500)
ALL = "all"


@dataclass
class PanelOptions:
    """Options of :func:`evaluate_panels` (they travel together)."""

    rankings: Sequence[str] = RANKINGS
    models: Sequence[str] = ("rf", "logreg")
    sizes: Sequence[int] = DEFAULT_SIZES
    prefilter: int = 2000
    outer: int = 5
    seed: int = 0
    calibrate: str | None = None
    inner: int = 3
    tolerance: float = 0.01
    n_components: int = 10
    boruta: dict[str, Any] = field(default_factory=lambda: {"n_estimators": 100, "max_iter": 30, "max_depth": 5})
    shap_trees: int = 200
    model_params: dict[str, dict[str, Any]] = field(default_factory=lambda: {"rf": {"n_estimators": 300}})
    n_jobs: int = 1
    rare: str = "refuse"

    def check(self) -> None:
        """Raise ConfigError for unknown rankings or bad numbers."""
        bad = [r for r in self.rankings if r not in RANKINGS]
        if bad or not self.rankings:
            raise ConfigError(f"unknown panel ranking(s) {bad}; choose from {', '.join(RANKINGS)}")
        if not self.models:
            raise ConfigError("panel: give at least one model")
        if any(int(s) < 1 for s in self.sizes):
            raise ConfigError(f"panel sizes must be positive integers; got {list(self.sizes)}")
        if self.prefilter < 1 or self.outer < 2:
            raise ConfigError("panel: prefilter must be ≥ 1 and outer ≥ 2")


def _impute(X: np.ndarray) -> np.ndarray:
    if not np.isnan(X).any():
        return X
    med = np.nanmedian(np.where(np.isnan(X).all(axis=0), 0.0, X), axis=0)
    return np.where(np.isnan(X), med, X)


def _variance(X: np.ndarray) -> np.ndarray:
    from ..models.selectors import _nanvar

    v = _nanvar(X)
    return np.where(np.isnan(v), -np.inf, v)


def rank_features(X: np.ndarray, y: np.ndarray, method: str, opts: PanelOptions) -> tuple[np.ndarray, np.ndarray]:
    """Rank the columns of ``X`` (samples × CpGs, training data only) by ``method``.

    Returns ``(order, score)``: column indices best first, and a score per column (higher = more important; for
    Boruta ``-rank`` so confirmed CpGs score -1, with the confirmed flag recoverable as ``score == -1``).
    """
    var = _variance(X)
    if method == "variance":
        score = var
    elif method == "pca":
        from sklearn.decomposition import PCA

        Xi = _impute(X)
        n_comp = int(min(opts.n_components, Xi.shape[0] - 1, Xi.shape[1]))
        pca = PCA(n_components=n_comp, random_state=opts.seed).fit(Xi)
        score = np.sqrt((pca.explained_variance_[:, None] * pca.components_ ** 2).sum(axis=0))
    elif method == "boruta":
        from ..models.selectors import BorutaSelector

        kw = dict(opts.boruta)
        kw.update(prefilter=None, min_features=1, random_state=opts.seed, n_jobs=1)
        sel = BorutaSelector(**kw).fit(X, y)
        score = -sel.ranking_.astype(float)
    elif method == "shap":
        import shap
        from sklearn.ensemble import RandomForestClassifier

        Xi = _impute(X)
        rf = RandomForestClassifier(n_estimators=opts.shap_trees, max_features="sqrt", random_state=opts.seed,
                                    class_weight="balanced", n_jobs=1).fit(Xi, y)
        vals = np.asarray(shap.TreeExplainer(rf).shap_values(Xi, check_additivity=False))
        score = np.abs(vals).mean(axis=0).reshape(X.shape[1], -1).sum(axis=1)
    else:
        raise ConfigError(f"unknown panel ranking {method!r}; choose from {', '.join(RANKINGS)}")
    order = np.lexsort((-var, -score))  # primary: score (desc), ties: variance (desc)
    return order, score


def _fit_predict(model: str, opts: PanelOptions, Xtr: pd.DataFrame, ytr: np.ndarray, Xte: pd.DataFrame,
                 classes: list[str]) -> np.ndarray:
    from ..models import make_pipeline

    clf = make_pipeline(model, select=None, calibrate=opts.calibrate, inner_cv=opts.inner,
                        random_state=opts.seed, n_jobs=1, **(opts.model_params.get(model) or {}))
    clf.fit(Xtr, ytr)
    raw = clf.predict_proba(Xte)
    out = np.zeros((len(Xte), len(classes)))
    col = {c: i for i, c in enumerate(classes)}
    out[:, [col[str(c)] for c in clf.classes_]] = raw
    return out


def _one_fold(X: pd.DataFrame, y: np.ndarray, train: np.ndarray, test: np.ndarray, fold: int,
              opts: PanelOptions, classes: list[str]) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    from ..models.selectors import top_variance_indices

    with threadpool_limits(limits=1):
        Xtr_all, Xte_all, ytr = X.iloc[train], X.iloc[test], y[train]
        pre = top_variance_indices(Xtr_all.to_numpy(dtype=float), opts.prefilter)
        Xtr = Xtr_all.iloc[:, pre]
        names = np.asarray(Xtr.columns.astype(str))
        sizes = sorted({int(min(s, len(pre))) for s in opts.sizes})
        preds: dict[tuple[str, str, Any], np.ndarray] = {}
        panels = []
        for model in opts.models:
            preds[(ALL, model, ALL)] = _fit_predict(model, opts, Xtr_all, ytr, Xte_all, classes)
        for ranking in opts.rankings:
            order, score = rank_features(Xtr.to_numpy(dtype=float), ytr, ranking, opts)
            top = order[: max(sizes)]
            panels.append(pd.DataFrame({"ranking": ranking, "fold": fold, "rank": np.arange(len(top)),
                                        "feature": names[top], "score": score[top]}))
            for s in sizes:
                cols = Xtr.columns[order[:s]]
                for model in opts.models:
                    preds[(ranking, model, s)] = _fit_predict(model, opts, Xtr_all[cols], ytr, Xte_all[cols],
                                                              classes)
    return {"fold": fold, "test": test, "preds": preds, "panels": pd.concat(panels, ignore_index=True)}


@dataclass
class PanelResult:
    """Outcome of :func:`evaluate_panels`: the panel-size ``curve`` (``ranking, model, size,
    balanced_accuracy, brier``; ``size`` of the full model = the number of features, ``ranking`` ``all``), the
    per-fold rankings ``fold_panels`` (``ranking, fold, rank, feature, score``: top ``max(sizes)``), the labels
    ``y`` and ``folds`` (outer fold of every sample) and the options used."""

    curve: pd.DataFrame
    fold_panels: pd.DataFrame
    y: pd.Series
    folds: pd.Series
    options: PanelOptions
    n_features: int

    def full(self) -> pd.Series:
        """Balanced accuracy of every model on all features (model → value)."""
        c = self.curve[self.curve["ranking"] == ALL]
        return c.set_index("model")["balanced_accuracy"]

    def smallest_panel(self, tolerance: float | None = None) -> dict[str, Any]:
        """The smallest (ranking, model, size) whose balanced accuracy is within ``tolerance`` of the same
        model's full-feature balanced accuracy; ties: higher balanced accuracy, then lower Brier. When no
        panel qualifies, the best panel overall (``within`` False)."""
        tol = self.options.tolerance if tolerance is None else float(tolerance)
        full = self.full()
        c = self.curve[self.curve["ranking"] != ALL].copy()
        c["full_balanced_accuracy"] = c["model"].map(full)
        ok = c[c["balanced_accuracy"] >= c["full_balanced_accuracy"] - tol - 1e-12]
        within = not ok.empty
        pick = (ok.sort_values(["size", "balanced_accuracy", "brier"], ascending=[True, False, True])
                if within else c.sort_values(["balanced_accuracy", "brier"], ascending=[False, True]))
        row = pick.iloc[0]
        return {"ranking": str(row["ranking"]), "model": str(row["model"]), "size": int(row["size"]),
                "balanced_accuracy": float(row["balanced_accuracy"]), "brier": float(row["brier"]),
                "full_balanced_accuracy": float(row["full_balanced_accuracy"]), "tolerance": tol,
                "within": bool(within)}

    def stability(self, ranking: str, size: int) -> pd.Series:
        """Fraction of outer folds whose top-``size`` panel of ``ranking`` contains each CpG (decreasing)."""
        fp = self.fold_panels
        sel = fp[(fp["ranking"] == ranking) & (fp["rank"] < int(size))]
        n_folds = max(int(fp["fold"].nunique()), 1)
        return (sel.groupby("feature")["fold"].nunique() / n_folds).rename("stability").sort_values(
            ascending=False, kind="stable")

    def always_chosen(self, ranking: str, size: int) -> list[str]:
        """CpGs in the top-``size`` panel of ``ranking`` in every fold."""
        s = self.stability(ranking, size)
        return s.index[s >= 1.0 - 1e-12].tolist()


def evaluate_panels(X: pd.DataFrame, y: pd.Series | Sequence[str], options: PanelOptions | None = None, *,
                    progress=None) -> PanelResult:
    """Panel-size curves of every ranking and model, rankings refitted in every outer training fold.

    Parameters
    ----------
    X, y
        Samples × CpGs DataFrame and class labels (a Series is aligned on ``X.index``).
    options
        :class:`PanelOptions` (rankings, models, sizes, prefilter, outer folds, seed, calibration, …).
    progress
        Optional callable ``progress(done, total)`` called as folds finish.
    """
    opts = options or PanelOptions()
    opts.check()
    if not isinstance(X, pd.DataFrame):
        raise DataError("panel: give a samples × CpGs DataFrame")
    y_s = y.reindex(X.index) if isinstance(y, pd.Series) else pd.Series(np.asarray(y), index=X.index)
    if y_s.isna().any():
        raise DataError(f"panel: {int(y_s.isna().sum())} samples have no label")
    y_s = y_s.astype(str)
    inner = opts.inner if opts.calibrate else None
    y_s, _ = apply_rare_policy(y_s, min_count=min_class_size(opts.outer, inner), policy=opts.rare)
    X = X.loc[y_s.index]
    classes = sorted(y_s.unique())
    yv = y_s.to_numpy()
    splits = list(StratifiedKFold(n_splits=opts.outer, shuffle=True, random_state=opts.seed).split(X, yv))
    results = []
    parallel = Parallel(n_jobs=min(opts.n_jobs, len(splits)), return_as="generator_unordered")
    for res in parallel(delayed(_one_fold)(X, yv, tr, te, f, opts, classes) for f, (tr, te) in enumerate(splits)):
        results.append(res)
        if progress is not None:
            progress(len(results), len(splits))
    folds = np.full(len(X), -1)
    keys = results[0]["preds"].keys()
    pooled = {k: np.zeros((len(X), len(classes))) for k in keys}
    for res in results:
        folds[res["test"]] = res["fold"]
        for k in keys:
            pooled[k][res["test"]] = res["preds"][k]
    rows = []
    for (ranking, model, size), P in pooled.items():
        pred = np.asarray(classes)[np.argmax(P, axis=1)]
        rows.append({"ranking": ranking, "model": model, "size": X.shape[1] if size == ALL else int(size),
                     "balanced_accuracy": float(balanced_accuracy_score(yv, pred)),
                     "brier": multiclass_brier(yv, pd.DataFrame(P, columns=classes))})
    curve = pd.DataFrame(rows).sort_values(["ranking", "model", "size"], ignore_index=True)
    panels = pd.concat([r["panels"] for r in results], ignore_index=True).sort_values(
        ["ranking", "fold", "rank"], ignore_index=True)
    return PanelResult(curve=curve, fold_panels=panels, y=y_s, folds=pd.Series(folds, index=X.index, name="fold"),
                       options=opts, n_features=int(X.shape[1]))


def final_ranking(X: pd.DataFrame, y: pd.Series, ranking: str, opts: PanelOptions) -> pd.Series:
    """``ranking`` computed on all samples (the recommended panel is the top of it): feature → score, best
    first, on the ``prefilter`` most variable CpGs."""
    from ..models.selectors import top_variance_indices

    pre = top_variance_indices(X.to_numpy(dtype=float), opts.prefilter)
    Xp = X.iloc[:, pre]
    order, score = rank_features(Xp.to_numpy(dtype=float), np.asarray(y.reindex(X.index).astype(str)), ranking,
                                 opts)
    return pd.Series(score[order], index=pd.Index(Xp.columns.astype(str)[order], name="feature"),
                     name="importance")
