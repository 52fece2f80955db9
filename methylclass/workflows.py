"""Workflows: each a function of a resolved config (see :mod:`methylclass.config`); the CLI only parses.

* :func:`benchmark` — nested CV of every configured model on one labelled beta table; writes a run folder
  ``<out_dir>/<experiment>/<timestamp>/`` with the resolved config, metrics (CSV + JSON), per-class metrics,
  out-of-fold probabilities, fold timings, plots and a self-contained HTML report. :func:`evaluate` is the
  same for one model.
* :func:`train` — fit one model on all rows and save a model bundle (``methylclass.models.save_bundle``).
* :func:`predict_table` — apply a bundle to a beta table; one row per sample with ``sample, prediction``
  (class or ``no_match``), ``score`` and ``proba_<class>`` columns (plus conformal-set / OOD columns when
  the bundle provides them).

Run folders are built under a hidden ``.<timestamp>.partial`` name and renamed when complete, so a crash
never leaves a half-written run behind.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._atomic import RunFolder, atomic_text, atomic_write
from .config import save_config
from .errors import ConfigError, DataError
from .io.betas_table import read_beta_table

log = logging.getLogger(__name__)
Echo = Callable[[str], None]


# ------------------------------------------------------------------------------------------------ data
@dataclass
class Dataset:
    """A labelled beta table ready for cross-validation, with its summary for reports."""

    X: pd.DataFrame
    y: pd.Series
    groups: pd.Series | None
    summary: dict[str, Any] = field(default_factory=dict)


def file_sha256(path: str | Path, *, chunk: int = 1 << 20) -> str | None:
    """SHA-256 of a file (None for folders)."""
    path = Path(path)
    if not path.is_file():
        return None
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def data_summary(X: pd.DataFrame, y: pd.Series | None, source: str | Path) -> dict[str, Any]:
    """Sample/feature counts, class counts, missing-value share, source path and its SHA-256."""
    values = X.to_numpy()
    return {"source": str(source), "sha256": file_sha256(source), "n_samples": int(X.shape[0]),
            "n_features": int(X.shape[1]),
            "missing_fraction": float(np.isnan(values).mean()) if values.size else 0.0,
            "class_counts": {} if y is None else {str(k): int(v) for k, v in y.value_counts().items()}}


def _read_groups(data: Mapping[str, Any], index: pd.Index) -> pd.Series | None:
    col = data.get("groups_column")
    if not col:
        return None
    src = Path(data.get("labels") or data["betas"])
    scol = data.get("sample_column")
    try:
        if src.name.lower().endswith((".parquet", ".pq")):
            df = pd.read_parquet(src)
            df = df.reset_index() if df.index.name else df
        else:
            df = pd.read_csv(src, sep=None, engine="python", usecols=lambda c: c in (col, scol) or c == 0)
    except (OSError, ValueError) as exc:
        raise DataError(f"'{src}': cannot read group column '{col}': {exc}") from None
    if col not in df.columns:
        raise DataError(f"'{src}' has no group column '{col}' (data.groups_column)")
    sid = scol if scol in df.columns else df.columns[0]
    groups = pd.Series(df[col].to_numpy(), index=df[sid].astype(str).str.strip()).reindex(index)
    if groups.isna().any():
        raise DataError(f"'{src}': {int(groups.isna().sum())} samples have no value in group column '{col}'")
    return groups.astype(str)


def _read_store(data: Mapping[str, Any], blocks: tuple[str, ...]) -> tuple[pd.DataFrame, pd.Series | None]:
    """Betas of a preprocessing store (+ its CNV feature table) and labels from a file or the sample table."""
    from .io.betas_table import read_labels
    from .io.store import Store, load_betas

    store = Store.open(data["store"])
    X = load_betas(store)
    for prefix in blocks:
        if prefix != "cnv_":
            raise ConfigError(f"data.feature_blocks: a store provides the 'cnv_' block only, not '{prefix}'")
        from .pp.cnv.features import read_cnv_features

        cnv = read_cnv_features(store.path)
        X = X.join(cnv.reindex(X.index).astype(np.float32))
    label_column = data.get("label_column")
    if data.get("labels"):
        y = read_labels(data["labels"], data.get("sample_column"), label_column).reindex(X.index)
    elif label_column:
        table = store.samples.set_index("sample")
        if label_column not in table.columns:
            raise DataError(f"store '{data['store']}': no sample-table column '{label_column}'; columns: "
                            f"{', '.join(map(str, table.columns))}")
        y = table[label_column].reindex(X.index).rename(label_column)
    else:
        y = None
    if y is not None and y.isna().any():
        missing = list(y.index[y.isna()])
        raise DataError(f"store '{data['store']}': {len(missing)} stored samples have no label: "
                        f"{', '.join(map(str, missing[:10]))}")
    return X, None if y is None else y.astype(str)


def is_store(path: str | Path) -> bool:
    """True for a preprocessing store folder (``methylclass preprocess`` output)."""
    return (Path(path) / "_manifest.json").is_file() and (Path(path) / "betas").is_dir()


def load_dataset(data: Mapping[str, Any]) -> Dataset:
    """Read the labelled data described by a config's ``data`` block (labels required).

    ``data.betas`` names a beta table (:func:`~methylclass.io.betas_table.read_beta_table`); ``data.store`` a
    preprocessing store (betas of every stored sample; labels from ``labels`` or a sample-table column such
    as the sheet's ``Sample_Group``). ``feature_blocks: [cnv_]`` adds the copy-number features (the table's
    ``cnv_*`` columns, or the store's ``cnv_features.parquet``). ``exclude_classes`` leaves samples of those
    labels out (e.g. the normal references of a cohort).
    """
    if not data.get("betas") and not data.get("store"):
        raise ConfigError("no input configured: give data.betas (--betas TABLE) or data.store")
    if not data.get("label_column") and not data.get("labels"):
        raise ConfigError("no labels configured: give data.label_column (--label-column) or data.labels "
                          "(--labels FILE)")
    blocks = tuple(data.get("feature_blocks") or ())
    if data.get("betas") and not data.get("store") and is_store(data["betas"]):
        data = {**data, "store": data["betas"], "betas": None}  # --betas STORE: a preprocessing store
    path = Path(data.get("store") or data["betas"])
    if not path.exists():
        hint = f"; produce it with: {data['producer']}" if data.get("producer") else ""
        raise DataError(f"{'store' if data.get('store') else 'beta table'} '{path}' does not exist{hint}")
    if data.get("store"):
        X, y = _read_store(data, blocks)
    else:
        X, y = read_beta_table(path, label_column=data.get("label_column"),
                               sample_column=data.get("sample_column"), labels=data.get("labels"),
                               orientation=data.get("orientation", "auto"), feature_blocks=blocks)
    assert y is not None
    excluded = [str(c) for c in (data.get("exclude_classes") or [])]
    if excluded:
        keep = ~y.isin(excluded)
        X, y = X.loc[keep], y.loc[keep]
    groups = _read_groups(data, X.index)
    summary = data_summary(X, y, path)
    if data.get("store"):
        summary["store"] = str(data["store"])
    summary.update(feature_blocks=list(blocks), excluded_classes=excluded,
                   n_block_features=int(sum(str(c).startswith(blocks) for c in X.columns)) if blocks else 0)
    return Dataset(X=X, y=y, groups=groups, summary=summary)


# ------------------------------------------------------------------------------------------------ models
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
    return kw


def estimator_factory(model_cfg: Mapping[str, Any], *, inner: int | None, seed: int,
                      feature_blocks: Sequence[str] = ()) -> Callable[[], Any]:
    """A picklable zero-argument factory of the model's unfitted pipeline (options checked now)."""
    from .models import make_pipeline

    factory = functools.partial(make_pipeline, model_cfg.get("estimator"),
                                **pipeline_kwargs(model_cfg, inner=inner, seed=seed,
                                                  feature_blocks=feature_blocks))
    factory()  # ConfigError now rather than inside a worker
    return factory


# ------------------------------------------------------------------------------------------------ run folders
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


# ------------------------------------------------------------------------------------------------ benchmark
@dataclass
class BenchmarkRun:
    """Result of :func:`benchmark`: the run folder, the side-by-side metric table and the acceptance check."""

    path: Path
    metrics: pd.DataFrame
    criteria: dict[str, Any] | None
    wall_seconds: float
    results: dict[str, Any] = field(default_factory=dict)


def _cv_scheme(cv: Mapping[str, Any]) -> str:
    inner = cv.get("inner")
    text = f"{cv.get('outer', 5)}-fold stratified outer CV"
    text += f" × {inner}-fold inner CV (calibration)" if inner else " (no inner CV, uncalibrated)"
    if cv.get("repeats", 1) > 1:
        text += f", {cv['repeats']} repeats"
    return text


def benchmark(cfg: Mapping[str, Any], *, progress: bool | None = None, echo: Echo | None = None,
              dataset: Dataset | None = None) -> BenchmarkRun:
    """Nested CV of every model in ``cfg["models"]`` and a run folder with all results (module docstring).

    ``dataset`` skips reading ``cfg["data"]`` (already loaded). ``echo`` receives one progress line per model.
    """
    from .models.decision import format_sets
    from .pl import figure_to_base64, plot_confusion, plot_reliability, save_figure
    from .report import ModelResult, check_criteria, write_benchmark_report
    from .tl.cv import nested_cv

    say = echo or (lambda msg: log.info(msg))
    t_start = time.perf_counter()
    cfg = copy.deepcopy(dict(cfg))
    exp = cfg.get("experiment") or {}
    cv = cfg.get("cv") or {}
    decision = cfg.get("decision") or {}
    rep = cfg.get("report") or {}
    seed = int(exp.get("seed", 0))
    n_jobs = int(exp.get("n_jobs", 2))
    threshold: float | dict = float(decision.get("threshold", 0.9))
    if decision.get("class_thresholds"):
        threshold = {**decision["class_thresholds"], "default": threshold}
    n_bins = int(rep.get("n_bins", 15))
    formats = list(rep.get("formats") or ["png", "svg"])
    inner = cv.get("inner", 3)
    blocks = tuple((cfg.get("data") or {}).get("feature_blocks") or ())
    factories = {name: estimator_factory(m, inner=inner, seed=seed, feature_blocks=blocks)
                 for name, m in cfg["models"].items()}
    ds = dataset or load_dataset(cfg["data"])
    say(f"data: {ds.summary['n_samples']} samples × {ds.summary['n_features']} features, "
        f"{len(ds.summary['class_counts'])} classes ({ds.summary['source']})")

    run = RunFolder(exp.get("out_dir", "runs"), exp.get("name", "default"))
    try:
        save_config(cfg, run.path / "config.yaml")
        results: list[ModelResult] = []
        rows, per_class, timings = [], [], []
        detail: dict[str, Any] = {}
        rare_note = ""
        for name, factory in factories.items():
            t0 = time.perf_counter()
            res = nested_cv(ds.X, ds.y, factory, outer=int(cv.get("outer", 5)), inner=inner,
                            repeats=int(cv.get("repeats", 1)), seed=seed, n_jobs=n_jobs, groups=ds.groups,
                            rare=cv.get("rare", "refuse"), rare_label=cv.get("rare_label", "rare_merged"),
                            progress=progress, desc=name)
            wall = time.perf_counter() - t0
            if decision.get("conformal") and res.sets is None:
                res.sets = res.conformal_sets(coverage=float(decision.get("coverage", 0.9)),
                                              mode=decision["conformal"])
            ev = res.evaluate(threshold=threshold, n_bins=n_bins)
            rare_note = res.rare.describe()
            label = cfg["models"][name].get("label", name)
            fig_c = plot_confusion(ev.confusion, title=f"{name}: out-of-fold confusion")
            fig_r = plot_reliability(ev.reliability, ece=ev.scalars["ece"],
                                     threshold=None if isinstance(threshold, Mapping) else threshold,
                                     title=f"{name}: reliability")
            save_figure(fig_c, run.path / "plots" / f"{name}_confusion", formats)
            save_figure(fig_r, run.path / "plots" / f"{name}_reliability", formats)
            images = {"confusion": figure_to_base64(fig_c), "reliability": figure_to_base64(fig_r)}
            oof = res.oof_table()
            if res.sets is not None:
                oof["conformal_set"] = format_sets(res.sets.to_numpy(), res.classes)
            if res.ood is not None:
                oof["ood_score"] = res.ood.to_numpy()
            _atomic_csv(oof, run.path / "oof" / f"{name}.csv", index=False)
            results.append(ModelResult(name=name, evaluation=ev, timings=res.timings, wall_seconds=wall,
                                       images=images, label=label))
            rows.append({"model": name, "label": label, "wall_seconds": wall, **ev.scalars})
            per_class.append(ev.per_class.reset_index().assign(model=name))
            timings.append(res.timings.assign(model=name))
            detail[name] = {**ev.to_dict(), "wall_seconds": wall, "cv": res.settings,
                            "rare_classes": res.rare.describe(),
                            "timings": res.timings.to_dict(orient="records")}
            s = ev.scalars
            say(f"{name}: balanced accuracy {s['balanced_accuracy']:.3f}, Brier {s['brier']:.4f}, "
                f"ECE {s['ece']:.4f}, classifiable {s['classifiable']:.1%} ({wall:.1f} s)")
        metrics = pd.DataFrame(rows).set_index("model")
        _atomic_csv(metrics, run.path / "metrics.csv")
        _atomic_csv(pd.concat(per_class, ignore_index=True)[["model", "class", "precision", "recall", "f1",
                                                             "support"]],
                    run.path / "per_class.csv", index=False)
        _atomic_csv(pd.concat(timings, ignore_index=True), run.path / "timings.csv", index=False)
        criteria = check_criteria(results, rep.get("criteria"), int(rep.get("criteria_min_models", 1)))
        wall_total = time.perf_counter() - t_start
        summary = {**ds.summary, "rare": rare_note}
        payload = {"experiment": exp.get("name"), "run_id": run.run_id, "wall_seconds": wall_total,
                   "cv_scheme": _cv_scheme(cv), "threshold": threshold, "data": summary, "models": detail,
                   "criteria": criteria}
        atomic_text(run.path / "metrics.json",
                     json.dumps(_clean_nan(payload), indent=1, default=_json_default))
        write_benchmark_report(
            run.path / "report.html", results, title=rep.get("title", "methylclass benchmark"),
            experiment=exp.get("name", "default"), run_id=run.run_id, data_summary=summary, config=cfg,
            wall_seconds=wall_total, cv_scheme=_cv_scheme(cv),
            threshold=None if isinstance(threshold, Mapping) else threshold, criteria=criteria, n_jobs=n_jobs)
        final = run.commit()
    except BaseException:
        run.abort()
        raise
    say(f"run written to {final} (report: {final / 'report.html'}, {wall_total:.1f} s)")
    return BenchmarkRun(path=final, metrics=metrics, criteria=criteria, wall_seconds=wall_total,
                        results={r.name: r for r in results})


def evaluate(cfg: Mapping[str, Any], model: str | None = None, **kwargs) -> BenchmarkRun:
    """Nested CV of one model (``model`` or the only model of ``cfg``); same outputs as :func:`benchmark`."""
    cfg = copy.deepcopy(dict(cfg))
    if model is not None:
        if model not in cfg["models"]:
            raise ConfigError(f"model '{model}' is not configured; configured: {', '.join(cfg['models'])}")
        cfg["models"] = {model: cfg["models"][model]}
    elif len(cfg["models"]) != 1:
        raise ConfigError(f"evaluate needs one model; the config selects {', '.join(cfg['models'])}")
    return benchmark(cfg, **kwargs)


def cli_data_block(*, betas: str | Path, label_column: str | None = None, sample_column: str | None = None,
                   labels: str | Path | None = None, orientation: str = "auto",
                   groups_column: str | None = None) -> dict[str, Any]:
    """A ``data`` config block from command-line options (replaces the configured data wholesale)."""
    return {"name": Path(betas).name, "betas": str(betas), "label_column": label_column,
            "sample_column": sample_column, "labels": None if labels is None else str(labels),
            "orientation": orientation, "groups_column": groups_column}


def scalar_table(metrics: pd.DataFrame, keys: Sequence[str] = ("balanced_accuracy", "accuracy", "brier",
                                                                 "log_loss", "auc_hand_till", "ece",
                                                                 "classifiable", "fit_seconds")) -> str:
    """Plain-text table of the main metrics (models as rows) for terminals and logs."""
    cols = [k for k in keys if k in metrics.columns]
    return metrics[cols].to_string(float_format=lambda v: f"{v:.4f}")


# ------------------------------------------------------------------------------------------------ train / predict
@dataclass
class TrainedModel:
    """Result of :func:`train`: the bundle folder and the cross-validated metrics stored in its card."""

    path: Path
    classes: list[str]
    metrics: dict[str, Any] | None
    components: list[str]
    wall_seconds: float


def train(cfg: Mapping[str, Any], out: str | Path, *, model: str | None = None, dataset: Dataset | None = None,
          conformal: str | None = "config", conformal_folds: int | None = None, ood_k: int = 5,
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
    * ``ood``: a :class:`~methylclass.models.decision.ProfileOOD` — distance to the nearest class profile on a
      broad CpG panel, reference scores cross-fitted — that flags samples unlike every training class (e.g. a
      tumour type absent from training); a cross-fitted :class:`~methylclass.models.KNNDistanceOOD` on the
      model's features when the data hold no CpGs.
    """
    from .models import ConformalClassifier, hash_training_data, save_bundle
    from .tl.cv import min_class_size, nested_cv

    say = echo or (lambda msg: log.info(msg))
    t0 = time.perf_counter()
    cfg = copy.deepcopy(dict(cfg))
    models = cfg["models"]
    if conformal == "config":
        conformal = (cfg.get("decision") or {}).get("conformal")
    name = model or (next(iter(models)) if len(models) == 1 else None)
    if name is None or name not in models:
        raise ConfigError(f"train needs one model; configured: {', '.join(models)}")
    out = Path(out)
    if out.exists() and not overwrite:
        raise ConfigError(f"output folder '{out}' already exists (use --overwrite to replace a model bundle)")
    cv = cfg.get("cv") or {}
    seed = int((cfg.get("experiment") or {}).get("seed", 0))
    inner = cv.get("inner", 3)
    blocks = tuple((cfg.get("data") or {}).get("feature_blocks") or ())
    factory = estimator_factory(models[name], inner=inner, seed=seed, feature_blocks=blocks)
    ds = dataset or load_dataset(cfg["data"])
    X, y = ds.X, ds.y
    say(f"training {name} on {len(X)} samples × {X.shape[1]} features, {y.nunique()} classes")
    est = factory().fit(X, y)
    components: dict[str, Any] = {}
    metrics = None
    folds = int(conformal_folds or cv.get("outer", 5))
    small = {k: int(v) for k, v in y.value_counts().items() if v < min_class_size(folds, inner)}
    if conformal and small:
        say(f"no conformal sets / CV metrics: classes too small for {folds}-fold CV: "
            + ", ".join(f"{k} (n={v})" for k, v in small.items()))
    elif conformal:
        say(f"{folds}-fold cross-validation for the conformal calibration and the card's metrics")
        res = nested_cv(X, y, factory, outer=folds, inner=inner, seed=seed,
                        n_jobs=int((cfg.get("experiment") or {}).get("n_jobs", 2)), groups=ds.groups,
                        progress=progress, desc=f"{name} CV")
        threshold = float((cfg.get("decision") or {}).get("threshold", 0.9))
        metrics = res.evaluate(threshold=threshold).scalars
        cls = [str(c) for c in est.classes_]
        components["conformal"] = ConformalClassifier(mode=conformal).fit(res.proba[cls], res.y, cls)
    cpg_cols = [c for c in X.columns if not str(c).startswith(blocks or ("cnv_",))]
    if cpg_cols:  # distance to the nearest class profile on a broad CpG panel (see ProfileOOD)
        from .models.decision import ProfileOOD

        components["ood"] = ProfileOOD(random_state=seed).fit(X[cpg_cols], y)
    elif hasattr(est, "transform_selected"):
        components["ood"] = _cross_fitted_knn(est.transform_selected(X), ood_k, seed)
    card_config = {"model": {"name": name, **models[name]}, "cv": cv, "decision": cfg.get("decision") or {},
                   "data": ds.summary, "conformal": {"mode": conformal, "folds": folds} if conformal else None,
                   "experiment": cfg.get("experiment") or {}}
    from .diagnose import training_card

    data_cfg = dict(cfg.get("data") or {})
    if data_cfg.get("betas") and not data_cfg.get("store") and is_store(data_cfg["betas"]):
        data_cfg["store"] = data_cfg["betas"]
    if ds.summary.get("store"):
        data_cfg["store"] = ds.summary["store"]
    extra, arrays = training_card(data_cfg, X, y, cfg.get("decision") or {})
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
    from .models import KNNDistanceOOD

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


def predict_table(model_dir: str | Path, betas: str | Path, out: str | Path | None = None, *,
                  threshold: float | None = None, class_thresholds: Mapping[str, float] | None = None,
                  alpha: float | None = None, ood_alpha: float | str | None = None,
                  sample_column: str | None = None,
                  orientation: str = "auto", label_column: str | None = None,
                  labels: str | Path | None = None) -> pd.DataFrame:
    """Apply the model bundle in ``model_dir`` to the beta table (or preprocessing store) ``betas``; write
    ``out`` (CSV) if given.

    Columns: ``sample, prediction`` (a class or ``no_match``), ``score`` (calibrated probability of the best
    class), ``proba_<class>`` per class; with the bundle's components also ``prediction_set`` (conformal set
    at level ``1 − alpha``, classes joined by ``|``), ``ood_pvalue`` and ``ood`` (True forces ``no_match``).
    ``threshold`` defaults to the one the model was trained with (card), else 0.9; ``alpha`` to
    ``1 − decision.coverage`` of the card (0.1). With
    ``label_column``/``labels`` the true label is added as column ``label``.
    """
    from .models import load_bundle

    bundle = load_bundle(model_dir)
    blocks = tuple(((bundle.card.get("config") or {}).get("data") or {}).get("feature_blocks") or ())
    if not blocks and any(str(f).startswith("cnv_") for f in bundle.card.get("features", [])):
        blocks = ("cnv_",)  # trained with the CNV block (e.g. from an in-memory dataset): read it too
    if is_store(betas):
        X, y = _read_store({"store": str(betas), "labels": labels, "label_column": label_column,
                            "sample_column": sample_column}, blocks)
        if label_column is None and labels is None:
            y = None
    else:
        X, y = read_beta_table(betas, label_column=label_column, sample_column=sample_column, labels=labels,
                               orientation=orientation, feature_blocks=blocks)
    pred = bundle.predict(X, threshold=threshold, per_class=class_thresholds, alpha=alpha, ood_alpha=ood_alpha)
    if y is not None:
        pred.insert(1, "label", y.to_numpy())
    if out is not None:
        _atomic_csv(pred, Path(out), index=False)
    return pred
