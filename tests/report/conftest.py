"""A small but real diagnosis report for the report tests (built once per session).

* Model: a ridge-calibrated logistic regression (``make_pipeline``) trained on the real medulloblastoma table
  (GSE85212, 399 CpGs, four subgroups) minus eight held-out samples, saved with ``save_bundle``; the report gets
  that bundle's ``card.json`` plus the fields ``train`` adds for issue 10 (preprocessing, decision defaults,
  class counts, intended use).
* Predictions: the held-out samples scored by the bundle; rows edited into every verdict the report must word:
  a called sample, ``low_score`` (a 50/50 mix of a Group3 and a Group4 sample), ``out_of_distribution``,
  ``low_coverage`` (41 % of the CpGs set to NaN), ``qc_failed`` and a ``failed`` read, and a sample whose name is
  an HTML/path-traversal attack.
* SHAP: the exact SHAP values of a plain logistic regression on the same data (linear model, independent
  features: ``coef_k · (x − mean)``), annotated with the real HM450 manifest and the cancer-gene table.
* CNV: a profile (chr7 gain, chr10 loss, homozygous CDKN2A/B deletion) computed by the CNV kernel on a synthetic
  60k-probe design with a simulated reference panel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

EVIL = '<script>alert("x")</script>/../../evil name'


@dataclass
class DemoReport:
    """What the session fixture built: the report folder, its inputs and the held-out betas."""

    index: Path
    predictions: pd.DataFrame
    card: dict
    samples: dict
    betas: pd.DataFrame
    evil_name: str = EVIL


def _cnv_result():
    from methylclass.pp.cnv.bins import make_bins
    from methylclass.pp.cnv.reference import CNVReference
    from methylclass.pp.cnv.sample import cnv_sample
    from methylclass.simulate.design import synthetic_manifest

    man = synthetic_manifest(60_000, seed=1)
    bins = make_bins(man, "hg19")
    rng = np.random.default_rng(0)
    aff = rng.normal(12, 1, bins.n_fit_probes)

    def sample(cn: np.ndarray) -> np.ndarray:
        return np.exp2(aff + rng.normal(0, 0.3) + 0.6 * np.log2(cn / 2) + rng.normal(0, 0.15, bins.n_fit_probes))

    normal = np.full(bins.n_fit_probes, 2.0)
    ref = CNVReference.from_intensities(np.vstack([sample(normal) for _ in range(16)]), bins,
                                        [f"normal{i + 1}" for i in range(16)])
    cn = normal.copy()
    cn[bins.probe_chrom == "chr7"] = 3
    cn[bins.probe_chrom == "chr10"] = 1
    cn[(bins.probe_chrom == "chr9") & (np.abs(bins.probe_pos - 21_990_000) < 200_000)] = 0.2
    return cnv_sample(sample(cn), ref, bins, sample="tumour"), bins


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory, data_dir) -> DemoReport:
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    from methylclass.io.annotate import annotate_cpgs
    from methylclass.io.manifest import load_manifest
    from methylclass.models import hash_training_data, load_bundle, make_pipeline, save_bundle
    from methylclass.pp.cnv.features import cnv_features
    from methylclass.pp.cnv.genome import load_regions
    from methylclass.report.diagnosis import SampleReport, write_prediction_report

    df = pd.read_csv(data_dir / "labelled/mb_gse85212/mb_gse85212_341x399.csv.gz")
    X = df.drop(columns=["GSM", "subgroup"]).set_index(df["GSM"].rename("sample"))
    y = df["subgroup"].to_numpy(dtype=object)
    rng = np.random.default_rng(3)
    held = np.concatenate([rng.choice(np.flatnonzero(y == c), 2, replace=False) for c in sorted(set(y))])
    train = np.setdiff1d(np.arange(len(y)), held)
    Xt, yt = X.iloc[train], y[train]
    tmp = tmp_path_factory.mktemp("report")
    with threadpool_limits(limits=1):
        est = make_pipeline("logreg", select=None, calibrate="ridge", inner_cv=3).fit(Xt, yt)
        save_bundle(est, tmp / "bundle", classes=list(est.classes_), features=list(X.columns),
                    training_hash=hash_training_data(Xt, yt),
                    metrics={"balanced_accuracy": 0.962, "balanced_accuracy_sd": 0.011, "brier": 0.061,
                             "ece": 0.021, "classifiable": 0.93, "accuracy_classified": 0.991},
                    config={"model": {"name": "logreg"}, "cv": {"outer": 5, "inner": 3},
                            "decision": {"threshold": 0.9},
                            "data": {"source": "mb_gse85212_341x399.csv.gz", "n_samples": len(yt),
                                     "class_counts": pd.Series(yt).value_counts().to_dict()}})
        bundle = load_bundle(tmp / "bundle")
        card = dict(bundle.card)
        card.update(  # what `train` adds to a card (issue 10): preprocessing, decision defaults, use
            class_counts=pd.Series(yt).value_counts().sort_index().to_dict(),
            decision={"threshold": 0.9, "ood_alpha": "auto", "max_missing_fraction": 0.05},
            preprocessing={"source": "store", "array": "HM450", "manifest_sha256": "9" * 64, "genome_build": "hg19",
                           "method": "noob", "method_options": {"dye_method": "single"},
                           "probe_filters": {"min_beads": 3, "mask_failed": True},
                           "cnv": {"n_references": 16, "build": "hg19", "n_bins": 2510}},
            intended_use="Research use: subgrouping of medulloblastoma from 450k/EPIC methylation arrays, to "
                         "support (never replace) a pathologist's diagnosis.")

        betas = X.iloc[held].copy()
        mix = pd.DataFrame([(X[y == "Group3"].iloc[0] + X[y == "Group4"].iloc[0]) / 2], index=["mix_G3_G4"])
        betas = pd.concat([betas, mix])
        P = bundle.predict_proba(betas)
        lr = LogisticRegression(max_iter=3000).fit(Xt, yt)
    mean = Xt.mean()
    classes = bundle.classes
    rows = []
    for s in betas.index:
        p = P.loc[s]
        best = str(p.idxmax())
        order = p.sort_values(ascending=False)
        rows.append({"sample": s, "status": "ok", "prediction": best if p.max() >= 0.9 else "no_match",
                     "score": float(p.max()), "reason": "" if p.max() >= 0.9 else "low_score",
                     "top_classes": "|".join(f"{c}:{v:.3f}" for c, v in order.iloc[:5].items()),
                     "prediction_set": best, "ood_pvalue": 0.41, "coverage": 1.0, "qc_status": "passed",
                     **{f"proba_{c}": float(p[c]) for c in classes}})
    pred = pd.DataFrame(rows)
    called = pred.index[pred["prediction"] != "no_match"]
    assert len(called) >= 6, pred[["sample", "prediction", "score"]]
    assert pred.loc[pred["sample"] == "mix_G3_G4", "prediction"].item() == "no_match"
    # edit rows into the other verdicts (the engine decides them; the report only words them)
    ood, cov, qcf, evil = called[1], called[2], called[3], called[4]
    pred.loc[ood, ["prediction", "reason", "ood_pvalue"]] = ["no_match", "out_of_distribution", 0.003]
    pred.loc[cov, ["prediction", "reason", "coverage"]] = ["no_match", "low_coverage", 0.59]
    pred.loc[qcf, ["prediction", "reason", "qc_status"]] = ["no_match", "qc_failed", "failed: 12 % probes p > 0.01"]
    pred.loc[evil, "sample"] = EVIL
    pred.loc[called[5], "prediction_set"] = f"{pred.loc[called[5], 'prediction']}|Group4"
    failed = {"sample": "203456_R01C01", "status": "failed", "prediction": "", "score": np.nan,
              "reason": "'/data/cases/203456_R01C01_Grn.idat' is truncated (read 1,024 of 8,091,452 bytes)",
              "coverage": np.nan, "qc_status": ""}
    pred = pd.concat([pred, pd.DataFrame([failed])], ignore_index=True)
    result, bins = _cnv_result()
    cnv = cnv_features(result)
    for c, v in cnv.items():
        pred[c] = np.where(pred["status"] == "ok", v, np.nan)

    man = load_manifest("HM450")
    genes = load_regions("cancer_genes", man.genome_build)
    samples = {}
    for i, r in pred.iterrows():
        if r["status"] != "ok":
            continue
        s = betas.index[i] if i < len(betas) else None
        x = betas.loc[s]
        cls = r["prediction"] if r["prediction"] != "no_match" else max(classes, key=lambda c: r[f"proba_{c}"])
        k = list(lr.classes_).index(cls)
        shap = pd.Series(lr.coef_[k] * (x - mean).to_numpy(), index=X.columns)
        top = shap.reindex(shap.abs().sort_values(ascending=False).index[:20])
        ann = annotate_cpgs(top.index, man, genes=genes)
        samples[r["sample"]] = SampleReport(
            qc={"detection p > 0.01": 0.004, "bisulfite conversion": "passed", "median methylated intensity": 11.8,
                "sex (from chrX/Y)": "F", "array": "HM450"},
            cnv=result if i % 2 == 0 else None, bins=bins if i % 2 == 0 else None,
            top_features=pd.DataFrame({"feature": top.index, "shap": top.to_numpy(), "value": x[top.index].to_numpy(),
                                       "chrom": ann["chrom"].to_numpy(), "pos": ann["pos"].to_numpy(),
                                       "gene": ann["gene"].to_numpy()}))
    index = write_prediction_report(tmp / "report", pred, card=card, samples=samples)
    return DemoReport(index=index, predictions=pred, card=card, samples=samples, betas=betas)
