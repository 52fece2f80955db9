"""Missing CpGs at prediction time: class-centroid imputation from the training distribution.

A model trained on one array meets samples of another (a 450k model, an EPICv2 case: ≈ 10 % of its CpGs
absent) or samples with failed probes. Filling every missing CpG with its training median (the classic
default) pulls the sample towards the *average* training profile, which is no tumour class at all; with a
few percent missing that is harmless, with 20–50 % it visibly costs accuracy (see the coverage curve in the
README, ``pipelines/cross_array_coverage.py``).

:class:`CentroidImputer` fills a missing CpG with the training class means, weighted by how well each class
explains the CpGs the sample *does* have. Fitted on the training fold only: per-class means, the pooled
within-class spread ``s_j + s_0`` (PAM's, ``s_0`` = median ``s_j``) and, as in nearest shrunken centroids
(Tibshirani et al. 2002), the standardised difference of each class mean from the overall mean; a CpG whose
difference stays below the universal threshold ``sqrt(2 ln p)`` for a class takes the overall mean there
(hard threshold: the CpGs that separate the class keep the full class mean). Noise CpGs then carry the same
value for every class and cancel, so the class weights — the softmax of the diagonal-Gaussian
log-likelihood ``−½ Σ_observed (x_j − μ_kj)² / (s_j + s_0)²`` over the informative CpGs, each term capped so
one outlying CpG cannot decide — are not swamped by thousands of uninformative CpGs (the unshrunken version
did worse than median imputation in ``pipelines/cross_array_coverage.py``). The fill is ``Σ_k w_k μ_kj``: a
sample that looks like class A gets class-A values for its missing CpGs, and the training mean where the
classes do not differ. Fitted without labels it is plain median imputation. Hand-written because
scikit-learn's imputers are unsupervised (``KNNImputer`` would also need the whole training matrix in the
model bundle: n_train × n_features values against n_classes × n_features here).

:class:`MedianImputer` is scikit-learn's median imputer with a fast path for complete data:
scikit-learn's ``SimpleImputer(strategy="median")`` computes column medians through ``numpy.ma.median`` on a
masked copy of the whole matrix, even when nothing is missing — on a 2,000 × 10,000 beta matrix that masked
sort is the slowest step of a linear model's fit (profiled in ``results/heidelberg_profile.md``), and the
pipeline refits it in every inner and outer fold. :class:`MedianImputer` is that imputer with one change:
when the dense float input holds no NaN, the medians come from ``numpy.median`` (a partition instead of a
masked sort). Both take the middle element, or ``(low + high) / 2`` of the two middle ones, in float64, so the
statistics are bit-identical (``tests/models/test_impute_median.py``); with any NaN the scikit-learn code runs as is.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.utils._missing import is_scalar_nan
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["IMPUTE_METHODS", "CentroidImputer", "MedianImputer", "make_imputer"]

#: accepted values of the pipeline's ``impute`` option (besides ``None``)
IMPUTE_METHODS: tuple[str, ...] = ("median", "mean", "centroid")
_TERM_CAP = 25.0  # largest contribution of one CpG to a class log-likelihood (|z| = 5)


class CentroidImputer(TransformerMixin, BaseEstimator):
    """Fill missing values with likelihood-weighted class means of the training data (module docstring).

    Parameters
    ----------
    shrink : float or None
        Soft threshold Δ of the standardised class-centroid differences (nearest shrunken centroids); None:
        the universal threshold ``sqrt(2 ln n_features)``, which removes pure-noise features.
    min_variance : float
        Floor of the within-class variance of a feature (β scale).

    Attributes
    ----------
    classes_ : ndarray
        Training classes (empty when fitted without labels).
    centroids_ : ndarray (n_classes, n_features)
        Shrunken class centroids (equal to the overall mean on features that do not separate the classes).
    variance_ : ndarray (n_features,)
        Squared PAM spread ``(s_j + s_0)²`` (pooled within-class sd plus its median), floored.
    informative_ : ndarray
        Indices of the features whose centroids differ between classes after shrinkage.
    statistics_ : ndarray (n_features,)
        Overall medians (the fill when no labels were given; 0.5 for features never observed).
    """

    def __init__(self, shrink: float | None = None, min_variance: float = 1e-4):
        self.shrink = shrink
        self.min_variance = min_variance

    def fit(self, X, y=None):
        """Learn medians, shrunken class centroids and pooled within-class spreads of ``X`` (NaN = missing)."""
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=True)
        with np.errstate(all="ignore"), _quiet():
            med = np.nanmedian(X, axis=0)
            overall = np.nanmean(X, axis=0)
        self.statistics_ = np.where(np.isnan(med), 0.5, med)
        overall = np.where(np.isnan(overall), self.statistics_, overall)
        if y is None:
            self.classes_ = np.empty(0, dtype=object)
            self.centroids_ = self.statistics_[None, :].copy()
            self.variance_ = np.full(X.shape[1], 1.0)
            return self
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        means, counts, ss, dof = [], [], np.zeros(X.shape[1]), np.zeros(X.shape[1])
        for c in self.classes_:
            part = X[y == c]
            n = (~np.isnan(part)).sum(axis=0)
            mean = np.where(n > 0, np.nansum(part, axis=0) / np.maximum(n, 1), overall)
            ss += np.nansum((part - mean) ** 2, axis=0)
            dof += np.maximum(n - 1, 0)
            means.append(mean)
            counts.append(n)
        sd = np.sqrt(np.where(dof > 0, ss / np.maximum(dof, 1), np.nan))
        s0 = np.nanmedian(sd) if np.isfinite(sd).any() else np.sqrt(self.min_variance)
        spread = np.where(np.isnan(sd), s0, sd) + s0  # PAM's s_j + s_0
        n_all = np.maximum(np.sum(counts, axis=0), 1)
        delta = self.shrink if self.shrink is not None else np.sqrt(2.0 * np.log(max(X.shape[1], 2)))
        cents = []
        for mean, n in zip(means, counts):
            m = np.sqrt(np.maximum(1.0 / np.maximum(n, 1) - 1.0 / n_all, 0.0))
            d = (mean - overall) / (m * spread + 1e-12)
            # hard threshold: a CpG that separates class k keeps the class mean (soft thresholding, as in PAM,
            # would bias every fill towards the overall mean by Δ·m·spread)
            cents.append(np.where(np.abs(d) > delta, mean, overall))
        self.centroids_ = np.vstack(cents)
        self.variance_ = np.maximum(spread ** 2, self.min_variance)
        self.informative_ = np.flatnonzero(np.any(self.centroids_ != overall, axis=0))
        return self

    def class_weights(self, X) -> np.ndarray:
        """Per sample, the weight of each training class given its observed values (rows sum to 1)."""
        check_is_fitted(self, "centroids_")
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False)
        cols = getattr(self, "informative_", np.arange(X.shape[1]))  # other features cancel in the softmax
        mus = self.centroids_[:, cols]
        inv = 1.0 / self.variance_[cols]
        cap = _TERM_CAP / inv  # (x - mu)^2 * inv <= _TERM_CAP  <=>  (x - mu)^2 <= cap
        loglik = np.zeros((X.shape[0], mus.shape[0]))
        # blocks of rows small enough to stay in cache: one pass per class over (rows x CpGs) instead of five
        # over the whole matrix (91 classes x 2,000 samples x 5,000 CpGs: ~5 x faster, same sums)
        step = max(1, (1 << 17) // max(len(cols), 1))
        for start in range(0, X.shape[0], step):
            block = X[start:start + step, cols]
            obs = ~np.isnan(block)
            x = np.where(obs, block, 0.0)
            w = obs * inv  # unobserved CpGs weigh nothing
            d = np.empty_like(x)
            for k, mu in enumerate(mus):
                np.subtract(x, mu, out=d)
                np.multiply(d, d, out=d)
                np.minimum(d, cap, out=d)
                loglik[start:start + step, k] = -0.5 * np.einsum("ij,ij->i", d, w)
        return np.exp(loglik - logsumexp(loglik, axis=1, keepdims=True))

    def transform(self, X):
        """``X`` with every missing value filled (complete rows come back unchanged)."""
        check_is_fitted(self, "centroids_")
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False, copy=True)
        miss = np.isnan(X)
        rows = np.flatnonzero(miss.any(axis=1))
        if rows.size:
            fill = self.class_weights(X[rows]) @ self.centroids_
            sub = X[rows]
            m = miss[rows]
            sub[m] = fill[m]
            X[rows] = sub
        return X

    def get_feature_names_out(self, input_features=None):
        """Feature names pass through unchanged."""
        from sklearn.utils.validation import _check_feature_names_in

        return _check_feature_names_in(self, input_features)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class _quiet:
    """Silence numpy's 'All-NaN slice' warnings of nanmedian on never-observed features."""

    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)
        return self

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)


class MedianImputer(SimpleImputer):
    """``SimpleImputer(strategy="median")`` with a faster fit on complete dense float data (same result).

    Parameters: ``keep_empty_features`` (as scikit-learn's: an all-missing column is imputed with 0 and kept).
    """

    def __init__(self, *, keep_empty_features: bool = True):
        super().__init__(strategy="median", keep_empty_features=keep_empty_features)

    def _dense_fit(self, X, strategy, missing_values, fill_value):
        if (strategy == "median" and X.ndim == 2 and X.shape[0] > 0 and X.dtype.kind == "f"
                and is_scalar_nan(missing_values)):
            missing = np.isnan(X)
            if not missing.any():
                super()._fit_indicator(missing)
                return np.median(X, axis=0)
        return super()._dense_fit(X, strategy, missing_values, fill_value)


def make_imputer(method: str):
    """The imputer of a pipeline ``impute`` option: ``median`` (:class:`MedianImputer`), ``mean``
    (scikit-learn ``SimpleImputer``; training statistics) or ``centroid`` (:class:`CentroidImputer`)."""
    if method == "centroid":
        return CentroidImputer()
    if method == "median":
        return MedianImputer()
    return SimpleImputer(strategy=method, keep_empty_features=True)
