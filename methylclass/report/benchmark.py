"""The benchmark HTML report: every model side by side, one self-contained file (images embedded as base64).

:func:`render_benchmark_report` turns :class:`ModelResult` objects (metrics from
:func:`methylclass.tl.metrics.evaluate`, fold timings, figures) plus the data summary and the resolved config
into HTML with a jinja2 template (``templates/benchmark.html.j2``, autoescaped). :func:`write_benchmark_report`
writes it atomically. No network access is needed to view the report.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .._atomic import atomic_text
from ..errors import ConfigError
from ..tl.metrics import Evaluation
from ._html import environment

#: (key, label, better: "high"|"low"|None, format, definition) — the rows of the side-by-side table
METRIC_ROWS: tuple[tuple[str, str, str | None, str, str], ...] = (
    ("balanced_accuracy", "balanced accuracy", "high", ".3f", "mean per-class recall of the argmax call"),
    ("accuracy", "accuracy", "high", ".3f", "share of samples whose most probable class is right"),
    ("macro_f1", "macro F1", "high", ".3f", "unweighted mean of per-class F1"),
    ("weighted_f1", "weighted F1", "high", ".3f", "per-class F1 weighted by class size"),
    ("macro_precision", "macro precision", "high", ".3f", "unweighted mean of per-class precision"),
    ("macro_recall", "macro recall", "high", ".3f", "unweighted mean of per-class recall"),
    ("brier", "Brier (0–2)", "low", ".4f",
     "multiclass Brier score: mean over samples of Σ_k (p_k − y_k)², 0 = perfect, 2 = worst (mnp_training)"),
    ("log_loss", "log loss", "low", ".4f", "mean −ln p(true class)"),
    ("auc_hand_till", "AUC (Hand–Till)", "high", ".4f",
     "Hand & Till 2001 multiclass AUC: mean over class pairs of the pairwise AUCs (sklearn ovo macro)"),
    ("ece", "ECE (top-label, 15 bins)", "low", ".4f",
     "expected calibration error: Σ_b |B_b|/n · |accuracy_b − confidence_b| over equal-width bins"),
    ("classifiable", "classifiable at threshold", "high", ".1%",
     "share of samples whose best calibrated score reaches the threshold (others are 'no match')"),
    ("accuracy_classified", "accuracy among classified", "high", ".3f",
     "accuracy of the samples that pass the threshold"),
    ("conformal_coverage", "conformal coverage", None, ".3f",
     "share of samples whose true class is inside the conformal prediction set"),
    ("conformal_set_size", "mean conformal set size", "low", ".2f", "mean number of classes per prediction set"),
    ("fit_seconds", "fit time, all folds", "low", "time", "sum of the outer-fold fit times (inner CV included)"),
    ("predict_seconds", "predict time, all folds", "low", "time", "sum of the outer-fold prediction times"),
)
_OPS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
        "<": lambda a, b: a < b}
_RULE = re.compile(r"^\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*$")


@dataclass
class ModelResult:
    """What the report needs of one model: metrics, fold timings, wall time and figures (data URIs)."""

    name: str
    evaluation: Evaluation
    timings: pd.DataFrame
    wall_seconds: float
    images: dict[str, str] = field(default_factory=dict)
    label: str = ""
    notes: str = ""


def format_seconds(seconds: float | None) -> str:
    """``0.42 s``, ``12.3 s``, ``4 min 05 s``, ``1 h 02 min``."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def _fmt(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format_seconds(value) if fmt == "time" else format(value, fmt)


def parse_criteria(criteria: Mapping[str, str] | None) -> list[tuple[str, str, float]]:
    """``{"balanced_accuracy": ">= 0.97"}`` → ``[("balanced_accuracy", ">=", 0.97)]`` (ConfigError if malformed)."""
    out = []
    known = {k for k, *_ in METRIC_ROWS}
    for metric, rule in (criteria or {}).items():
        m = _RULE.match(str(rule))
        if not m:
            raise ConfigError(f"report.criteria.{metric}: {rule!r} must look like '>= 0.97' or '<= 0.06'")
        if metric not in known:
            raise ConfigError(f"report.criteria: unknown metric {metric!r}; known: {', '.join(sorted(known))}")
        out.append((metric, m.group(1), float(m.group(2))))
    return out


def check_criteria(models: Sequence[ModelResult], criteria: Mapping[str, str] | None,
                   min_models: int = 1) -> dict[str, Any] | None:
    """Which models meet every criterion; ``passed`` when at least ``min_models`` do (None if no criteria)."""
    rules = parse_criteria(criteria)
    if not rules:
        return None
    per_model = {}
    for m in models:
        s = m.evaluation.scalars
        per_model[m.name] = all(metric in s and s[metric] is not None and math.isfinite(s[metric])
                                and _OPS[op](s[metric], value) for metric, op, value in rules)
    n_pass = sum(per_model.values())
    label = " and ".join(f"{metric} {op} {value:g}" for metric, op, value in rules)
    return {"label": label, "per_model": per_model, "n_pass": n_pass, "min_models": min_models,
            "passed": n_pass >= min_models,
            "verdict": f"{n_pass} of {len(models)} models pass (need {min_models})"}


