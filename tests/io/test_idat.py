"""IDAT reader/writer against real files: the four sesameData HM27 IDATs and minfiData's 450k Green channel
as parsed by illuminaio (arrays + header with every field's byte offset)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import IdatError, MethylclassError
from methylclass.io.idat import Idat, idat_to_bytes, read_idat, write_idat

HM27_FILES = [f"4207113116_{pos}_{ch}.idat" for pos in "AB" for ch in ("Grn", "Red")]

# illuminaio field names (header JSON) → IDAT field codes
FIELD_CODES = {"nSNPsRead": 1000, "IlluminaID": 102, "SD": 103, "Mean": 104, "NBeads": 107, "MidBlock": 200,
               "RunInfo": 300, "RedGreen": 400, "MostlyNull": 401, "Barcode": 402, "ChipType": 403,
               "MostlyA": 404, "Unknown.1": 405, "Unknown.2": 406, "Unknown.3": 407, "Unknown.4": 408,
               "Unknown.5": 409, "Unknown.6": 410, "Unknown.7": 510}


def _field_offsets(data: bytes) -> dict[int, int]:
    """Independent decoding of an IDAT's field table with :mod:`struct` (not the reader under test)."""
    n_fields = struct.unpack_from("<i", data, 12)[0]
    return {code: off for code, off in (struct.unpack_from("<Hq", data, 16 + 10 * i) for i in range(n_fields))}


# -- real HM27 files ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", HM27_FILES)
def test_hm27_files_parse(hm27_dir: Path, name: str) -> None:
    """Reference: sesameData's documentation of these files (IDAT v3, 55,300 addresses, barcode 4207113116,
    positions A/B) and an independent struct decoding of the count field."""
    path = hm27_dir / name
    idat = read_idat(path)
    raw = path.read_bytes()
    assert idat.version == 3
    assert idat.n_probes == 55_300 == struct.unpack_from("<i", raw, _field_offsets(raw)[1000])[0]
    assert idat.barcode == "4207113116"
    assert idat.position == name.split("_")[1]
    assert idat.chip_type == "BeadChip 12x1"
    for arr in (idat.mean, idat.sd, idat.n_beads, idat.mid_block):
        assert arr.shape == (55_300,)
    assert np.all(np.diff(idat.illumina_ids) > 0)  # scanner writes sorted, unique addresses
    assert idat.mean.max() > 1_000 and (idat.n_beads > 0).mean() > 0.99


def test_hm27_addresses_cover_the_manifest(hm27_dir: Path, data_dir: Path) -> None:
    """Reference: sesame's HM27 manifest (every M/U bead address of its 27,578 probes must be in the file)."""
    man = pd.read_csv(data_dir / "manifests" / "hm27" / "hm27_ordering.tsv.gz", sep="\t")
    wanted = np.union1d(man["M"].dropna().astype(np.int64), man["U"].dropna().astype(np.int64))
    for name in HM27_FILES:
        ids = read_idat(hm27_dir / name).illumina_ids
        assert np.isin(wanted, ids).all(), name


def test_hm27_pair_channels_share_addresses_but_differ(hm27_dir: Path) -> None:
    """Planted-truth style check: the Red and Grn files of one scan hold the same addresses, other values."""
    grn = read_idat(hm27_dir / "4207113116_A_Grn.idat")
    red = read_idat(hm27_dir / "4207113116_A_Red.idat")
    assert np.array_equal(grn.illumina_ids, red.illumina_ids)
    assert not np.array_equal(grn.mean, red.mean)


@pytest.mark.parametrize("name", HM27_FILES)
def test_hm27_round_trip_is_byte_identical(hm27_dir: Path, tmp_path: Path, name: str) -> None:
    """Reference: the original file's bytes (plain and gzipped round trip)."""
    original = (hm27_dir / name).read_bytes()
    idat = read_idat(hm27_dir / name)
    assert idat_to_bytes(idat) == original
    plain = write_idat(tmp_path / name, idat)
    assert plain.read_bytes() == original
    gz = write_idat(tmp_path / f"{name}.gz", idat)
    assert gzip.decompress(gz.read_bytes()) == original
    again = read_idat(gz)
    assert idat_to_bytes(again) == original
    assert np.array_equal(again.mean, idat.mean) and again.barcode == idat.barcode
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


