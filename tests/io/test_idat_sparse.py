"""An uncompressed IDAT is read without its SD and MidBlock payloads, which are loaded from the file on first
access. Reference: the full read (:func:`_parse_idat` of all the file's bytes) and the file's own bytes
(:func:`write_idat` of what was read must reproduce them)."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from methylclass.errors import IdatError
from methylclass.io.discover import check_pair
from methylclass.io.idat import (
    DEFAULT_DATA_ORDER,
    Idat,
    _parse_idat,
    idat_to_bytes,
    read_idat,
    write_idat,
)

ARRAYS = ("illumina_ids", "mean", "n_beads", "sd", "mid_block")


def _idat(seed: int = 0, n: int = 5000, **kw) -> Idat:
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(10**7, n, replace=False))
    return Idat.from_arrays(ids, rng.integers(0, 60_000, n), sd=rng.integers(0, 9000, n),
                            n_beads=rng.integers(0, 30, n), barcode="201234567890", position="R03C01", **kw)


def _assert_same(a: Idat, b: Idat, read_only: bool = True) -> None:
    for f in ARRAYS:
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype and np.array_equal(x, y), f
        assert not (read_only and x.flags.writeable), f
    assert (a.raw_fields, a.header_order, a.data_order, a.barcode, a.position) == \
        (b.raw_fields, b.header_order, b.data_order, b.barcode, b.position)


def test_sparse_read_equals_the_full_read_and_loads_sd_on_first_access(tmp_path):
    path = write_idat(tmp_path / "x_Grn.idat", _idat())
    got = read_idat(path)
    assert "sd" not in vars(got) and "mid_block" not in vars(got), "the SD / MidBlock payloads were read"
    full = _parse_idat(path.read_bytes(), path)
    _assert_same(got, full)
    assert idat_to_bytes(got) == path.read_bytes()
    again = pickle.loads(pickle.dumps(read_idat(path)))
    _assert_same(again, full, read_only=False)


def test_a_file_changed_after_the_read_is_an_error_not_other_data(tmp_path):
    path = write_idat(tmp_path / "x_Grn.idat", _idat(1))
    got = read_idat(path)
    write_idat(path, _idat(2))  # same size, other values, new inode
    with pytest.raises(IdatError, match="x_Grn.idat.*changed since it was read"):
        _ = got.sd
    got = read_idat(path)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(IdatError, match="changed since it was read"):
        _ = got.mid_block
    got = read_idat(path)
    path.unlink()
    with pytest.raises(IdatError, match="x_Grn.idat"):
        _ = got.sd


def test_gzip_and_unusual_layouts_are_read_in_full(tmp_path):
    gz = write_idat(tmp_path / "x_Grn.idat.gz", _idat(3))
    assert "sd" in vars(read_idat(gz))
    # strings before the SD payload: not the plain layout, so the whole file is read (and still parsed alike)
    odd = _idat(4)
    odd.data_order = (402, 403, 404, *[c for c in DEFAULT_DATA_ORDER if c not in (402, 403, 404)])
    path = write_idat(tmp_path / "odd_Grn.idat", odd)
    got = read_idat(path)
    assert "sd" in vars(got) and "_unread" not in vars(got)
    _assert_same(got, _parse_idat(path.read_bytes(), path))
    assert idat_to_bytes(got) == path.read_bytes()


def test_check_pair_leaves_the_payloads_unread(tmp_path):
    grn = read_idat(write_idat(tmp_path / "x_Grn.idat", _idat(5)))
    red = read_idat(write_idat(tmp_path / "x_Red.idat", _idat(5)))
    checked = check_pair(grn, red)
    assert checked.illumina_ids is grn.illumina_ids and "sd" not in vars(checked)
    np.testing.assert_array_equal(checked.sd, _idat(5).sd)
