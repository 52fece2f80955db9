"""Export of a store (no Spark): CSV both orientations (plain, gz, tsv), wide Parquet, h5ad, selections.
Reference: ``load_betas`` of the same store — exports must read back bit-identical (float32)."""

from __future__ import annotations

import gzip
import importlib.util

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ConfigError, DataError
from methylclass.io import export as export_mod
from methylclass.io.export import export_store, infer_format
from methylclass.io.store import Store, load_betas
from methylclass.workflows.ingest import ingest_cohort


@pytest.fixture(scope="module")
def small_store(hm27_dir, hm27_manifest, tmp_path_factory):
    """The two real HM27 samples and a third with NaN-producing missing addresses, raw betas, local path."""
    from methylclass.io.idat import Idat, read_idat, write_idat

    folder = tmp_path_factory.mktemp("exp_in")
    g, r = read_idat(hm27_dir / "4207113116_A_Grn.idat"), read_idat(hm27_dir / "4207113116_A_Red.idat")
    keep = np.arange(g.n_probes) % 50 != 0  # 2 % of addresses missing → NaN betas for those probes
    for idat, ch in ((g, "Grn"), (r, "Red")):
        write_idat(folder / f"9000000009_R01C01_{ch}.idat",
                   Idat.from_arrays(idat.illumina_ids[keep], idat.mean[keep], barcode="9000000009",
                                    position="R01C01"))
    refs = [{"sample": f"S{pos}", "grn": hm27_dir / f"4207113116_{pos}_Grn.idat",
             "red": hm27_dir / f"4207113116_{pos}_Red.idat", "meta": {"label": pos}} for pos in "AB"]
    refs.append({"sample": "S,gap", "grn": folder / "9000000009_R01C01_Grn.idat",
                 "red": folder / "9000000009_R01C01_Red.idat"})
    out = tmp_path_factory.mktemp("exp") / "store"
    res = ingest_cohort(refs, out, method="raw", local=True, manifest=hm27_manifest, min_address_fraction=0.9)
    assert res.n_ok == 3
    return out


def test_csv_samples_and_probes_orientation_round_trip(small_store, tmp_path):
    """samples × probes CSV and probes × samples TSV.gz read back bit-identical, NaN as empty fields."""
    want = load_betas(small_store)
    assert np.isnan(want.loc["S,gap"]).sum() > 0
    a = export_store(small_store, tmp_path / "a.csv")
    got = pd.read_csv(a, index_col=0)
    assert list(got.index) == list(want.index) and list(got.columns) == list(want.columns)
    np.testing.assert_array_equal(got.to_numpy(np.float32), want.to_numpy())
    b = export_store(small_store, tmp_path / "b.tsv.gz", orient="probes")
    with gzip.open(b, "rt") as fh:
        assert fh.readline().rstrip("\n").split("\t") == ["probe_id", "SA", "SB", "S,gap"]
    got = pd.read_csv(b, sep="\t", index_col=0)
    np.testing.assert_array_equal(got.to_numpy(np.float32), want.to_numpy().T)


def test_probe_blocks_cover_every_probe(small_store, tmp_path, monkeypatch):
    """With tiny probe blocks (many passes) the probes × samples CSV is unchanged."""
    monkeypatch.setattr(export_mod, "PROBE_BLOCK_BYTES", 4 * 3 * 1000)  # 1,000 probes per block
    path = export_store(small_store, tmp_path / "p.csv", orient="probes", field="meth")
    got = pd.read_csv(path, index_col=0)
    np.testing.assert_array_equal(got.to_numpy(np.float32), load_betas(small_store, field="meth").to_numpy().T)


def test_selection_top_variance_and_parquet(small_store, tmp_path):
    """Selections pass through; --top-variance keeps exactly the store's top probes; wide Parquet equals
    load_betas of the same selection in both orientations."""
    from methylclass.io.store import top_variance_probes

    top = top_variance_probes(small_store, 100, ["SB", "SA"])["probe_id"].tolist()
    path = export_store(small_store, tmp_path / "t.parquet", top_variance=100, samples=["SB", "SA"])
    got = pd.read_parquet(path).set_index("sample")
    assert list(got.columns) == top and list(got.index) == ["SB", "SA"]
    np.testing.assert_array_equal(got.to_numpy(), load_betas(small_store, ["SB", "SA"], top).to_numpy())
    path = export_store(small_store, tmp_path / "u.parquet", probes=top[:5], orient="probes")
    got = pd.read_parquet(path).set_index("probe_id")
    np.testing.assert_array_equal(got.to_numpy(), load_betas(small_store, probes=top[:5]).to_numpy().T)


def test_bad_requests_are_clear_and_leave_nothing(small_store, tmp_path, monkeypatch):
    """Too-wide Parquet, unknown format, unknown field, missing folder → ConfigError, no file written; a
    failure while writing leaves neither the target nor a temporary file."""
    monkeypatch.setattr(export_mod, "MAX_WIDE_COLUMNS", 1000)
    with pytest.raises(ConfigError, match="too wide"):
        export_store(small_store, tmp_path / "w.parquet")
    with pytest.raises(ConfigError, match="format"):
        infer_format("x.xlsx")
    with pytest.raises(ConfigError, match="unknown store field"):
        export_store(small_store, tmp_path / "f.csv", field="gamma")
    with pytest.raises(ConfigError, match="does not exist"):
        export_store(small_store, tmp_path / "nope" / "x.csv")
    with pytest.raises(DataError, match="ghost"):
        export_store(small_store, tmp_path / "g.csv", samples=["ghost"])

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(export_mod, "_format_block", boom)
    with pytest.raises(OSError):
        export_store(small_store, tmp_path / "x.csv")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(importlib.util.find_spec("anndata") is not None, reason="anndata installed")
def test_h5ad_without_anndata_is_a_clear_error(small_store, tmp_path):
    """Without the optional anndata package, h5ad export is a ConfigError saying what to install."""
    with pytest.raises(ConfigError, match="pip install anndata"):
        export_store(small_store, tmp_path / "x.h5ad")
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(importlib.util.find_spec("anndata") is None, reason="optional anndata not installed")
def test_h5ad_round_trip(small_store, tmp_path):
    """With anndata, X equals load_betas, obs carries the sample table, var the probe table."""
    import anndata

    path = export_store(small_store, tmp_path / "x.h5ad")
    ad = anndata.read_h5ad(path)
    np.testing.assert_array_equal(ad.X, load_betas(small_store).to_numpy())
    assert list(ad.obs_names) == Store.open(small_store).ok_samples and ad.obs.loc["SA", "label"] == "A"
    assert ad.var.index[0] == Store.open(small_store).probe_ids()[0]
