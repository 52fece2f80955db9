"""The diagnosis report without a browser: safe file names, escaping, tolerance of missing columns and card keys,
the out-folder rules, and the content of the pages built from the real-data demo report."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape

from methylclass.errors import ConfigError
from methylclass.report.card import card_context, write_card_html
from methylclass.report.diagnosis import (
    SampleReport,
    parse_top_classes,
    safe_file_names,
    write_prediction_report,
)

CARD = {"classes": ["GBM", "MB", "PA"], "config": {"decision": {"threshold": 0.9}},
        "max_missing_fraction": 0.05}
SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*\.html$")


def _page_texts(folder):
    return {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.html")}


def test_safe_file_names_are_safe_and_unique():
    names = ["../../etc/passwd", "/abs/path", "a/../../b", ".hidden", "..", "", "index", "Card", "CON", "nul.txt",
             "S1", "s1", "S1", "tumour é ü", "x" * 300, "a\x00b", "<img src=x>", "C:\\Windows\\x", "-rf"]
    out = safe_file_names(names)
    assert len(out) == len(names) and len({o.lower() for o in out}) == len(out)
    for o in out:
        assert SAFE.match(o), o
        assert "/" not in o and "\\" not in o and ".." not in o and len(o) <= 90
        assert o.lower() not in ("index.html", "card.html")
    assert out[10:13] == ["S1.html", "s1-2.html", "S1-3.html"]
    assert out[13] == "tumour_e_u.html"
    assert safe_file_names(["S1", "S1"]) == safe_file_names(["S1", "S1"])  # deterministic


def test_names_and_texts_are_escaped(tmp_path):
    evil = '<img src=x onerror="alert(1)">'
    card = {"classes": ["<b>PA</b>", "GBM"], "intended_use": "<script>steal()</script>",
            "limitations": ["<iframe src=//x>"], "config": {"model": {"name": "<i>m</i>"}}}
    pred = pd.DataFrame({"sample": [evil, "../../escape", "ok"], "status": ["ok", "failed", "ok"],
                         "prediction": ["<b>PA</b>", "", "no_match"], "score": [0.95, np.nan, 0.5],
                         "reason": ["", "<script>x()</script> unreadable", "<u>odd</u>"],
                         "proba_<b>PA</b>": [0.95, np.nan, 0.5], "proba_GBM": [0.05, np.nan, 0.5]})
    top = pd.DataFrame({"feature": ["<cg1>"], "shap": [0.1], "value": [0.5], "gene": ["<GENE>"]})
    index = write_prediction_report(tmp_path / "r", pred, card=card, samples={evil: SampleReport(top_features=top)})
    folder = index.parent
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        ["index.html", "card.html", *safe_file_names(pred["sample"].tolist())])
    pages = _page_texts(folder)
    for name, text in pages.items():
        for raw in ("<script", "<img src=x", "<b>PA</b>", "<iframe", "<i>m</i>", "<u>odd</u>", "<cg1>", "<GENE>"):
            assert raw not in text, (name, raw)
    assert str(escape(evil)) in pages["index.html"]
    assert "&lt;script&gt;x()&lt;/script&gt; unreadable" in pages["index.html"]
    assert "&lt;script&gt;steal()&lt;/script&gt;" in pages["card.html"]


def test_missing_optional_columns_are_tolerated(tmp_path):
    # only sample names: every sample is an honest no-match without numbers, never a call
    index = write_prediction_report(tmp_path / "a", pd.DataFrame({"sample": ["S1", "S2"]}), card={})
    pages = _page_texts(index.parent)
    assert set(pages) == {"index.html", "card.html", "S1.html", "S2.html"}
    assert "No match" in pages["S1.html"] and "No class scores were recorded" in pages["S1.html"]
    # top_classes text instead of proba_ columns, no status, an index instead of a sample column
    pred = pd.DataFrame({"prediction": ["PA", "no_match"], "score": [0.97, 0.4],
                         "top_classes": ["PA:0.97|MB:0.02|GBM:0.01", "[[\"MB\", 0.4], [\"PA\", 0.35]]"],
                         "reason": ["", "low_score"]}, index=["T1", "T2"])
    index = write_prediction_report(tmp_path / "b", pred, card=CARD)
    pages = _page_texts(index.parent)
    assert "Called PA: calibrated score 0.97 (threshold 0.90)." in pages["T1.html"]
    assert "No match: no class reaches the score threshold (best: MB 0.40 &lt; threshold 0.90)." in pages["T2.html"]
    assert pages["T1.html"].count("data:image/png;base64,") == 1  # the score chart; no SHAP, no CNV
    # a card with nothing in it still gives a readable card page
    card_page = pages["card.html"]
    assert "Model card" in card_page and "Classes and training counts" in card_page


def test_cnv_features_without_a_profile(tmp_path):
    pred = pd.DataFrame({"sample": ["S1", "S2"], "status": ["ok", "failed"], "prediction": ["PA", ""],
                         "score": [0.95, np.nan], "reason": ["", "bad file"],
                         "cnv_arm_7p": [0.35, np.nan], "cnv_arm_10q": [-0.4, np.nan], "cnv_arm_1p": [0.02, np.nan],
                         "cnv_focal_CDKN2A_B": [-1.8, np.nan], "cnv_fga": [0.11, np.nan]})
    pages = _page_texts(write_prediction_report(tmp_path / "r", pred, card=CARD).parent)
    s1 = pages["S1.html"]
    assert re.search(r'class="chip gain"[^>]*>7p<', s1) and re.search(r'class="chip loss"[^>]*>10q<', s1)
    assert ">1p<" not in s1 and "CDKN2A_B" in s1 and "11 %" in s1
    assert "Copy-number profile" not in pages["S2.html"]  # a failed sample shows its reason, not empty sections
    assert "Could not be analysed: bad file" in pages["S2.html"]


def test_out_dir_rules(tmp_path):
    pred = pd.DataFrame({"sample": ["S1"], "prediction": ["PA"], "score": [0.95]})
    target = tmp_path / "r"
    write_prediction_report(target, pred, card=CARD)
    pred2 = pd.DataFrame({"sample": ["S9"], "prediction": ["MB"], "score": [0.95]})
    write_prediction_report(target, pred2, card=CARD)  # a previous report is replaced as a whole
    assert sorted(p.name for p in target.iterdir()) == ["S9.html", "card.html", "index.html"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left behind
    other = tmp_path / "out"
    other.mkdir()
    (other / "predictions.csv").write_text("x")
    with pytest.raises(ConfigError, match="holds files other than a report"):
        write_prediction_report(other, pred, card=CARD)
    assert (other / "predictions.csv").read_text() == "x"
    with pytest.raises(ConfigError):
        write_prediction_report(tmp_path / "x", {"sample": ["S1"]}, card=CARD)


def test_parse_top_classes_formats():
    expect = {"PA": 0.9, "MB": 0.1}
    assert parse_top_classes("PA:0.9|MB:0.1") == expect
    assert parse_top_classes("PA (0.90), MB (0.10)") == expect
    assert parse_top_classes("PA=0.9; MB=0.1") == expect
    assert parse_top_classes('{"PA": 0.9, "MB": 0.1}') == expect
    assert parse_top_classes([["PA", 0.9], ["MB", 0.1]]) == expect
    assert parse_top_classes([{"class": "PA", "score": 0.9}, {"class": "MB", "score": 0.1}]) == expect
    assert parse_top_classes(float("nan")) == {} and parse_top_classes("") == {}


def test_card_html_tolerates_missing_keys(tmp_path):
    path = write_card_html({}, tmp_path / "card.html")
    text = path.read_text(encoding="utf-8")
    assert "not recorded" in text and "records no cross-validated metrics" in text
    ctx = card_context({"classes": ["A", "B"], "config": {"data": {"class_counts": {"A": 30, "B": 10}},
                                                          "cv": {"outer": 5, "inner": 3}},
                        "metrics": {"balanced_accuracy": 0.9, "brier": None}, "threshold": "bad"})
    assert [(c["name"], c["n"], c["share"]) for c in ctx["classes"]] == [("A", "30", "75.0%"), ("B", "10", "25.0%")]
    assert [m["key"] for m in ctx["metrics"]] == ["balanced_accuracy"]
    assert ctx["threshold"] is None and ctx["scheme"].startswith("5-fold nested")
    assert any("fewer than 20 training samples (B)" in t for t in ctx["limitations"])


# ------------------------------------------------------------------------------------------ the real demo
def test_demo_pages_show_calls_cnv_and_annotated_cpgs(demo_report):
    folder = demo_report.index.parent
    pages = _page_texts(folder)
    pred = demo_report.predictions
    files = dict(zip(pred["sample"], safe_file_names(pred["sample"].tolist())))
    index = pages["index.html"]
    for name, file in files.items():
        assert f'href="{file}"' in index and str(escape(name)) in index
    # the CNV page shows the planted events: chr7 gain, chr10 loss, homozygous CDKN2A/B deletion
    with_cnv = [n for n, sr in demo_report.samples.items() if sr.cnv is not None]
    page = pages[files[with_cnv[0]]]
    for arm in ("7p", "7q"):
        assert re.search(rf'class="chip gain"[^>]*>{arm}<', page)
    for arm in ("10p", "10q"):
        assert re.search(rf'class="chip loss"[^>]*>{arm}<', page)
    assert re.search(r"CDKN2A/B</b></td>\s*<td[^>]*><span class=\"chip loss\">deletion", page)
    assert page.count("data:image/png;base64,") == 3
    # the top CpGs carry the real HM450 chromosome and position
    sample = with_cnv[0]
    top = demo_report.samples[sample].top_features
    first = top.iloc[int(np.argmax(top["shap"].abs().to_numpy()))]
    assert f"{int(first['pos']):,}" in page and f">{first['chrom']}<" in page
    # every verdict kind and reason made it to the index
    assert "unlike every training class (p = 0.003)" in index
    assert "41 % of the model&#39;s CpGs not measured" in index
    assert "quality control failed" in index and "is truncated" in index
    assert "no class reaches the threshold (best Group3" in index


def test_card_with_the_preprocessing_fields_of_a_trained_bundle(tmp_path):
    """The fields ``train`` records (issue 10): preprocessing, decision defaults, class counts, use and limits."""
    card = {"classes": ["A", "B"], "class_counts": {"A": 40, "B": 12},
            "decision": {"threshold": 0.8, "class_thresholds": {"B": 0.95}, "ood_alpha": "auto",
                         "max_missing_fraction": 0.05},
            "preprocessing": {"source": "store", "array": "HM450", "manifest_sha256": "ab" * 32,
                              "genome_build": "hg19", "method": "noob", "method_options": {"dye": "single"},
                              "probe_filters": {"min_beads": 3, "mask_failed": True},
                              "cnv": {"n_references": 16, "build": "hg19", "n_bins": 2510}},
            "intended_use": "research use", "limitations": ["few B samples"]}
    ctx = card_context(card)
    facts = {f["label"]: f["value"] for f in ctx["facts"]}
    assert facts["arrays"] == "HM450" and facts["call threshold"] == "0.80" and facts["training samples"] == "52"
    rows = {r["key"]: r["value"] for r in ctx["preprocessing"]}
    assert rows["manifest"] == "sha256 abababababababab…" and rows["genome build"] == "hg19"
    assert rows["normalisation"] == "noob" and rows["normalisation: dye"] == "single"
    assert rows["probe filters: min beads"] == "3" and rows["probe filters: mask failed"] == "yes"
    assert {r["key"]: r["value"] for r in ctx["cnv"]} == {"n references": "16", "build": "hg19", "n bins": "2510"}
    assert ctx["max_missing"] == 0.05 and ctx["limitations"] == ["few B samples"] and not ctx["limitations_default"]
    assert any("Class-specific thresholds: B 0.95" in d for d in ctx["decision"])
    assert any("chosen from the training-set size" in d for d in ctx["decision"])
    page = write_card_html(card, tmp_path / "card.html").read_text(encoding="utf-8")
    for text in ("few B samples", "research use", "2510", "noob", "hg19", "0.80"):
        assert text in page, text


def test_the_predict_frame_layout(tmp_path):
    """Rows as the prediction engine writes them (reason_detail, ood_level, NaN QC, a failed row without scores)."""
    pred = pd.DataFrame({
        "sample": ["A1", "A2", "bad"], "status": ["ok", "ok", "failed"], "prediction": ["MB", "no_match", ""],
        "score": [0.97, 0.99, np.nan], "reason": ["", "out_of_distribution", "'x_Grn.idat': not an IDAT file"],
        "reason_detail": ["", "", ""], "top_classes": ["MB:0.970|PA:0.020|GBM:0.010", "PA:0.990|MB:0.005", ""],
        "prediction_set": ["MB", "PA", ""], "ood_pvalue": [0.4, 0.02, np.nan], "ood_level": [0.05, 0.05, np.nan],
        "coverage": [0.999, 1.0, np.nan], "qc_status": [np.nan, "passed", np.nan],
        "proba_GBM": [0.01, 0.005, np.nan], "proba_MB": [0.97, 0.005, np.nan], "proba_PA": [0.02, 0.99, np.nan]})
    pages = _page_texts(write_prediction_report(tmp_path / "r", pred, card=CARD).parent)
    assert "Called MB: calibrated score 0.97 (threshold 0.90)." in pages["A1.html"]
    assert "(out-of-distribution p = 0.020)" in pages["A2.html"] and "0.02 (level 0.05)" in pages["A2.html"]
    assert "Could not be analysed: &#39;x_Grn.idat&#39;: not an IDAT file" in pages["bad.html"]
    assert "99.9 %" in pages["index.html"]
    assert "nan" not in re.sub(r"data:image/png;base64,[^\"]+", "", pages["index.html"]).lower().split("<body")[1]
