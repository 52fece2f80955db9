"""Fit one configured model on every labelled row and save it as a model bundle (with its conformal
calibration, out-of-fold card metrics and OOD detector)."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import ensure_writable_parent
from ..config import setting
from ..errors import ConfigError
from .data import Dataset, load_dataset, resolved_data_block
from .runs import Echo, covariate_plan, decision_threshold, estimator_factory

log = logging.getLogger(__name__)


@dataclass
class TrainedModel:
    """Result of :func:`train`: the bundle folder and the cross-validated metrics stored in its card."""

    path: Path
    classes: list[str]
    metrics: dict[str, Any] | None
    components: list[str]
    wall_seconds: float


def train(cfg: Mapping[str, Any], out: str | Path, *, model: str | None = None, dataset: Dataset | None = None,
          conformal: str | None = "config", conformal_folds: int | None = None, ood_k: int | None = None,
          overwrite: bool = False, progress: bool | None = None, echo: Echo | None = None,
          key=None) -> TrainedModel:
    """Fit one configured model on every labelled row and save it as a model bundle in ``out``.

    Besides the fitted pipeline the bundle holds (when the classes are large enough for
    ``conformal_folds``-fold CV, default ``cfg["cv"]["outer"]``):

    * ``conformal``: a :class:`~methylclass.models.ConformalClassifier` (``conformal`` = ``"split"`` or
      ``"class_conditional"``; ``"config"`` = ``cfg["decision"]["conformal"]``; None = none) fitted on
      *out-of-fold* calibrated probabilities of the same pipeline, so the
      calibration scores come from samples the scoring model did not see;
    * the card's ``metrics``: those out-of-fold metrics (an honest estimate shipped with the model);
    * ``ood``: a :class:`~methylclass.models.decision.ProfileOOD` — distance to the nearest class profile on the
      most variable CpGs, reference scores cross-fitted — that flags samples unlike every training class (e.g. a
      tumour type absent from training); a cross-fitted :class:`~methylclass.models.KNNDistanceOOD` on the
      model's features when the data hold no CpGs.

    Parameters
    ----------
    cfg : mapping
        A run configuration (:func:`~methylclass.config.load_config`).
    out : str or Path
        The bundle folder to write.
    model : str, optional
        The configured model to train (default: the only model of ``cfg``).
    dataset : Dataset, optional
        Already loaded data; skips reading ``cfg["data"]``.
    conformal : str or None
        ``"split"``, ``"class_conditional"``, ``"config"`` (``cfg["decision"]["conformal"]``) or None.
    conformal_folds : int, optional
        Folds of the out-of-fold fit (default ``cfg["cv"]["outer"]``).
    ood_k : int, optional
        Neighbours of the k-NN out-of-distribution detector (default ``cfg["train"]["ood_k"]``).
    overwrite : bool
        Replace an existing bundle folder.
    progress : bool, optional
        Show the CV progress bar (None: on a terminal only).
    echo : callable, optional
        Receives the progress lines (default: the log).
    key : bytes, str or PathLike, optional
        Signs the bundle's checksum manifest (see :func:`~methylclass.models.save_bundle`).

    Returns
    -------
    TrainedModel
        The bundle folder, the classes, the cross-validated metrics, the components and the wall time.

    Raises
    ------
    ConfigError
        No single configured model chosen, or ``out`` exists (without ``overwrite``, or as a file).
    """
    from ..models import ConformalClassifier, hash_training_data, save_bundle
    from ..models.decision import ProfileOOD
    from ..tl.cv import min_class_size, nested_cv
    from .card import training_card

    say = echo or (lambda msg: log.info(msg))
    t0 = time.perf_counter()
    cfg = copy.deepcopy(dict(cfg))
    models = cfg["models"]
    if conformal == "config":
        conformal = setting(cfg, "decision.conformal")
    name = model or (next(iter(models)) if len(models) == 1 else None)
    if name is None or name not in models:
        raise ConfigError(f"train needs one model; configured: {', '.join(models)}")
    out = Path(out)
    if out.exists() and not overwrite:
        raise ConfigError(f"output folder '{out}' already exists (use --overwrite to replace a model bundle)")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"'{out}' exists and is a file, not a model bundle folder")
    ensure_writable_parent(out)  # before the fit, not after it
    cv = {k: setting(cfg, f"cv.{k}") for k in ("outer", "inner", "repeats", "rare", "rare_label")}
    seed = int(setting(cfg, "experiment.seed"))
    inner = cv["inner"]
    blocks = tuple((cfg.get("data") or {}).get("feature_blocks") or ())  # optional part of the input
    ood_k = int(ood_k if ood_k is not None else setting(cfg, "train.ood_k"))
    ds = dataset or load_dataset(resolved_data_block(cfg))
    model_cfg, used_cov, dropped = covariate_plan(models[name], ds.covariates, ds.auto_covariates)
    factory = estimator_factory(model_cfg, inner=inner, seed=seed, feature_blocks=blocks)
    X, y = (ds.X.drop(columns=dropped) if dropped else ds.X), ds.y
    say(f"training {name} on {len(X)} samples × {X.shape[1]} features, {y.nunique()} classes")
    if used_cov:
        say("in-fold adjusted covariates: " + ", ".join(
            f"{c[4:]} ({', '.join((ds.summary['covariates'][c] or {}).get('levels', {}))})" for c in used_cov))
    est = factory().fit(X, y)
    components: dict[str, Any] = {}
    metrics = None
    folds = int(conformal_folds or cv["outer"])
    small = {k: int(v) for k, v in y.value_counts().items() if v < min_class_size(folds, inner)}
    if conformal and small:
        say(f"no conformal sets / CV metrics: classes too small for {folds}-fold CV: "
            + ", ".join(f"{k} (n={v})" for k, v in small.items()))
    elif conformal:
        say(f"{folds}-fold cross-validation for the conformal calibration and the card's metrics")
        res = nested_cv(X, y, factory, outer=folds, inner=inner, seed=seed,
                        n_jobs=int(setting(cfg, "experiment.n_jobs")), groups=ds.groups,
                        progress=progress, desc=f"{name} CV")
        metrics = res.evaluate(threshold=decision_threshold(cfg)).scalars  # class_thresholds too
        cls = [str(c) for c in est.classes_]
        components["conformal"] = ConformalClassifier(mode=conformal).fit(res.proba[cls], res.y, cls)
    cpg_cols = [c for c in X.columns if not str(c).startswith((*(blocks or ("cnv_",)), "cov_"))]
    if cpg_cols:  # distance to the nearest class profile on the most variable CpGs (see ProfileOOD)
        components["ood"] = ProfileOOD(random_state=seed).fit(X[cpg_cols], y)
    elif hasattr(est, "transform_selected"):
        components["ood"] = _cross_fitted_knn(est.transform_selected(X), ood_k, seed)
    decision = {k: setting(cfg, f"decision.{k}") for k in ("threshold", "class_thresholds", "conformal", "coverage",
                                                          "family_threshold", "min_coverage")}
    # how the model meets missing CpGs: "centroid" = models.impute.CentroidImputer inside the pipeline (then up
    # to 1 − decision.min_coverage may be missing), else nothing beyond predict.max_missing_fraction
    decision["missing_strategy"] = "centroid" if getattr(est, "impute", None) == "centroid" else None
    cov_info = {c: dict((ds.summary.get("covariates") or {}).get(c) or {}) for c in used_cov}
    card_config = {"model": {"name": name, **model_cfg}, "cv": cv, "decision": decision,
                   "taxonomy": None if ds.taxonomy is None else ds.taxonomy.to_dict(),
                   "covariates": {c: v.get("levels") for c, v in cov_info.items()},
                   "data": ds.summary, "conformal": {"mode": conformal, "folds": folds} if conformal else None,
                   "experiment": dict(cfg.get("experiment") or {})}
    data_cfg = dict(cfg.get("data") or {})
    if ds.summary.get("store"):
        data_cfg["store"] = ds.summary["store"]
    decision = {**decision, "ood_alpha": setting(cfg, "predict.ood_alpha"),
                "max_missing_fraction": setting(cfg, "predict.max_missing_fraction")}
    extra, arrays = training_card(data_cfg, X, y, decision)
    # what prediction must build (workflows.predict → models.covariates): each covariate's training levels
    extra["covariates"] = {c: {"name": c[4:], **v} for c, v in cov_info.items()}
    extra["arrays"] = ds.summary.get("arrays")
    if any(str(c).startswith("cnv_") for c in X.columns) and not arrays:
        say("note: the model uses CNV features but no CNV reference panel was found beside them; it can predict "
            "tables/stores that carry cnv_ columns, not IDATs")
    save_bundle(est, out, classes=list(est.classes_), features=[str(c) for c in X.columns],
                training_hash=hash_training_data(X, y), metrics=metrics, config=card_config,
                components=components, arrays=arrays, card_extra=extra, training_X=X, key=key,
                overwrite=overwrite)
    wall = time.perf_counter() - t0
    say(f"model bundle written to {out} ({wall:.1f} s)")
    return TrainedModel(path=out, classes=[str(c) for c in est.classes_], metrics=metrics,
                        components=sorted(components), wall_seconds=wall)


def _cross_fitted_knn(Z: np.ndarray, k: int, seed: int, folds: int = 5):
    """A :class:`KNNDistanceOOD` on all training rows whose reference scores are cross-fitted: each training
    sample scored against the other folds only, like a new sample (leave-one-out scores are too small, so
    new in-distribution samples were flagged far more often than the level)."""
    from ..models import KNNDistanceOOD

    ood = KNNDistanceOOD(k=k).fit(Z)
    n = len(Z)
    fold = np.random.default_rng(seed).permutation(n) % min(folds, n)
    ref = []
    for f in np.unique(fold):
        train_rows = fold != f
        if train_rows.sum() <= k:
            return ood  # too few samples to cross-fit: keep leave-one-out
        ref.append(KNNDistanceOOD(k=k).fit(Z[train_rows]).score(Z[~train_rows]))
    ood.train_scores_ = np.sort(np.concatenate(ref))
    ood.reference_ = "cross_fitted"
    return ood
