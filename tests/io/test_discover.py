"""IDAT pairs, folder/sheet/list discovery and the array guess (real HM27 files plus planted synthetic pairs)."""

from __future__ import annotations

import gzip
import itertools
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from methylclass.errors import IdatError, SampleSheetError
from methylclass.io.discover import (
    ARRAY_ADDRESS_COUNTS,
    Discovery,
    Problem,
    SampleRef,
    find_samples,
    guess_array,
    peek_idat,
    read_idat_pair,
)
from methylclass.io.idat import read_idat, write_idat


# -- read_idat_pair ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["basename", "grn", "red", "grn_gz", "red_gz", "basename_gz"])
def test_read_idat_pair_accepts_every_form(hm27_dir: Path, tmp_path: Path, form: str) -> None:
    """Reference: the real HM27 files read one by one with read_idat."""
    base = hm27_dir / "4207113116_A"
    if form.endswith("gz"):
        for ch in ("Grn", "Red"):
            (tmp_path / f"4207113116_A_{ch}.idat.gz").write_bytes(
                gzip.compress((hm27_dir / f"4207113116_A_{ch}.idat").read_bytes()))
        base = tmp_path / "4207113116_A"
    arg = {"basename": base, "basename_gz": base, "grn": f"{base}_Grn.idat", "red": f"{base}_Red.idat",
           "grn_gz": f"{base}_Grn.idat.gz", "red_gz": f"{base}_Red.idat.gz"}[form]
    grn, red = read_idat_pair(arg)
    want_g = read_idat(hm27_dir / "4207113116_A_Grn.idat")
    want_r = read_idat(hm27_dir / "4207113116_A_Red.idat")
    assert np.array_equal(grn.mean, want_g.mean) and np.array_equal(red.mean, want_r.mean)
    assert "Grn" in grn.path.name and "Red" in red.path.name


def test_read_idat_pair_from_sampleref(hm27_dir: Path) -> None:
    """Reference: read_idat on the SampleRef's own paths."""
    ref = SampleRef("B", hm27_dir / "4207113116_B_Grn.idat", hm27_dir / "4207113116_B_Red.idat")
    grn, red = read_idat_pair(ref)
    assert grn.position == red.position == "B"
    assert ref.basename == hm27_dir / "4207113116_B"


def test_missing_partner_names_both_files(tmp_path: Path, hm27_dir: Path) -> None:
    """Reference: the file system (only the Green file exists)."""
    shutil.copy(hm27_dir / "4207113116_A_Grn.idat", tmp_path)
    for arg in (tmp_path / "4207113116_A", tmp_path / "4207113116_A_Grn.idat"):
        with pytest.raises(IdatError) as info:
            read_idat_pair(arg)
        msg = str(info.value)
        assert str(tmp_path / "4207113116_A_Grn.idat") in msg and "no Red partner" in msg
        assert str(tmp_path / "4207113116_A_Red.idat") in msg
    with pytest.raises(IdatError, match="does not exist"):
        read_idat_pair(tmp_path / "4207113116_A_Red.idat")
    with pytest.raises(IdatError, match="no IDAT files for"):
        read_idat_pair(tmp_path / "nothing_here")


@pytest.mark.parametrize("what,kwargs,fragment", [
    ("barcode", {"red_barcode": "200012345679"}, "barcode 200012345678 vs 200012345679"),
    ("position", {"red_position": "R02C01"}, "position R01C01 vs R02C01"),
    ("count", {"red_ids": np.arange(10_000_000, 10_000_499)}, "500 vs 499 probes"),
    ("addresses", {"red_ids": np.arange(20_000_000, 20_000_500)}, "different probe addresses"),
])
def test_disagreeing_pairs_are_refused(tmp_path: Path, write_pair, what: str, kwargs: dict,
                                       fragment: str) -> None:
    """Reference: planted disagreements between the two channels of a synthetic pair."""
    ids = np.arange(10_000_000, 10_000_500)
    grn, red = write_pair(tmp_path, "200012345678_R01C01", ids=ids, **kwargs)
    with pytest.raises(IdatError) as info:
        read_idat_pair(grn)
    assert type(info.value) is IdatError
    msg = str(info.value)
    assert fragment in msg and str(grn) in msg and str(red) in msg


