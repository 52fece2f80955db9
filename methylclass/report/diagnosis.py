"""The diagnosis report: one self-contained HTML page per sample plus an index of all samples and the model card.

:func:`write_prediction_report` turns the predictions table of ``methylclass predict`` (one row per sample:
``sample, status, prediction, score, reason, top_classes, prediction_set, ood_pvalue, coverage, qc_status,
proba_<class>…, cnv_*``; every column but ``sample`` is optional) and, per sample, an optional
:class:`SampleReport` (QC numbers, the CNV result and its bins, the top SHAP features) into::

    out_dir/index.html           all samples: status, verdict, score, reason, coverage, QC, link to each page
    out_dir/<safe name>.html     one page per sample (see below)
    out_dir/card.html            the readable model card (:func:`write_card_html`)

A sample page shows the verdict and its reason in plain words (:mod:`methylclass.report.verdict`), the five best
class scores as a bar chart with the threshold line, the CNV genome plot with the arm and focal calls, a QC table,
the top CpGs behind the call (SHAP values for the called class, with chromosome/position/gene when known) and a
summary of the model card. Images are embedded as base64 PNG, so each page opens without network access.

Sample names and card texts are untrusted: every value is escaped by jinja's autoescape, and file names are
made safe and unique by :func:`safe_file_names` (no path separators, no leading dots, no reserved names).
The folder is written under a temporary name and renamed into place when complete.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import shutil
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._atomic import atomic_text, make_temp_dir, publish_dir
from ..errors import ConfigError, MethylclassError
from ..pl._figure import figure_to_base64
from ..pl.colors import FAILED_COLOR, NO_MATCH_COLOR, text_color
from ..pl.scores import plot_class_scores, plot_top_features
from ..pp.cnv.bins import Bins
from ..pp.cnv.calls import DEFAULT_THRESHOLDS
from ..pp.cnv.sample import CNVResult
from ._html import environment
from .card import card_colors, card_context, render_card_html, write_card_html
from .verdict import NO_MATCH, Verdict, number, percent, score_text, text, verdict

__all__ = ["SampleReport", "safe_file_names", "write_card_html", "write_prediction_report"]

#: rows of the top-CpG table and bars of its chart
TOP_TABLE, TOP_CHART = 20, 15
_RESERVED = {"index", "card", "con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
             *(f"lpt{i}" for i in range(10))}
_PAIR = re.compile(r"([^\s:=|;,()\[\]{}\"'][^:=|;,()\[\]{}\"']*?)\s*[:=(]\s*([-+0-9.eE]+)\s*\)?")


@dataclass
class SampleReport:
    """Optional per-sample material for the report page.

    Attributes
    ----------
    qc
        QC numbers and flags (name → value), shown as a table.
    cnv
        The sample's CNV result; with ``bins`` the genome plot and the arm/focal calls are shown.
    bins
        The CNV bins ``cnv`` was computed with.
    top_features
        The features behind the call: columns ``feature, shap, value`` (SHAP values for the called class, the
        sample's value) plus ``chrom, pos, gene`` (and ``island``) when known, e.g. from
        :func:`methylclass.io.annotate.annotate_cpgs`.
    """

    qc: Mapping[str, Any] | None = None
    cnv: CNVResult | None = None
    bins: Bins | None = None
    top_features: pd.DataFrame | None = None


# ------------------------------------------------------------------------------------------ names and values
def safe_file_names(samples: Sequence[str], max_length: int = 80) -> list[str]:
    """A safe, unique ``<name>.html`` file name for each sample name, in order.

    Characters other than ASCII letters, digits, ``.``, ``_`` and ``-`` become ``_`` (after Unicode NFKD, so
    ``é`` → ``e``); leading/trailing dots, underscores and dashes are stripped (no ``..``, no hidden files);
    names are cut to ``max_length``; empty, reserved (``index``, ``card``, Windows device names) and repeated
    names (compared case-insensitively, as on macOS/Windows file systems) get a suffix.
    """
    taken: set[str] = set()
    out = []
    for s in samples:
        stem = unicodedata.normalize("NFKD", str(s)).encode("ascii", "ignore").decode("ascii")
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem)
        stem = re.sub(r"[._-]*\.[._-]*", ".", stem).strip("._-")[:max_length].strip("._-") or "sample"
        if stem.lower() in _RESERVED or stem.lower().split(".")[0] in _RESERVED:
            stem = f"sample_{stem}"
        base, k = stem, 2
        while stem.lower() in taken:
            stem = f"{base}-{k}"
            k += 1
        taken.add(stem.lower())
        out.append(f"{stem}.html")
    return out


def _fmt_value(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    n = number(v)
    if n is not None and not isinstance(v, str):
        if float(n).is_integer() and abs(n) < 1e15:
            return f"{int(n):,}"
        return f"{n:.4g}"
    if isinstance(v, Mapping):
        return "; ".join(f"{k}: {_fmt_value(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt_value(x) for x in v)
    return text(v) or "–"


def _png(fig, dpi: int = 144) -> str:
    fig.set_dpi(dpi)
    return figure_to_base64(fig, "png")


def parse_top_classes(value: Any) -> dict[str, float]:
    """Class → score from a ``top_classes`` cell: a mapping, a list of pairs/mappings, JSON, or text such as
    ``"PA:0.95|GBM:0.03"`` / ``"PA (0.95), GBM (0.03)"``."""
    if isinstance(value, str):
        t = value.strip()
        if t[:1] in "[{":
            try:
                return parse_top_classes(json.loads(t))
            except (ValueError, TypeError):
                pass
        return {m.group(1).strip(): float(m.group(2)) for m in _PAIR.finditer(t) if number(m.group(2)) is not None}
    if isinstance(value, Mapping):
        if {"class", "score"} <= set(value):
            return {str(value["class"]): float(value["score"])} if number(value["score"]) is not None else {}
        return {str(k): float(v) for k, v in value.items() if number(v) is not None}
    if isinstance(value, (list, tuple, np.ndarray)):
        out: dict[str, float] = {}
        for item in value:
            if isinstance(item, Mapping):
                out.update(parse_top_classes(item))
            elif isinstance(item, (list, tuple)) and len(item) == 2 and number(item[1]) is not None:
                out[str(item[0])] = float(item[1])
        return out
    return {}


def _scores(row: Mapping[str, Any], proba_cols: Sequence[str]) -> dict[str, float]:
    scores = {c[len("proba_"):]: float(row[c]) for c in proba_cols if number(row.get(c)) is not None}
    return scores or parse_top_classes(row.get("top_classes"))


# ------------------------------------------------------------------------------------------ page sections
def _cnv_section(sr: SampleReport | None, row: Mapping[str, Any], sample: str) -> dict[str, Any]:
    t = DEFAULT_THRESHOLDS
    out: dict[str, Any] = {"img": None, "error": None, "gains": [], "losses": [], "focal": [], "facts": [],
                           "source": None}
    if sr is not None and sr.cnv is not None:
        r = sr.cnv
        out["source"] = "result"
        if sr.bins is not None:
            try:
                from ..pl.cnv import plot_genome

                out["img"] = _png(plot_genome(r, sr.bins, title=f"{sample} — copy-number profile", width=12,
                                              height=4.2), 130)
            except (MethylclassError, OSError, ValueError) as exc:
                out["error"] = f"the genome plot could not be drawn: {exc}"
        else:
            out["error"] = "the CNV bins were not given, so the genome plot is not shown"
        arms = r.arms if isinstance(r.arms, pd.DataFrame) else pd.DataFrame(columns=["arm", "value", "call"])
        out["gains"] = [{"arm": a, "value": f"{v:+.2f}"} for a, v, c in zip(arms["arm"], arms["value"], arms["call"])
                        if c == "gain"]
        out["losses"] = [{"arm": a, "value": f"{v:+.2f}"} for a, v, c in
                         zip(arms["arm"], arms["value"], arms["call"]) if c == "loss"]
        focal = r.focal if isinstance(r.focal, pd.DataFrame) else pd.DataFrame(columns=["gene", "call"])
        for _, f in focal.iterrows():
            if f.get("call") in ("amplification", "deletion", "gain", "loss"):
                out["focal"].append({"gene": text(f.get("gene")), "call": text(f.get("call")),
                                     "where": f"{text(f.get('chrom'))}:{_fmt_value(f.get('start'))}"
                                              f"–{_fmt_value(f.get('end'))}",
                                     "value": (f"{number(f.get('value')):+.2f}" if number(f.get("value")) is not None
                                               else "–"),
                                     "n": _fmt_value(f.get("n_probes"))})
        fga = r.fga if isinstance(r.fga, Mapping) else {}
        out["facts"] = [("fraction of genome altered", percent(fga["fga"]) if number(fga.get("fga")) is not None
                         else "–"),
                        ("noise", _fmt_value(r.noise)), ("segments", f"{len(r.segments):,}"),
                        ("reference samples", f"{len(r.references):,}")]
        return out
    feats = {k: number(v) for k, v in row.items() if str(k).startswith("cnv_")}
    if not any(v is not None for v in feats.values()):
        return out
    out["source"] = "features"
    for k, v in feats.items():
        if v is None:
            continue
        if k.startswith("cnv_arm_"):
            arm = k[len("cnv_arm_"):]
            if v >= t.gain:
                out["gains"].append({"arm": arm, "value": f"{v:+.2f}"})
            elif v <= t.loss:
                out["losses"].append({"arm": arm, "value": f"{v:+.2f}"})
        elif k.startswith("cnv_focal_") and (v >= t.gain or v <= t.loss):
            out["focal"].append({"gene": k[len("cnv_focal_"):], "call": "gain" if v > 0 else "loss",
                                 "where": "", "value": f"{v:+.2f}", "n": ""})
    if feats.get("cnv_fga") is not None:
        out["facts"].append(("fraction of genome altered", percent(feats["cnv_fga"])))
    if feats.get("cnv_noise") is not None:
        out["facts"].append(("noise", _fmt_value(feats["cnv_noise"])))
    return out


def _top_section(sr: SampleReport | None, cls: str | None, color: str) -> dict[str, Any]:
    out: dict[str, Any] = {"img": None, "rows": [], "cols": [], "error": None}
    top = None if sr is None else sr.top_features
    if top is None or not isinstance(top, pd.DataFrame) or top.empty:
        return out
    t = top.copy()
    if "feature" not in t.columns:
        t = t.reset_index().rename(columns={t.index.name or "index": "feature"})
    if "shap" not in t.columns:
        out["error"] = "the feature table has no 'shap' column"
        return out
    t["shap"] = pd.to_numeric(t["shap"], errors="coerce")
    t = t.dropna(subset=["shap"])
    t = t.reindex(t["shap"].abs().sort_values(ascending=False, kind="stable").index)
    try:
        out["img"] = _png(plot_top_features(t, called=cls, color=color, n=TOP_CHART))
    except MethylclassError as exc:
        out["error"] = str(exc)
    cols = [c for c in ("chrom", "pos", "gene", "island") if c in t.columns]
    out["cols"] = cols
    for _, r in t.iloc[:TOP_TABLE].iterrows():
        shap = float(r["shap"])
        row = {"feature": text(r["feature"]), "shap": f"{shap:+.4f}",
               "dir": ("for " if shap >= 0 else "against ") + (cls or "the call"), "for": shap >= 0,
               "value": (f"{number(r.get('value')):.3f}" if number(r.get("value")) is not None else "–")}
        for c in cols:
            v = r.get(c)
            if c == "pos":
                row[c] = f"{int(number(v)):,}" if number(v) is not None else "–"
            else:
                row[c] = text(v).replace(";", ", ") or "–"
        out["rows"].append(row)
    return out


def _qc_css(status: str) -> str:
    s = status.lower()
    if s.startswith(("fail", "qc_fail")):
        return "fail"
    if s.startswith(("warn", "flag")):
        return "warn"
    return "pass" if s.startswith(("pass", "ok")) else ""


def _qc_rows(sr: SampleReport | None, row: Mapping[str, Any]) -> list[dict[str, str]]:
    rows = []
    if text(row.get("qc_status")):
        rows.append({"key": "QC status", "value": text(row.get("qc_status"))})
    cov = number(row.get("coverage"))
    if cov is not None:
        rows.append({"key": "model CpGs measured", "value": percent(cov)})
    for k, v in ((sr.qc if sr is not None else None) or {}).items():
        rows.append({"key": str(k).replace("_", " "), "value": _fmt_value(v)})
    return rows


# ------------------------------------------------------------------------------------------ the report
def _row_context(row: Mapping[str, Any], sample: str, file: str, proba_cols: Sequence[str],
                 colors: Mapping[str, str], threshold: float | None, max_missing: float | None) -> dict[str, Any]:
    scores = _scores(row, proba_cols)
    row_threshold = number(row.get("threshold"))
    thr = row_threshold if row_threshold is not None else threshold
    v: Verdict = verdict(row, scores=scores, threshold=thr, max_missing=max_missing)
    color = colors.get(v.label, NO_MATCH_COLOR) if v.kind == "called" else (
        FAILED_COLOR if v.kind == "failed" else NO_MATCH_COLOR)
    score = number(row.get("score"))
    if score is None and scores and v.kind != "failed":
        score = max(scores.values())
    cov = number(row.get("coverage"))
    p = number(row.get("ood_pvalue"))
    pset = text(row.get("prediction_set"))
    return {
        "sample": sample, "file": file, "kind": v.kind, "label": v.label, "short": v.short,
        "sentences": v.sentences, "color": color, "fg": text_color(color), "scores": scores,
        "threshold": thr, "score": score_text(score, thr),
        "coverage": "–" if cov is None else percent(cov), "qc": text(row.get("qc_status")) or "–",
        "qc_css": _qc_css(text(row.get("qc_status"))),
        "facts": [("calibrated score" if v.kind == "called" else "best calibrated score", score_text(score, thr)),
                  ("call threshold", "–" if thr is None else f"{thr:.2f}"),
                  ("prediction set", pset.replace("|", ", ") if pset else "–"),
                  ("out-of-distribution p", "–" if p is None else f"{p:.3g}" + (
                      f" (level {number(row.get('ood_level')):.3g})" if number(row.get("ood_level")) is not None
                      else "")),
                  ("model CpGs measured", "–" if cov is None else percent(cov)),
                  ("QC", text(row.get("qc_status")) or "–"),
                  # e.g. a covariate the model adjusts for that could not be built (models.covariates)
                  *([("warning", text(row.get("warning")))] if text(row.get("warning")) else [])],
    }


def _score_section(ctx: Mapping[str, Any], colors: Mapping[str, str]) -> dict[str, Any]:
    scores = ctx["scores"]
    if not scores:
        return {"img": None, "rows": []}
    called = ctx["label"] if ctx["kind"] == "called" else None
    img = _png(plot_class_scores(scores, threshold=ctx["threshold"], colors=colors, called=called, top=5))
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    thr = ctx["threshold"]
    rows = [{"name": c, "score": score_text(s, thr, 3), "color": colors.get(c, NO_MATCH_COLOR),
             "passes": thr is not None and s >= thr} for c, s in ranked]
    return {"img": img, "rows": rows}


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ConfigError(f"'{out_dir}' exists and is not a folder; the report needs a folder")
        other = [p.name for p in out_dir.iterdir() if not p.name.endswith(".html")]
        if other:
            raise ConfigError(f"'{out_dir}' exists and holds files other than a report ({other[0]}); "
                              "choose a new folder for the report")


def write_prediction_report(out_dir: str | Path, predictions: pd.DataFrame, *, card: Mapping,
                            samples: Mapping[str, SampleReport] | None = None) -> Path:
    """Write the diagnosis report of ``predictions`` into ``out_dir``; returns the path of ``index.html``.

    Parameters
    ----------
    out_dir
        Report folder. Created, or replaced when it holds a previous report (only ``.html`` files); any other
        existing folder is refused (:class:`~methylclass.errors.ConfigError`). Written under a temporary name
        and renamed into place when every page is complete.
    predictions
        One row per sample (see the module docstring); missing optional columns are tolerated.
    card
        The bundle's card (``card.json`` as a mapping): classes and colours, threshold, metrics, limitations.
    samples
        Optional :class:`SampleReport` per sample name (QC, CNV result + bins, top SHAP features).

    Returns
    -------
    pathlib.Path
        ``out_dir/index.html``.
    """
    out_dir = Path(out_dir)
    if not isinstance(predictions, pd.DataFrame):
        raise ConfigError("write_prediction_report: predictions must be a DataFrame")
    _check_out_dir(out_dir)
    samples = dict(samples or {})
    records = predictions.to_dict("records")
    names = [text(r.get("sample")) or text(i) for r, i in zip(records, predictions.index)]
    files = safe_file_names(names)
    proba_cols = [str(c) for c in predictions.columns if str(c).startswith("proba_")]
    preds = [text(r.get("prediction")) for r in records]
    colors = card_colors(card, [c[len("proba_"):] for c in proba_cols]
                         + [p for p in preds if p and p != NO_MATCH])
    cctx = card_context(card)
    threshold, max_missing = cctx["threshold"], cctx["max_missing"]
    from .. import __version__

    created = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    env = environment()
    sample_tpl, index_tpl = env.get_template("sample.html.j2"), env.get_template("index.html.j2")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(out_dir.parent, out_dir.name)
    try:
        rows = []
        for rec, name, file in zip(records, names, files):
            ctx = _row_context(rec, name, file, proba_cols, colors, threshold, max_missing)
            sr = samples.get(name)
            cls = ctx["label"] if ctx["kind"] == "called" else (
                max(ctx["scores"], key=ctx["scores"].get) if ctx["scores"] else None)
            top = _top_section(sr, cls, colors.get(cls or "", NO_MATCH_COLOR))
            page = sample_tpl.render(
                s=ctx, scores=_score_section(ctx, colors) if ctx["kind"] != "failed" else {"img": None, "rows": []},
                cnv=_cnv_section(sr, rec, name), qc=_qc_rows(sr, rec), top=top, top_class=cls,
                top_called=ctx["kind"] == "called", card=cctx, created=created, version=__version__,
                model=cctx["model"])
            atomic_text(tmp / file, page)
            rows.append(ctx)
        counts = {k: sum(r["kind"] == k for r in rows) for k in ("called", "no_match", "failed")}
        atomic_text(tmp / "card.html", render_card_html(card, back="index.html"))
        atomic_text(tmp / "index.html", index_tpl.render(
            rows=rows, counts=counts, n=len(rows), card=cctx, created=created, version=__version__,
            model=cctx["model"]))
        publish_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / "index.html"

