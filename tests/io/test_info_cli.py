"""``methylclass info`` through ``methylclass.cli.main`` (real HM27 pairs, the real 450k Green channel, planted
problems)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from methylclass.cli import main
from methylclass.io.idat import Idat, read_idat, write_idat


def _json(capsys, *argv: str) -> tuple[int, dict]:
    rc = main(["info", *argv, "--json"])
    return rc, json.loads(capsys.readouterr().out)


def test_folder_text_report(hm27_dir: Path, capsys) -> None:
    """Reference: the data folder (2 real HM27 pairs: barcode 4207113116, positions A/B, 55,300 addresses)."""
    assert main(["info", str(hm27_dir)]) == 0
    out = capsys.readouterr().out
    assert "2 samples (pairs), 0 problems; arrays: HM27 ×2" in out
    for pos in "AB":
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(f"4207113116_{pos} "))
        assert line.split() == [f"4207113116_{pos}", "HM27", "4207113116", pos, "55,300",
                                f"4207113116_{pos}_Grn.idat"]


def test_folder_json(hm27_dir: Path, capsys) -> None:
    """Reference: the data folder, and read_idat on each file for the probe counts."""
    rc, info = _json(capsys, str(hm27_dir))
    assert rc == 0 and info["kind"] == "folder" and info["problems"] == []
    assert info["arrays"] == {"HM27": 2}
    assert [s["name"] for s in info["samples"]] == ["4207113116_A", "4207113116_B"]
    for s in info["samples"]:
        assert s["n_addresses"] == read_idat(s["grn"]).n_probes == read_idat(s["red"]).n_probes == 55_300
        assert s["barcode"] == "4207113116" and s["chip_type"] == "BeadChip 12x1"


def test_single_idat_file(hm27_dir: Path, capsys) -> None:
    """Reference: the real 4207113116_B_Red.idat and its Green partner."""
    path = hm27_dir / "4207113116_B_Red.idat"
    rc, info = _json(capsys, str(path))
    assert rc == 0 and info["kind"] == "idat"
    assert info["file"] == {"path": str(path), "channel": "Red", "array": "HM27", "n_addresses": 55_300,
                            "barcode": "4207113116", "position": "B", "chip_type": "BeadChip 12x1"}
    assert [s["name"] for s in info["samples"]] == ["4207113116_B"]
    assert main(["info", str(path)]) == 0
    assert "Red channel: HM27, 55,300 addresses, barcode 4207113116, position B" in capsys.readouterr().out


def test_basename_with_check(hm27_dir: Path, capsys) -> None:
    """Reference: the real pair read completely (--check compares the address sets)."""
    rc, info = _json(capsys, str(hm27_dir / "4207113116_A"), "--check")
    assert rc == 0 and info["kind"] == "basename" and info["samples"][0]["position"] == "A"


def test_hm450_pair_is_recognised(tmp_path: Path, hm450_idat: Idat, capsys) -> None:
    """Reference: the real 450k Green channel (622,399 addresses, barcode 5723646052, R02C02); the Red file
    is the same arrays (no real Red file exists), which is all the header summary reads."""
    for ch in ("Grn", "Red"):
        write_idat(tmp_path / f"5723646052_R02C02_{ch}.idat", hm450_idat)
    _rc, info = _json(capsys, str(tmp_path))
    s = info["samples"][0]
    assert (s["array"], s["n_addresses"], s["barcode"], s["position"]) == ("HM450", 622_399, "5723646052",
                                                                           "R02C02")


def test_problems_are_listed_and_strict_fails(tmp_path: Path, copy_hm27, write_pair, capsys) -> None:
    """Reference: a planted folder — 2 real pairs, a lone Green file, a corrupt pair, a pair whose channels
    disagree in probe count, and a pair differing only in addresses (found by --check only)."""
    copy_hm27(tmp_path)
    lone, _ = write_pair(tmp_path, "200012345678_R01C01")
    (tmp_path / "200012345678_R01C01_Red.idat").unlink()
    bad_g, _ = write_pair(tmp_path, "200012345678_R02C01")
    bad_g.write_bytes(b"IDAT" + bytes(3))
    ids = np.arange(10_000_000, 10_000_500)
    write_pair(tmp_path, "200012345678_R03C01", ids=ids, red_ids=ids[:-1])
    write_pair(tmp_path, "200012345678_R04C01", ids=ids, red_ids=ids + 1)

    rc, info = _json(capsys, str(tmp_path))
    assert rc == 0
    names = [s["name"] for s in info["samples"]]
    assert names == ["200012345678_R04C01", "4207113116_A", "4207113116_B"]
    messages = " | ".join(p["message"] for p in info["problems"])
    assert f"'{lone}' has no Red partner" in messages
    assert str(bad_g) in messages and "truncated" in messages
    assert "500 vs 499 probes" in messages
    assert info["arrays"] == {"HM27": 2, "unknown": 1} and len(info["notes"]) == 2

    rc, info = _json(capsys, str(tmp_path), "--check")
    assert [s["name"] for s in info["samples"]] == ["4207113116_A", "4207113116_B"]
    assert "different probe addresses" in " ".join(p["message"] for p in info["problems"])

    assert main(["info", str(tmp_path), "--strict"]) == 1
    out = capsys.readouterr().out
    assert "problems:" in out and "no Red partner" in out
    assert main(["info", str(tmp_path / "sub"), "--strict"]) == 2  # missing path: one-line error


def test_sheet_source_and_sheet_option(tmp_path: Path, copy_hm27, capsys) -> None:
    """Reference: a planted sheet naming the real HM27 pairs (and one row without files)."""
    copy_hm27(tmp_path / "idat")
    sheet = tmp_path / "samples.csv"
    sheet.write_text("Sample_Name,Sentrix_ID,Sentrix_Position,diagnosis\nP1,4207113116,A,MB\n"
                     "P2,4207113116,B,GBM\nP3,4207113116,C,EPN\n")
    rc, info = _json(capsys, str(sheet))
    assert rc == 0
    assert info["kind"] == "sheet" and [s["name"] for s in info["samples"]] == ["P1", "P2"]
    assert info["samples"][1]["meta"]["diagnosis"] == "GBM"
    assert [p["sample"] for p in info["problems"]] == ["P3"]
    _rc, info = _json(capsys, str(tmp_path / "idat"), "--sheet", str(sheet))
    assert [s["name"] for s in info["samples"]] == ["P1", "P2"]


def test_errors_are_one_line(tmp_path: Path, capsys) -> None:
    """Reference: the CLI contract (MethylclassError → 'error: …' on stderr, exit status 2)."""
    assert main(["info", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and str(tmp_path / "nothing") in err
    assert main(["info", str(tmp_path)]) == 2
    assert "no IDAT files" in capsys.readouterr().err
    bad = tmp_path / "x_Grn.idat"
    bad.write_bytes(b"nonsense")
    assert main(["info", str(bad)]) == 2
    assert f"'{bad}' is not an IDAT file" in capsys.readouterr().err


def test_no_recursive(tmp_path: Path, hm27_dir: Path, capsys) -> None:
    """Reference: the planted layout (pairs only in a sub-folder)."""
    shutil.copytree(hm27_dir, tmp_path / "sub")
    assert main(["info", str(tmp_path), "--no-recursive"]) == 2
    assert "no IDAT files" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["info", "--help"]])
def test_help(argv: list[str], capsys) -> None:
    """Reference: argparse (the sub-command is registered and documented)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    assert "--json" in capsys.readouterr().out
