"""The Parquet store without Spark: layout, atomic writes, completeness, resume bookkeeping, reading back,
probe moments. References: planted arrays (exact), numpy's nanmean/nanvar, and file-system state."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from methylclass.errors import ConfigError, DataError
from methylclass.io import store as st
from methylclass.io.store import (
    ProbeMoments,
    Store,
    load_betas,
    probe_moments,
    select_top_variance,
    top_variance_probes,
    write_sample_file,
)
from methylclass.io.store_writer import StoreWriter

N_PROBES = 1_000


def _probes(n: int = N_PROBES) -> pd.DataFrame:
    ids = [f"cg{i:08d}" for i in range(n)]
    return pd.DataFrame({"probe_id": ids, "cpg_id": ids, "address_u": np.arange(n) + 10, "address_m": -1,
                         "design": "II", "channel": "", "chrom": "chr1", "pos": np.arange(n) * 100})


def _info(method: str = "raw") -> dict:
    probes = _probes()
    return {"array": "TEST", "probe_hash": st.probe_table_hash(probes), "n_probes": N_PROBES, "method": method,
            "method_options": {}}


def _planted(n_samples: int, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(n_samples):
        beta = rng.random(N_PROBES).astype(np.float32)
        beta[rng.random(N_PROBES) < 0.02] = np.nan
        out[f"S {i}/x"] = {"beta": beta, "detection_p": rng.random(N_PROBES).astype(np.float32),
                           "meth": rng.gamma(2, 1000, N_PROBES).astype(np.float32),
                           "unmeth": rng.gamma(2, 1000, N_PROBES).astype(np.float32)}
    return out


def _write_store(path, planted, *, failed=("bad",), method="raw") -> pd.DataFrame:
    with StoreWriter(path, _info(method), _probes()) as w:
        records = []
        for name, arrays in planted.items():
            rec = {"sample": name, "status": "ok", "reason": "", "array": "TEST", "qc_x": 1.5, "group": "g"}
            rec["file"] = write_sample_file(path, name, arrays, rec)
            records.append(rec)
        for name in failed:
            records.append({"sample": name, "status": "failed", "reason": "it broke", "array": "TEST"})
        return w.finish(records)


@pytest.fixture()
def store_path(tmp_path):
    planted = _planted(5)
    path = tmp_path / "store"
    _write_store(path, planted)
    return path, planted


def test_layout_and_round_trip(store_path):
    """Files of the documented layout exist; every field of every sample reads back bit-identical to the
    planted float32 arrays (reference: the planted arrays), in sample-table order."""
    path, planted = store_path
    for name in ("_manifest.json", "probes.parquet", "samples.parquet", "_SUCCESS"):
        assert (path / name).is_file(), name
    assert len(list((path / "betas").glob("*.parquet"))) == 5
    assert not list(path.rglob("*.tmp")) and not (path / "_LOCK").exists()
    info = json.loads((path / "_manifest.json").read_text())
    assert info["format"] == "methylclass-store" and info["n_probes"] == N_PROBES
    for field in ("beta", "detection_p", "meth", "unmeth"):
        df = load_betas(path, field=field)
        assert list(df.index) == list(planted)
        assert df.dtypes.unique().tolist() == [np.float32]
        np.testing.assert_array_equal(df.to_numpy(), np.vstack([planted[s][field] for s in planted]))
    probes = Store.open(path).probes()
    assert list(probes.columns) == ["probe_id", "cpg_id", "chrom", "pos", "design", "channel"]


def test_selection_by_name_index_and_mask(store_path):
    """``samples=``/``probes=`` select exactly the planted rows/columns, in the order asked for
    (reference: numpy indexing of the planted matrix)."""
    path, planted = store_path
    names = list(planted)
    full = np.vstack([planted[s]["beta"] for s in names])
    idx = np.array([999, 3, 500, 0])
    ids = [f"cg{i:08d}" for i in idx]
    got = load_betas(path, samples=[names[3], names[1]], probes=ids)
    assert list(got.index) == [names[3], names[1]] and list(got.columns) == ids
    np.testing.assert_array_equal(got.to_numpy(), full[[3, 1]][:, idx])
    np.testing.assert_array_equal(load_betas(path, probes=idx).to_numpy(), full[:, idx])
    mask = np.zeros(N_PROBES, bool)
    mask[[5, 7]] = True
    np.testing.assert_array_equal(load_betas(path, probes=mask).to_numpy(), full[:, [5, 7]])


def test_selection_errors_name_the_problem(store_path):
    """Unknown probes/samples and failed samples raise DataError naming them (and the failure reason)."""
    path, _ = store_path
    with pytest.raises(DataError, match="cgNOPE"):
        load_betas(path, probes=["cg00000001", "cgNOPE"])
    with pytest.raises(DataError, match=r"bad \(failed: it broke\)"):
        load_betas(path, samples=["bad"])
    with pytest.raises(DataError, match="ghost"):
        load_betas(path, samples=["ghost"])
    with pytest.raises(DataError, match="out of range"):
        load_betas(path, probes=[N_PROBES])
    with pytest.raises(DataError, match="mask"):
        load_betas(path, probes=np.ones(3, bool))


def test_sample_table_keeps_failures_and_metadata(store_path):
    """The sample table lists ok and failed samples with reason, file and extra columns."""
    path, planted = store_path
    table = Store.open(path).samples
    assert table["sample"].tolist() == [*planted, "bad"]
    assert table.set_index("sample").loc["bad", "reason"] == "it broke"
    assert table.columns[:4].tolist() == ["sample", "status", "reason", "array"]
    assert set(table["group"].dropna()) == {"g"}


def test_incomplete_store_is_refused_then_resumable(tmp_path):
    """A run that dies after writing sample files leaves no _SUCCESS: opening fails with a message saying
    how to resume; ``allow_incomplete`` rebuilds the sample table from the file footers; a new writer sees
    the stored samples (resume) and finishing makes the store complete."""
    path = tmp_path / "store"
    planted = _planted(3)
    with pytest.raises(RuntimeError), StoreWriter(path, _info(), _probes()) as w:
        for name in list(planted)[:2]:
            write_sample_file(path, name, planted[name], {"sample": name, "status": "ok", "reason": ""})
        raise RuntimeError("crash")
    assert not (path / "_SUCCESS").exists() and not (path / "_LOCK").exists()
    with pytest.raises(DataError, match="incomplete.*re-run"):
        Store.open(path)
    with pytest.raises(DataError, match="incomplete"):
        load_betas(path)
    partial = Store.open(path, allow_incomplete=True)
    assert sorted(partial.ok_samples) == sorted(list(planted)[:2])
    with StoreWriter(path, _info(), _probes()) as w:
        assert set(w.stored) == set(list(planted)[:2])
        name = list(planted)[2]
        rec = {"sample": name, "status": "ok", "reason": ""}
        rec["file"] = write_sample_file(path, name, planted[name], rec)
        w.finish([rec])
    np.testing.assert_array_equal(load_betas(path, samples=list(planted)).to_numpy(),
                                  np.vstack([planted[s]["beta"] for s in planted]))


def test_rerun_removes_success_until_finished(store_path):
    """Opening a writer on a complete store marks it incomplete until ``finish`` (never silently partial)."""
    path, _ = store_path
    with StoreWriter(path, _info(), _probes()), pytest.raises(DataError, match="incomplete"):
        Store.open(path)
    with StoreWriter(path, _info(), _probes()) as w:
        w.finish([])
    assert len(Store.open(path).ok_samples) == 5


def test_atomic_sample_write(tmp_path, monkeypatch):
    """A write that fails half-way leaves neither the final file nor a temporary file behind."""
    path = tmp_path / "store"
    (path / "betas").mkdir(parents=True)
    arrays = _planted(1)["S 0/x"]

    def boom(table, where, **kw):
        where.write(b"PAR1 half")  # half a file reaches the temporary, then the disk is full
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(OSError):
        write_sample_file(path, "S", arrays, {"sample": "S"})
    assert list((path / "betas").iterdir()) == []


def test_incompatible_rerun_and_foreign_folder(store_path, tmp_path):
    """A run with another method, or --out pointing at a foreign folder or a file, is refused with
    ConfigError naming the conflict; --overwrite replaces the store."""
    path, _ = store_path
    with pytest.raises(ConfigError, match="method='raw'.*method='noob'"):
        StoreWriter(path, _info("noob"), _probes()).__enter__()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a methylclass store"):
        StoreWriter(foreign, _info(), _probes()).__enter__()
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        StoreWriter(afile, _info(), _probes()).__enter__()
    with StoreWriter(path, _info("noob"), _probes(), overwrite=True) as w:
        assert w.stored == {}
        w.finish([])
    assert Store.open(path).info["method"] == "noob" and Store.open(path).ok_samples == []


def test_lock_refuses_a_second_writer_and_takes_over_stale_locks(store_path):
    """A live writer's _LOCK refuses a concurrent writer; a lock left by a dead process is taken over."""
    path, _ = store_path
    (path / "_LOCK").write_text(json.dumps({"pid": os.getpid(), "host": os.uname().nodename}))
    with pytest.raises(ConfigError, match="being written by process"):
        StoreWriter(path, _info(), _probes()).__enter__()
    (path / "_LOCK").write_text(json.dumps({"pid": 2 ** 22 + 12345, "host": os.uname().nodename}))
    with StoreWriter(path, _info(), _probes()) as w:
        w.finish([])
    assert not (path / "_LOCK").exists()


