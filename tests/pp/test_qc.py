"""Per-sample QC: detection failures, intensities, control probes, beads, predicted sex, pass/fail."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from methylclass.pp import qc


def _sex_raw(pp_tiny, y_total: float, n: int = 30):
    """30 chrX probes with total intensity 8000 and 30 chrY probes with total ``y_total`` (Type II)."""
    man = pp_tiny.manifest(["II"] * (2 * n), [""] * (2 * n), chrom=["chrX"] * n + ["chrY"] * n)
    meth = np.r_[np.full(n, 4000.0), np.full(n, y_total / 2)]
    return pp_tiny.raw(man, meth, meth.copy())


@pytest.mark.parametrize("y_total, expected", [(300.0, "F"), (6000.0, "M"), (2000.0, "unknown")])
def test_predict_sex_planted(pp_tiny, y_total, expected):
    """Planted truth, minfi getSex rule: d = median log2 CN(chrY) - median log2 CN(chrX); F below -2, M above,
    unknown within 0.5 of the cut-off. Y at background (300 vs 8000): d = -4.74 → F; 6000: d = -0.42 → M;
    2000: d = -2.0 → unknown."""
    s = qc.predict_sex(_sex_raw(pp_tiny, y_total))
    assert s["predicted"] == expected
    assert s["y_minus_x"] == pytest.approx(np.log2(y_total / 8000), abs=1e-6)


def test_predict_sex_without_chromosomes(pp_tiny):
    """Fewer than 20 usable chrX/chrY probes (e.g. a manifest without coordinates) → unknown."""
    man = pp_tiny.manifest(["II"] * 4, [""] * 4, chrom=[""] * 4)
    assert qc.predict_sex(pp_tiny.raw(man, [1, 2, 3, 4], [1, 2, 3, 4]))["predicted"] == "unknown"


def _with_controls(raw, values: dict):
    """Copy of ``raw`` whose control intensities are 100 except the named (type, name-regex, channel) ones."""
    ctrl = raw.controls.copy()
    ctrl["grn"], ctrl["red"] = 100.0, 100.0
    for (ctype, pattern, channel), v in values.items():
        sel = (ctrl["type"].str.upper() == ctype) & ctrl["name"].str.contains(pattern, regex=True)
        assert sel.any(), (ctype, pattern)
        ctrl.loc[sel, channel] = v
    return replace(raw, controls=ctrl)


def test_control_metrics_hand_computed(pp_synth_raw):
    """Hand-computed ratios on the real HM450 control set with planted values: bisulfite conversion I green
    = min(C1..C3 green) / max(U1..U3 green) = 1000 / 100 = 10; BS conversion II = min(red) / max(green)
    = 100 / 400 = 0.25 → a failure reason naming the control; absent pattern controls stay at 100 / 100 = 1."""
    raw = _with_controls(pp_synth_raw, {
        ("BISULFITE CONVERSION I", r"C[123]$", "grn"): 1000.0,
        ("BISULFITE CONVERSION II", r".", "grn"): 400.0,
    })
    m = qc.control_metrics(raw)
    assert m["bisulfite_conversion_I_green"] == pytest.approx(10.0)
    assert m["bisulfite_conversion_II"] == pytest.approx(0.25)
    assert m["specificity_II"] == pytest.approx(1.0)
    out = qc.sample_qc(raw)
    assert not out["passed"]
    assert any("bisulfite_conversion_II" in r for r in out["reasons"])


def test_realistic_sample_passes(pp_synth_raw):
    """The synthetic sample was built with good controls, full bead counts and signal everywhere: it must pass
    with no reasons, and report its dye-bias ratio ≈ the planted red/green factor (1.1, within noise)."""
    from methylclass.pp.detection import poobah
    out = qc.sample_qc(pp_synth_raw, poobah(pp_synth_raw), detection_method="poobah")
    assert out["passed"], out["reasons"]
    assert out["failed_fraction"] < 0.02 and out["bead_failed_fraction"] < 0.01
    assert out["dye_bias_red_green"] == pytest.approx(1.1, rel=0.1)
    assert out["median_log2_meth"] > 10 and out["median_log2_unmeth"] > 10
    assert all(v is None or v > 0 for v in out["controls"].values())


def test_failures_are_reported_with_reasons(pp_synth_raw):
    """Planted failures: 30 % of probes with p = 0.5 (> 10 % allowed), 20 % with 1 bead (> 5 % allowed),
    intensities divided by 64 (log2 medians drop by 6, below 10.5): each gives its own reason."""
    n = pp_synth_raw.manifest.n_probes
    p = np.zeros(n, dtype=np.float32)
    p[: int(0.3 * n)] = 0.5
    beads = pp_synth_raw.beads_meth.copy()
    beads[: int(0.2 * n)] = 1
    dim = replace(pp_synth_raw, meth=pp_synth_raw.meth / 64, unmeth=pp_synth_raw.unmeth / 64, beads_meth=beads)
    out = qc.sample_qc(dim, p)
    assert not out["passed"]
    text = " | ".join(out["reasons"])
    assert "failed detection" in text and "beads" in text and "low intensity" in text
    assert out["n_failed"] == int(0.3 * n)


def test_qc_without_controls(pp_tiny):
    """A manifest without control probes (custom arrays): control metrics and dye bias are None, not errors."""
    man = pp_tiny.manifest(["II"] * 3, [""] * 3)
    out = qc.sample_qc(pp_tiny.raw(man, [5000, 6000, 7000], [4000, 3000, 2000]))
    assert out["dye_bias_red_green"] is None
    assert set(out["controls"].values()) == {None}
    assert out["passed"]
    assert isinstance(pd.Series(out["controls"]), pd.Series)


def test_qc_status_separates_scan_controls_from_dna_failures():
    """Only scan/chemistry control ratios are a warning; bisulfite conversion or low intensity fail the
    sample; the store's "; "-joined form reads the same as the list."""
    from methylclass.pp.qc import qc_status

    soft = ["control 'staining_green' ratio 3.10 below 5", "control 'specificity_II' ratio 0.80 below 1"]
    assert qc_status(True, []) == "passed"
    assert qc_status(None, []) == "" and qc_status(float("nan"), "") == ""
    assert qc_status(False, soft) == "warning" == qc_status(False, "; ".join(soft))
    assert qc_status(False, [*soft, "control 'bisulfite_conversion_II' ratio 0.50 below 1"]) == "failed"
    assert qc_status(False, ["low intensity: mean of log2 median M (9.00) and U (9.10) is below 10.5"]) == "failed"
    assert qc_status(False, []) == "failed"
