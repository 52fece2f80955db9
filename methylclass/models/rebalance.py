"""Class rebalancing, always fitted inside the training fold.

``balance`` options understood by :func:`~methylclass.models.pipeline.make_pipeline`:

* ``None`` — train on the data as given.
* ``"class_weight"`` — the model's own ``class_weight="balanced"`` (weights ``n / (k · n_c)``); XGBoost and the
  MLP receive the same weights as per-sample weights.
* ``"downsample"`` — random forests only: every tree is grown on a stratified sample of ``min_c n_c`` members of
  each class drawn with replacement (Capper et al. 2018, mnp_training's ``sampsize``), via imbalanced-learn's
  ``BalancedRandomForestClassifier``.
* ``"oversample"`` / ``"undersample"`` — imbalanced-learn's ``RandomOverSampler`` (every class up to the largest)
  and ``RandomUnderSampler`` (every class down to the smallest).
* ``"smote"`` — :class:`AdaptiveSMOTE`: imbalanced-learn's SMOTE, but with ``k_neighbors`` shrunk per class to
  ``n_c − 1`` when a class is too small for the requested ``k`` (plain SMOTE raises a cryptic
  ``Expected n_neighbors <= n_samples_fit``), and single-member classes duplicated instead of interpolated (with a
  warning naming them).

Samplers sit in an imbalanced-learn ``Pipeline`` so they act in ``fit`` only, never at prediction time.
"""

from __future__ import annotations

import warnings

import numpy as np
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.under_sampling import RandomUnderSampler
from scipy import sparse
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import _safe_indexing, check_random_state

from ..errors import ConfigError

__all__ = ["BALANCE_METHODS", "AdaptiveSMOTE", "check_balance", "class_counts", "make_sampler"]

#: accepted values of ``balance`` (besides ``None``)
BALANCE_METHODS: tuple[str, ...] = ("class_weight", "downsample", "oversample", "undersample", "smote")


def check_balance(balance: str | None) -> str | None:
    """Normalise ``balance`` (``None``/``"none"`` → None) or raise ConfigError listing the options."""
    if balance is None or (isinstance(balance, str) and balance.lower() in ("none", "")):
        return None
    if isinstance(balance, str) and balance.lower() in BALANCE_METHODS:
        return balance.lower()
    raise ConfigError(f"unknown balance {balance!r}; choose one of: none, {', '.join(BALANCE_METHODS)}")


def make_sampler(balance: str | None, *, random_state: int | None = 0, k_neighbors: int = 5):
    """The imbalanced-learn sampler for ``balance``, or None when the rebalancing lives in the model."""
    balance = check_balance(balance)
    if balance == "oversample":
        return RandomOverSampler(random_state=random_state)
    if balance == "undersample":
        return RandomUnderSampler(random_state=random_state)
    if balance == "smote":
        return AdaptiveSMOTE(k_neighbors=k_neighbors, random_state=random_state)
    return None


class AdaptiveSMOTE(SMOTE):
    """SMOTE that copes with small classes (see module docstring).

    Fitted attributes besides SMOTE's: ``k_neighbors_used_`` (class → k actually used; 0 = duplicated).
    """

    def _fit_resample(self, X, y):
        if not isinstance(self.k_neighbors, (int, np.integer)):
            return super()._fit_resample(X, y)
        self._validate_estimator()
        X_res, y_res = [X.copy()], [y.copy()]
        self.k_neighbors_used_ = {}
        singletons = []
        rng = check_random_state(self.random_state)
        for cls, n_new in self.sampling_strategy_.items():
            if n_new == 0:
                continue
            idx = np.flatnonzero(y == cls)
            X_cls = _safe_indexing(X, idx)
            k = int(min(self.k_neighbors, len(idx) - 1))
            self.k_neighbors_used_[cls] = k
            if k < 1:
                singletons.append(str(cls))
                X_new = _safe_indexing(X_cls, rng.randint(0, len(idx), size=n_new))
                y_new = np.full(n_new, cls, dtype=y.dtype)
            else:
                nn = NearestNeighbors(n_neighbors=k + 1).fit(X_cls)
                nns = nn.kneighbors(X_cls, return_distance=False)[:, 1:]
                X_new, y_new = self._make_samples(X_cls, y.dtype, cls, X_cls, nns, n_new, 1.0)
            X_res.append(X_new)
            y_res.append(y_new)
        if singletons:
            warnings.warn(f"SMOTE: class(es) {singletons} have a single training member; duplicated instead "
                          "of interpolated", UserWarning, stacklevel=2)
        X_out = sparse.vstack(X_res, format=X.format) if sparse.issparse(X) else np.vstack(X_res)
        return X_out, np.hstack(y_res)


def class_counts(y) -> dict:
    """Members per class (a plain dict, sorted by class) — handy for reports and tests."""
    labels, counts = np.unique(np.asarray(y), return_counts=True)
    return {lab: int(c) for lab, c in zip(labels, counts)}

