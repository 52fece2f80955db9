"""Canonical CpG axis for mixed-array cohorts: replicate collapse, union probe table, store joins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ConfigError
from methylclass.io.canonical import (
    CanonicalMap,
    canonical_probe_table,
    collapse_replicate_columns,
    feature_coverage,
    on_column,
)
from methylclass.io.export import export_store
from methylclass.io.manifest import collapse_replicates
from methylclass.io.store import Store, load_betas, top_variance_probes, write_sample_file
from methylclass.io.store_writer import StoreWriter
from methylclass.simulate.design import synthetic_manifest
from methylclass.simulate.mixed import derive_array_manifests


@pytest.fixture(scope="module")
def layouts():
    base = synthetic_manifest(3000, seed=2)
    return derive_array_manifests(base, ["450k", "EPICv2"], seed=2, replicate_fraction=0.1)


def test_collapse_replicate_columns_matches_the_row_rule(layouts):
    """Reference: io.manifest.collapse_replicates (rows = probes, mean of non-missing), transposed."""
    man = layouts["EPICv2"]
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.random((4, man.n_probes)).astype(np.float32), columns=man.probes["probe_id"])
    X.iloc[0, :50] = np.nan
    got = collapse_replicate_columns(X, man)
    want = collapse_replicates(X.T, man).T
    assert list(got.columns) == list(want.columns)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-6)
    # without a manifest, the Illumina suffix decides; unsuffixed tables pass through untouched
    np.testing.assert_allclose(collapse_replicate_columns(X).to_numpy(), want.to_numpy(), rtol=1e-6)
    assert collapse_replicate_columns(want) is want


def test_canonical_map_averages_replicates_and_marks_absent_cpgs(layouts):
    v2, k450 = layouts["EPICv2"], layouts["450k"]
    union = canonical_probe_table([k450, v2])
    assert union["probe_id"].is_unique and set(union["cpg_id"]) == set(k450.probes["cpg_id"]) | set(v2.probes["cpg_id"])
    assert union[on_column("SIM450K")].sum() == k450.n_probes
    cmap = CanonicalMap.build(v2, union["probe_id"])
    vals = np.arange(v2.n_probes, dtype=np.float64)
    vals[::7] = np.nan
    got = pd.Series(cmap.apply(vals), index=union["probe_id"])
    want = collapse_replicates(pd.DataFrame({"v": vals}, index=v2.probes["probe_id"]), v2)["v"]
    np.testing.assert_allclose(got.reindex(want.index).to_numpy(), want.to_numpy(), rtol=1e-6)
    assert got[~union[on_column("SIMEPICV2")].to_numpy()].isna().all()


def test_feature_coverage():
    X = pd.DataFrame({"a": [1.0, np.nan], "b": [1.0, 1.0], "z": [0.0, 0.0]}, index=["s1", "s2"])
    cov = feature_coverage(X, ["a", "b", "c", "d"])
    assert cov.tolist() == [0.5, 0.25]


def _mixed_store(path, layouts):
    union = canonical_probe_table([layouts["450k"], layouts["EPICv2"]])
    info = {"array": "MIXED", "arrays": ["SIM450K", "SIMEPICV2"], "probe_hash": "x", "n_probes": len(union),
            "method": "raw"}
    rng = np.random.default_rng(1)
    records = []
    with StoreWriter(path, info, union) as w:
        for kind, n in (("450k", 3), ("EPICv2", 2)):
            man = layouts[kind]
            cmap = CanonicalMap.build(man, union["probe_id"])
            for i in range(n):
                name = f"{kind}_{i}"
                arrays = {f: cmap.apply(rng.random(man.n_probes)) for f in ("beta", "detection_p", "meth", "unmeth")}
                rec = {"sample": name, "status": "ok", "reason": "", "array": man.array}
                rec["file"] = write_sample_file(path, name, arrays, rec)
                records.append(rec)
        w.finish(records)
    return Store.open(path), union


def test_store_joins(tmp_path, layouts):
    """Reference: the canonical probe table's membership columns (inner = CpGs on both arrays)."""
    st, union = _mixed_store(tmp_path / "mixed", layouts)
    both = union[on_column("SIM450K")] & union[on_column("SIMEPICV2")]
    outer = load_betas(st)
    inner = load_betas(st, join="inner")
    assert outer.shape == (5, len(union)) and inner.shape == (5, int(both.sum()))
    assert not inner.isna().any().any()
    assert outer.loc["450k_0"].isna().sum() == len(union) - layouts["450k"].n_probes
    # one array's samples alone: inner = that array's CpGs
    assert load_betas(st, ["450k_0", "450k_1"], join="inner").shape[1] == layouts["450k"].n_probes
    top = top_variance_probes(st, 50, join="inner")
    assert both.to_numpy()[top["index"]].all()
    out = export_store(st, tmp_path / "x.parquet", join="inner", top_variance=20)
    assert pd.read_parquet(out).shape[1] >= 20
    with pytest.raises(ConfigError, match="unknown join"):
        load_betas(st, join="left")
