"""Cohort ingestion on Spark and locally: bad inputs recorded, resume, interrupted runs, Spark/local parity.

References: an independent pandas implementation of raw betas from the IDAT arrays (address look-up by
index alignment, not the kernel's searchsorted), the local (non-Spark) path for parity, numpy for statistics,
and the planted cohort layout (which samples are bad and why)."""

from __future__ import annotations

import importlib
import json
import shutil
import sys

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import DataError
from methylclass.io.discover import find_samples
from methylclass.io.idat import read_idat
from methylclass.io.store import Store, load_betas, top_variance_probes
from methylclass.spark.stats import top_variance_probes_spark
from methylclass.workflows.ingest import ingest_cohort as ingest
from methylclass.workflows.ingest import preprocess_local

pytestmark = pytest.mark.spark
FIELDS = ("beta", "detection_p", "meth", "unmeth")


@pytest.fixture(scope="module")
def spark_store(spark, cohort, tmp_path_factory):
    """The cohort ingested on Spark in two runs: first the two real samples, then the whole folder."""
    folder, _ = cohort
    out = tmp_path_factory.mktemp("spark") / "store"
    first = [s for s in find_samples(folder).samples if s.name.startswith("4207113116_")]
    run1 = ingest(first, out, method="noob", spark=spark)
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "betas").glob("*.parquet")}
    run2 = ingest(folder, out, method="noob", spark=spark)
    return out, run1, run2, mtimes


@pytest.fixture(scope="module")
def local_store(cohort, tmp_path_factory):
    """The same cohort ingested without Spark."""
    folder, _ = cohort
    out = tmp_path_factory.mktemp("local") / "store"
    return out, ingest(folder, out, method="noob", local=True)


def test_bad_inputs_are_recorded_and_the_rest_stored(spark_store, cohort):
    """Each planted bad sample (truncated Red, missing partner, unknown address set, a 450k sample in an
    HM27 cohort) is 'failed' with a reason naming its problem; every good sample is 'ok' and readable."""
    out, _, run2, _ = spark_store
    _, expected = cohort
    table = Store.open(out).samples.set_index("sample")
    assert set(table.index) == set(expected)
    for name, want in expected.items():
        row = table.loc[name]
        if want == "ok":
            assert row["status"] == "ok", (name, row["reason"])
        else:
            assert row["status"] == "failed" and want in row["reason"], (name, row["reason"])
            assert pd.isna(row["file"])
    assert "truncated" in table.loc["9000000002_R01C01", "reason"]
    assert "this cohort is HM27" in table.loc["9000000003_R01C01", "reason"]
    betas = load_betas(out)
    assert sorted(betas.index) == sorted(n for n, w in expected.items() if w == "ok")
    assert betas.shape[1] == 27_578 and np.isfinite(betas.to_numpy()).mean() > 0.99
    assert run2.array == "HM27" and run2.n_failed == 4


def test_sample_table_has_idat_sheet_and_qc_columns(spark_store):
    """Barcode/position from the IDATs, discovery metadata, QC of normalize() and provenance are kept."""
    out, _, _, _ = spark_store
    row = Store.open(out).samples.set_index("sample").loc["9000000001_R02C01"]
    assert (row["barcode"], row["position"], row["array"], row["method"]) == ("9000000001", "R02C01", "HM27",
                                                                             "noob")
    assert row["sentrix_id"] == "9000000001" and row["address_fraction"] == 1.0
    assert 0 <= row["qc_failed_fraction"] < 0.2 and row["qc_normalization_method"] == "noob"
    info = Store.open(out).info
    assert info["array"] == "HM27" and info["method"] == "noob" and info["n_probes"] == 27_578


def test_resume_skips_stored_samples(spark_store):
    """The second run skips the two samples of the first and leaves their files untouched."""
    out, run1, run2, mtimes = spark_store
    assert (run1.n_processed, run1.n_skipped) == (2, 0)
    assert run2.n_skipped == 2 and run2.n_processed == 8
    for name, mtime in mtimes.items():
        assert (out / "betas" / name).stat().st_mtime_ns == mtime


