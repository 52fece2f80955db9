"""A store mixing arrays makes the array an in-fold adjusted covariate by default (conf store.array_covariate),
the bundle records it, and prediction builds ``cov_array`` itself: from the array detected when reading IDATs,
from ``array=`` / ``--array`` for tables; an unseen or missing array gets no adjustment and a warning.

References: the simulator's per-sample arrays (the store's sample table), the fitted adjuster's own covariate
list, and the bundle's estimator applied to the training rows (whose ``cov_array`` codes come from the store):
predicting the same samples from their IDATs or from a beta table with ``array=`` must give the same
probabilities (the covariate was built as in training), an unknown array the probabilities of code 0.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from methylclass.cli import main
from methylclass.config import load_config
from methylclass.models import load_bundle
from methylclass.simulate.mixed import simulate_mixed_cohort
from methylclass.workflows import benchmark, train
from methylclass.workflows.data import load_dataset, resolved_data_block
from methylclass.workflows.ingest import ingest
from methylclass.workflows.predict import load_model
from methylclass.workflows.runs import covariate_plan

DATA = {"label_column": "Sample_Group"}


def _cfg(root, store, *over):
    cfg = load_config(overrides=["defaults.models=[logreg]", f"experiment.out_dir={root / 'runs'}",
                                 "experiment.n_jobs=1", "report.formats=[png]", "report.bootstrap=0", "cv.outer=2",
                                 "cv.inner=2", "pipeline.n_features=500", *over])
    cfg["data"] = {**DATA, "store": str(store)}
    return cfg


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixcov")
    sim = simulate_mixed_cohort(root / "sim", {"450k": 4, "EPICv2": 4}, n_normals=0, n_probes=2500, classes=3,
                                seed=7, low_quality_fraction=0.0, array_effect=1.0)
    ingest(sim.samplesheet, root / "store", backend="local")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(_cfg(root, root / "store"), root / "model", conformal=None, progress=False)
    return sim, root


def test_mixed_store_adjusts_for_the_array_by_default(mixed):
    sim, root = mixed
    store = root / "store"
    ds = load_dataset(resolved_data_block(_cfg(root, store)))
    arrays = pd.read_csv(sim.samplesheet).set_index("Sample_Name")["Array"].reindex(ds.X.index)
    assert ds.covariates == ds.auto_covariates == ["cov_array"]
    levels = ds.summary["covariates"]["cov_array"]["levels"]
    assert set(levels) == set(arrays) and len(levels) == 2
    np.testing.assert_array_equal(ds.X["cov_array"].to_numpy(), arrays.map(levels).to_numpy())
    # every model adjusts for it, whatever its own pipeline.adjust
    cfg, used, dropped = covariate_plan({"estimator": "logreg"}, ds.covariates, ds.auto_covariates)
    assert cfg["pipeline"]["adjust"] == {"prefixes": ["cov_array"]} and used == ["cov_array"] and not dropped
    # the trained bundle: the fitted adjuster consumed cov_array; the card records the arrays and the levels
    bundle = load_bundle(root / "model")
    adjuster = bundle.estimator.base_pipeline_.named_steps["adjust"]
    assert adjuster.covariates_ == ["cov_array"] and np.abs(adjuster.coef_).max() > 0.01
    card = bundle.card
    assert card["covariates"]["cov_array"]["levels"] == levels and card["covariates"]["cov_array"]["name"] == "array"
    assert card["arrays"] == {a: 12 for a in levels}
    assert "cov_array" in card["features"] and "cov_array" not in (card["used_features"] or [])
    assert "cov_array" not in getattr(bundle.components["ood"], "features_", [])  # never a CpG of the OOD panel
    # the switch: data.array_covariate / store.array_covariate false → no covariate, no adjuster
    off = load_dataset(resolved_data_block(_cfg(root, store, "store.array_covariate=false")))
    assert off.covariates == [] and "cov_array" not in off.X.columns
    pd.testing.assert_frame_equal(off.X, ds.X.drop(columns="cov_array"))


def test_single_array_store_is_unchanged(tmp_path):
    """A one-array store: no covariate, and the benchmark's out-of-fold probabilities are bit-identical with the
    setting on and off."""
    sim = simulate_mixed_cohort(tmp_path / "sim", {"450k": 4}, n_normals=0, n_probes=1500, classes=2, seed=2,
                                low_quality_fraction=0.0)
    ingest(sim.samplesheet, tmp_path / "store", backend="local")
    oof = {}
    for flag in ("true", "false"):
        cfg = _cfg(tmp_path / flag, tmp_path / "store", f"store.array_covariate={flag}")
        assert load_dataset(resolved_data_block(cfg)).covariates == []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run = benchmark(cfg, progress=False)
        oof[flag] = pd.read_csv(run.path / "oof" / "logreg.csv")
    pd.testing.assert_frame_equal(oof["true"], oof["false"], check_exact=True)


def test_prediction_builds_the_array_covariate(mixed, tmp_path):
    sim, root = mixed
    model = load_model(root / "model")
    ds = load_dataset(resolved_data_block(_cfg(root, root / "store")))
    sheet = pd.read_csv(sim.samplesheet, dtype={"Sentrix_ID": str})
    pick = sheet.groupby("Array").head(2)  # two training samples of each array
    names = pick["Sample_Name"].tolist()
    reference = model.estimator.predict_proba(ds.X.loc[names, model.card["features"]])  # in-training codes
    cols = [f"proba_{c}" for c in model.classes]
    # IDATs (the sheet: each sample read with its own array's manifest, cov_array = the array read)
    sub = pick.assign(Basename=[str(sim.out_dir / b) for b in pick["Basename"]])
    for col in ("Manifest", "Controls"):
        if col in sub:
            sub[col] = [str(sim.out_dir / v) if isinstance(v, str) and not v.startswith("/") else v
                        for v in sub[col]]
    sub.to_csv(tmp_path / "new.csv", index=False)
    diag = model.diagnose(tmp_path / "new.csv")
    pred = diag.predictions.set_index("sample").loc[names]
    assert (pred["status"] == "ok").all() and (pred["warning"] == "").all(), pred[["status", "warning"]]
    np.testing.assert_allclose(pred[cols].to_numpy(), reference, atol=1e-6)
    levels = model.covariates["cov_array"]
    np.testing.assert_array_equal(diag.X.loc[names, "cov_array"].to_numpy(), pick["Array"].map(levels).to_numpy())
    # the training store itself: cov_array from its sample table
    from_store = model.predict(root / "store").set_index("sample").loc[names]
    assert (from_store["warning"] == "").all()
    np.testing.assert_allclose(from_store[cols].to_numpy(), reference, atol=1e-6)
    # a beta table with array= (a name the registry knows by an alias works too); the store rows as the table
    for array, group in pick.groupby("Array"):
        X = ds.X.loc[group["Sample_Name"]].drop(columns="cov_array")
        X.to_csv(tmp_path / f"{array}.csv")
        got = model.predict(tmp_path / f"{array}.csv", array=array.lower()).set_index("sample")
        assert (got["warning"] == "").all()
        np.testing.assert_allclose(got.loc[group["Sample_Name"], cols].to_numpy(),
                                   reference[np.isin(names, group["Sample_Name"])], atol=1e-6)
    # an array never seen in training, or none given: no adjustment (code 0) and a warning naming it
    X = ds.X.loc[names].drop(columns="cov_array")
    X.to_csv(tmp_path / "t.csv")
    rows = ds.X.loc[names, model.card["features"]]
    unadjusted = model.estimator.predict_proba(rows.assign(cov_array=np.nan))
    for kwargs, word in (({"array": "MSA"}, "array 'MSA' was not seen in training"), ({}, "array not given")):
        got = model.predict(tmp_path / "t.csv", **kwargs).set_index("sample").loc[names]
        assert got["warning"].str.contains(word).all() and (got["status"] == "ok").all(), got["warning"]
        assert all(a in got["warning"].iloc[0] for a in levels)
        np.testing.assert_allclose(got[cols].to_numpy(), unadjusted, atol=1e-6)
    # the adjustment matters: the model sees other values without it (its probabilities saturate here)
    shift = model.estimator.transform_selected(rows) - model.estimator.transform_selected(rows.assign(cov_array=np.nan))
    assert np.abs(shift).mean() > 0.01


def test_cli_array_and_covariate_options(mixed, tmp_path, capsys):
    _, root = mixed
    ds = load_dataset(resolved_data_block(_cfg(root, root / "store")))
    ds.X.iloc[:3].drop(columns="cov_array").to_csv(tmp_path / "t.csv")
    level = next(iter(ds.summary["covariates"]["cov_array"]["levels"]))
    assert main(["predict", "--model", str(root / "model"), str(tmp_path / "t.csv"), "--out", str(tmp_path / "o"),
                 "--array", level, "--no-report"]) == 0
    out = pd.read_csv(tmp_path / "o" / "predictions.csv", keep_default_na=False)
    assert (out["warning"] == "").all()
    # the earlier form (--betas TABLE → one CSV) takes --array too
    assert main(["predict", "--model", str(root / "model"), "--betas", str(tmp_path / "t.csv"), "--out",
                 str(tmp_path / "p.csv"), "--array", level]) == 0
    assert (pd.read_csv(tmp_path / "p.csv", keep_default_na=False)["warning"] == "").all()
    # without --array: predicted, with the warning in the CSV and on the sample's report page
    assert main(["predict", "--model", str(root / "model"), str(tmp_path / "t.csv"), "--out",
                 str(tmp_path / "w")]) == 0
    out = pd.read_csv(tmp_path / "w" / "predictions.csv", keep_default_na=False)
    assert out["warning"].str.startswith("array not given").all() and (out["status"] == "ok").all()
    pages = "".join(p.read_text() for p in (tmp_path / "w" / "report").rglob("*.html"))
    assert "no array adjustment applied" in pages
    for argv, word in ((["--array", "NOPE"], "array 'NOPE' is not a known array type"),
                       (["--covariate", "material"], "--covariate must be NAME=VALUE"),
                       (["--covariate", "material=ffpe"], "does not adjust for it (its covariates: array)")):
        capsys.readouterr()
        code = main(["predict", "--model", str(root / "model"), str(tmp_path / "t.csv"), "--out",
                     str(tmp_path / "bad"), "--no-report", *argv])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and err[0].startswith("error:") and word in err[0], err


def test_material_covariate_from_option_or_column(tmp_path):
    """A material-adjusted bundle (data.covariates): ``covariates={"material": ...}`` or a ``material`` column of
    the input builds cov_material as in training (case-insensitive level names); the card lists the levels."""
    from methylclass.simulate.betas import simulate_betas

    c = simulate_betas(classes=3, n_per_class=8, n_probes=1000, dmps_per_class=10, ffpe_fraction=0.5, ffpe_shift=1.0,
                       ffpe_probe_fraction=0.3, seed=1)
    c.X.reset_index().to_csv(tmp_path / "betas.csv", index=False)
    material = pd.Series(np.where(c.truth["ffpe"], "FFPE", "Frozen"), index=c.X.index)
    pd.DataFrame({"sample": c.X.index, "class": c.truth["class"], "material": material}).to_csv(
        tmp_path / "labels.tsv", sep="\t", index=False)
    cfg = load_config(overrides=["defaults.models=[logreg_adjusted]", "experiment.n_jobs=1", "cv.inner=2",
                                 "pipeline.n_features=200"])
    cfg["data"] = {"betas": str(tmp_path / "betas.csv"), "labels": str(tmp_path / "labels.tsv"),
                   "sample_column": "sample", "label_column": "class", "covariates": {"material": "material"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(cfg, tmp_path / "model", conformal=None, progress=False)
    model = load_model(tmp_path / "model")
    assert model.card["covariates"]["cov_material"]["levels"] == {"FFPE": 0.0, "Frozen": 1.0}
    assert model.covariates == {"cov_material": {"FFPE": 0.0, "Frozen": 1.0}}
    cols = [f"proba_{k}" for k in model.classes]
    ffpe = material.index[material == "FFPE"][:4]
    reference = model.estimator.predict_proba(c.X.loc[ffpe].assign(cov_material=0.0)[model.card["features"]])
    by_option = model.predict(c.X.loc[ffpe], covariates={"material": "ffpe"})
    by_column = model.predict(c.X.loc[ffpe].assign(material="FFPE"))
    for got in (by_option, by_column):
        assert (got["warning"] == "").all()
        np.testing.assert_allclose(got[cols].to_numpy(), reference, atol=1e-9)
    missing = model.predict(c.X.loc[ffpe])
    assert missing["warning"].str.contains("material not given").all()
