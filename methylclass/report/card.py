"""The model card as a readable page (``card.html``) and as a short summary for the diagnosis pages.

A bundle's ``card.json`` (see :mod:`methylclass.models.bundle`) is read defensively: every field is optional,
fields are looked up under the names the bundle writer uses today and the ones issue 10 adds (the first that is
present wins, see :data:`FIELDS`), and anything missing is shown as "not recorded" rather than failing. The card
comes from a bundle that may have been made elsewhere, so every text is escaped (jinja autoescape) and nothing in
it is executed or fetched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._atomic import atomic_text
from ..pl.colors import model_colors, text_color
from ._html import environment
from .benchmark import METRIC_ROWS, _fmt

#: card field → dotted paths tried in order (the first present, non-empty value is used)
FIELDS: dict[str, tuple[str, ...]] = {
    "model": ("model.name", "model", "config.model.name", "estimator"),
    "created": ("created",),
    "classes": ("classes",),
    "class_counts": ("class_counts", "training.class_counts", "data.class_counts", "config.data.class_counts"),
    "n_samples": ("n_samples", "training.n_samples", "data.n_samples", "config.data.n_samples"),
    "n_features": ("n_features",),
    "used_features": ("used_features",),
    "arrays": ("arrays", "array", "preprocessing.arrays", "preprocessing.array", "training.arrays",
               "manifest.array"),
    "manifest": ("manifest", "preprocessing.manifest", "preprocessing.manifest_sha256"),
    "genome_build": ("genome_build", "preprocessing.genome_build"),
    "training_source": ("preprocessing.source",),
    "normalisation": ("normalisation", "normalization", "preprocessing.normalisation",
                      "preprocessing.normalization", "preprocessing.method", "preprocess"),
    "normalisation_options": ("preprocessing.method_options", "normalisation_options"),
    "probe_filters": ("probe_filters", "preprocessing.probe_filters", "preprocessing.filters"),
    "cnv_reference": ("cnv_reference", "cnv.reference", "cnv", "preprocessing.cnv"),
    "metrics": ("metrics",),
    "metrics_scheme": ("metrics_scheme", "config.cv"),
    "threshold": ("threshold", "decision.threshold", "config.decision.threshold"),
    "ood": ("ood", "decision.ood", "decision.ood_alpha", "config.decision.ood_alpha"),
    "class_thresholds": ("class_thresholds", "decision.class_thresholds", "config.decision.class_thresholds"),
    "coverage_limit": ("decision.max_missing_fraction", "max_missing_fraction",
                       "config.decision.max_missing_fraction"),
    "intended_use": ("intended_use", "use.intended"),
    "limitations": ("limitations", "use.limitations"),
    "training_hash": ("training_hash",),
    "source": ("config.data.source", "data.source", "training.source"),
    "versions": ("versions",),
    "files": ("files",),
}


def card_get(card: Mapping[str, Any] | None, name: str) -> Any:
    """The value of card field ``name`` (see :data:`FIELDS`), or None when the card does not record it."""
    for path in FIELDS.get(name, (name,)):
        node: Any = card or {}
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                node = None
                break
            node = node[part]
        if node not in (None, "", [], {}):
            return node
    return None


def card_threshold(card: Mapping[str, Any] | None) -> float | None:
    """The score a class needs to be called, as the card records it (None if it does not)."""
    try:
        t = float(card_get(card, "threshold"))
    except (TypeError, ValueError):
        return None
    return t if math.isfinite(t) and 0 <= t <= 1 else None


def card_max_missing(card: Mapping[str, Any] | None) -> float | None:
    """The fraction of the model's CpGs a sample may miss before it is ``low_coverage`` (None if unrecorded)."""
    try:
        t = float(card_get(card, "coverage_limit"))
    except (TypeError, ValueError):
        return None
    return t if math.isfinite(t) and 0 <= t < 1 else None


def card_colors(card: Mapping[str, Any] | None, extra: Sequence[str] = ()) -> dict[str, str]:
    """Class colours of the model (card class order, then any ``extra`` classes the predictions name)."""
    return model_colors([str(c) for c in (card_get(card, "classes") or [])], extra)


