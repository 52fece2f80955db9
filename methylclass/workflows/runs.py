"""Small helpers of run folders: atomic CSV, JSON that tolerates numpy scalars and NaN, and the estimator
factory built from a resolved model entry of the config."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._atomic import atomic_write
from ..config import setting

Echo = Callable[[str], None]


def pipeline_kwargs(model_cfg: Mapping[str, Any], *, inner: int | None, seed: int,
                    feature_blocks: Sequence[str] = ()) -> dict[str, Any]:
    """Keyword arguments of ``make_pipeline`` for one resolved model entry (``feature_blocks`` of the data
    are passed on unless the model's pipeline sets its own)."""
    kw = dict(model_cfg.get("pipeline") or {})
    if feature_blocks and not kw.get("feature_blocks"):
        kw["feature_blocks"] = list(feature_blocks)
    if inner is None:
        kw["calibrate"] = None
    else:
        kw["inner_cv"] = int(inner)
    kw.update(random_state=seed, n_jobs=1)
    kw.update(model_cfg.get("params") or {})
    if model_cfg.get("search"):
        kw["search"] = dict(model_cfg["search"])
    return kw


def estimator_factory(model_cfg: Mapping[str, Any], *, inner: int | None, seed: int,
                      feature_blocks: Sequence[str] = ()) -> Callable[[], Any]:
    """A picklable zero-argument factory of the model's unfitted pipeline (options checked now)."""
    from ..models import make_pipeline

    factory = functools.partial(make_pipeline, model_cfg.get("estimator"),
                                **pipeline_kwargs(model_cfg, inner=inner, seed=seed,
                                                  feature_blocks=feature_blocks))
    factory()  # ConfigError now rather than inside a worker
    return factory



def covariate_plan(model_cfg: Mapping[str, Any], covariates: Sequence[str],
                   auto: Sequence[str] = ()) -> tuple[dict[str, Any], list[str], list[str]]:
    """``(model_cfg, used, dropped)``: which ``cov_*`` columns of the data one model adjusts for.

    A model adjusts for the covariates its ``pipeline.adjust`` prefixes match; the ``auto`` ones (the array of a
    mixed store, ``store.array_covariate``) are added to every model's adjustment. The returned config has the
    widened ``pipeline.adjust``; ``dropped`` are the covariate columns the model does not use (removed from its
    input: a covariate is never a feature). Without covariates the config is returned unchanged.
    """
    from ..models.pipeline import _adjust_prefixes

    pipe = dict(model_cfg.get("pipeline") or {})
    adjust = pipe.get("adjust")
    prefixes = _adjust_prefixes(adjust)
    used = [c for c in covariates if prefixes and str(c).startswith(prefixes)]
    extra = [c for c in auto if c not in used]
    if extra:
        widened: dict[str, Any] = {"prefixes": [*prefixes, *extra]}
        if isinstance(adjust, Mapping) and "shrink" in adjust:
            widened["shrink"] = adjust["shrink"]
        pipe["adjust"] = widened
        used += extra
        model_cfg = {**model_cfg, "pipeline": pipe}
    return dict(model_cfg), used, [c for c in covariates if c not in used]


def _atomic_csv(df: pd.DataFrame, path: Path, **kw) -> None:
    atomic_write(path, lambda fh: df.to_csv(fh, **kw))


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def _clean_nan(node):
    if isinstance(node, dict):
        return {k: _clean_nan(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_clean_nan(v) for v in node]
    if isinstance(node, float) and not math.isfinite(node):
        return None
    return node


def decision_threshold(cfg: Mapping[str, Any]) -> float | dict[str, float]:
    """The ``no_match`` threshold of a config: ``decision.threshold``, or with ``decision.class_thresholds``
    the mapping ``{class: threshold, "default": threshold}`` (the one reading every workflow uses, so CV
    metrics, a bundle's card and its predictions apply the same rule)."""
    threshold = float(setting(cfg, "decision.threshold"))
    per_class = setting(cfg, "decision.class_thresholds")
    if per_class:
        return {**{str(k): float(v) for k, v in per_class.items()}, "default": threshold}
    return threshold
