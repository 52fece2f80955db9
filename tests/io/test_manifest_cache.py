"""Checksum-keyed manifest cache (methylclass.io.manifest.cache via load_manifest)."""

from __future__ import annotations

import gzip
import hashlib
import shutil

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ManifestError
from methylclass.io.manifest import cache as manifest_cache
from methylclass.io.manifest import clear_loaded_manifests, load_manifest, load_sesame_tsv


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache folder for this test, and nothing held in memory."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("METHYLCLASS_CACHE", str(cache))
    clear_loaded_manifests()
    yield cache / "manifests"
    clear_loaded_manifests()


@pytest.fixture()
def small_tsv(tmp_path, data_dir):
    """A private copy of the real HM27 ordering and controls (so the test may change them)."""
    src = data_dir / "manifests/hm27"
    shutil.copy(src / "hm27_ordering.tsv.gz", tmp_path / "ordering.tsv.gz")
    shutil.copy(src / "hm27_controls.tsv", tmp_path / "controls.tsv")
    return tmp_path / "ordering.tsv.gz", tmp_path / "controls.tsv"


def test_second_load_comes_from_the_cache(fresh_cache, small_tsv):
    """Reference: the parsed manifest itself (the cached copy must be identical, column dtypes included) and
    hashlib's sha256 of the source files."""
    probes, controls = small_tsv
    first = load_manifest(path=probes, controls=controls)
    assert "from_cache" not in first.extra
    assert first.extra["source_sha256"] == {"probes": hashlib.sha256(probes.read_bytes()).hexdigest(),
                                           "controls": hashlib.sha256(controls.read_bytes()).hexdigest()}
    assert len(first.sha256) == 64 and (fresh_cache / first.sha256 / "probes.parquet").is_file()
    assert load_manifest(path=probes, controls=controls) is first            # in-memory
    clear_loaded_manifests()
    second = load_manifest(path=probes, controls=controls)
    assert second.extra["from_cache"] is True and second.sha256 == first.sha256
    pd.testing.assert_frame_equal(second.probes, first.probes)
    pd.testing.assert_frame_equal(second.controls, first.controls)
    assert second.genome_build == first.genome_build and second.array == first.array
    assert second.source == probes
    assert not [p for p in fresh_cache.iterdir() if p.name.startswith(".tmp")]


def test_changed_source_invalidates(fresh_cache, small_tsv):
    """Planted change: one probe removed from the source table → new key, fresh parse, 27,577 probes; the
    controls file changing also changes the key. No memory reset in between: the in-process shortcut must
    notice the changed files too."""
    probes, controls = small_tsv
    first = load_manifest(path=probes, controls=controls)
    df = pd.read_csv(probes, sep="\t")
    with gzip.open(probes, "wt") as fh:
        df.iloc[1:].to_csv(fh, sep="\t", index=False)
    changed = load_manifest(path=probes, controls=controls)   # no memo reset: the change must be seen
    assert changed.sha256 != first.sha256 and "from_cache" not in changed.extra
    assert changed.n_probes == first.n_probes - 1 == 27_577
    controls.write_text(controls.read_text() + "999999\tNEGATIVE\t\tNeg extra\n")
    again = load_manifest(path=probes, controls=controls)
    assert again.sha256 != changed.sha256 and len(again.controls) == len(changed.controls) + 1
    assert len([p for p in fresh_cache.iterdir() if p.is_dir()]) == 3


