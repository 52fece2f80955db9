"""The scale CpGs are modelled on: betas, M-values, and per-CpG standardisation (fitted in-fold).

Betas are bounded and heteroscedastic (variance shrinks near 0 and 1); the M-value ``log2(β / (1 − β))`` is the
scale on which methylation differences are closer to homoscedastic (Du et al. 2010, BMC Bioinformatics 11:587)
and the scale limma-style analyses use. Penalised linear models also depend on the scale of each column: an L2
penalty on raw betas penalises a CpG with a small range more than one with a wide range, so standardising every
CpG with the training fold's mean and standard deviation (scikit-learn's ``StandardScaler``) makes the ridge
penalty treat CpGs alike.

``make_pipeline(scale=...)`` accepts ``None`` (betas as they are), ``"standard"`` (standardised betas),
``"mvalue"`` and ``"mvalue_standard"``; the steps act on the CpG columns only (a CNV block is standardised on
its own) and are refitted inside every training fold like every other step.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..errors import ConfigError

__all__ = ["SCALE_METHODS", "BlockWeight", "MValueTransformer", "check_block_weight", "check_scale", "scale_steps"]

#: accepted values of ``scale`` (besides ``None``)
SCALE_METHODS: tuple[str, ...] = ("standard", "mvalue", "mvalue_standard")


class MValueTransformer(TransformerMixin, BaseEstimator):
    """Betas → M-values ``log2(β / (1 − β))``, betas clipped to ``[eps, 1 − eps]`` first (stateless).

    ``eps = 0.001`` bounds M at about ±10 (a beta of exactly 0 or 1 would be infinite); NaN stays NaN.
    Column names of a DataFrame pass through (``get_feature_names_out``).
    """

    def __init__(self, eps: float = 1e-3):
        self.eps = eps

    def fit(self, X, y=None):
        """Record the input width (and column names); nothing is learned."""
        validate_data(self, X, ensure_all_finite="allow-nan", dtype="numeric")
        if not 0.0 < float(self.eps) < 0.5:
            raise ConfigError(f"MValueTransformer: eps must be in (0, 0.5); got {self.eps!r}")
        return self

    def transform(self, X) -> np.ndarray:
        """M-values of ``X`` (samples × CpGs betas)."""
        check_is_fitted(self, "n_features_in_")
        B = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype="numeric")
        B = np.clip(np.asarray(B, dtype=float), self.eps, 1.0 - self.eps)
        return np.log2(B / (1.0 - B))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The input's column names (one M-value per beta)."""
        check_is_fitted(self, "n_features_in_")
        if input_features is not None:
            return np.asarray(input_features, dtype=object)
        names = getattr(self, "feature_names_in_", None)
        return np.asarray(names if names is not None else [f"x{i}" for i in range(self.n_features_in_)],
                          dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class BlockWeight(TransformerMixin, BaseEstimator):
    """Multiply (already standardised) columns by ``weight`` — a block-wise ridge penalty in disguise.

    For an L2-penalised linear model, scaling a block of features by ``w`` is the same as penalising that block's
    coefficients ``1/w²`` times as strongly as the others. The CNV block of ``make_pipeline(feature_blocks=…)``
    is standardised (variance 1 per feature) while betas vary by ~0.01–0.05, so without a weight the copy-number
    features are far less penalised than the CpGs; ``block_weight`` (searchable as ``pipeline.block_weight`` in a
    model's ``search:``, i.e. chosen by inner CV) sets the balance.
    """

    def __init__(self, weight: float = 1.0):
        self.weight = weight

    def fit(self, X, y=None):
        """Record the input width; nothing is learned."""
        validate_data(self, X, ensure_all_finite="allow-nan", dtype="numeric")
        check_block_weight(self.weight)
        return self

    def transform(self, X) -> np.ndarray:
        """``weight · X``."""
        check_is_fitted(self, "n_features_in_")
        return float(self.weight) * np.asarray(validate_data(self, X, reset=False, ensure_all_finite="allow-nan",
                                                             dtype="numeric"), dtype=float)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The input's column names."""
        check_is_fitted(self, "n_features_in_")
        if input_features is not None:
            return np.asarray(input_features, dtype=object)
        names = getattr(self, "feature_names_in_", None)
        return np.asarray(names if names is not None else [f"x{i}" for i in range(self.n_features_in_)],
                          dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def check_block_weight(weight) -> float:
    """``weight`` as a positive float; ConfigError otherwise."""
    try:
        w = float(weight)
    except (TypeError, ValueError):
        raise ConfigError(f"block_weight must be a positive number; got {weight!r}") from None
    if not np.isfinite(w) or w <= 0:
        raise ConfigError(f"block_weight must be a positive number; got {weight!r}")
    return w


def check_scale(scale: str | None) -> str | None:
    """The normalised ``scale`` option (None for none); ConfigError for an unknown value."""
    if scale is None or (isinstance(scale, str) and scale.lower() in ("", "none", "beta")):
        return None
    if scale not in SCALE_METHODS:
        raise ConfigError(f"unknown scale {scale!r}; choose none, {', '.join(SCALE_METHODS)}")
    return str(scale)


def scale_steps(scale: str | None) -> list[tuple[str, object]]:
    """The pipeline steps of ``scale`` (applied after selection and imputation)."""
    from sklearn.preprocessing import StandardScaler

    scale = check_scale(scale)
    steps: list[tuple[str, object]] = []
    if scale in ("mvalue", "mvalue_standard"):
        steps.append(("mvalue", MValueTransformer()))
    if scale in ("standard", "mvalue_standard"):
        steps.append(("scale", StandardScaler()))
    return steps
