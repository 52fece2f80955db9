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
from sklearn.compose import ColumnTransformer
from sklearn.utils.validation import check_is_fitted, validate_data

from ..errors import ConfigError

__all__ = ["SCALE_METHODS", "BlockColumnTransformer", "MValueTransformer", "check_block_weight", "check_scale",
           "scale_steps"]

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


class BlockColumnTransformer(ColumnTransformer):
    """The CpG / feature-block ``ColumnTransformer`` of the pipeline, with the block's output times a weight.

    For an L2-penalised linear model, scaling a block of features by ``w`` is the same as penalising that block's
    coefficients ``1/w²`` times as strongly as the others. The CNV block is standardised (SD 1 per feature) while
    the selected betas have SDs of ~0.1–0.3, so unweighted, the copy-number features are 10–100 times less
    penalised than the CpGs and dominate a ridge model. ``block_weight="auto"`` sets ``w`` to the median
    training-fold SD of the CpG outputs (after selection, imputation and any ``scale``), so that one CNV feature
    weighs like a typical selected CpG — fitted in-fold, no tuning; a number fixes ``w`` (1 = unweighted).
    Fitted attribute ``block_weight_``. Output columns: the transformers' (``cpg`` first, then ``blocks``).
    """

    def __init__(self, transformers, *, block_weight: float | str = 1.0, remainder="drop",
                 verbose_feature_names_out: bool = False):
        super().__init__(transformers, remainder=remainder, verbose_feature_names_out=verbose_feature_names_out)
        self.block_weight = block_weight

    def _weight(self, Z) -> float:
        if self.block_weight != "auto":
            return check_block_weight(self.block_weight)
        cpg = self.output_indices_.get("cpg", slice(0, 0))
        sd = np.nanstd(np.asarray(Z[:, cpg], dtype=float), axis=0) if cpg.stop > cpg.start else np.array([])
        sd = sd[np.isfinite(sd) & (sd > 0)]
        return float(np.median(sd)) if sd.size else 1.0

    def _apply(self, Z):
        blocks = self.output_indices_.get("blocks", slice(0, 0))
        if self.block_weight_ != 1.0 and blocks.stop > blocks.start:
            Z = np.array(Z, dtype=float, copy=True)
            Z[:, blocks] *= self.block_weight_
        return Z

    def fit(self, X, y=None, **params):
        """Fit the transformers and the block weight on ``X``."""
        self.fit_transform(X, y, **params)
        return self

    def fit_transform(self, X, y=None, **params):
        """Fit, then the weighted output for ``X``."""
        Z = super().fit_transform(X, y, **params)
        self.block_weight_ = self._weight(Z)
        return self._apply(Z)

    def transform(self, X, **params):
        """The weighted output for ``X``."""
        return self._apply(super().transform(X, **params))


def check_block_weight(weight) -> float | str:
    """``weight`` as a positive float (or ``"auto"``); ConfigError otherwise."""
    if weight == "auto":
        return "auto"
    try:
        w = float(weight)
    except (TypeError, ValueError):
        raise ConfigError(f"block_weight must be a positive number or auto; got {weight!r}") from None
    if not np.isfinite(w) or w <= 0:
        raise ConfigError(f"block_weight must be a positive number or auto; got {weight!r}")
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
