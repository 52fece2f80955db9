"""The covariates a model adjusts for, built for new samples: level names → the training codes, honestly.

A bundle trained with an in-fold covariate adjustment (:class:`~methylclass.models.adjust.CovariateAdjuster`;
e.g. ``cov_array`` of a mixed-array store, ``cov_material`` from a sample-sheet column) reads one ``cov_<name>``
column per covariate. Training stored them as numeric codes of the sorted levels; the card records the map
(``card["covariates"][col]["levels"]``, e.g. ``{"HM450": 0.0, "EPICv2": 1.0}``). :func:`encode_covariates`
turns the values of new samples into those codes:

* a level *name* (``"EPICv2"``, ``"ffpe"``) is matched exactly, then case-insensitively, and for ``cov_array``
  through the array registry's aliases (``450k`` = ``HM450``);
* a number is taken as a training code (the rows of a training table keep their codes);
* a missing value, a column the input lacks, or a level never seen in training gets NaN: the adjuster then
  applies **no shift** to that sample (code 0 = the average over the training levels), so its prediction is
  that of an unadjusted sample. It is still scored, and the sample's ``warning`` names the covariate, the value
  and the training levels, so the call is never silently made on an unadjusted profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["COV_PREFIX", "covariate_spec", "encode_covariates", "match_level"]

COV_PREFIX = "cov_"


def covariate_spec(card: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """``{cov_<name>: {level: code}}`` of the covariates a bundle's model reads (empty for none).

    The card's ``covariates`` (written by ``train``) or, for older bundles, ``config.covariates``; only the
    covariates that are input features of the model count."""
    features = set(card.get("features") or ())
    spec: dict[str, dict[str, float]] = {}
    top = card.get("covariates") or {}
    old = (card.get("config") or {}).get("covariates") or {}
    for col in sorted(set(top) | set(old)):
        if col not in features:
            continue
        levels = (top.get(col) or {}).get("levels") if col in top else old.get(col)
        spec[col] = {str(k): float(v) for k, v in (levels or {}).items()}
    for col in features:  # a cov_ input without a recorded level map: codes only
        if str(col).startswith(COV_PREFIX) and col not in spec:
            spec[str(col)] = {}
    return spec


def _array_key(name: str) -> str | None:
    from ..errors import ManifestError
    from ..io.manifest.registry import get_array

    try:
        return get_array(name).name
    except ManifestError:
        return None


def match_level(value: Any, levels: Mapping[str, float], *, array: bool = False) -> float | None:
    """The training code of ``value`` (a level name or a code), or None when it is missing or unseen."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        code = float(value)
        return code if code in set(levels.values()) else None
    text = str(value).strip()
    if not text or text.lower() in ("nan", "none", "na"):
        return None
    if text in levels:
        return levels[text]
    lower = {k.lower(): v for k, v in levels.items()}
    if text.lower() in lower:
        return lower[text.lower()]
    if array:
        key = _array_key(text)
        if key is not None:
            for k, v in levels.items():
                if _array_key(k) == key:
                    return v
    return None


def _describe(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).strip()


def encode_covariates(X: pd.DataFrame, spec: Mapping[str, Mapping[str, float]]) -> tuple[pd.DataFrame, pd.Series]:
    """``(X with each covariate column as training codes, warning per sample)`` (module docstring).

    Parameters
    ----------
    X : DataFrame
        Samples × features; covariate columns ``cov_<name>`` hold level names or training codes (absent
        columns count as missing for every sample).
    spec : mapping
        ``{cov_<name>: {level: code}}`` (:func:`covariate_spec`).

    Returns
    -------
    (DataFrame, Series)
        ``X`` with float covariate columns (NaN = no adjustment) and a ``warning`` text per sample ("" when
        every covariate was built).
    """
    warnings = pd.Series("", index=X.index, dtype=object, name="warning")
    if not spec:
        return X, warnings
    notes: list[list[str]] = [[] for _ in range(len(X))]
    out = {}
    for col, levels in spec.items():
        name = col[len(COV_PREFIX):]
        known = ", ".join(levels) or "codes only"
        values = X[col].tolist() if col in X.columns else [None] * len(X)
        codes = np.full(len(X), np.nan)
        for i, v in enumerate(values):
            code = match_level(v, levels, array=name == "array")
            if code is not None:
                codes[i] = code
                continue
            text = _describe(v)
            notes[i].append(f"{name} '{text}' was not seen in training ({known}): no {name} adjustment applied"
                            if text else
                            f"{name} not given (training levels: {known}): no {name} adjustment applied")
        out[col] = codes
    X = X.assign(**out)
    warnings[:] = ["; ".join(n) for n in notes]
    return X, warnings
