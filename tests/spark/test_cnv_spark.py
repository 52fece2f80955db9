"""CNV of a stored cohort on Spark (``methylclass.spark.cnv``) against the single-machine paths.

References: the local store path (:func:`run_cnv_store`) and the IDAT path (:func:`run_cnv`) on the same
simulated samples — the Spark features, calls and per-sample tables must be *bit-identical* to both (same
kernel, same float operations; equality is exact, NaN = NaN) — and the simulator's planted truth (+7, −10,
EGFR amplification in every tumour). Error contract: a bad sample is reported and the rest go on; a store
without meth/unmeth or with < 3 normals is one clear error before any Spark work.
"""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from methylclass.cli import main
from methylclass.errors import DataError, ManifestError
from methylclass.io.store import Store, read_sample_array, read_sample_record, write_sample_file
from methylclass.pp.cnv import read_cnv_features
from methylclass.pp.cnv.store import plan_store_cnv
from methylclass.pp.cnv.task import feature_frame
from methylclass.spark.cnv import run_records
from methylclass.workflows.cnv import cnv_store_spark, run_cnv, run_cnv_store, run_cnv_store_spark

pytestmark = pytest.mark.spark

PLANTED_ARMS = ("7p", "7q", "10p", "10q")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory, data_dir):
    """20k-probe synthetic design: 6 normals + 4 tumours (+7, −10, EGFR:amp), ingested raw (no Spark)."""
    from methylclass.io.manifest import load_manifest
    from methylclass.simulate.cohort import SimulationConfig, simulate_cohort
    from methylclass.workflows.ingest import ingest_cohort

    root = tmp_path_factory.mktemp("cnvspark")
    sim = simulate_cohort(root / "sim", SimulationConfig(
        manifest="synthetic", n_probes=20_000, classes=1, n_per_class=4, n_normals=6,
        cnv=["F1_A=+7,-10,EGFR:amp"], cnv_penetrance=1.0, sample_cnv_rate=0.0, purity=(0.85, 0.95),
        low_quality_fraction=0.0, seed=7))
    probes, controls = sim.manifest_files
    manifest = load_manifest(path=probes, controls=controls)
    store = root / "store"
    res = ingest_cohort(sim.samplesheet, store, method="raw", manifest=manifest, local=True)
    assert res.n_failed == 0
    truth = sim.samples
    sheet = pd.read_csv(sim.samplesheet)
    normals_sheet = sim.out_dir / "normals.csv"  # beside the sheet: its Basename paths are relative
    sheet[sheet["Sample_Group"] == "normal"].to_csv(normals_sheet, index=False)
    return {"root": root, "sim": sim, "manifest": manifest, "store": store, "normals_sheet": normals_sheet,
            "normals": truth.loc[truth["is_normal"], "sample"].tolist(),
            "tumours": truth.loc[~truth["is_normal"], "sample"].tolist()}


@pytest.fixture(scope="module")
def runs(cohort, spark):
    """The same tumours through the IDAT path, the local store path and the Spark store path."""
    root = cohort["root"]
    idat = run_cnv(cohort["sim"].samplesheet, cohort["normals_sheet"], root / "idat_out",
                   manifest=cohort["manifest"], plot=False)
    normals = list(idat.reference.names)  # the panel in the IDAT path's order: same regression, same bits
    local = run_cnv_store(cohort["store"], normals, out=root / "local_out", plot=False, write_features=False)
    spark_run = run_cnv_store_spark(cohort["store"], normals, spark=spark, out=root / "spark_out", plot=False)
    return {"idat": idat, "local": local, "spark": spark_run, "normals": normals}


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.index) == list(b.index) and list(a.columns) == list(b.columns)
    assert a.dtypes.eq(np.float32).all() and b.dtypes.eq(np.float32).all()
    assert np.array_equal(a.to_numpy(), b.to_numpy(), equal_nan=True)


def test_spark_features_equal_local_and_idat_paths_bit_for_bit(runs, cohort):
    """Features of the Spark path == local store path == IDAT path (exact float32 equality), and the
    parquet written into the store holds exactly that table."""
    tumours = cohort["tumours"]
    st = Store.open(cohort["store"])
    unmeasured = sum(int((read_sample_array(f, "meth") == 0).sum()) for f in st.files_of(tumours)[1])
    assert unmeasured > 0  # zero-bead probes are present: IDAT (bead counts) and store (zeros) agree on them
    spark_f = runs["spark"].features
    assert list(spark_f.index) == tumours and not runs["spark"].failures
    _same(spark_f, runs["local"].features)
    _same(spark_f, runs["idat"].features.loc[tumours])
    _same(read_cnv_features(cohort["store"]), spark_f)
    assert runs["spark"].bins.key == runs["idat"].bins.key  # the store reuses the manifest's bins


