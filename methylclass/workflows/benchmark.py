"""Nested CV of every configured model on one labelled beta table, written as a run folder
``<out_dir>/<experiment>/<timestamp>/``: the resolved config, metrics (CSV + JSON), per-class metrics,
out-of-fold probabilities, fold timings, plots and a self-contained HTML report. :func:`evaluate` is the
same for one model.

Run folders are built under a hidden ``.<timestamp>.partial`` name and renamed when complete, so a crash
never leaves a half-written run behind.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .._atomic import RunFolder, atomic_text
from ..config import save_config, setting
from ..errors import ConfigError
from .data import Dataset, load_dataset, resolved_data_block
from .runs import Echo, _atomic_csv, _clean_nan, _json_default, covariate_plan, decision_threshold, estimator_factory

log = logging.getLogger(__name__)


@dataclass
class BenchmarkRun:
    """Result of :func:`benchmark`: the run folder, the side-by-side metric table and the acceptance check."""

    path: Path
    metrics: pd.DataFrame
    criteria: dict[str, Any] | None
    wall_seconds: float
    results: dict[str, Any] = field(default_factory=dict)


def fold_map(cfg: Mapping[str, Any]) -> Callable | None:
    """The ``map_fn`` of :func:`~methylclass.tl.cv.nested_cv` for ``experiment.backend``: ``None`` (joblib
    processes) for ``local``, the Spark backend (:func:`methylclass.spark.fit.spark_map`) on
    ``experiment.master`` for ``spark``. Both give the same results (fixed seeds per fold)."""
    backend = str(setting(cfg, "experiment.backend"))
    master = setting(cfg, "experiment.master")
    if backend == "local":
        if master:
            raise ConfigError("a Spark master is given but the backend is local; add --backend spark")
        return None
    if backend != "spark":
        raise ConfigError(f"experiment.backend must be local or spark, not {backend!r}")
    from ..spark.fit import spark_map
    from ..spark.session import get_spark

    return spark_map(get_spark(master or None, app_name="methylclass-benchmark"))


def _cv_scheme(cv: Mapping[str, Any]) -> str:
    inner = cv["inner"]
    text = f"{cv['outer']}-fold stratified outer CV"
    text += f" × {inner}-fold inner CV (calibration)" if inner else " (no inner CV, uncalibrated)"
    if cv["repeats"] > 1:
        text += f", {cv['repeats']} repeats"
    return text


def benchmark(cfg: Mapping[str, Any], *, progress: bool | None = None, echo: Echo | None = None,
              dataset: Dataset | None = None) -> BenchmarkRun:
    """Nested CV of every model in ``cfg["models"]`` and a run folder with all results (module docstring).

    Parameters
    ----------
    cfg : mapping
        A run configuration (:func:`~methylclass.config.load_config`).
    progress : bool, optional
        Show the nested-CV progress bar (None: on a terminal only).
    echo : callable, optional
        Receives one progress line per model (default: the log).
    dataset : Dataset, optional
        Already loaded data; skips reading ``cfg["data"]``.

    Returns
    -------
    BenchmarkRun
        The run folder's path, the metrics table (models as rows), the criteria verdicts, the wall time and
        each model's result.
    """
    from ..models.decision import format_sets
    from ..pl import figure_to_base64, plot_confusion, plot_reliability, save_figure
    from ..report import ModelResult, check_criteria, write_benchmark_report
    from ..tl.cv import nested_cv_many
    from .explain import classifier_agreement, explain_fold_hook, unsupervised_views, write_fold_outputs

    say = echo or (lambda msg: log.info(msg))
    t_start = time.perf_counter()
    cfg = copy.deepcopy(dict(cfg))
    seed = int(setting(cfg, "experiment.seed"))
    n_jobs = int(setting(cfg, "experiment.n_jobs"))
    threshold = decision_threshold(cfg)
    n_bins = int(setting(cfg, "report.n_bins"))
    formats = list(setting(cfg, "report.formats"))
    inner = setting(cfg, "cv.inner")
    cv = {k: setting(cfg, f"cv.{k}") for k in ("outer", "inner", "repeats", "rare", "rare_label")}
    conformal, coverage = setting(cfg, "decision.conformal"), float(setting(cfg, "decision.coverage"))
    blocks = tuple((cfg.get("data") or {}).get("feature_blocks") or ())  # optional part of the input
    ds = dataset or load_dataset(resolved_data_block(cfg))
    plans = {name: covariate_plan(m, ds.covariates, ds.auto_covariates) for name, m in cfg["models"].items()}
    factories = {name: estimator_factory(plans[name][0], inner=inner, seed=seed, feature_blocks=blocks)
                 for name in cfg["models"]}
    if ds.auto_covariates:
        say(f"arrays {ds.summary.get('arrays')}: the array is an in-fold adjusted covariate of every model "
            "(store.array_covariate)")
    say(f"data: {ds.summary['n_samples']} samples × {ds.summary['n_features']} features, "
        f"{len(ds.summary['class_counts'])} classes ({ds.summary['source']})")
    map_fn = fold_map(cfg)

    name_of_run = str(setting(cfg, "experiment.name"))
    run = RunFolder(setting(cfg, "experiment.out_dir"), name_of_run)
    try:
        save_config(cfg, run.path / "config.yaml")
        results: list[ModelResult] = []
        rows, per_class, timings = [], [], []
        detail: dict[str, Any] = {}
        rare_note = ""
        params_tables = []
        und = {k: setting(cfg, f"understand.{k}") for k in ("explain", "max_evals", "embed", "embed_features")}
        agreement_rows: list[dict[str, Any]] = []
        jobs = {}
        for name, factory in factories.items():
            dropped = plans[name][2]  # covariates this model does not adjust for: never features
            jobs[name] = (ds.X.drop(columns=dropped) if dropped else ds.X, factory)
        # every (model × repeat × fold) fit in one pool: no idle worker at the end of each model's folds
        say(f"nested CV of {len(jobs)} model(s): {', '.join(jobs)}")
        cv_results = nested_cv_many(jobs, ds.y, outer=int(cv["outer"]), inner=inner, repeats=int(cv["repeats"]),
                                    seed=seed, n_jobs=n_jobs, groups=ds.groups, rare=cv["rare"],
                                    rare_label=cv["rare_label"], progress=progress, desc="nested CV",
                                    map_fn=map_fn,
                                    fold_hooks={name: explain_fold_hook(und, name, seed) for name in jobs})
        for name, res in cv_results.items():
            write_fold_outputs(run.path, name, res, formats)
            agreement_rows.append(classifier_agreement(name, res))
            wall = float(res.settings["span_seconds"])  # first fold start → last fold end of this model
            if conformal and res.sets is None:
                res.sets = res.conformal_sets(coverage=coverage, mode=conformal)
            ev = res.evaluate(threshold=threshold, n_bins=n_bins)
            extra = explain_model(res, ev, ds.taxonomy, threshold=threshold,
                                  family_threshold=setting(cfg, "decision.family_threshold"),
                                  n_boot=int(setting(cfg, "report.bootstrap")), seed=seed, n_bins=n_bins)
            rare_note = res.rare.describe()
            label = cfg["models"][name].get("label", name)
            if res.params is not None:
                params_tables.append(res.params.assign(model=name))
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
                                       images=images, label=label, tables=extra["tables"]))
            rows.append({"model": name, "label": label, "wall_seconds": wall, **ev.scalars})
            per_class.append(ev.per_class.reset_index().assign(model=name, level="class"))
            if extra["family_per_class"] is not None:
                per_class.append(extra["family_per_class"].assign(model=name, level="family"))
            timings.append(res.timings.assign(model=name))
            detail[name] = {**ev.to_dict(), "wall_seconds": wall, "cv": res.settings,
                            "chosen_params": None if res.params is None else res.params.to_dict(orient="records"),
                            "family": extra["family"],
                            "rare_classes": res.rare.describe(),
                            "timings": res.timings.to_dict(orient="records")}
            s = ev.scalars
            say(f"{name}: balanced accuracy {s['balanced_accuracy']:.3f}, Brier {s['brier']:.4f}, "
                f"ECE {s['ece']:.4f}, classifiable {s['classifiable']:.1%} ({wall:.1f} s)")
        metrics = pd.DataFrame(rows).set_index("model")
        _atomic_csv(metrics, run.path / "metrics.csv")
        _atomic_csv(pd.concat(per_class, ignore_index=True)[["model", "level", "class", "precision", "recall",
                                                             "f1", "support"]],
                    run.path / "per_class.csv", index=False)
        if params_tables:
            table = pd.concat(params_tables, ignore_index=True)
            _atomic_csv(table[["model", *[c for c in table.columns if c != "model"]]], run.path / "params.csv",
                        index=False)
        _atomic_csv(pd.concat(timings, ignore_index=True), run.path / "timings.csv", index=False)
        agreement_images = unsupervised_views(run.path, ds, und, agreement_rows, seed, say)
        criteria = check_criteria(results, setting(cfg, "report.criteria"),
                                  int(setting(cfg, "report.criteria_min_models")))
        wall_total = time.perf_counter() - t_start
        summary = {**ds.summary, "rare": rare_note}
        payload = {"experiment": name_of_run, "run_id": run.run_id, "wall_seconds": wall_total,
                   "cv_scheme": _cv_scheme(cv), "threshold": threshold, "data": summary, "models": detail,
                   "criteria": criteria}
        atomic_text(run.path / "metrics.json",
                     json.dumps(_clean_nan(payload), indent=1, default=_json_default))
        write_benchmark_report(
            run.path / "report.html", results, title=setting(cfg, "report.title"),
            experiment=name_of_run, run_id=run.run_id, data_summary=summary, config=cfg,
            wall_seconds=wall_total, cv_scheme=_cv_scheme(cv),
            threshold=None if isinstance(threshold, Mapping) else threshold, criteria=criteria, n_jobs=n_jobs,
            agreement=agreement_rows if und.get("embed") else None, agreement_images=agreement_images,
            agreement_note=", ".join(und.get("embed") or []))
        final = run.commit()
    except BaseException:
        run.abort()
        raise
    say(f"run written to {final} (report: {final / 'report.html'}, {wall_total:.1f} s)")
    return BenchmarkRun(path=final, metrics=metrics, criteria=criteria, wall_seconds=wall_total,
                        results={r.name: r for r in results})


def explain_model(res, ev, taxonomy, *, threshold, family_threshold=None, n_boot: int = 1000, seed: int = 0,
                  n_bins: int = 15) -> dict[str, Any]:
    """What the report adds to a model's metrics: bootstrap intervals (into ``ev.scalars`` as
    ``<metric>_ci_low/_ci_high``), family-level metrics (``family_<metric>`` and the hierarchical-decision
    shares, also into ``ev.scalars``) and the tables for the report (chosen parameters, per-family scores)."""
    from ..tl.hierarchy import bootstrap_ci, family_evaluation

    tables: dict[str, list[dict[str, Any]]] = {}
    if n_boot > 0:
        for key, (lo, hi) in bootstrap_ci(res.y, res.proba, threshold=threshold, n_boot=n_boot,
                                          seed=seed).items():
            ev.scalars[f"{key}_ci_low"], ev.scalars[f"{key}_ci_high"] = lo, hi
    if res.params is not None:
        tables["hyperparameters chosen by the inner search, per outer fold"] = res.params.to_dict(orient="records")
    fam_pc, fam = None, None
    if taxonomy is not None and not isinstance(threshold, Mapping):
        fev = family_evaluation(res.y, res.proba, taxonomy, threshold=float(threshold),
                                family_threshold=family_threshold, n_bins=n_bins)
        hier = ("called_class", "called_family", "no_match_hier", "accuracy_called_class",
                "accuracy_called_family", "family_rescued")
        for k, v in fev.scalars.items():
            ev.scalars[k if k in hier else f"family_{k}"] = v
        fam_pc = fev.per_class.reset_index()
        tables["family level: precision / recall / F1"] = [
            {"family": r["class"], "precision": round(r["precision"], 3), "recall": round(r["recall"], 3),
             "f1": round(r["f1"], 3), "support": int(r["support"])} for _, r in fam_pc.iterrows()]
        fam = fev.to_dict()
    return {"tables": tables, "family_per_class": fam_pc, "family": fam}


def evaluate(cfg: Mapping[str, Any], model: str | None = None, **kwargs) -> BenchmarkRun:
    """Nested CV of one model (``model`` or the only model of ``cfg``); same outputs as :func:`benchmark`.

    Parameters
    ----------
    cfg : mapping
        A run configuration.
    model : str, optional
        The configured model to evaluate (default: the only model of ``cfg``).
    **kwargs
        Passed to :func:`benchmark`.

    Returns
    -------
    BenchmarkRun
        As :func:`benchmark`.

    Raises
    ------
    ConfigError
        ``model`` is not configured, or no ``model`` given and ``cfg`` selects several.
    """
    cfg = copy.deepcopy(dict(cfg))
    if model is not None:
        if model not in cfg["models"]:
            raise ConfigError(f"model '{model}' is not configured; configured: {', '.join(cfg['models'])}")
        cfg["models"] = {model: cfg["models"][model]}
    elif len(cfg["models"]) != 1:
        raise ConfigError(f"evaluate needs one model; the config selects {', '.join(cfg['models'])}")
    return benchmark(cfg, **kwargs)



def scalar_table(metrics: pd.DataFrame, keys: Sequence[str] = ("balanced_accuracy", "accuracy", "brier",
                                                                 "log_loss", "auc_hand_till", "ece",
                                                                 "classifiable", "fit_seconds")) -> str:
    """Plain-text table of the main metrics (models as rows) for terminals and logs."""
    cols = [k for k in keys if k in metrics.columns]
    return metrics[cols].to_string(float_format=lambda v: f"{v:.4f}")