def test_spark_and_local_paths_are_identical(spark_store, local_store, cohort):
    """Parity: every field of every sample is bit-identical between the Spark store, the local store and the
    in-memory preprocess_local (same kernel, no Spark)."""
    s_out = spark_store[0]
    l_out = local_store[0]
    folder, _ = cohort
    names = Store.open(s_out).ok_samples
    assert sorted(names) == sorted(Store.open(l_out).ok_samples)
    for field in FIELDS:
        a = load_betas(s_out, names, field=field)
        b = load_betas(l_out, names, field=field)
        np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    mem, table = preprocess_local(folder, method="noob")
    np.testing.assert_array_equal(mem.loc[names].to_numpy(), load_betas(s_out, names).to_numpy())
    assert (table["status"] == "failed").sum() == 4


def _independent_raw_betas(grn_path, red_path, manifest) -> np.ndarray:
    """Raw betas with pandas label alignment: Type I probes read address_m (meth) and address_u (unmeth) in
    their colour channel, Type II read Grn (meth) / Red (unmeth) at address_u; beta = M / (M + U + 100)."""
    g, r = read_idat(grn_path), read_idat(red_path)
    grn = pd.Series(g.mean.astype(float), index=g.illumina_ids.astype(np.int64))
    red = pd.Series(r.mean.astype(float), index=r.illumina_ids.astype(np.int64))
    p = manifest.probes
    t1 = p["design"] == "I"
    chan = np.where(p["channel"] == "Red", "Red", "Grn")
    m = np.where(~t1, grn.reindex(p["address_u"]).to_numpy(),
                 np.where(chan == "Red", red.reindex(p["address_m"]).to_numpy(),
                          grn.reindex(p["address_m"]).to_numpy()))
    u = np.where(~t1, red.reindex(p["address_u"]).to_numpy(),
                 np.where(chan == "Red", red.reindex(p["address_u"]).to_numpy(),
                          grn.reindex(p["address_u"]).to_numpy()))
    return (m / (m + u + 100.0)).astype(np.float32)


def test_raw_betas_match_an_independent_implementation(hm27_dir, hm27_manifest, tmp_path):
    """method='raw' through the store equals betas computed independently from the IDAT arrays."""
    refs = [{"sample": pos, "grn": hm27_dir / f"4207113116_{pos}_Grn.idat",
             "red": hm27_dir / f"4207113116_{pos}_Red.idat"} for pos in "AB"]
    res = ingest(refs, tmp_path / "raw", method="raw", local=True, manifest=hm27_manifest)
    assert res.n_ok == 2
    got = load_betas(tmp_path / "raw")
    for ref in refs:
        want = _independent_raw_betas(ref["grn"], ref["red"], hm27_manifest)
        np.testing.assert_allclose(got.loc[ref["sample"]].to_numpy(), want, rtol=2e-7, atol=0)


def test_failed_samples_are_retried(cohort, hm27_dir, tmp_path):
    """After the missing Red partner is supplied, a re-run stores that sample and skips the stored ones."""
    folder, _ = cohort
    work = tmp_path / "cohort"
    shutil.copytree(folder, work)
    out = tmp_path / "store"
    ingest(work, out, method="raw", local=True)
    assert Store.open(out).samples.set_index("sample").loc["9000000002_R02C01", "status"] == "failed"
    grn = read_idat(work / "9000000002_R02C01_Grn.idat")
    red = read_idat(hm27_dir / "4207113116_A_Red.idat")
    from methylclass.io.idat import Idat, write_idat

    write_idat(work / "9000000002_R02C01_Red.idat",
               Idat.from_arrays(red.illumina_ids, red.mean, barcode=grn.barcode, position=grn.position))
    res = ingest(work, out, method="raw", local=True)
    table = Store.open(out).samples.set_index("sample")
    assert table.loc["9000000002_R02C01", "status"] == "ok"
    assert res.n_skipped == 6 and res.n_processed == 4
    assert table.loc["9000000002_R01C01", "status"] == "failed"


