"""A model trained on 450k-like samples only classifies EPICv2-like samples of the same classes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from methylclass.config import load_config
from methylclass.models import make_pipeline
from methylclass.models.crossarray import align_to_features
from methylclass.simulate.mixed import simulate_mixed_cohort
from methylclass.workflows.ingest import preprocess_local


def test_450k_model_on_epicv2_samples(tmp_path):
    """Reference: the simulator's classes. The EPICv2 IDATs are normalised with their own (suffixed, replicated)
    manifest, replicates collapse at prediction time, coverage ≈ the 450k ∩ EPICv2 share, and the default
    pipeline options (impute: centroid) classify ≥ 90 % correctly."""
    sim = simulate_mixed_cohort(tmp_path / "sim", {"450k": 6, "EPICv2": 3}, n_normals=0, n_probes=6000,
                                classes=4, seed=13, low_quality_fraction=0.0)
    sheet = pd.read_csv(sim.samplesheet, dtype={"Sentrix_ID": str})
    betas = {}
    for kind in ("450k", "EPICv2"):
        man = sim.manifests[kind]
        probes, controls = sim.manifest_files[kind]
        rows = sheet[sheet["Array"] == man.array]
        refs = [{"sample": r.Sample_Name, "grn": str(sim.out_dir / f"{r.Basename}_Grn.idat"),
                 "red": str(sim.out_dir / f"{r.Basename}_Red.idat")} for r in rows.itertuples()]
        b, _ = preprocess_local(refs, manifest=probes, controls=controls, array=man.array)
        betas[kind] = (b, rows.set_index("Sample_Name")["Sample_Group"].reindex(b.index))
    X_tr, y_tr = betas["450k"]
    X_te, y_te = betas["EPICv2"]
    assert X_te.columns.str.contains("_TC21|_BC21").any()  # the query still has its replicate probes
    cfg = load_config()
    opts = {**cfg["pipeline"], "n_features": 2000}
    assert opts["impute"] == "centroid"
    est = make_pipeline("rf", **opts, n_estimators=200).fit(X_tr, y_tr.to_numpy())
    al = align_to_features(X_te, list(est.feature_names_in_), used=list(est.selected_features_),
                           min_coverage=cfg["decision"]["min_coverage"])
    assert al.coverage.between(0.8, 0.95).all() and not al.low_coverage.any()
    acc = np.mean(est.predict(al.X) == y_te.to_numpy())
    assert acc >= 0.9, acc
    # the same through a saved bundle: the prediction path collapses the replicates itself, reports coverage
    # and lets the centroid strategy fill the CpGs EPICv2 lacks (decision.min_coverage), wrong calls none
    from methylclass.models import hash_training_data, load_bundle, save_bundle

    decision = {"threshold": 0.9, "min_coverage": cfg["decision"]["min_coverage"], "missing_strategy": "centroid"}
    save_bundle(est, tmp_path / "model", classes=list(est.classes_), features=list(est.feature_names_in_),
                training_hash=hash_training_data(X_tr, y_tr), config={"decision": decision})
    pred = load_bundle(tmp_path / "model").predict(X_te)
    assert (pred["status"] == "ok").all() and pred["coverage"].between(0.8, 0.95).all()
    assert not (pred["reason"] == "low_coverage").any()
    proba = pred[[f"proba_{c}" for c in est.classes_]].to_numpy()
    assert np.mean(np.asarray(est.classes_)[proba.argmax(axis=1)] == y_te.to_numpy()) >= 0.9
    called = pred["prediction"] != "no_match"
    assert (pred.loc[called, "prediction"].to_numpy() == y_te.to_numpy()[called.to_numpy()]).all()
    # and from the EPICv2 IDATs themselves (their own manifest given): the same values, replicates averaged
    from methylclass.workflows.predict import load_model

    probes, controls = sim.manifest_files["EPICv2"]
    rows = sheet[sheet["Array"] == sim.manifests["EPICv2"].array]
    files = [str(sim.out_dir / f"{b}_Grn.idat") for b in rows["Basename"]]
    from_idats = load_model(tmp_path / "model", manifest=probes, controls=controls).predict(files)
    assert (from_idats["status"] == "ok").all(), from_idats[["sample", "reason"]]
    np.testing.assert_allclose(from_idats["coverage"].to_numpy(), pred["coverage"].to_numpy())
    np.testing.assert_allclose(from_idats[[f"proba_{c}" for c in est.classes_]].to_numpy(), proba, atol=1e-6)
