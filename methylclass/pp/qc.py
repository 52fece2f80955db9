"""Per-sample quality control from raw signals: detection failures, intensities, control probes, beads, sex.

:func:`sample_qc` returns a JSON-friendly dict (it goes into ``NormalizedSample.qc`` and into reports) with a
``passed`` flag and the ``reasons`` for a failure. All thresholds are module constants:

* :data:`MAX_FAILED_FRACTION` — at most 10 % of probes may fail detection (p > 0.05); the 10 % cut-off is the
  one meffil and ChAMP apply to samples. Above :data:`WARN_FAILED_FRACTION` (5 %) a warning is given.
* :data:`MIN_MEDIAN_LOG2_INTENSITY` — minfi ``minfiQC``/``getQC`` flags a sample whose mean of the log2 median
  methylated and unmethylated intensities is below 10.5 (``badSampleCutoff``).
* :data:`MAX_BEAD_FAILED_FRACTION` — at most 5 % of probes with fewer than :data:`MIN_BEADS` (3) beads on one of
  their addresses (the bead-count filter of minfi ``pfilter`` / wateRmelon uses < 3 beads).
* control-probe ratios (:data:`CONTROL_THRESHOLDS`) — the pass thresholds of Illumina's BeadArray Controls
  Reporter, as implemented by ewastools ``control_metrics`` (Heiss & Just 2018): staining, extension and
  non-polymorphic ratios ≥ 5; hybridization, bisulfite conversion I/II and specificity I/II ratios ≥ 1. A
  metric whose control probes are absent from the manifest (e.g. HM27) is reported as ``None`` and not judged.
* dye bias — red/green ratio of the normalisation controls (NORM_A+T red over NORM_C+G green, HM27:
  Normalization-Red over -Green); outside
  :data:`DYE_BIAS_RANGE` it is a warning only, since dye-bias correction removes it.
* sex — minfi ``getSex``: ``d = median log2(M+U) of chrY probes - median of chrX probes``; ``"F"`` when
  ``d < -2`` (:data:`SEX_CUTOFF`), ``"M"`` otherwise; ``"unknown"`` when fewer than :data:`MIN_SEX_PROBES`
  chrX/chrY probes have signal or when ``d`` lies within :data:`SEX_MARGIN` of the cut-off.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import DataError
from ..io.raw_types import RawSignals
from .background import channel_index
from .detection import P_THRESHOLD, failed_mask
from .dyebias import normalization_control_means

MAX_FAILED_FRACTION = 0.10
WARN_FAILED_FRACTION = 0.05
MIN_MEDIAN_LOG2_INTENSITY = 10.5
MIN_BEADS = 3
MAX_BEAD_FAILED_FRACTION = 0.05
DYE_BIAS_RANGE = (0.5, 2.0)
SEX_CUTOFF = -2.0
SEX_MARGIN = 0.5
MIN_SEX_PROBES = 20

#: metric name → minimum ratio for a pass
CONTROL_THRESHOLDS = {
    "staining_green": 5.0, "staining_red": 5.0,
    "extension_green": 5.0, "extension_red": 5.0,
    "hybridization_high_medium": 1.0, "hybridization_medium_low": 1.0,
    "bisulfite_conversion_I_green": 1.0, "bisulfite_conversion_I_red": 1.0, "bisulfite_conversion_II": 1.0,
    "specificity_I_green": 1.0, "specificity_I_red": 1.0, "specificity_II": 1.0,
    "nonpolymorphic_green": 5.0, "nonpolymorphic_red": 5.0,
}


def _select(types: np.ndarray, names: np.ndarray, ctype: str, pattern: str) -> np.ndarray:
    rx = re.compile(pattern, re.IGNORECASE)
    return np.flatnonzero((types == ctype) & np.array([bool(rx.search(n)) for n in names], dtype=bool))


def _ratio(num: np.ndarray, den: np.ndarray, how_num=np.min, how_den=np.max) -> float | None:
    num, den = num[np.isfinite(num)], den[np.isfinite(den)]
    if num.size == 0 or den.size == 0:
        return None
    d = float(how_den(den))
    return float(how_num(num)) / d if d > 0 else float("inf")


def control_metrics(raw: RawSignals) -> dict[str, float | None]:
    """Control-probe ratios (see :data:`CONTROL_THRESHOLDS`); ``None`` where the controls are missing."""
    c = raw.controls
    if len(c) == 0:
        return {k: None for k in CONTROL_THRESHOLDS}
    types = c["type"].astype(str).str.strip().str.upper().to_numpy()
    names = c["name"].astype(str).str.strip().to_numpy()
    g = c["grn"].to_numpy(np.float64)
    r = c["red"].to_numpy(np.float64)

    def sel(ctype: str, pattern: str) -> np.ndarray:
        return _select(types, names, ctype, pattern)

    out: dict[str, float | None] = {}
    out["staining_green"] = _ratio(g[sel("STAINING", r"biotin \(high\)")], g[sel("STAINING", r"biotin \(bkg\)")])
    out["staining_red"] = _ratio(r[sel("STAINING", r"dnp \(high\)")], r[sel("STAINING", r"dnp \(bkg\)")])
    ext_cg, ext_at = sel("EXTENSION", r"\((c|g)\)"), sel("EXTENSION", r"\((a|t)\)")
    out["extension_green"] = _ratio(g[ext_cg], g[ext_at])
    out["extension_red"] = _ratio(r[ext_at], r[ext_cg])
    hi, med, lo = (sel("HYBRIDIZATION", rf"\({w}\)") for w in ("high", "medium", "low"))
    out["hybridization_high_medium"] = _ratio(g[hi], g[med])
    out["hybridization_medium_low"] = _ratio(g[med], g[lo])
    bs1 = "BISULFITE CONVERSION I"
    out["bisulfite_conversion_I_green"] = _ratio(g[sel(bs1, r"C[123]$")], g[sel(bs1, r"U[123]$")])
    out["bisulfite_conversion_I_red"] = _ratio(r[sel(bs1, r"C[456]$")], r[sel(bs1, r"U[456]$")])
    bs2 = sel("BISULFITE CONVERSION II", r".")
    out["bisulfite_conversion_II"] = _ratio(r[bs2], g[bs2])
    sp1 = "SPECIFICITY I"
    out["specificity_I_green"] = _ratio(g[sel(sp1, r"[123] \(PM\)")], g[sel(sp1, r"[123] \(MM\)")])
    out["specificity_I_red"] = _ratio(r[sel(sp1, r"[456] \(PM\)")], r[sel(sp1, r"[456] \(MM\)")])
    sp2 = sel("SPECIFICITY II", r".")
    out["specificity_II"] = _ratio(r[sp2], g[sp2])
    np_cg, np_at = sel("NON-POLYMORPHIC", r"\((c|g)\)"), sel("NON-POLYMORPHIC", r"\((a|t)\)")
    out["nonpolymorphic_green"] = _ratio(g[np_cg], g[np_at])
    out["nonpolymorphic_red"] = _ratio(r[np_at], r[np_cg])
    return out


def dye_bias_ratio(raw: RawSignals) -> float | None:
    """Red/green ratio of the normalisation controls (mean NORM_A+T red / mean NORM_C+G green; HM27's
    Normalization-Red/-Green), ``None`` when the manifest has none."""
    try:
        g, r = normalization_control_means(raw)
    except DataError:
        return None
    return float(r / g) if g > 0 else None


def predict_sex(raw: RawSignals) -> dict:
    """minfi ``getSex`` on one sample (see the module docstring): ``{"predicted", "x_median", "y_median",
    "y_minus_x"}``."""
    ix = channel_index(raw.manifest)
    total = raw.meth.astype(np.float64) + raw.unmeth.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        cn = np.log2(total)
    x, y = cn[ix.chrx], cn[ix.chry]
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if x.size < MIN_SEX_PROBES or y.size < MIN_SEX_PROBES:
        return {"predicted": "unknown", "x_median": None, "y_median": None, "y_minus_x": None}
    xm, ym = float(np.median(x)), float(np.median(y))
    d = ym - xm
    if abs(d - SEX_CUTOFF) < SEX_MARGIN:
        sex = "unknown"
    else:
        sex = "F" if d < SEX_CUTOFF else "M"
    return {"predicted": sex, "x_median": xm, "y_median": ym, "y_minus_x": d}


def _median_log2(x: np.ndarray) -> float | None:
    x = x[np.isfinite(x) & (x > 0)]
    return float(np.log2(np.median(x))) if x.size else None


def sample_qc(raw: RawSignals, detection_p: np.ndarray | None = None, *, p_threshold: float = P_THRESHOLD,
              detection_method: str | None = None) -> dict:
    """All QC metrics of one sample and the pass/fail verdict (see the module docstring)."""
    n = raw.manifest.n_probes
    reasons: list[str] = []
    warnings: list[str] = []
    missing = ~(np.isfinite(raw.meth) & np.isfinite(raw.unmeth))
    qc: dict = {"sample": raw.sample, "n_probes": int(n), "missing_fraction": float(missing.mean()) if n else 0.0}
    if detection_p is not None and n:
        failed = failed_mask(detection_p, p_threshold)
        frac = float(failed.mean())
        qc.update(detection_method=detection_method, p_threshold=float(p_threshold), n_failed=int(failed.sum()),
                  failed_fraction=frac)
        if frac > MAX_FAILED_FRACTION:
            reasons.append(f"{frac:.1%} of probes failed detection (p > {p_threshold:g}); "
                           f"maximum {MAX_FAILED_FRACTION:.0%}")
        elif frac > WARN_FAILED_FRACTION:
            warnings.append(f"{frac:.1%} of probes failed detection (p > {p_threshold:g})")
    else:
        qc.update(detection_method=None, p_threshold=float(p_threshold), n_failed=None, failed_fraction=None)

    med_m, med_u = _median_log2(raw.meth), _median_log2(raw.unmeth)
    qc["median_log2_meth"], qc["median_log2_unmeth"] = med_m, med_u
    if med_m is not None and med_u is not None and (med_m + med_u) / 2 < MIN_MEDIAN_LOG2_INTENSITY:
        reasons.append(f"low intensity: mean of log2 median M ({med_m:.2f}) and U ({med_u:.2f}) is below "
                       f"{MIN_MEDIAN_LOG2_INTENSITY}")

    dye = dye_bias_ratio(raw)
    qc["dye_bias_red_green"] = dye
    if dye is not None and not (DYE_BIAS_RANGE[0] <= dye <= DYE_BIAS_RANGE[1]):
        warnings.append(f"strong dye bias: red/green normalisation-control ratio {dye:.2f}")

    ctrl = control_metrics(raw)
    qc["controls"] = ctrl
    for name, value in ctrl.items():
        if value is not None and value < CONTROL_THRESHOLDS[name]:
            reasons.append(f"control '{name}' ratio {value:.2f} below {CONTROL_THRESHOLDS[name]:g}")

    if n:
        low_beads = (raw.beads_meth < MIN_BEADS) | (raw.beads_unmeth < MIN_BEADS)
        bead_frac = float(low_beads.mean())
        qc["bead_failed_fraction"] = bead_frac
        if bead_frac > MAX_BEAD_FAILED_FRACTION:
            reasons.append(f"{bead_frac:.1%} of probes have fewer than {MIN_BEADS} beads; "
                           f"maximum {MAX_BEAD_FAILED_FRACTION:.0%}")
    qc["sex"] = predict_sex(raw)
    qc["passed"] = not reasons
    qc["reasons"] = reasons
    qc["warnings"] = warnings
    return qc