def test_spark_tables_and_calls_equal_the_local_path(runs, cohort):
    """Per-sample segment/arm/focal/bin tables written by the executors are byte-identical to the local
    path's; the call text equals describe_calls of the local results."""
    from methylclass.pp.cnv.task import describe_calls

    root = cohort["root"]
    names = sorted(p.name for p in (root / "local_out").glob("*.tsv"))
    assert len(names) == 4 * len(cohort["tumours"]) + 2
    assert names == sorted(p.name for p in (root / "spark_out").glob("*.tsv"))
    for name in names:
        assert (root / "local_out" / name).read_bytes() == (root / "spark_out" / name).read_bytes(), name
    assert runs["spark"].calls == {r.sample: describe_calls(r) for r in runs["local"].results}


def test_planted_events_are_called(runs):
    """Simulator truth: every tumour carries +7, −10 and an EGFR amplification."""
    f = runs["spark"].features
    assert (f[["cnv_arm_7p", "cnv_arm_7q"]] > 0.1).all().all()
    assert (f["cnv_arm_10q"] < -0.1).all()
    assert f["cnv_arm_10p"].isna().all()  # < 10 bins on 10p with 20k probes: not called (conumee rule)
    assert (f["cnv_focal_EGFR"] - f["cnv_arm_7p"] > 0.3).all()
    for calls in runs["spark"].calls.values():
        assert {"+7p", "+7q", "-10q", "EGFR:amp"} <= set(calls.split(", "))
    others = f.drop(columns=[f"cnv_arm_{a}" for a in PLANTED_ARMS]).filter(like="cnv_arm_")
    called = others.stack()  # arms with ≥ 10 bins; unplanted ones should be balanced
    assert called.size >= 20 * len(f) and (called.abs() < 0.1).mean() >= 0.95


def test_saved_panel_gives_the_same_features(runs, cohort, spark, tmp_path):
    """A panel saved as .npz (float32 on disk) gives the features of the panel built from the normals."""
    panel = runs["local"].reference.save(tmp_path / "panel.npz")
    feats = cnv_store_spark(cohort["store"], str(panel), spark=spark, write_features=False)
    _same(feats, runs["spark"].features)
    assert feats.attrs["failures"] == []


@pytest.fixture()
def damaged_store(cohort, tmp_path):
    """A copy of the store where one tumour's file is truncated and another keeps only 40 % of its probes."""
    store = tmp_path / "store"
    shutil.copytree(cohort["store"], store)
    st = Store.open(store)
    bad_file, few = cohort["tumours"][0], cohort["tumours"][1]
    path = st.files_of([bad_file])[1][0]
    path.write_bytes(path.read_bytes()[:500])
    path = st.files_of([few])[1][0]
    arrays = {f: np.array(read_sample_array(path, f)) for f in ("beta", "detection_p", "meth", "unmeth")}
    arrays["meth"][: int(0.6 * arrays["meth"].size)] = np.nan
    write_sample_file(store, few, arrays, read_sample_record(path))
    return store, bad_file, few


def test_failing_samples_are_reported_and_the_rest_go_on(damaged_store, runs, cohort, spark):
    """Spark and local paths report the same two failures with their reasons; the other tumours' features
    are unchanged (bit-identical to the undamaged run)."""
    store, bad_file, few = damaged_store
    run_s = run_cnv_store_spark(store, runs["normals"], spark=spark)
    local = run_cnv_store(store, runs["normals"])
    reasons = {f.sample: f.reason for f in run_s.failures}
    assert reasons == {f.sample: f.reason for f in local.failures} and set(reasons) == {bad_file, few}
    assert type(run_s) is type(local) and {f.stage for f in run_s.failures} == {"cnv"}
    assert all(Path(f.path).name.endswith(".parquet") for f in run_s.failures + local.failures)
    assert "cannot be read" in reasons[bad_file] and bad_file in reasons[bad_file]
    assert f"sample '{few}': only" in reasons[few] and "CNV probes are present" in reasons[few]
    rest = [t for t in cohort["tumours"] if t not in reasons]
    _same(run_s.features, runs["spark"].features.loc[rest])
    _same(read_cnv_features(store), run_s.features)


class _KillsWorker:
    """Unpickling this on an executor ends that Python worker (a crash Spark cannot recover from)."""

    def __reduce__(self):
        return (os._exit, (3,))