def _plain(value: Any) -> str:
    """A card value as one readable line (lists joined, mappings as ``key: value`` pairs)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in value.items() if v not in (None, "", [], {}))
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _rows(value: Any, *, skip: Sequence[str] = ()) -> list[dict[str, str]]:
    """``[{"key", "value"}]`` rows of a mapping (a scalar becomes one row without a key)."""
    if value in (None, "", [], {}):
        return []
    if isinstance(value, Mapping):
        rows = []
        for k, v in value.items():
            if k in skip or v in (None, "", [], {}):
                continue
            if isinstance(v, (list, tuple)) and len(v) > 12:  # per-probe lists would flood the page
                v = f"{len(v):,} values"
            rows.append({"key": str(k).replace("_", " "), "value": _plain(v)})
        return rows
    return [{"key": "", "value": _plain(value)}]


def _texts(value: Any) -> list[str]:
    if value in (None, "", [], {}):
        return []
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value if v not in (None, "")]
    return [_plain(value)]


def _metrics(card: Mapping[str, Any] | None) -> list[dict[str, str]]:
    m = card_get(card, "metrics")
    if not isinstance(m, Mapping):
        return []
    m = m.get("scalars", m) if isinstance(m.get("scalars"), Mapping) else m
    rows = []
    for key, label, _better, fmt, help_ in METRIC_ROWS:
        v = m.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            text = _fmt(float(v), fmt)
            sd = m.get(f"{key}_sd")
            if isinstance(sd, (int, float)) and fmt != "time" and math.isfinite(sd):
                text += f" ± {_fmt(float(sd), fmt)}"
            rows.append({"key": key, "label": label, "value": text, "help": help_})
    return rows


def _scheme(card: Mapping[str, Any] | None) -> str:
    cv = card_get(card, "metrics_scheme")
    if isinstance(cv, Mapping):
        outer, inner, rep = cv.get("outer"), cv.get("inner"), cv.get("repeats")
        if outer:
            s = f"{outer}-fold nested cross-validation" + (f" (inner {inner} folds)" if inner else "")
            return s + (f", {rep} repeats" if rep and int(rep) > 1 else "")
    return _plain(cv) if cv else "cross-validation on the training data"


def _classes(card: Mapping[str, Any] | None, colors: Mapping[str, str]) -> list[dict[str, Any]]:
    classes = [str(c) for c in (card_get(card, "classes") or [])]
    counts = card_get(card, "class_counts")
    counts = {str(k): v for k, v in counts.items()} if isinstance(counts, Mapping) else {}
    total = sum(v for v in counts.values() if isinstance(v, (int, float))) or 0
    rows = []
    for c in classes or list(counts):
        n = counts.get(c)
        rows.append({"name": c, "color": colors.get(c, "#8a8f98"), "n": "–" if n is None else f"{int(n):,}",
                     "share": f"{n / total:.1%}" if total and isinstance(n, (int, float)) else "–"})
    return rows


def _default_limitations(card: Mapping[str, Any] | None) -> list[str]:
    """Limitations every card implies, derived from its own facts (shown when the card lists none)."""
    out = [("Only the tumour classes listed above can be called; any other tumour type can at best come out "
            "as 'no match' (out of distribution) and may be missed when it resembles a trained class.")]
    counts = card_get(card, "class_counts")
    if isinstance(counts, Mapping) and counts:
        small = sorted(str(k) for k, v in counts.items() if isinstance(v, (int, float)) and v < 20)
        if small:
            out.append(f"Classes with fewer than 20 training samples ({', '.join(small)}): their scores and "
                       "metrics are uncertain.")
    if not card_get(card, "metrics"):
        out.append("The card records no cross-validated metrics: the model's accuracy is unknown.")
    out.append("Scores are calibrated on the training cohort; samples from other laboratories, arrays or tissue "
               "handling may score differently. Validate locally before diagnostic use.")
    return out


def card_context(card: Mapping[str, Any] | None) -> dict[str, Any]:
    """Everything the card page and the per-sample summaries show, as plain strings and rows."""
    card = card or {}
    colors = card_colors(card)
    classes = _classes(card, colors)
    n_samples = card_get(card, "n_samples")
    if n_samples is None:
        counts = card_get(card, "class_counts")
        if isinstance(counts, Mapping) and counts:
            n_samples = int(sum(v for v in counts.values() if isinstance(v, (int, float))))
    used = card_get(card, "used_features")
    threshold = card_threshold(card)
    max_missing = card_max_missing(card)
    facts = [
        ("model", _plain(card_get(card, "model")) or "not recorded"),
        ("classes", str(len(classes)) if classes else "not recorded"),
        ("training samples", f"{int(n_samples):,}" if isinstance(n_samples, (int, float)) else "not recorded"),
        ("features", f"{int(card_get(card, 'n_features')):,}" if isinstance(card_get(card, "n_features"), int)
         else "not recorded"),
        ("features used", f"{len(used):,}" if isinstance(used, (list, tuple)) else "all"),
        ("arrays", _plain(card_get(card, "arrays")) or "not recorded"),
        ("call threshold", f"{threshold:.2f}" if threshold is not None else "not recorded"),
        ("created", _plain(card_get(card, "created"))[:19].replace("T", " ") or "not recorded"),
    ]
    manifest = card_get(card, "manifest")
    if isinstance(manifest, Mapping):
        manifest = {k: (str(v)[:16] + "…" if "sha" in str(k) and len(str(v)) > 20 else v)
                    for k, v in manifest.items()}
    elif isinstance(manifest, str) and len(manifest) > 20:
        manifest = f"sha256 {manifest.removeprefix('sha256:')[:16]}…"
    preprocessing = [{"key": "manifest", "value": _plain(manifest)}] if manifest else []
    for key, label in (("genome_build", "genome build"), ("training_source", "trained from")):
        if card_get(card, key):
            preprocessing.append({"key": label, "value": _plain(card_get(card, key))})
    for what, rows in (("normalisation", _rows(card_get(card, "normalisation"))),
                       ("normalisation", _rows(card_get(card, "normalisation_options"))),
                       ("probe filters", _rows(card_get(card, "probe_filters")))):
        for row in rows:
            row["key"] = f"{what}: {row['key']}" if row["key"] else what
        preprocessing += rows
    cnv = card_get(card, "cnv_reference")
    decision = []
    if threshold is not None:
        decision.append(f"A class is called when its calibrated score is at least {threshold:.2f}; otherwise the "
                        "outcome is 'no match' (reason: no class reaches the threshold).")
    per_class = card_get(card, "class_thresholds")
    if isinstance(per_class, Mapping) and per_class:
        decision.append("Class-specific thresholds: " + ", ".join(f"{k} {_plain(v)}" for k, v in per_class.items())
                        + ".")
    ood = card_get(card, "ood")
    if ood:
        level = "chosen from the training-set size" if str(ood).lower() == "auto" else _plain(ood)
        decision.append("A sample farther from the training samples than (almost) all of them is 'no match' "
                        f"(reason: unlike every training class; out-of-distribution level {level}).")
    if max_missing is not None:
        decision.append(f"A sample missing more than {max_missing:.0%} of the model's CpGs is 'no match' "
                        "(low coverage); missing values are not imputed beyond that.")
    files = card_get(card, "files")
    integrity = [{"key": "training data", "value": str(card_get(card, "training_hash") or "not recorded")}]
    if isinstance(files, Mapping):
        integrity += [{"key": str(k), "value": f"{_plain(v.get('path'))} · sha256 {str(v.get('sha256'))[:16]}…"}
                      for k, v in files.items() if isinstance(v, Mapping)]
    limitations = _texts(card_get(card, "limitations"))
    return {
        "model": _plain(card_get(card, "model")) or "model",
        "facts": [{"label": k, "value": v} for k, v in facts],
        "classes": classes, "colors": colors,
        "class_chips": [{"name": c["name"], "color": c["color"], "fg": text_color(c["color"])} for c in classes],
        "metrics": _metrics(card), "scheme": _scheme(card),
        "preprocessing": preprocessing,
        "cnv": _rows(cnv) if isinstance(cnv, Mapping) else ([{"key": "", "value": _plain(cnv)}] if cnv else []),
        "decision": decision,
        "intended_use": _texts(card_get(card, "intended_use")),
        "limitations": limitations or _default_limitations(card),
        "limitations_default": not limitations,
        "source": _plain(card_get(card, "source")),
        "versions": _rows(card_get(card, "versions")),
        "integrity": integrity,
        "threshold": threshold, "max_missing": max_missing,
    }


def render_card_html(card: Mapping[str, Any] | None, *, back: str | None = None) -> str:
    """HTML text of the readable model card (``back``: optional link target, e.g. ``index.html``)."""
    return environment().get_template("card.html.j2").render(card=card_context(card), back=back)


def write_card_html(card: Mapping, path: str | Path) -> Path:
    """Write a readable ``card.html`` from a bundle's ``card.json`` (a mapping) atomically; returns the path.

    Shows the classes with their training counts and colours, arrays, manifest, normalisation, CNV reference,
    the nested-CV metrics with their definitions, the decision rule, intended use and limitations, software
    versions and file checksums. Missing fields are shown as "not recorded".
    """
    return atomic_text(Path(path), render_card_html(card))