def test_same_addresses_in_another_order_are_aligned(tmp_path: Path, write_pair) -> None:
    """Reference: planted intensities (Red mean = 7 × address mod 50,000) after a shuffled Red file."""
    ids = np.arange(10_000_000, 10_000_500)
    shuffled = np.random.default_rng(3).permutation(ids)
    write_pair(tmp_path, "200012345678_R01C01", ids=ids, red_ids=shuffled)
    grn, red = read_idat_pair(tmp_path / "200012345678_R01C01")
    assert np.array_equal(red.illumina_ids, grn.illumina_ids)
    assert np.array_equal(red.mean, (ids * 7) % 50_000)


# -- find_samples on folders ---------------------------------------------------------------------------------
def test_folder_with_real_pairs(hm27_dir: Path) -> None:
    """Reference: the data folder's listing (2 HM27 pairs, barcode 4207113116, positions A/B)."""
    found = find_samples(hm27_dir)
    assert isinstance(found, Discovery)
    assert found.names == ["4207113116_A", "4207113116_B"] and found.problems == []
    a = found.samples[0]
    assert a.grn == hm27_dir / "4207113116_A_Grn.idat" and a.red == hm27_dir / "4207113116_A_Red.idat"
    assert a.meta["sentrix_id"] == "4207113116" and a.meta["sentrix_position"] == "A"
    assert list(found.to_frame()["sample"]) == found.names


def test_folder_problems_do_not_stop_other_samples(tmp_path: Path, write_pair, copy_hm27) -> None:
    """Reference: a planted folder tree — 2 real pairs, 1 lone Green, 1 lone Red, 1 name in two folders,
    a gz pair, a plain+gz duplicate of one pair, a hidden folder and stray files."""
    copy_hm27(tmp_path / "batch1")
    write_pair(tmp_path / "batch2" / "deep", "200012345678_R01C01")
    write_pair(tmp_path / "batch2", "200012345678_R02C01", gz=True)
    lone_g, _ = write_pair(tmp_path / "batch2", "200012345678_R03C01")
    os.remove(tmp_path / "batch2" / "200012345678_R03C01_Red.idat")
    _, lone_r = write_pair(tmp_path, "200012345678_R04C01")
    os.remove(tmp_path / "200012345678_R04C01_Grn.idat")
    dup1, _ = write_pair(tmp_path / "x", "200012345678_R05C01")
    dup2, _ = write_pair(tmp_path / "y", "200012345678_R05C01")
    plain, _ = write_pair(tmp_path / "both", "200012345678_R06C01")
    write_pair(tmp_path / "both", "200012345678_R06C01", gz=True)
    write_pair(tmp_path / ".hidden", "200012345678_R07C01")
    (tmp_path / "notes.txt").write_text("not an idat")
    (tmp_path / "batch1" / "readme_Grn.txt").write_text("x")

    found = find_samples(tmp_path)
    assert sorted(found.names) == ["200012345678_R01C01", "200012345678_R02C01", "200012345678_R06C01",
                                   "4207113116_A", "4207113116_B"]
    by_name = {s.name: s for s in found.samples}
    assert by_name["200012345678_R02C01"].grn.name.endswith(".idat.gz")
    assert by_name["200012345678_R06C01"].grn == plain  # uncompressed preferred
    messages = {str(p.path): p.message for p in found.problems}
    assert "no Red partner" in messages[str(lone_g)] and str(lone_g) in messages[str(lone_g)]
    assert "no Grn partner" in messages[str(lone_r)]
    for dup in (dup1, dup2):
        assert "duplicate sample name '200012345678_R05C01'" in messages[str(dup)]
        assert str(dup) in messages[str(dup)]
    assert len(found.problems) == 4
    assert all(isinstance(p, Problem) for p in found.problems)

    flat = find_samples(tmp_path, recursive=False)
    assert flat.names == [] and [p.sample for p in flat.problems] == ["200012345678_R04C01"]