def test_vanished_sample_file_is_not_reported_ok(store_path):
    """If a stored file disappears, the next finish marks that sample failed (never an ok row without data)."""
    path, planted = store_path
    victim = next(iter(planted))
    (path / Store.open(path).samples.set_index("sample").loc[victim, "file"]).unlink()
    with StoreWriter(path, _info(), _probes()) as w:
        assert victim not in w.stored
        table = w.finish([])
    row = table.set_index("sample").loc[victim]
    assert row["status"] == "failed" and "missing" in row["reason"]


def test_probe_moments_match_numpy():
    """Moments built from blocks and merged in any split equal numpy's nanmean / nanvar(ddof=1) (reference:
    numpy on the whole matrix), including NaNs and probes with < 2 values."""
    rng = np.random.default_rng(1)
    x = rng.random((23, 50))
    x[rng.random(x.shape) < 0.1] = np.nan
    x[:, 0] = np.nan
    x[1:, 1] = np.nan
    parts = [x[:1], x[1:7], x[7:8], x[8:]]
    acc = ProbeMoments.zeros(50)
    for p in parts:
        acc = acc.merge(ProbeMoments.from_block(p))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        ref_var = np.nanvar(x, axis=0, ddof=1)
        ref_mean = np.nanmean(x, axis=0)
    np.testing.assert_array_equal(acc.count, (~np.isnan(x)).sum(0))
    np.testing.assert_allclose(acc.mean[2:], ref_mean[2:], rtol=1e-12)
    np.testing.assert_allclose(acc.variance()[2:], ref_var[2:], rtol=1e-10)
    assert np.isnan(acc.variance()[:2]).all()


def test_top_variance_matches_numpy(store_path):
    """Streaming top-variance over the store equals ranking numpy's nanvar over the loaded matrix; probes
    present in fewer than ``min_fraction`` of samples are not eligible."""
    path, _ = store_path
    full = load_betas(path).to_numpy().astype(np.float64)
    top = top_variance_probes(path, 25)
    var = np.nanvar(full, axis=0, ddof=1)
    present = (~np.isnan(full)).sum(0)
    var[present < 3] = -np.inf
    expect = np.lexsort((np.arange(var.size), -var))[:25]
    np.testing.assert_array_equal(top["index"].to_numpy(), expect)
    np.testing.assert_allclose(top["variance"].to_numpy(), var[expect], rtol=1e-9)
    m = probe_moments(path)
    m.count[expect[0]] = 1  # now present in too few samples
    assert expect[0] not in select_top_variance(m, 25, np.arange(N_PROBES))["index"].to_numpy()
    with pytest.raises(ConfigError):
        select_top_variance(m, 0, np.arange(N_PROBES))
