"""Material / batch adjustment fitted inside the training fold: limma ``removeBatchEffect`` as an sklearn step.

The Heidelberg classifier (Capper et al. 2018) removes the FFPE-vs-frozen shift with limma's
``removeBatchEffect`` on the whole training set. Here the same per-CpG linear model is a transformer, so it is
fitted on the *training* samples only (each outer fold, each inner fold) and applied to new samples:

1. ``fit(X, y)``: for every CpG ``j``, least squares of ``x_j`` on ``[design | covariate codes]`` where the
   design is an intercept plus the class indicators (the classes are *protected*: their differences are not
   removed even when a class is mostly FFPE) and each covariate is a factor coded with ``contr.sum`` (two
   levels → +1 / −1), exactly as ``limma::removeBatchEffect(x, batch=cov, design=model.matrix(~class))``;
2. ``transform(X)``: ``x − β_cov · code(cov)`` per CpG — every sample is moved to the average over the
   covariate levels; a sample whose covariate is missing or a level unseen in training gets code 0 (no shift).

The covariate travels *with X* as a column block: columns named ``<prefix><name>`` (default ``cov_``, e.g.
``cov_material`` = ``FFPE`` / ``Frozen`` or 1 / 0). The step consumes these columns and drops them, so the
later steps (selection, model) see CpGs (and other feature blocks, which are passed through unadjusted).
Hand-written (≈ 40 lines of numpy) because limma is R-only; ``tests/models/test_adjust.py`` checks it against
Debian's ``r-bioc-limma`` when R is installed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..errors import ConfigError, DataError

__all__ = ["CovariateAdjuster", "covariate_codes"]


def covariate_codes(values: Sequence, levels: Sequence) -> np.ndarray:
    """``contr.sum`` codes (n × (L − 1)) of factor ``values`` over ``levels`` (sorted, as R's ``factor``):
    level ``i < L−1`` → unit vector ``e_i``, the last level → all −1; missing / unknown values → 0."""
    levels = list(levels)
    L = len(levels)
    out = np.zeros((len(values), max(L - 1, 0)))
    pos = {lv: i for i, lv in enumerate(levels)}
    for r, v in enumerate(values):
        i = pos.get(_level(v))
        if i is None:
            continue
        if i < L - 1:
            out[r, i] = 1.0
        else:
            out[r, :] = -1.0
    return out


def _level(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


class CovariateAdjuster(TransformerMixin, BaseEstimator):
    """Remove covariate (FFPE / batch) effects per feature, learned on the training samples only.

    Parameters: ``prefixes`` (covariate column prefixes, default ``("cov_",)``), ``exclude`` (prefixes of
    feature blocks passed through unadjusted, e.g. ``("cnv_",)``), ``protect_classes`` (class design in the
    model, default True), ``shrink`` (default True: empirical-Bayes shrinkage of the coefficients across
    features, ``β · τ²/(τ² + se²)`` — without a material effect almost nothing is subtracted; False = limma's
    plain least-squares estimate). Input must be a DataFrame (the covariates are found by name).

    Fitted attributes: ``covariates_`` (column names), ``levels_`` (per covariate), ``coef_`` (features ×
    codes), ``adjusted_`` (names of the adjusted columns), ``feature_names_out_``.
    """

    def __init__(self, prefixes: Sequence[str] = ("cov_",), exclude: Sequence[str] = (),
                 protect_classes: bool = True, shrink: bool = True):
        self.prefixes = prefixes
        self.exclude = exclude
        self.protect_classes = protect_classes
        self.shrink = shrink

    def _split(self, X):
        if not hasattr(X, "columns"):
            raise ConfigError("CovariateAdjuster needs a DataFrame with covariate columns (e.g. 'cov_material')")
        prefixes = tuple(self.prefixes)
        cols = [str(c) for c in X.columns]
        cov = [c for c in cols if c.startswith(prefixes)]
        keep = [c for c in cols if not c.startswith(prefixes)]
        adj = [c for c in keep if not c.startswith(tuple(self.exclude))] if self.exclude else keep
        return cov, keep, adj

    def _codes(self, X) -> np.ndarray:
        parts = [covariate_codes(X[c].tolist(), self.levels_[c]) for c in self.covariates_]
        return np.hstack(parts) if parts else np.zeros((len(X), 0))

    def fit(self, X, y=None):
        """Fit the per-feature linear model on the training samples (``y`` = classes to protect)."""
        cov, keep, adj = self._split(X)
        if not cov:
            raise DataError(f"CovariateAdjuster: no covariate column starting with {tuple(self.prefixes)}; "
                            "add e.g. a 'cov_material' column (FFPE / Frozen)")
        self.covariates_ = cov
        self.levels_ = {c: sorted({lv for lv in map(_level, X[c].tolist()) if lv is not None}) for c in cov}
        self.adjusted_ = adj
        self.feature_names_out_ = np.asarray(keep, dtype=object)
        B = self._codes(X)
        n = len(X)
        if self.protect_classes and y is not None:
            yv = np.asarray(y)
            classes = np.unique(yv)
            D = np.column_stack([np.ones(n)] + [(yv == c).astype(float) for c in classes[1:]])
        else:
            D = np.ones((n, 1))
        A = np.hstack([D, B])
        V = X[adj].to_numpy(dtype=float)
        if np.isnan(V).any():  # fit on mean-filled values (the transform keeps NaN where it was)
            mean = np.nanmean(V, axis=0)
            V = np.where(np.isnan(V), np.where(np.isnan(mean), 0.0, mean), V)
        coef, *_ = np.linalg.lstsq(A, V, rcond=None)
        self.coef_ = coef[D.shape[1]:].T  # features × codes
        # a code column constant in the training fold (a level absent or confounded with the classes) cannot be
        # estimated: limma sets NA coefficients to 0, so does this
        rank_ok = np.linalg.matrix_rank(A) == A.shape[1]
        if not rank_ok:
            self.coef_ = _estimable_coef(D, B, V)
        elif self.shrink and n > A.shape[1]:
            # On a cohort without a material effect the least-squares coefficients are pure noise, and subtracting
            # them hurt (Brier 0.044 → 0.089 on a simulated cohort whose material is confounded with class).
            # Empirical-Bayes shrinkage (normal prior across the features, per covariate code): the prior variance
            # τ² = max(0, mean β² − mean se²) is ~0 without an effect (nothing subtracted) and large with a real
            # one (coefficients kept); each β is multiplied by τ² / (τ² + se²).
            resid = V - A @ coef
            sigma2 = (resid ** 2).sum(axis=0) / (n - A.shape[1])            # per feature
            var_c = np.diag(np.linalg.pinv(A.T @ A))[D.shape[1]:]            # per code
            se2 = sigma2[:, None] * var_c[None, :]
            tau2 = np.maximum(0.0, (self.coef_ ** 2).mean(axis=0) - se2.mean(axis=0))
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = np.where(tau2[None, :] > 0, tau2[None, :] / (tau2[None, :] + se2), 0.0)
            self.shrinkage_ = np.nan_to_num(factor).mean(axis=0)
            self.coef_ = self.coef_ * np.nan_to_num(factor)
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        return self

    def transform(self, X):
        """Subtract the covariate effect of each sample; returns a DataFrame without the covariate columns."""
        check_is_fitted(self, "coef_")
        cov, keep, _ = self._split(X)
        missing = [c for c in self.covariates_ if c not in cov]
        if missing:
            raise DataError(f"CovariateAdjuster: samples lack the covariate column(s) {missing}")
        values = X[keep].to_numpy(dtype=float, copy=True)
        if self.coef_.size:
            pos = {c: i for i, c in enumerate(keep)}
            cols = np.fromiter((pos[c] for c in self.adjusted_), dtype=np.intp, count=len(self.adjusted_))
            values[:, cols] -= self._codes(X) @ self.coef_.T  # samples × adjusted features
        return pd.DataFrame(values, index=X.index, columns=keep)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output columns (the input minus the covariates)."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_


def _estimable_coef(D: np.ndarray, B: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Covariate coefficients with non-estimable code columns (aliased with the design) set to 0."""
    keep = []
    A = D.copy()
    for j in range(B.shape[1]):
        trial = np.hstack([A, B[:, [j]]])
        if np.linalg.matrix_rank(trial) == trial.shape[1]:
            A = trial
            keep.append(j)
    coef, *_ = np.linalg.lstsq(A, V, rcond=None)
    out = np.zeros((V.shape[1], B.shape[1]))
    out[:, keep] = coef[D.shape[1]:].T
    return out