def test_folder_without_idats_raises(tmp_path: Path) -> None:
    """Reference: an empty folder and a missing path."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.csv").write_text("x\n")
    with pytest.raises(SampleSheetError) as info:
        find_samples(tmp_path)
    assert str(tmp_path) in str(info.value)
    with pytest.raises(SampleSheetError, match="does not exist"):
        find_samples(tmp_path / "missing")


def test_folder_of_thousands_of_files(tmp_path: Path, write_pair) -> None:
    """Reference: a planted folder of 1,500 pairs (3,000 files) in 30 sub-folders, 15 partners removed."""
    ids = np.arange(100, dtype=np.int32)
    g0, r0 = write_pair(tmp_path / "seed", "200000000000_R01C01", ids=ids)
    g_bytes, r_bytes = g0.read_bytes(), r0.read_bytes()
    shutil.rmtree(tmp_path / "seed")
    for i in range(1_500):
        folder = tmp_path / f"chip{i % 30:02d}"
        folder.mkdir(exist_ok=True)
        stem = f"{200_000_000_000 + i}_R{(i % 8) + 1:02d}C01"
        (folder / f"{stem}_Grn.idat").write_bytes(g_bytes)
        if i % 100:
            (folder / f"{stem}_Red.idat").write_bytes(r_bytes)
    found = find_samples(tmp_path)
    assert len(found) == 1_485 and len(found.problems) == 15
    assert len(set(found.names)) == 1_485


# -- find_samples with sheets and lists -----------------------------------------------------------------
def test_sheet_rows_become_samples_with_metadata(tmp_path: Path, copy_hm27) -> None:
    """Reference: a planted sheet whose rows name the real HM27 pairs by Sentrix ID/position (minfi rule:
    '<Sentrix_ID>_<Sentrix_Position>_Grn.idat' searched recursively under the sheet's folder)."""
    copy_hm27(tmp_path / "4207113116")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("Sample_Name,Sentrix_ID,Sentrix_Position,diagnosis,sex\n"
                     "tumour1,4207113116,A,MB_SHH,F\ntumour2,4207113116,B,MB_G4,M\nlost,4207113116,C,GBM,F\n")
    found = find_samples(sheet)
    assert found.names == ["tumour1", "tumour2"]
    t1 = found.samples[0]
    assert t1.grn == tmp_path / "4207113116" / "4207113116_A_Grn.idat"
    assert t1.meta["diagnosis"] == "MB_SHH" and t1.meta["sex"] == "F" and t1.meta["sample"] == "tumour1"
    assert [p.sample for p in found.problems] == ["lost"]
    assert "4207113116_C" in found.problems[0].message and str(tmp_path) in found.problems[0].message
    frame = found.to_frame()
    assert list(frame["diagnosis"]) == ["MB_SHH", "MB_G4"]


def test_sheet_with_separate_idat_folder(tmp_path: Path, copy_hm27) -> None:
    """Reference: planted layout — the sheet lives apart from the IDAT folder given as source."""
    copy_hm27(tmp_path / "idats" / "run1", positions=("B",))
    sheet = tmp_path / "meta" / "samples.tsv"
    sheet.parent.mkdir()
    sheet.write_text("Sample_ID\tSlide\tArray\tgroup\nS2\t4207113116\tB\tctrl\n")
    found = find_samples(tmp_path / "idats", sheet=sheet)
    assert found.names == ["S2"] and found.samples[0].meta["group"] == "ctrl"
    assert found.samples[0].red == tmp_path / "idats" / "run1" / "4207113116_B_Red.idat"
    with pytest.raises(SampleSheetError):
        find_samples(sheet, sheet=sheet)


def test_list_of_basenames(tmp_path: Path, hm27_dir: Path, write_pair) -> None:
    """Reference: the listed paths themselves (one per channel form, one missing, one duplicate name)."""
    write_pair(tmp_path / "other", "4207113116_A")
    found = find_samples([hm27_dir / "4207113116_A", str(hm27_dir / "4207113116_B_Red.idat"),
                          tmp_path / "gone", tmp_path / "other" / "4207113116_A"])
    assert found.names == ["4207113116_B"]
    assert {p.sample for p in found.problems} == {"gone", "4207113116_A"}
    assert sum("duplicate sample name" in p.message for p in found.problems) == 2


def test_single_idat_or_basename_source(hm27_dir: Path) -> None:
    """Reference: the data folder (an IDAT path or a basename gives that one sample)."""
    assert find_samples(hm27_dir / "4207113116_B_Grn.idat").names == ["4207113116_B"]
    assert find_samples(hm27_dir / "4207113116_A").names == ["4207113116_A"]


def test_sampleref_is_frozen_and_hashable(hm27_dir: Path) -> None:
    """Reference: the dataclass contract other modules rely on (frozen, usable in sets, meta not hashed)."""
    a = SampleRef("s", hm27_dir / "a_Grn.idat", hm27_dir / "a_Red.idat", {"x": [1]})
    b = SampleRef("s", hm27_dir / "a_Grn.idat", hm27_dir / "a_Red.idat", {"x": [2]})
    assert len({a, b}) == 1
    with pytest.raises(AttributeError):
        a.name = "t"  # type: ignore[misc]


# -- header peek and array guess -----------------------------------------------------------------------------
def test_peek_matches_full_read(hm27_dir: Path, tmp_path: Path, hm450_idat) -> None:
    """Reference: read_idat on the same files (real HM27, real 450k Green rebuilt, gzipped copy)."""
    p450 = write_idat(tmp_path / "5723646052_R02C02_Grn.idat", hm450_idat)
    gz = write_idat(tmp_path / "5723646052_R02C02_Grn.idat.gz", hm450_idat)
    for path in (*sorted(hm27_dir.glob("*.idat")), p450, gz):
        full, peek = read_idat(path), peek_idat(path)
        assert (peek.n_probes, peek.barcode, peek.position, peek.chip_type) == \
            (full.n_probes, full.barcode, full.position, full.chip_type)
    assert peek_idat(p450).array == "HM450" and peek_idat(hm27_dir / "4207113116_A_Red.idat").array == "HM27"
    cut = tmp_path / "cut_Grn.idat"
    cut.write_bytes(p450.read_bytes()[:300_000])
    with pytest.raises(IdatError, match="truncated") as info:
        peek_idat(cut)
    assert str(cut) in str(info.value)


@pytest.mark.parametrize("n,array", [
    (55_300, "HM27"), (622_399, "HM450"), (1_052_641, "EPIC"), (1_051_943, "EPIC"), (1_032_291, "EPIC"),
    (1_055_583, "EPIC"), (1_105_209, "EPICv2"), (384_500, "MSA"), (315_639, "MM285"), (12, None),
    (700_000, None), (2_000_000, None)])
def test_guess_array(n: int, array: str | None) -> None:
    """Reference: address counts of real IDATs (this repo's HM27 and 450k files; EPIC B2/B4, EPIC+,
    EPICv2, MSA48, MM285 counts and ranges from minfi read.metharray and mepylome ArrayType)."""
    assert guess_array(n) == array


def test_array_table_ranges_do_not_overlap() -> None:
    """Reference: the table itself — every typical count lies in its own range and ranges are disjoint."""
    spans = sorted((lo, hi, name) for name, _typ, lo, hi in ARRAY_ADDRESS_COUNTS)
    for (_lo1, hi1, _n1), (lo2, _hi2, _n2) in itertools.pairwise(spans):
        assert hi1 < lo2
    for name, typical, lo, hi in ARRAY_ADDRESS_COUNTS:
        assert lo <= typical <= hi and guess_array(typical) == name