def _metric_rows(models: Sequence[ModelResult]) -> list[dict]:
    """Rows of the side-by-side table; ``± sd`` across CV repeats when the evaluation carries ``<key>_sd``."""
    rows = []
    for key, label, better, fmt, help_ in METRIC_ROWS:
        values = [m.evaluation.scalars.get(key) for m in models]
        if all(v is None for v in values):
            continue
        finite = [v for v in values if v is not None and math.isfinite(v)]
        best = None
        if finite and better and len(models) > 1:
            best = max(finite) if better == "high" else min(finite)
        cells = []
        for m, v in zip(models, values):
            text = _fmt(v, fmt)
            sd = m.evaluation.scalars.get(f"{key}_sd")
            if sd is not None and fmt != "time" and math.isfinite(sd):
                text += f" ± {_fmt(sd, fmt)}"
            cells.append({"text": text, "css": "best" if best is not None and v == best else ""})
        rows.append({"label": label, "help": help_, "cells": cells})
    return rows


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("methylclass", "numpy", "pandas", "scikit-learn", "xgboost", "imbalanced-learn"):
        for dist in (pkg, f"{pkg}-cpu"):
            try:
                out[pkg] = version(dist)
                break
            except PackageNotFoundError:
                continue
    return out


def render_benchmark_report(models: Sequence[ModelResult], *, title: str, experiment: str, run_id: str,
                            data_summary: Mapping[str, Any], config: Mapping[str, Any],
                            wall_seconds: float, cv_scheme: str, threshold: float | None = 0.9,
                            criteria: Mapping[str, Any] | None = None, n_jobs: int = 1,
                            created: str | None = None) -> str:
    """HTML text of the benchmark report (see the module docstring).

    ``data_summary`` keys used: ``source, n_samples, n_features, class_counts`` (mapping), ``missing_fraction``,
    ``sha256``, ``rare`` (policy description). ``criteria`` is the output of :func:`check_criteria` or None.
    """
    if not models:
        raise ConfigError("a benchmark report needs at least one model result")
    tpl = environment().get_template("benchmark.html.j2")
    model_ctx = []
    for m in models:
        s = m.evaluation.scalars
        pc = m.evaluation.per_class
        model_ctx.append({
            "name": m.name, "label": m.label or m.name, "images": {k: v for k, v in m.images.items()},
            "notes": m.notes,
            "headline": {"balanced_accuracy": _fmt(s.get("balanced_accuracy"), ".3f"),
                         "brier": _fmt(s.get("brier"), ".4f"), "ece": _fmt(s.get("ece"), ".4f"),
                         "classifiable": _fmt(s.get("classifiable"), ".1%")},
            "per_class": [{"cls": str(c), "precision": f"{r.precision:.3f}", "recall": f"{r.recall:.3f}",
                           "f1": f"{r.f1:.3f}", "support": int(r.support)} for c, r in pc.iterrows()],
        })
    timing_rows = [{"name": m.name, "wall": format_seconds(m.wall_seconds),
                    "fit": format_seconds(m.evaluation.scalars.get("fit_seconds")),
                    "fit_fold": format_seconds(m.evaluation.scalars.get("fit_seconds_per_fold")),
                    "predict": format_seconds(m.evaluation.scalars.get("predict_seconds")),
                    "folds": len(m.timings)} for m in models]
    counts = dict(data_summary.get("class_counts") or {})
    total = sum(counts.values()) or 1
    class_rows = [{"name": k, "n": v, "share": f"{v / total:.1%}"}
                  for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]
    facts = [("samples", data_summary.get("n_samples")), ("CpGs / features", data_summary.get("n_features")),
             ("classes", len(counts)),
             ("missing values", _fmt(data_summary.get("missing_fraction"), ".2%")),
             ("source", Path(str(data_summary.get("source", "–"))).name),
             ("sha256 (first 12)", str(data_summary.get("sha256") or "–")[:12])]
    crit_ctx = None
    if criteria:
        crit_ctx = [{"label": criteria["label"], "per_model": [criteria["per_model"][m.name] for m in models],
                     "passed": criteria["passed"], "verdict": criteria["verdict"]}]
    cfg_text = yaml.safe_dump(_plain(config), sort_keys=False, allow_unicode=True)
    html = tpl.render(
        title=title, experiment=experiment, run_id=run_id,
        created=created or _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        wall_time=format_seconds(wall_seconds), versions=_versions(), cv_scheme=cv_scheme,
        threshold_note=(f"Threshold for a call: calibrated score ≥ {threshold:g}; below it the outcome is "
                        f"'no match'." if threshold is not None else ""),
        models=model_ctx, metric_rows=_metric_rows(models), criteria=crit_ctx, timing_rows=timing_rows,
        n_jobs=n_jobs, cpu_count=os.cpu_count() or 1,
        data_facts=[{"label": k, "value": "–" if v is None else v} for k, v in facts],
        class_rows=class_rows, rare_note=data_summary.get("rare", ""), config_yaml=cfg_text,
        glossary=[{"label": label, "help": help_} for _, label, _, _, help_ in METRIC_ROWS],
    )
    return html


def _plain(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    if hasattr(node, "item") and callable(node.item):
        return node.item()
    return node if isinstance(node, (str, int, float, bool, type(None))) else str(node)


def write_benchmark_report(path: str | Path, models: Sequence[ModelResult], **kwargs) -> Path:
    """Render (:func:`render_benchmark_report`, same keyword arguments) and write ``path`` atomically."""
    return atomic_text(path, render_benchmark_report(models, **kwargs))