def test_damaged_cache_entry_is_replaced(fresh_cache, small_tsv):
    """Planted damage in the cache (truncated Parquet, bad JSON): the load re-parses and rewrites the entry."""
    probes, controls = small_tsv
    first = load_manifest(path=probes, controls=controls)
    entry = fresh_cache / first.sha256
    data = (entry / "probes.parquet").read_bytes()
    (entry / "probes.parquet").write_bytes(data[: len(data) // 2])
    clear_loaded_manifests()
    again = load_manifest(path=probes, controls=controls)
    assert "from_cache" not in again.extra
    pd.testing.assert_frame_equal(again.probes, first.probes)
    clear_loaded_manifests()
    assert load_manifest(path=probes, controls=controls).extra["from_cache"] is True
    (entry / "meta.json").write_text("{not json")
    assert manifest_cache.load_cached(first.sha256) is None and not entry.exists()
    assert manifest_cache.clear_cache() == 0


def test_cache_round_trip_of_every_shipped_manifest(data_dir):
    """Reference: a fresh parse by the sesame loader of HM450, HM27 and MSA — the Parquet copy in the cache
    must be identical (values, dtypes, row order, extra metadata)."""
    d = data_dir / "manifests"
    fresh = {
        "HM450": load_sesame_tsv(d / "hm450/hm450_manifest.tsv.gz", array="HM450",
                                 controls=d / "hm450/hm450_controls.tsv"),
        "HM27": load_sesame_tsv(d / "hm27/hm27_ordering.tsv.gz", array="HM27", controls=d / "hm27/hm27_controls.tsv",
                                coords=d / "hm27/hm27_hg38_coord.tsv.gz", coords_alignment="sorted_probe_id",
                                genome_build="hg38"),
        "MSA": load_sesame_tsv(d / "msa/msa_ordering.tsv.gz", array="MSA", controls=d / "msa/msa_controls.csv.gz",
                               coords=d / "msa/msa_hg38_coord.tsv.gz", genome_build="hg38"),
    }
    for array, ref in fresh.items():
        man = load_manifest(array)
        cached = manifest_cache.load_cached(man.sha256)
        assert cached is not None and cached.extra["from_cache"] is True
        for got in (man, cached):
            pd.testing.assert_frame_equal(got.probes, ref.probes)
            pd.testing.assert_frame_equal(got.controls, ref.controls)
            assert (got.array, got.genome_build) == (ref.array, ref.genome_build)
            assert got.extra["dropped_probes"] == ref.extra["dropped_probes"]
        assert cached.sha256 == man.sha256


def test_cache_is_optional(tmp_path, monkeypatch, small_tsv):
    """A cache location that cannot be created (a file in the way) must not stop a load."""
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    monkeypatch.setenv("METHYLCLASS_CACHE", str(blocker / "sub"))
    clear_loaded_manifests()
    probes, controls = small_tsv
    with pytest.warns(RuntimeWarning, match="could not cache manifest"):
        man = load_manifest(path=probes, controls=controls)
    assert man.n_probes == 27_578
    clear_loaded_manifests()
    unc = load_manifest(path=probes, controls=controls, cache=False)
    assert "from_cache" not in unc.extra and unc.sha256 == man.sha256


def test_unreadable_manifests_name_the_file(fresh_cache, tmp_path, small_tsv):
    """Planted damage in the source: truncated gzip, binary junk, empty file, a folder, a missing file."""
    probes, _controls = small_tsv
    trunc = tmp_path / "trunc.tsv.gz"
    trunc.write_bytes(probes.read_bytes()[:5000])
    with pytest.raises(ManifestError, match="trunc.tsv.gz"):
        load_manifest(path=trunc)
    junk = tmp_path / "junk.tsv"
    junk.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(ManifestError, match="junk.tsv"):
        load_manifest(path=junk)
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(ManifestError, match="empty.tsv"):
        load_manifest(path=empty)
    with pytest.raises(ManifestError, match="missing.tsv.gz' does not exist"):
        load_manifest(path=tmp_path / "missing.tsv.gz")
    with pytest.raises(ManifestError, match="is a folder, not a manifest file"):
        load_manifest(path=tmp_path)
    with pytest.raises(ManifestError, match="controls file '.*nope.tsv' does not exist"):
        load_manifest(path=probes, controls=tmp_path / "nope.tsv")
    with pytest.raises(ManifestError, match="needs an array name"):
        load_manifest()