def test_a_sample_that_kills_its_worker_is_isolated(cohort, runs, spark):
    """A task that dies twice is recorded as failed with Spark's reason; the others are computed."""
    plan = plan_store_cnv(cohort["store"], runs["normals"], cohort["tumours"][:2])
    items = [(plan.samples[0], str(plan.files[0])), ("poison", _KillsWorker()),
             (plan.samples[1], str(plan.files[1]))]
    records = {r["sample"]: r for r in run_records(spark, plan.task(), items)}
    assert records["poison"]["status"] == "failed"
    assert "Spark task failed repeatedly" in records["poison"]["reason"]
    assert all(records[name]["status"] == "ok" for name in plan.samples)
    _same(feature_frame([records[name]["features"] for name in plan.samples]),
          runs["spark"].features.loc[plan.samples])


def test_executor_records_are_small(cohort, runs):
    """What an executor returns per sample — feature row, summary, call text — is a few KB, never an
    array: the driver's memory does not grow with the probes."""
    plan = plan_store_cnv(cohort["store"], runs["normals"], cohort["tumours"][:1])
    rec = plan.task().record(plan.samples[0], plan.files[0])
    assert rec["status"] == "ok"
    assert not any(isinstance(v, np.ndarray) for v in rec.values())
    assert len(pickle.dumps(rec)) < 8_000


def test_clear_errors_before_any_spark_work(cohort, runs, tmp_path):
    """< 3 normals, unknown normals, a store without meth/unmeth, a build the store has no coordinates for:
    one DataError/ManifestError each, raised on the driver (no Spark session is needed)."""
    store = cohort["store"]
    with pytest.raises(DataError, match="2 normal sample\\(s\\) named, need ≥ 3"):
        cnv_store_spark(store, runs["normals"][:2], spark=object())
    with pytest.raises(DataError, match="no beta values for nobody"):
        cnv_store_spark(store, [*runs["normals"][:3], "nobody"], spark=object())
    with pytest.raises(ManifestError, match="hg19 coordinates but CNV bins were requested on hg38"):
        cnv_store_spark(store, runs["normals"], genome="hg38", spark=object())
    nan_store = tmp_path / "nan"
    shutil.copytree(store, nan_store)
    for f in (nan_store / "betas").glob("*.parquet"):
        arrays = {k: np.array(read_sample_array(f, k)) for k in ("beta", "detection_p", "meth", "unmeth")}
        arrays["meth"][:] = arrays["unmeth"][:] = np.nan
        rec = read_sample_record(f)
        write_sample_file(nan_store, rec["sample"], arrays, rec)
    with pytest.raises(DataError, match="holds no methylated/unmethylated intensities"):
        cnv_store_spark(nan_store, runs["normals"], spark=object())
    no_cols = tmp_path / "nocols"
    shutil.copytree(store, no_cols)
    for f in (no_cols / "betas").glob("*.parquet"):
        pq.write_table(pq.read_table(f).drop_columns(["meth", "unmeth"]), f)
    with pytest.raises(DataError, match="holds no meth/unmeth arrays"):
        cnv_store_spark(no_cols, runs["normals"], spark=object())


def test_cli_from_store_spark_and_local(cohort, runs, spark, tmp_path, capsys):
    """`cnv --from-store` on Spark (normals by sheet group) and `--local` (normals by name) print the same
    lines and write the same features; errors are one line with exit status 2."""
    store = str(cohort["store"])
    rc = main(["cnv", "--from-store", store, "--normals-group", "Sample_Group=normal", "--out",
               str(tmp_path / "o"), "--no-plot"])
    spark_out = capsys.readouterr().out
    assert rc == 0
    _same(read_cnv_features(store), runs["spark"].features)
    lines = [ln for ln in spark_out.splitlines() if ln.split("\t")[0] in cohort["tumours"]]
    assert len(lines) == len(cohort["tumours"]) and all("EGFR:amp" in ln for ln in lines)
    assert (tmp_path / "o" / "cnv_summary.tsv").is_file()
    names = tmp_path / "normals.txt"
    names.write_text("\n".join(runs["normals"]) + "\n")
    assert main(["cnv", "--from-store", store, "--normals", f"@{names}", "--local"]) == 0
    assert capsys.readouterr().out.splitlines()[:-1] == spark_out.splitlines()[:-1]
    rc = main(["cnv", "--from-store", store, "--normals", ",".join(runs["normals"][:2]), "--local"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith("error:") and "need ≥ 3" in err[-1]
    rc = main(["cnv", "--from-store", store, "--normals-group", "tumour"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and "no stored sample has Sample_Group = 'tumour'" in err[-1]
    rc = main(["cnv", "--from-store", store, "--normals-group", "normal", "--store", store])
    assert rc == 2 and "--store and --manifest apply to IDAT queries" in capsys.readouterr().err
