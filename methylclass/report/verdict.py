"""The verdict of one prediction row in plain words, for pathologists reading the diagnosis report.

A row of the predictions table (``sample, status, prediction, score, reason, ood_pvalue, coverage,
qc_status, prediction_set`` …) becomes a :class:`Verdict`: its kind (``called``, ``no_match``, ``failed``), a
short label for tables and one sentence per reason, e.g.

* ``out_of_distribution`` → "No match: the sample is unlike every training class (out-of-distribution
  p = 0.003)."
* ``low_coverage`` → "Low coverage: 41 % of the model's CpGs were not measured."

``reason`` may hold several codes joined by ``;``, ``|`` or ``,``; unknown codes are shown as they are.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

NO_MATCH = "no_match"
#: the reason codes of the predictions table and a short label for each (index table)
REASONS: dict[str, str] = {
    "low_score": "no class reaches the threshold",
    "out_of_distribution": "unlike every training class",
    "low_coverage": "too many CpGs not measured",
    "qc_failed": "quality control failed",
}
_SPLIT = re.compile(r"\s*[;|,]\s*")


@dataclass
class Verdict:
    """What the report says about one sample: ``kind`` (``called``/``no_match``/``failed``), ``label`` (the
    class, "No match" or "Failed"), ``short`` (a few words for the index table) and ``sentences``."""

    kind: str
    label: str
    short: str
    sentences: list[str] = field(default_factory=list)


def number(value: Any) -> float | None:
    """``value`` as a finite float, else None (NaN, None, empty strings and text that is not a number)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def text(value: Any) -> str:
    """``value`` as stripped text; ``""`` for None, NaN and pandas' missing markers (``pd.NA``, ``NaT``)."""
    if value is None:
        return ""
    if not isinstance(value, (str, bytes, list, tuple, dict, set)):
        try:
            if bool(pd.isna(value)):
                return ""
        except (TypeError, ValueError):
            pass
    return str(value).strip()


def percent(fraction: float) -> str:
    """``0.41`` → ``"41 %"``; one decimal below 10 % (``"0.4 %"``, ``"5.5 %"``); never rounds a non-zero share
    to 0 % or a share below one to 100 %."""
    p = 100.0 * fraction
    if p <= 0 or p >= 100:
        return f"{max(0.0, min(p, 100.0)):.0f} %"
    if p < 10:
        s = f"{p:.1f}"
        s = "0.1" if s == "0.0" else s
        return f"{s.removesuffix('.0')} %"
    s = f"{p:.0f}"
    if s == "100":  # 99.5 … 99.99 %: one decimal, at most 99.9
        s = f"{p:.1f}"
        s = "99.9" if s == "100.0" else s
    return f"{s} %"


def score_text(score: float | None, threshold: float | None, digits: int = 2) -> str:
    """A score with ``digits`` decimals, more where rounding would put it on the other side of the threshold
    (0.8996 with threshold 0.90 is ``"0.8996"``, not ``"0.90"``)."""
    if score is None:
        return "–"
    for d in range(digits, 7):
        s = f"{score:.{d}f}"
        if threshold is None or (float(s) >= threshold) == (score >= threshold):
            return s
    return f"{math.floor(score * 1e6) / 1e6:.6f}"  # just below the threshold: truncate, never round up