# -- real 450k Green channel (illuminaio) ---------------------------------------------------------------
def test_hm450_green_rebuilds_exactly(hm450_green, hm450_idat: Idat, tmp_path: Path) -> None:
    """Reference: illuminaio's parse of minfiData 5723646052_R02C02_Grn.idat — file size, every field's byte
    offset, the five arrays, barcode, chip type and position."""
    arrays, header = hm450_green
    out = write_idat(tmp_path / "5723646052_R02C02_Grn.idat", hm450_idat)
    data = out.read_bytes()
    assert len(data) == 8_091_452 == int(header["fileSize"][0])
    expected_offsets = {FIELD_CODES[k]: int(v["byteOffset"]) for k, v in header["fields"].items()}
    assert _field_offsets(data) == expected_offsets
    back = read_idat(out)
    assert back.n_probes == 622_399 == int(header["nSNPsRead"][0])
    for ours, theirs in ((back.illumina_ids, "IlluminaID"), (back.mean, "Mean"), (back.sd, "SD"),
                         (back.n_beads, "NBeads"), (back.mid_block, "MidBlock")):
        assert np.array_equal(ours.astype(np.int64), arrays[theirs].astype(np.int64)), theirs
    assert back.barcode == header["Barcode"][0] == "5723646052"
    assert back.chip_type == header["ChipType"][0] == "BeadChip 12x8"
    assert back.position == header["Unknowns"]["MostlyA"][0] == "R02C02"
    assert back.red_green == int(header["RedGreen"][0])
    assert idat_to_bytes(back) == data


# -- bad input: IdatError naming the file -----------------------------------------------------------------
def _assert_idat_error(path: Path, *fragments: str) -> str:
    with pytest.raises(IdatError) as info:
        read_idat(path)
    msg = str(info.value)
    assert type(info.value) is IdatError and isinstance(info.value, MethylclassError)
    assert str(path) in msg
    for frag in fragments:
        assert frag in msg, msg
    return msg


def test_missing_file(tmp_path: Path) -> None:
    """Reference: the file system (the path does not exist)."""
    _assert_idat_error(tmp_path / "nope_Grn.idat", "does not exist")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    """Reference: the file system (the path is a folder)."""
    _assert_idat_error(tmp_path, "folder")


def test_bad_magic(tmp_path: Path) -> None:
    """Reference: the IDAT format (files start with b'IDAT')."""
    path = tmp_path / "x_Grn.idat"
    path.write_bytes(b"GIF89a" + bytes(100))
    _assert_idat_error(path, "not an IDAT file")
    empty = tmp_path / "empty_Grn.idat"
    empty.write_bytes(b"")
    _assert_idat_error(empty, "not an IDAT file")


def test_encrypted_version_1(tmp_path: Path) -> None:
    """Reference: illuminaio readIDAT (int32 version 1 after the magic = encrypted XML IDAT)."""
    path = tmp_path / "old_Grn.idat"
    path.write_bytes(b"IDAT" + struct.pack("<i", 1) + b"\x8f\x12\x00\x00" + bytes(200))
    _assert_idat_error(path, "encrypted", "version 1", "version 3")


def test_unsupported_version(tmp_path: Path, hm27_dir: Path) -> None:
    """Reference: the IDAT format (int64 version 3 after the magic); version 4 is refused by name."""
    data = bytearray((hm27_dir / "4207113116_A_Grn.idat").read_bytes())
    data[4:12] = struct.pack("<q", 4)
    path = tmp_path / "v4_Grn.idat"
    path.write_bytes(bytes(data))
    _assert_idat_error(path, "version 4")


