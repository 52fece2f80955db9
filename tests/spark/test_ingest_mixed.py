"""A cohort mixing 450k-, EPIC- and EPICv2-like samples goes into ONE store, on Spark and locally alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from methylclass.io.canonical import on_column
from methylclass.io.store import Store, load_betas, top_variance_probes
from methylclass.simulate import read_truth
from methylclass.simulate.mixed import simulate_mixed_cohort
from methylclass.workflows.ingest import ingest, preprocess_local


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed") / "cohort"
    return simulate_mixed_cohort(out, {"450k": 2, "EPIC": 1, "EPICv2": 2}, n_normals=1, n_probes=4000,
                                 classes=2, seed=8, low_quality_fraction=0.0)


@pytest.fixture(scope="module")
def spark_store(spark, mixed, tmp_path_factory):
    out = tmp_path_factory.mktemp("store") / "mixed"
    return out, ingest(mixed.samplesheet, out, spark=spark)


def test_one_store_on_canonical_cpgs(spark_store, mixed):
    """Reference: the simulator's truth (each sample's array) and the layouts' CpG sets."""
    out, res = spark_store
    st = Store.open(out)
    truth = read_truth(mixed.out_dir).samples.set_index("sample")
    assert res.array == "MIXED" and res.n_failed == 0
    assert st.arrays == ["SIM450K", "SIMEPIC", "SIMEPICV2"]
    table = st.samples.set_index("sample")
    assert (table["array"] == truth["array"].reindex(table.index)).all()
    cpgs = {k: set(m.probes["cpg_id"]) for k, m in mixed.manifests.items()}
    probes = st.probes()
    assert set(probes["probe_id"]) == cpgs["450k"] | cpgs["EPIC"] | cpgs["EPICv2"]
    assert probes[on_column("SIMEPICV2")].sum() == len(cpgs["EPICv2"])
    outer, inner = load_betas(st), load_betas(st, join="inner")
    assert outer.shape == (len(truth), len(probes))
    assert set(inner.columns) == cpgs["450k"] & cpgs["EPIC"] & cpgs["EPICv2"]
    assert inner.notna().to_numpy().mean() > 0.99
    v2 = table.index[table["array"] == "SIMEPICV2"]
    assert outer.loc[v2, sorted(cpgs["450k"] - cpgs["EPICv2"])].isna().all().all()
    assert len(top_variance_probes(st, 100, join="inner")) == 100


def test_inner_join_on_spark_and_from_the_command_line(spark_store, spark, tmp_path):
    """Top variance on Spark picks among the shared CpGs only; `export --join inner` writes just those."""
    from methylclass.cli import main
    from methylclass.spark.stats import top_variance_probes_spark

    out, _ = spark_store
    st = Store.open(out)
    shared = st.join_mask("inner")
    top = top_variance_probes_spark(st, 50, spark=spark, join="inner")
    assert shared[top["index"].to_numpy()].all()
    assert main(["export", str(out), "--out", str(tmp_path / "x.parquet"), "--join", "inner"]) == 0
    assert pd.read_parquet(tmp_path / "x.parquet").shape[1] >= int(shared.sum())


def test_spark_and_local_give_the_same_store(spark_store, mixed, tmp_path):
    """Reference: the in-process path (same kernel; EPICv2 replicates averaged by CanonicalMap)."""
    out, _ = spark_store
    local_out = tmp_path / "local"
    ingest(mixed.samplesheet, local_out, backend="local")
    a, b = load_betas(out), load_betas(local_out)
    pd.testing.assert_frame_equal(a, b)
    mem, _ = preprocess_local(mixed.samplesheet)
    np.testing.assert_array_equal(mem.reindex(index=a.index, columns=a.columns).to_numpy(), a.to_numpy())


def test_detected_arrays_need_the_mixed_flag(mixed, tmp_path):
    """Without the sheet's Array/Manifest columns, samples of other arrays are refused unless mixed=True."""
    sheet = pd.read_csv(mixed.samplesheet).drop(columns=["Array", "Manifest", "Controls"])
    path = mixed.out_dir / "plain_sheet.csv"
    sheet.to_csv(path, index=False)
    man = mixed.manifests["450k"]
    probes, controls = mixed.manifest_files["450k"]
    res = ingest(path, tmp_path / "one", backend="local", manifest=probes, controls=controls, array=man.array)
    failed = res.samples.set_index("sample")
    assert res.array == "SIM450K"
    assert (failed.loc[failed.index.str.startswith("450K"), "status"] == "ok").all()
    others = failed.loc[~failed.index.str.startswith("450K")]
    assert (others["status"] == "failed").all()


def test_real_arrays_detected_per_sample_with_mixed(cohort, tmp_path):
    """Reference: the planted cohort of tests/spark (real HM27 pairs + a pair with the real 450k address set,
    which a single-array run refuses as 'an HM450 array; this cohort is HM27'). With mixed=True each sample's
    array is detected from its IDAT, each is normalised with its own manifest, and the HM27 CpGs of the
    HM27 samples keep their single-array values on the canonical axis."""
    from methylclass.io.manifest import load_manifest

    folder, expected = cohort
    res = ingest(folder, tmp_path / "mixed", backend="local", mixed=True)
    table = res.samples.set_index("sample")
    assert res.array == "MIXED" and Store.open(tmp_path / "mixed").arrays == ["HM27", "HM450"]
    assert table.loc["9000000003_R01C01", "status"] == "ok"
    assert table.loc["9000000003_R01C01", "array"] == "HM450"
    for name, want in expected.items():
        if want == "ok":
            assert table.loc[name, "status"] == "ok" and table.loc[name, "array"] == "HM27"
    single = ingest(folder, tmp_path / "single", backend="local")
    hm27 = load_manifest("HM27").probes["cpg_id"]
    ok = [n for n, w in expected.items() if w == "ok"]
    a = load_betas(tmp_path / "mixed", ok, probes=list(hm27))
    b = load_betas(single.store, ok)
    b.columns = hm27.to_numpy()
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    assert load_betas(tmp_path / "mixed", join="inner").shape[1] < len(hm27)