def test_interrupted_run_is_incomplete_then_resumes(cohort, local_store, tmp_path, monkeypatch):
    """A run killed after two samples leaves a store that refuses to load (never silently partial); the
    next run resumes and the result equals an uninterrupted run's (reference: the local store)."""
    folder, _ = cohort
    out = tmp_path / "store"
    ingest_mod = importlib.import_module("methylclass.workflows.ingest")
    real = ingest_mod.process_sample
    calls = {"n": 0}

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_mod, "process_sample", dying)
    with pytest.raises(KeyboardInterrupt):
        ingest(folder, out, method="noob", local=True)
    monkeypatch.setattr(ingest_mod, "process_sample", real)
    assert len(list((out / "betas").glob("*.parquet"))) == 2
    with pytest.raises(DataError, match="incomplete"):
        load_betas(out)
    res = ingest(folder, out, method="noob", local=True)
    assert res.n_skipped == 2
    names = Store.open(local_store[0]).ok_samples
    np.testing.assert_array_equal(load_betas(out, names).to_numpy(), load_betas(local_store[0], names).to_numpy())


def test_top_variance_on_spark_equals_local(spark, spark_store):
    """Distributed moments (executors read the files, treeReduce) give the same top probes as the local
    streaming pass and as numpy's nanvar on the loaded matrix."""
    out = spark_store[0]
    a = top_variance_probes_spark(out, 200, spark=spark)
    b = top_variance_probes(out, 200)
    np.testing.assert_array_equal(a["index"].to_numpy(), b["index"].to_numpy())
    np.testing.assert_allclose(a["variance"].to_numpy(), b["variance"].to_numpy(), rtol=1e-9)
    full = load_betas(out).to_numpy().astype(np.float64)
    np.testing.assert_allclose(b["variance"].to_numpy(), np.nanvar(full[:, b["index"]], axis=0, ddof=1),
                               rtol=1e-9)


def test_session_uses_this_interpreter_and_loopback(spark):
    """Workers run the driver's interpreter; the UI is off; the driver binds to loopback."""
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.ui.enabled") == "false"
    assert conf.get("spark.driver.host") == "127.0.0.1"
    exe = spark.sparkContext.parallelize([0], 1).map(lambda _: __import__("sys").executable).collect()[0]
    assert exe == sys.executable


