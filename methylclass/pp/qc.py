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
from functools import lru_cache

import numpy as np

from ..errors import DataError
from ..io.raw_types import RawSignals
from .background import channel_index
from .detection import P_THRESHOLD, failed_mask
from .dyebias import normalization_control_means
from .levels import level_counts_of

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
#: control ratios that judge the scan and the chemistry rather than the DNA (all but bisulfite conversion): a
#: sample failing only these keeps usable betas, so :func:`qc_status` calls it a ``warning``
SOFT_CONTROLS = tuple(name for name in CONTROL_THRESHOLDS if not name.startswith("bisulfite"))


def qc_status(passed, reasons) -> str:
    """``passed`` / ``warning`` / ``failed`` of a sample's QC (``""`` when it was not judged).

    Parameters
    ----------
    passed : bool or None
        The ``passed`` flag of :func:`sample_qc` (NaN/None: not judged).
    reasons : sequence of str or str
        Its ``reasons`` (a list, or joined with ``"; "`` as stored in a store's sample table).

    Returns
    -------
    str
        ``warning`` when every reason is a :data:`SOFT_CONTROLS` ratio, ``failed`` otherwise.
    """
    if passed is None or (isinstance(passed, float) and np.isnan(passed)):
        return ""
    if bool(passed):
        return "passed"
    items = reasons.split(";") if isinstance(reasons, str) else list(reasons or [])
    items = [r.strip() for r in items if r and r.strip()]
    soft = tuple(f"control '{name}' ratio" for name in SOFT_CONTROLS)
    return "warning" if items and all(r.startswith(soft) for r in items) else "failed"


def _select(types: np.ndarray, names: np.ndarray, ctype: str, pattern: str) -> np.ndarray:
    rx = re.compile(pattern, re.IGNORECASE)
    return np.flatnonzero((types == ctype) & np.array([bool(rx.search(n)) for n in names], dtype=bool))


#: (key, control type, name pattern) of every control set the metrics compare
_CONTROL_SETS = (
    ("biotin_high", "STAINING", r"biotin \(high\)"), ("biotin_bkg", "STAINING", r"biotin \(bkg\)"),
    ("dnp_high", "STAINING", r"dnp \(high\)"), ("dnp_bkg", "STAINING", r"dnp \(bkg\)"),
    ("ext_cg", "EXTENSION", r"\((c|g)\)"), ("ext_at", "EXTENSION", r"\((a|t)\)"),
    ("hyb_high", "HYBRIDIZATION", r"\(high\)"), ("hyb_medium", "HYBRIDIZATION", r"\(medium\)"),
    ("hyb_low", "HYBRIDIZATION", r"\(low\)"),
    ("bs1_c_green", "BISULFITE CONVERSION I", r"C[123]$"), ("bs1_u_green", "BISULFITE CONVERSION I", r"U[123]$"),
    ("bs1_c_red", "BISULFITE CONVERSION I", r"C[456]$"), ("bs1_u_red", "BISULFITE CONVERSION I", r"U[456]$"),
    ("bs2", "BISULFITE CONVERSION II", r"."),
    ("sp1_pm_green", "SPECIFICITY I", r"[123] \(PM\)"), ("sp1_mm_green", "SPECIFICITY I", r"[123] \(MM\)"),
    ("sp1_pm_red", "SPECIFICITY I", r"[456] \(PM\)"), ("sp1_mm_red", "SPECIFICITY I", r"[456] \(MM\)"),
    ("sp2", "SPECIFICITY II", r"."),
    ("np_cg", "NON-POLYMORPHIC", r"\((c|g)\)"), ("np_at", "NON-POLYMORPHIC", r"\((a|t)\)"),
)