def pvalue(p: float) -> str:
    """``0.0031`` → ``"p = 0.003"``; below 0.001 ``"p < 0.001"``."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def reason_codes(reason: Any) -> list[str]:
    """The reason codes of a ``reason`` cell (``"low_score;out_of_distribution"`` → two codes)."""
    t = text(reason)
    if not t:
        return []
    if t.lower() in REASONS or any(p.lower() in REASONS for p in _SPLIT.split(t)):
        return [p for p in _SPLIT.split(t) if p]
    return [t]  # free text (e.g. a read error) is one reason, even if it contains commas


def _best(row: Mapping[str, Any], scores: Mapping[str, float] | None) -> tuple[str, float | None]:
    if scores:
        finite = {k: v for k, v in scores.items() if number(v) is not None}
        if finite:
            best = max(finite, key=lambda k: finite[k])
            return best, float(finite[best])
    return "", number(row.get("score"))


def _sentence(code: str, row: Mapping[str, Any], scores: Mapping[str, float] | None, threshold: float | None,
              max_missing: float | None) -> tuple[str, str]:
    """(sentence, short label) for one reason code."""
    key = code.lower()
    if key == "out_of_distribution":
        p = number(row.get("ood_pvalue"))
        tail = f" (out-of-distribution {pvalue(p)})" if p is not None else ""
        return (f"No match: the sample is unlike every training class{tail}.",
                REASONS[key] + (f" ({pvalue(p)})" if p is not None else ""))
    if key == "low_coverage":
        cov = number(row.get("coverage"))
        if cov is None:
            return "Low coverage: too many of the model's CpGs were not measured.", REASONS[key]
        missing = percent(1.0 - cov)
        limit = f" (at most {percent(max_missing)} may be missing)" if max_missing is not None else ""
        return (f"Low coverage: {missing} of the model's CpGs were not measured{limit}.",
                f"{missing} of the model's CpGs not measured")
    if key == "low_score":
        best, score = _best(row, scores)
        sc = score_text(score, threshold)
        what = f"{best} {sc}" if best and score is not None else (sc if score is not None else "")
        if threshold is not None:
            tail = f" (best: {what} < threshold {threshold:.2f})" if what else f" (threshold {threshold:.2f})"
        else:
            tail = f" (best: {what})" if what else ""
        return (f"No match: no class reaches the score threshold{tail}.",
                REASONS[key] + (f" (best {what})" if what else ""))
    if key == "qc_failed":
        qc = text(row.get("reason_detail")) or text(row.get("qc_status"))
        detail = f" ({qc})" if qc and qc.lower() not in ("failed", "fail", "qc_failed") else ""
        return f"No match: the sample failed quality control{detail}; it is not classified.", REASONS[key]
    detail = text(row.get("reason_detail"))
    return (f"No match: {code} ({detail})." if detail else f"No match: {code}."), code


def verdict(row: Mapping[str, Any], *, scores: Mapping[str, float] | None = None, threshold: float | None = None,
            max_missing: float | None = None) -> Verdict:
    """Turn one predictions row into a :class:`Verdict` (see the module docstring).

    ``scores`` are the sample's class scores (for "best: PA 0.62"), ``threshold`` the score needed for a call and
    ``max_missing`` the fraction of the model's CpGs that may be missing; each is left out of the wording when
    None.
    """
    status = text(row.get("status")).lower()
    prediction = text(row.get("prediction"))
    codes = reason_codes(row.get("reason"))
    if status == "failed" or (status not in ("ok", "") and not prediction):
        why = text(row.get("reason")) or "no reason was recorded"
        return Verdict("failed", "Failed", why, [f"Could not be analysed: {why}"])
    if prediction and prediction != NO_MATCH:
        score = number(row.get("score"))
        s = f"Called {prediction}"
        if score is not None:
            s += f": calibrated score {score_text(score, threshold)}"
            s += f" (threshold {threshold:.2f})." if threshold is not None else "."
        else:
            s += "."
        sentences = [s]
        pset = [c for c in _SPLIT.split(text(row.get("prediction_set"))) if c]
        others = [c for c in pset if c != prediction]
        if others:
            sentences.append("The conformal prediction set also contains " + ", ".join(others)
                             + ": consider them in the differential diagnosis.")
        for code in codes:  # a call with a note (should not happen, but never hide it)
            sentences.append(_sentence(code, row, scores, threshold, max_missing)[0].replace("No match: ", "Note: "))
        return Verdict("called", prediction, f"score {score_text(score, threshold)}" if score is not None else "called",
                       sentences)
    if not codes:
        codes = ["low_score"]
    parts = [_sentence(c, row, scores, threshold, max_missing) for c in codes]
    return Verdict("no_match", "No match", "; ".join(p[1] for p in parts), [p[0] for p in parts])