def test_truncated_file_names_probe_counts(tmp_path: Path, hm450_idat: Idat) -> None:
    """Reference: planted truncation of the real 450k file after exactly 10,000 IlluminaIDs (offset 210)."""
    data = idat_to_bytes(hm450_idat)
    path = tmp_path / "x_Grn.idat"
    path.write_bytes(data[: 210 + 4 * 10_000])
    msg = _assert_idat_error(path, "is truncated: header declares 622,399 probes, file holds 10,000")
    assert msg == f"'{path}' is truncated: header declares 622,399 probes, file holds 10,000"


@pytest.mark.parametrize("keep", [10, 100, 200, 5_000_000, 8_091_430])
def test_truncated_anywhere_raises_idat_error(tmp_path: Path, hm450_idat: Idat, keep: int) -> None:
    """Reference: planted truncations inside the header, field table, arrays and trailing strings."""
    path = tmp_path / "cut_Grn.idat"
    path.write_bytes(idat_to_bytes(hm450_idat)[:keep])
    _assert_idat_error(path)


def test_every_truncation_of_a_real_file_is_detected(tmp_path: Path, hm27_dir: Path) -> None:
    """Reference: the complete real HM27 file — cut at 300 points (every one of the last 250 bytes, which
    hold the strings and the scanner RunInfo, and 50 random points before), each must raise IdatError."""
    data = (hm27_dir / "4207113116_A_Grn.idat").read_bytes()
    rng = np.random.default_rng(7)
    cuts = sorted(set(range(len(data) - 250, len(data))) | set(rng.integers(0, len(data) - 250, 50).tolist()))
    path = tmp_path / "cut_Grn.idat"
    for keep in cuts:
        path.write_bytes(data[:keep])
        with pytest.raises(IdatError) as info:
            read_idat(path)
        assert str(path) in str(info.value)


def test_truncated_gzip_and_corrupt_gzip(tmp_path: Path, hm27_dir: Path) -> None:
    """Reference: gzip framing — a cut stream, garbage after the gzip magic, and a flipped deflate byte."""
    original = (hm27_dir / "4207113116_A_Grn.idat").read_bytes()
    packed = gzip.compress(original)
    cut = tmp_path / "cut_Grn.idat.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    _assert_idat_error(cut, "gzip")
    garbage = tmp_path / "garbage_Grn.idat.gz"
    garbage.write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4)
    _assert_idat_error(garbage, "gzip")
    flipped = bytearray(packed)
    for i in range(100, 110):
        flipped[i] ^= 0xFF
    bad = tmp_path / "flip_Grn.idat.gz"
    bad.write_bytes(bytes(flipped))
    _assert_idat_error(bad, "gzip")
    plain_named_gz = tmp_path / "plain_Grn.idat.gz"
    plain_named_gz.write_bytes(original)
    _assert_idat_error(plain_named_gz, "gzip")


def test_corrupt_counts(tmp_path: Path, hm27_dir: Path) -> None:
    """Reference: planted corruption of the probe-count and field-count fields of a real HM27 file."""
    data = bytearray((hm27_dir / "4207113116_A_Grn.idat").read_bytes())
    off = _field_offsets(bytes(data))[1000]
    neg = bytearray(data)
    neg[off:off + 4] = struct.pack("<i", -5)
    path = tmp_path / "neg_Grn.idat"
    path.write_bytes(bytes(neg))
    _assert_idat_error(path, "-5 probes")
    many = bytearray(data)
    many[12:16] = struct.pack("<i", 0)
    path2 = tmp_path / "nofields_Grn.idat"
    path2.write_bytes(bytes(many))
    _assert_idat_error(path2, "0 fields")


def test_from_arrays_defaults_round_trip(tmp_path: Path) -> None:
    """Planted truth: arrays written with defaults come back equal (sd = 10 % of mean, 14 beads)."""
    ids = np.array([10, 20, 30], dtype=np.int32)
    idat = Idat.from_arrays(ids, [100.4, 0, 70_000], barcode="200012345678", position="R03C01")
    back = read_idat(write_idat(tmp_path / "s_Grn.idat", idat))
    assert back.mean.tolist() == [100, 0, 65_535]
    assert back.sd.tolist() == [10, 0, 6_554]
    assert back.n_beads.tolist() == [14, 14, 14]
    assert back.barcode == "200012345678" and back.position == "R03C01"