@lru_cache(maxsize=16)
def _control_sets(types: tuple[str, ...], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Rows of each control set of :data:`_CONTROL_SETS` in a control table with these (upper-cased) types and
    names — matched once per distinct control table, not once per sample."""
    t, n = np.asarray(types, dtype=object), np.asarray(names, dtype=object)
    return {key: _select(t, n, ctype, pattern) for key, ctype, pattern in _CONTROL_SETS}


#: the control sets of the control tables met last, by identity (the table kept, so an id is never reused)
_SETS_BY_TABLE: list[tuple[object, dict[str, np.ndarray]]] = []


def _table_control_sets(table) -> dict[str, np.ndarray]:
    """:func:`_control_sets` of a control table, remembered for the very table object (a manifest's, shared by
    every sample mapped onto it), so its strings are matched once, not once per sample."""
    for known, sets in _SETS_BY_TABLE:
        if known is table:
            return sets
    sets = _control_sets(tuple(table["type"].astype(str).str.strip().str.upper()),
                         tuple(table["name"].astype(str).str.strip()))
    _SETS_BY_TABLE.append((table, sets))
    del _SETS_BY_TABLE[:-4]
    return sets


def _ratio(num: np.ndarray, den: np.ndarray, how_num=np.min, how_den=np.max) -> float | None:
    num, den = num[np.isfinite(num)], den[np.isfinite(den)]
    if num.size == 0 or den.size == 0:
        return None
    d = float(how_den(den))
    return float(how_num(num)) / d if d > 0 else float("inf")


def control_metrics(raw: RawSignals) -> dict[str, float | None]:
    """Control-probe ratios (see :data:`CONTROL_THRESHOLDS`); ``None`` where the controls are missing."""
    c = raw.control_table()
    if len(c) == 0:
        return {k: None for k in CONTROL_THRESHOLDS}
    rows = _table_control_sets(c)
    g, r = raw.control_intensities()

    out: dict[str, float | None] = {}
    out["staining_green"] = _ratio(g[rows["biotin_high"]], g[rows["biotin_bkg"]])
    out["staining_red"] = _ratio(r[rows["dnp_high"]], r[rows["dnp_bkg"]])
    out["extension_green"] = _ratio(g[rows["ext_cg"]], g[rows["ext_at"]])
    out["extension_red"] = _ratio(r[rows["ext_at"]], r[rows["ext_cg"]])
    out["hybridization_high_medium"] = _ratio(g[rows["hyb_high"]], g[rows["hyb_medium"]])
    out["hybridization_medium_low"] = _ratio(g[rows["hyb_medium"]], g[rows["hyb_low"]])
    out["bisulfite_conversion_I_green"] = _ratio(g[rows["bs1_c_green"]], g[rows["bs1_u_green"]])
    out["bisulfite_conversion_I_red"] = _ratio(r[rows["bs1_c_red"]], r[rows["bs1_u_red"]])
    out["bisulfite_conversion_II"] = _ratio(r[rows["bs2"]], g[rows["bs2"]])
    out["specificity_I_green"] = _ratio(g[rows["sp1_pm_green"]], g[rows["sp1_mm_green"]])
    out["specificity_I_red"] = _ratio(r[rows["sp1_pm_red"]], r[rows["sp1_mm_red"]])
    out["specificity_II"] = _ratio(r[rows["sp2"]], g[rows["sp2"]])
    out["nonpolymorphic_green"] = _ratio(g[rows["np_cg"]], g[rows["np_at"]])
    out["nonpolymorphic_red"] = _ratio(r[rows["np_at"]], r[rows["np_cg"]])
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
    lv = raw.idat_levels()

    def total(rows: np.ndarray) -> np.ndarray:
        if lv is None:
            return raw.meth[rows].astype(np.float64) + raw.unmeth[rows].astype(np.float64)
        # the same float64 sums from the integer levels (NaN where an address is absent)
        t = lv.gather("meth")[0][rows].astype(np.float64) + lv.gather("unmeth")[0][rows]
        t[raw.missing()[rows]] = np.nan
        return t

    def log2_total(rows: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            cn = np.log2(total(rows))
        return cn[np.isfinite(cn)]

    x, y = log2_total(ix.chrx), log2_total(ix.chry)
    if x.size < MIN_SEX_PROBES or y.size < MIN_SEX_PROBES:
        return {"predicted": "unknown", "x_median": None, "y_median": None, "y_minus_x": None}
    xm, ym = float(np.median(x)), float(np.median(y))
    d = ym - xm
    if abs(d - SEX_CUTOFF) < SEX_MARGIN:
        sex = "unknown"
    else:
        sex = "F" if d < SEX_CUTOFF else "M"
    return {"predicted": sex, "x_median": xm, "y_median": ym, "y_minus_x": d}


def _median_log2(x: np.ndarray | None, counts: np.ndarray | None = None) -> float | None:
    """``log2(median(x))`` over the finite, positive values of float32 ``x``; with ``counts`` (how many probes
    have each integer IDAT level of ``x``, absent addresses at level 0) the median is read off the counts
    instead of partitioning ``x`` — the same float32 arithmetic as ``np.median``, so the same value."""
    if counts is None:
        x = x[np.isfinite(x) & (x > 0)]
        return float(np.log2(np.median(x))) if x.size else None
    counts = counts.copy()
    counts[0] = 0
    n = int(counts.sum())
    if n == 0:
        return None
    cum = np.cumsum(counts)
    middle = np.searchsorted(cum, [(n - 1) // 2 + 1, n // 2 + 1])  # 0-based ranks (n-1)//2 and n//2
    picked = middle[:1] if n % 2 else middle
    return float(np.log2(np.mean(picked.astype(np.float32))))


def _fraction(mask: np.ndarray) -> float:
    """``float(mask.mean())`` of a boolean mask, by counting: the same correctly rounded count / size."""
    return int(np.count_nonzero(mask)) / mask.size


def sample_qc(raw: RawSignals, detection_p: np.ndarray | None = None, *, p_threshold: float = P_THRESHOLD,
              detection_method: str | None = None) -> dict:
    """All QC metrics of one sample and the pass/fail verdict (see the module docstring).

    Parameters
    ----------
    raw : RawSignals
        One sample's raw signals.
    detection_p : ndarray, optional
        Per-probe detection p-values; without them the detection metrics are None.
    p_threshold : float
        A probe with ``p > p_threshold`` fails detection.
    detection_method : str, optional
        The name of the detection method, recorded in the result.

    Returns
    -------
    dict
        JSON-friendly metrics (detection failures, median intensities, dye bias, control ratios, bead
        failures, sex) with ``passed``, ``reasons`` (for a failure) and ``warnings``.
    """
    n = raw.manifest.n_probes
    reasons: list[str] = []
    warnings: list[str] = []
    missing = raw.missing()
    qc: dict = {"sample": raw.sample, "n_probes": int(n), "missing_fraction": _fraction(missing) if n else 0.0}
    if detection_p is not None and n:
        failed = failed_mask(detection_p, p_threshold)
        frac = _fraction(failed)
        qc.update(detection_method=detection_method, p_threshold=float(p_threshold), n_failed=int(failed.sum()),
                  failed_fraction=frac)
        if frac > MAX_FAILED_FRACTION:
            reasons.append(f"{frac:.1%} of probes failed detection (p > {p_threshold:g}); "
                           f"maximum {MAX_FAILED_FRACTION:.0%}")
        elif frac > WARN_FAILED_FRACTION:
            warnings.append(f"{frac:.1%} of probes failed detection (p > {p_threshold:g})")
    else:
        qc.update(detection_method=None, p_threshold=float(p_threshold), n_failed=None, failed_fraction=None)

    lv = raw.idat_levels()
    if lv is None:
        med_m, med_u = _median_log2(raw.meth), _median_log2(raw.unmeth)
    else:
        med_m, med_u = (_median_log2(None, level_counts_of(lv, t)) for t in ("meth", "unmeth"))
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
        low_beads = raw.few_beads(MIN_BEADS)
        bead_frac = _fraction(low_beads)
        qc["bead_failed_fraction"] = bead_frac
        if bead_frac > MAX_BEAD_FAILED_FRACTION:
            reasons.append(f"{bead_frac:.1%} of probes have fewer than {MIN_BEADS} beads; "
                           f"maximum {MAX_BEAD_FAILED_FRACTION:.0%}")
    qc["sex"] = predict_sex(raw)
    qc["passed"] = not reasons
    qc["reasons"] = reasons
    qc["warnings"] = warnings
    return qc
