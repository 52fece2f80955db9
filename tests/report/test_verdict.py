"""The verdict of every reason in plain words, and the number formatting it relies on."""

from __future__ import annotations

import math

import pytest

from methylclass.report.verdict import percent, pvalue, reason_codes, score_text, verdict

SCORES = {"PA": 0.62, "GBM": 0.30, "MB": 0.08}


@pytest.mark.parametrize(("row", "kwargs", "kind", "label", "sentences"), [
    ({"status": "ok", "prediction": "PA", "score": 0.972, "reason": ""}, {"threshold": 0.9},
     "called", "PA", ["Called PA: calibrated score 0.97 (threshold 0.90)."]),
    ({"status": "ok", "prediction": "PA", "score": 0.972, "prediction_set": "PA|GBM"}, {},
     "called", "PA", ["Called PA: calibrated score 0.97.",
                      "The conformal prediction set also contains GBM: consider them in the differential diagnosis."]),
    ({"status": "ok", "prediction": "no_match", "score": 0.99, "reason": "out_of_distribution",
      "ood_pvalue": 0.003}, {"threshold": 0.9},
     "no_match", "No match", ["No match: the sample is unlike every training class (out-of-distribution p = 0.003)."]),
    ({"status": "ok", "prediction": "no_match", "reason": "out_of_distribution", "ood_pvalue": 0.0002}, {},
     "no_match", "No match", ["No match: the sample is unlike every training class (out-of-distribution p < 0.001)."]),
    ({"status": "ok", "prediction": "no_match", "reason": "out_of_distribution"}, {},
     "no_match", "No match", ["No match: the sample is unlike every training class."]),
    ({"status": "ok", "prediction": "no_match", "reason": "low_coverage", "coverage": 0.59}, {},
     "no_match", "No match", ["Low coverage: 41 % of the model's CpGs were not measured."]),
    ({"status": "ok", "prediction": "no_match", "reason": "low_coverage", "coverage": 0.93}, {"max_missing": 0.05},
     "no_match", "No match",
     ["Low coverage: 7 % of the model's CpGs were not measured (at most 5 % may be missing)."]),
    ({"status": "ok", "prediction": "no_match", "reason": "low_coverage"}, {},
     "no_match", "No match", ["Low coverage: too many of the model's CpGs were not measured."]),
    ({"status": "ok", "prediction": "no_match", "score": 0.62, "reason": "low_score"},
     {"threshold": 0.9, "scores": SCORES},
     "no_match", "No match", ["No match: no class reaches the score threshold (best: PA 0.62 < threshold 0.90)."]),
    ({"status": "ok", "prediction": "no_match", "score": 0.62, "reason": "low_score"}, {},
     "no_match", "No match", ["No match: no class reaches the score threshold (best: 0.62)."]),
    ({"status": "ok", "prediction": "no_match", "score": 0.8996, "reason": "low_score"},
     {"threshold": 0.9, "scores": {"PA": 0.8996}},
     "no_match", "No match", ["No match: no class reaches the score threshold (best: PA 0.8996 < threshold 0.90)."]),
    ({"status": "ok", "prediction": "no_match", "reason": "qc_failed", "qc_status": "failed: 12 % probes p > 0.01"},
     {}, "no_match", "No match",
     ["No match: the sample failed quality control (failed: 12 % probes p > 0.01); it is not classified."]),
    ({"status": "ok", "prediction": "no_match", "reason": "qc_failed", "qc_status": "failed"}, {},
     "no_match", "No match", ["No match: the sample failed quality control; it is not classified."]),
    ({"status": "ok", "prediction": "no_match", "reason": "low_score;out_of_distribution", "ood_pvalue": 0.01,
      "score": 0.5}, {"threshold": 0.9, "scores": SCORES},
     "no_match", "No match", ["No match: no class reaches the score threshold (best: PA 0.62 < threshold 0.90).",
                              "No match: the sample is unlike every training class (out-of-distribution p = 0.010)."]),
    ({"status": "ok", "prediction": "no_match", "reason": "array_mismatch"}, {},
     "no_match", "No match", ["No match: array_mismatch."]),
    ({"status": "ok", "prediction": "no_match", "reason": "array_mismatch", "reason_detail": "EPIC sample"}, {},
     "no_match", "No match", ["No match: array_mismatch (EPIC sample)."]),
    ({"status": "ok", "prediction": "no_match", "reason": "qc_failed", "qc_status": "failed",
      "reason_detail": "bisulfite conversion 61 %"}, {}, "no_match", "No match",
     ["No match: the sample failed quality control (bisulfite conversion 61 %); it is not classified."]),
    ({"status": "failed", "prediction": "", "reason": "'/x/a_Grn.idat' is truncated, read 10 of 20 bytes"}, {},
     "failed", "Failed", ["Could not be analysed: '/x/a_Grn.idat' is truncated, read 10 of 20 bytes"]),
    ({"status": "failed", "prediction": float("nan"), "reason": float("nan")}, {},
     "failed", "Failed", ["Could not be analysed: no reason was recorded"]),
])
def test_every_reason_in_plain_words(row, kwargs, kind, label, sentences):
    v = verdict(row, **kwargs)
    assert (v.kind, v.label, v.sentences) == (kind, label, sentences)
    assert v.short


def test_short_labels_for_the_index():
    assert verdict({"prediction": "no_match", "reason": "low_coverage", "coverage": 0.59}).short == \
        "41 % of the model's CpGs not measured"
    assert verdict({"prediction": "no_match", "reason": "out_of_distribution", "ood_pvalue": 0.003}).short == \
        "unlike every training class (p = 0.003)"
    assert verdict({"status": "failed", "reason": "boom"}).short == "boom"
    # a missing status with an empty prediction and no reason is still an honest no-match, never a call
    assert verdict({"prediction": ""}).kind == "no_match"
    assert verdict({}).kind == "no_match"


def test_number_formats():
    assert [percent(x) for x in (0.41, 0.05, 0.055, 0.0004, 0.0, 1.0, 0.9996, 0.999, 0.995, 0.123)] == \
        ["41 %", "5 %", "5.5 %", "0.1 %", "0 %", "100 %", "99.9 %", "99.9 %", "99.5 %", "12 %"]
    assert pvalue(0.0031) == "p = 0.003" and pvalue(0.0009) == "p < 0.001"
    assert score_text(0.8996, 0.9) == "0.8996" and score_text(0.9712, 0.9) == "0.97"
    assert score_text(0.9, 0.9) == "0.90" and score_text(None, 0.9) == "–"
    assert score_text(0.89999999, 0.9).startswith("0.89999")
    assert reason_codes("low_score | out_of_distribution") == ["low_score", "out_of_distribution"]
    assert reason_codes("read error: a, b") == ["read error: a, b"]
    assert reason_codes(math.nan) == [] and reason_codes(None) == []
