"""Samples mapped from IDATs build their per-probe fields lazily from the kept IDAT levels, through a gather
index cached per (manifest, address layout): these tests prove the lazy fields equal an eager mapping, that
edits are never mistaken for IDAT levels, and that the cache never serves another layout or another
manifest's tables.

Reference: the eager mapping (:func:`raw_signals_from_idats` on float means, which builds every array at
once) and the channel rules written out per probe in :func:`_expected` (minfi ``preprocessRaw``).
"""

from __future__ import annotations

import copy
import gc
import pickle
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from methylclass.io.discover import check_pair
from methylclass.io.idat import Idat
from methylclass.io.manifest.types import PROBE_COLUMNS, Manifest
from methylclass.io.raw_types import _gather_index, raw_signals_from_idats

FIELDS = ("meth", "unmeth", "oob_meth", "oob_unmeth", "beads_meth", "beads_unmeth")


def _manifest(n: int = 60, seed: int = 0, channel_of_first: str = "Grn") -> Manifest:
    """``n`` probes (a third Type I Grn, a third Type I Red, a third Type II) on shuffled addresses, 6 controls."""
    rng = np.random.default_rng(seed)
    addr = rng.permutation(np.arange(10_000, 10_000 + 3 * n))
    design = np.array(["I", "I", "II"] * (n // 3))
    channel = np.array(["Grn", "Red", ""] * (n // 3), dtype=object)
    channel[0] = channel_of_first
    ids = [f"cg{i:08d}" for i in range(n)]
    probes = pd.DataFrame({"probe_id": ids, "cpg_id": ids, "address_u": addr[:n],
                           "address_m": np.where(design == "I", addr[n:2 * n], -1),
                           "design": design, "channel": channel, "chrom": "chr1",
                           "pos": np.arange(n, dtype=np.int64)})[list(PROBE_COLUMNS)]
    controls = pd.DataFrame({"address": addr[2 * n:2 * n + 6],
                             "type": ["NEGATIVE"] * 3 + ["NORM_A", "NORM_C", "STAINING"],
                             "channel": "", "name": [f"c{i}" for i in range(6)]})
    return Manifest(array="TEST", probes=probes, controls=controls)


def _pair(man: Manifest, seed: int, *, order_seed: int | None = None, drop: int = 0, float_means: bool = False):
    """A Grn/Red pair holding every address of ``man`` (minus ``drop`` of them) in a shuffled order, with
    random integer means and bead counts (some 0–2)."""
    rng = np.random.default_rng(seed)
    p = man.probes
    addresses = np.concatenate([p["address_u"], p.loc[p["address_m"] >= 0, "address_m"], man.controls["address"]])
    addresses = np.random.default_rng(order_seed if order_seed is not None else seed).permutation(addresses)
    addresses = addresses[drop:].astype("<i4")
    k = addresses.size
    beads = rng.integers(0, 20, k).astype(np.uint8)
    beads[rng.choice(k, 8, replace=False)] = rng.integers(0, 3, 8)
    pair = []
    for _ in range(2):
        mean = rng.integers(0, 30_000, k).astype(np.uint16)
        idat = Idat.from_arrays(addresses, mean, n_beads=beads)
        if float_means:  # non-integer dtype: the eager mapping
            idat = replace(idat, mean=mean.astype(np.float64))
        pair.append(idat)
    return pair[0], pair[1]


def _expected(man: Manifest, grn: Idat, red: Idat) -> dict[str, np.ndarray]:
    """The channel rules, probe by probe (NaN / 0 beads where an address is absent)."""
    pos = {int(a): i for i, a in enumerate(grn.illumina_ids)}
    out = {f: [] for f in FIELDS}

    def at(idat: Idat, address: int) -> tuple[float, int]:
        i = pos.get(int(address))
        return (np.nan, 0) if i is None else (float(idat.mean[i]), int(idat.n_beads[i]))

    for _, r in man.probes.iterrows():
        if r["design"] == "II":
            (m, bm), (u, bu) = at(grn, r["address_u"]), at(red, r["address_u"])
            om = ou = np.nan
        else:
            own, other = (red, grn) if r["channel"] == "Red" else (grn, red)
            (m, bm), (u, bu) = at(own, r["address_m"]), at(own, r["address_u"])
            om, ou = at(other, r["address_m"])[0], at(other, r["address_u"])[0]
        for f, v in zip(FIELDS, (m, u, om, ou, bm, bu)):
            out[f].append(v)
    return {f: np.array(v, dtype=np.uint16 if f.startswith("beads") else np.float32) for f, v in out.items()}


def _assert_fields(raw, expected: dict[str, np.ndarray]) -> None:
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(raw, f), expected[f], err_msg=f)
        assert getattr(raw, f).dtype == expected[f].dtype, f


def test_lazy_fields_equal_the_eager_mapping_and_the_channel_rules():
    man = _manifest()
    grn, red = _pair(man, 1, drop=5)
    lazy = raw_signals_from_idats(grn, red, man, "s")
    eager = raw_signals_from_idats(*_pair(man, 1, drop=5, float_means=True), man, "s")
    assert lazy.levels is not None and eager.levels is None
    assert not any(f in vars(lazy) for f in (*FIELDS, "controls")), "fields were built before first use"
    # the helpers answer from the levels without building anything, with the eager sample's values
    np.testing.assert_array_equal(lazy.missing(), eager.missing())
    for t in (0, 1, 3, 300):
        np.testing.assert_array_equal(lazy.few_beads(t), eager.few_beads(t))
    for a, b in zip(lazy.control_intensities(), eager.control_intensities()):
        np.testing.assert_array_equal(a, b)
    assert lazy.control_table() is man.controls
    assert not any(f in vars(lazy) for f in (*FIELDS, "controls"))
    assert lazy.missing().any() and lazy.few_beads(3).any() and not lazy.few_beads(3).all()
    _assert_fields(lazy, _expected(man, grn, red))
    _assert_fields(eager, _expected(man, grn, red))
    pd.testing.assert_frame_equal(lazy.controls, eager.controls)
    assert lazy.meta == eager.meta


def test_edits_are_never_taken_for_idat_levels():
    man = _manifest()
    grn, red = _pair(man, 2)
    raw = raw_signals_from_idats(grn, red, man, "s")
    assert raw.idat_levels() is not None
    _ = raw.meth, raw.oob_unmeth  # built: the same read-only arrays, still the IDAT's
    assert raw.idat_levels() is not None and not raw.meth.flags.writeable
    assert replace(raw, sample="t").idat_levels() is not None  # same arrays, another name
    assert replace(raw, unmeth=raw.unmeth.copy()).idat_levels() is None
    edited = copy.copy(raw)
    edited.meth = raw.meth + 1
    assert edited.idat_levels() is None and raw.idat_levels() is not None
    # bead counts and controls, once built, are the sample's own: edits to them are what the helpers see
    raw.beads_meth[:] = 0
    assert raw.few_beads(1).all()
    raw.controls.loc[:, "grn"] = 7.0
    assert (raw.control_intensities()[0] == 7.0).all()
    fresh = raw_signals_from_idats(grn, red, man, "s")
    assert not fresh.few_beads(1).all() and not (fresh.control_intensities()[0] == 7.0).all()


def test_lazy_samples_survive_pickle_and_copy():
    man = _manifest()
    grn, red = _pair(man, 3, drop=2)
    expected = _expected(man, grn, red)
    raw = raw_signals_from_idats(grn, red, man, "s")
    for other in (pickle.loads(pickle.dumps(raw)), copy.copy(raw), copy.deepcopy(raw)):
        _assert_fields(other, expected)
    _assert_fields(raw, expected)
    with pytest.raises(AttributeError):
        raw.no_such_field  # noqa: B018 - only the seven lazy fields are built on demand


def test_two_layouts_of_one_size_never_mix():
    """Two address orders of the same length, alternated: each sample is mapped with its own layout, and a
    layout met again is served from the cache (the same index object)."""
    man = _manifest()
    pairs = [_pair(man, 10 + i, order_seed=i % 2) for i in range(4)]
    assert not np.array_equal(pairs[0][0].illumina_ids, pairs[1][0].illumina_ids)
    for grn, red in pairs:
        _assert_fields(raw_signals_from_idats(grn, red, man, "s"), _expected(man, grn, red))
    ids = pairs[0][0].illumina_ids
    assert _gather_index(ids.copy(), man) is _gather_index(ids, man)
    assert _gather_index(pairs[1][0].illumina_ids, man) is not _gather_index(ids, man)


def test_the_cache_follows_the_manifest_tables_not_their_ids():
    """A manifest with other controls (``replace``) or another probe table of the same shape is never served
    the index of the first one, also when the first is gone and its ids could be reused."""
    man = _manifest(seed=0)
    grn, red = _pair(man, 4)
    raw_signals_from_idats(grn, red, man, "s").control_intensities()
    swapped = man.controls.copy()
    swapped["address"] = swapped["address"].to_numpy()[::-1]
    other = replace(man, controls=swapped)
    got = raw_signals_from_idats(grn, red, other, "s").control_intensities()[0]
    assert got.tolist() == raw_signals_from_idats(grn, red, man, "s").control_intensities()[0][::-1].tolist()
    for i in range(12):  # manifests come and go: each mapping follows its own manifest
        m = _manifest(seed=0, channel_of_first="Grn" if i % 2 else "Red")
        g, r = _pair(m, 4)
        _assert_fields(raw_signals_from_idats(g, r, m, "s"), _expected(m, g, r))
        del m
        gc.collect()


def test_a_checked_pair_shares_one_address_array():
    man = _manifest()
    grn, red = _pair(man, 5)
    red_copy = replace(red, illumina_ids=red.illumina_ids.copy())
    checked = check_pair(grn, red_copy)
    assert checked.illumina_ids is grn.illumina_ids
    np.testing.assert_array_equal(checked.mean, red.mean)


@pytest.mark.parametrize("first_channel", ["Grn", ""])
def test_kernels_on_lazy_levels_equal_the_eager_sample(first_channel):
    """pOOBAH (channel-key table look-ups, or per-design subsets when a Type I probe has no colour), the QC
    medians, bead and missing fractions from the levels equal the same kernels on the eager sample."""
    from methylclass.pp.detection import _poobah_by_levels
    from methylclass.pp.normalize import normalize

    man = _manifest(n=600, channel_of_first=first_channel)
    lazy = raw_signals_from_idats(*_pair(man, 6, drop=9), man, "s")
    eager = raw_signals_from_idats(*_pair(man, 6, drop=9, float_means=True), man, "s")
    assert _poobah_by_levels(lazy, True) is not None and _poobah_by_levels(eager, True) is None
    for method in ("raw", "noob"):
        a, b = normalize(lazy, method=method, dye_bias="none"), normalize(eager, method=method, dye_bias="none")
        for f in ("beta", "meth", "unmeth", "detection_p"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
        assert a.qc == b.qc
    assert np.isnan(a.detection_p[0]) == (first_channel == "")


def test_read_raw_builds_its_sample_table_on_first_access(tmp_path):
    """The table of a read is built when first read (once), equals the one-row-per-sample frame of the pairs,
    and survives pickling."""
    from methylclass.io.idat import write_idat
    from methylclass.io.raw import read_raw

    man = _manifest()
    for i in range(2):
        grn, red = _pair(man, 20 + i)
        write_idat(tmp_path / f"20000000000{i}_R01C01_Grn.idat", grn)
        write_idat(tmp_path / f"20000000000{i}_R01C01_Red.idat", red)
    rs = read_raw(tmp_path, manifest=man)
    assert "sample_table" not in vars(rs)
    clone = pickle.loads(pickle.dumps(rs))
    table = rs.sample_table
    assert rs.sample_table is table and list(table.index) == rs.names and table.index.name == "sample"
    assert (table["n_addresses"] == len(_pair(man, 0)[0].illumina_ids)).all()
    assert (table["address_coverage"] == 1.0).all() and table["grn"].str.endswith("_Grn.idat").all()
    pd.testing.assert_frame_equal(clone.sample_table, table)


def test_threads_mapping_two_layouts_at_once_get_their_own():
    """Samples of two layouts mapped from 4 threads at once: each equals its channel-rule expectation."""
    from concurrent.futures import ThreadPoolExecutor

    man = _manifest(seed=3)
    pairs = [_pair(man, 30 + i, order_seed=100 + i % 2, drop=i % 3) for i in range(16)]

    def check(pair):
        raw, want = raw_signals_from_idats(*pair, man, "s"), _expected(man, *pair)
        few = raw.few_beads(3)  # from the levels, before the bead arrays are built
        _assert_fields(raw, want)
        return np.array_equal(few, (want["beads_meth"] < 3) | (want["beads_unmeth"] < 3))

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(check, pairs))