def test_cli_preprocess_and_export(spark, cohort, tmp_path, capsys):
    """`methylclass preprocess` reports failures and exits 0 (1 with --strict); `export` writes a CSV equal
    to load_betas; a bad --out is one `error:` line with exit status 2."""
    from methylclass.cli import main

    folder, _ = cohort
    out = tmp_path / "store"
    assert main(["preprocess", str(folder), "--out", str(out), "--method", "raw"]) == 0
    text = capsys.readouterr().out
    assert "6 samples stored" in text and "failed  9000000002_R02C01" in text
    assert main(["preprocess", str(folder), "--out", str(out), "--method", "raw", "--strict"]) == 1
    capsys.readouterr()
    (tmp_path / "probes.txt").write_text("cg00000292\n# comment\ncg00002426\n")
    csv = tmp_path / "b.csv"
    assert main(["export", str(out), "--out", str(csv), "--probes", "@" + str(tmp_path / "probes.txt")]) == 0
    got = pd.read_csv(csv, index_col=0)
    want = load_betas(out, probes=["cg00000292", "cg00002426"])
    np.testing.assert_array_equal(got.to_numpy(np.float32), want.to_numpy())
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["preprocess", str(folder), "--out", str(afile), "--local"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error:") and "is a file" in err[-1]
    info = json.loads((out / "_manifest.json").read_text())
    assert info["method"] == "raw"


class _KillsWorker:
    """Unpickling this on an executor ends that Python worker (a crash Spark cannot recover from)."""

    def __reduce__(self):
        import os

        return (os._exit, (3,))


def test_a_failing_spark_job_is_one_error_and_the_store_stays_resumable(spark, cohort, hm27_manifest, tmp_path):
    """When tasks die for good (here: the broadcast manifest kills every worker that unpickles it) and no
    more crashes may be isolated, ingest raises one DataError saying how to resume, the store reads as
    incomplete, and a re-run with a sound manifest completes it."""
    import dataclasses

    folder, _ = cohort
    out = tmp_path / "store"
    bad = dataclasses.replace(hm27_manifest, extra={"poison": _KillsWorker()})
    with pytest.raises(DataError, match="re-run the same command to resume"):
        ingest(folder, out, method="raw", spark=spark, manifest=bad, max_task_crashes=0)
    with pytest.raises(DataError, match="incomplete"):
        load_betas(out)
    res = ingest(folder, out, method="raw", spark=spark, manifest=hm27_manifest)
    assert res.n_ok == 6


@pytest.mark.parametrize("per_task", ["auto", 4])
def test_a_sample_that_kills_its_worker_is_isolated(spark, cohort, hm27_manifest, tmp_path, per_task):
    """A sample whose task dies twice (its reference kills the worker that unpickles it) is recorded as
    failed with Spark's reason; every other sample is stored in the same run. With several samples per task
    (4: the poison shares its task with three good samples, before and after it) the crashed task's samples
    are re-run one per task, so the poison is still the only sample lost."""
    folder, expected = cohort
    refs = list(find_samples(folder).samples)
    poison = {"sample": "poison", "grn": str(refs[0].grn), "red": str(refs[0].red),
              "meta": {"x": _KillsWorker()}}
    said: list[str] = []
    res = ingest([*refs[:5], poison, *refs[5:]], tmp_path / "store", method="raw", spark=spark,
                 manifest=hm27_manifest, samples_per_task=per_task, log=said.append)
    table = Store.open(tmp_path / "store").samples.set_index("sample")
    assert table.loc["poison", "status"] == "failed"
    assert "Spark task failed repeatedly" in table.loc["poison", "reason"]
    assert res.n_ok == sum(1 for w in expected.values() if w == "ok")
    assert len(table) == len(refs) + 1
    if per_task == 4:
        assert any("a Spark task of 4 samples failed repeatedly" in line for line in said), said


def test_the_default_batches_a_large_cohort_and_refuses_a_bad_setting(cohort, tmp_path):
    """``ingest.samples_per_task: auto`` gives one sample per task for a handful of samples, batches for
    1,000 (≥ 8 tasks per core, ≤ 16 samples); chunks keep the order and put isolated samples alone; a bad
    setting is one ConfigError before any work."""
    from methylclass.config import setting
    from methylclass.errors import ConfigError
    from methylclass.spark.jobs import choose_samples_per_task, make_chunks

    assert setting({}, "ingest.samples_per_task") == "auto"
    assert choose_samples_per_task(10, 2) == 1
    assert choose_samples_per_task(1000, 2) == 16 and choose_samples_per_task(200, 2) == 13
    assert choose_samples_per_task(1000, 2, 1) == 1 and choose_samples_per_task(5, 2, "7") == 7
    refs = [{"sample": f"s{i}"} for i in range(10)]
    chunks = make_chunks(refs, 4, alone={"s5"})
    assert [[r["sample"] for r in c] for c in chunks] == [["s5"], ["s0", "s1", "s2", "s3"],
                                                          ["s4", "s6", "s7", "s8"], ["s9"]]
    folder, _ = cohort
    for bad in (0, "many", 1.5):
        with pytest.raises(ConfigError, match="samples per task"):
            ingest(folder, tmp_path / "x", method="raw", local=True, samples_per_task=bad)
    assert not (tmp_path / "x").exists()


def test_resume_refreshes_sheet_metadata(hm27_dir, hm27_manifest, tmp_path):
    """Labels added to the sample sheet after preprocessing reach the sample table on a re-run, without
    recomputing the stored samples."""
    refs = [{"sample": pos, "grn": hm27_dir / f"4207113116_{pos}_Grn.idat",
             "red": hm27_dir / f"4207113116_{pos}_Red.idat", "meta": {"diagnosis": None}} for pos in "AB"]
    out = tmp_path / "store"
    ingest(refs, out, method="raw", local=True, manifest=hm27_manifest)
    for ref, label in zip(refs, ("GBM", "MB")):
        ref["meta"] = {"diagnosis": label, "status": "sheet says"}
    res = ingest(refs, out, method="raw", local=True, manifest=hm27_manifest)
    table = Store.open(out).samples.set_index("sample")
    assert res.n_skipped == 2 and res.n_processed == 0
    assert table["diagnosis"].tolist() == ["GBM", "MB"]
    assert table["status"].tolist() == ["ok", "ok"] and table["sheet_status"].tolist() == ["sheet says"] * 2


def test_unknown_method_or_option_fails_before_any_work(cohort, tmp_path):
    """A misspelt method or normalisation option is one ConfigError up front (not N identical sample
    failures), and nothing is created."""
    from methylclass.errors import ConfigError

    folder, _ = cohort
    with pytest.raises(ConfigError, match="unknown normalisation method 'nob'"):
        ingest(folder, tmp_path / "a", method="nob", local=True)
    with pytest.raises(ConfigError, match="dyebias"):
        ingest(folder, tmp_path / "b", method="noob", local=True, options={"dyebias": "linear"})
    with pytest.raises(ConfigError, match="unknown normalisation method"):
        preprocess_local(folder, method="nob")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_executors_return_only_small_records(cohort, hm27_manifest, tmp_path):
    """What a Spark task sends back to the driver is the sample's record — scalars only, a few KB — never an
    array: the driver's memory cannot grow with the number of probes × samples."""
    import pickle
    import types

    from methylclass.io.store_writer import StoreWriter
    from methylclass.spark.jobs import _SparkTask

    folder, _ = cohort
    refs = [ingest_mod_ref(s) for s in find_samples(folder).samples[:3]]
    info = {"array": "HM27", "probe_hash": "x", "n_probes": hm27_manifest.n_probes, "method": "raw",
            "method_options": {}}
    with StoreWriter(tmp_path / "s", info, hm27_manifest.probes):
        task = _SparkTask(types.SimpleNamespace(value=hm27_manifest), "raw", str(tmp_path / "s"), {}, 0.95)
        records = list(task(iter([refs[:2], refs[2:]])))  # two chunks, as two partitions would hold
    assert len(records) == 3
    for rec in records:
        assert all(v is None or isinstance(v, (str, int, float, bool)) for v in rec.values()), rec
        assert len(pickle.dumps(rec)) < 8_000


def ingest_mod_ref(sample_ref) -> dict:
    """A discovery SampleRef as the plain dict the jobs distribute."""
    from methylclass.workflows.ingest import as_ref

    return as_ref(sample_ref)


def test_manifest_and_controls_files_give_the_builtin_result(hm27_dir, data_dir, tmp_path, capsys):
    """`preprocess --manifest FILE --controls FILE` (the HM27 tables as plain files) stores the same noob
    betas as the built-in HM27 manifest (reference: preprocess_local with array detection)."""
    from methylclass.cli import main

    man = data_dir / "manifests" / "hm27"
    out = tmp_path / "store"
    assert main(["preprocess", str(hm27_dir), "--out", str(out), "--local", "--manifest",
                 str(man / "hm27_ordering.tsv.gz"), "--controls", str(man / "hm27_controls.tsv")]) == 0
    capsys.readouterr()
    want, _ = preprocess_local(hm27_dir, method="noob")
    got = load_betas(out, list(want.index))
    assert list(got.columns) == list(want.columns)
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
