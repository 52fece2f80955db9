"""Shared helpers of the io tests: the real IDATs, and small synthetic IDAT pairs with planted values."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from methylclass.io.idat import Idat, write_idat


@pytest.fixture(scope="session")
def hm27_dir(data_dir: Path) -> Path:
    """The folder of the four real HM27 IDATs (two samples, barcode 4207113116, positions A and B)."""
    return data_dir / "idat" / "hm27"


@pytest.fixture(scope="session")
def hm450_green(data_dir: Path) -> tuple[dict[str, np.ndarray], dict]:
    """The real 450k Green channel as parsed by illuminaio (arrays) and its header JSON."""
    folder = data_dir / "idat" / "hm450_green_parsed"
    with np.load(folder / "5723646052_R02C02_Grn.npz") as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads((folder / "5723646052_R02C02_Grn.header.json").read_text())
    return arrays, header


@pytest.fixture(scope="session")
def hm450_idat(hm450_green: tuple[dict[str, np.ndarray], dict]) -> Idat:
    """The real 450k Green IDAT rebuilt from illuminaio's arrays and header fields."""
    arrays, header = hm450_green
    return Idat.from_arrays(
        arrays["IlluminaID"], arrays["Mean"], sd=arrays["SD"], n_beads=arrays["NBeads"],
        barcode=header["Barcode"][0], position=header["Unknowns"]["MostlyA"][0],
        chip_type=header["ChipType"][0], red_green=int(header["RedGreen"][0]))


def _write_pair(folder: Path, stem: str, *, ids: np.ndarray | None = None, red_ids: np.ndarray | None = None,
               barcode: str | None = None, position: str | None = None, red_barcode: str | None = None,
               red_position: str | None = None, gz: bool = False, seed: int = 0) -> tuple[Path, Path]:
    """Write a small synthetic Grn/Red pair ``<folder>/<stem>_{Grn,Red}.idat[.gz]``; return the two paths.

    Intensities are planted: Green mean = address % 50,000, Red mean = (address * 7) % 50,000, so any
    reordering or mix-up is detectable.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(np.arange(10_000_000, 10_100_000), 500, replace=False)) if ids is None else ids
    red_ids = ids if red_ids is None else red_ids
    parts = stem.split("_")
    barcode = barcode if barcode is not None else (parts[-2] if len(parts) >= 2 else "")
    position = position if position is not None else parts[-1]
    suffix = ".idat.gz" if gz else ".idat"
    grn = write_idat(folder / f"{stem}_Grn{suffix}",
                     Idat.from_arrays(ids, ids % 50_000, barcode=barcode, position=position))
    red = write_idat(folder / f"{stem}_Red{suffix}",
                     Idat.from_arrays(red_ids, (red_ids * 7) % 50_000,
                                      barcode=red_barcode if red_barcode is not None else barcode,
                                      position=red_position if red_position is not None else position))
    return grn, red


def _copy_hm27(hm27_dir: Path, dest: Path, positions: tuple[str, ...] = ("A", "B")) -> list[Path]:
    """Copy the real HM27 pairs of ``positions`` into ``dest``; return the copied files."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for pos in positions:
        for ch in ("Grn", "Red"):
            out.append(Path(shutil.copy(hm27_dir / f"4207113116_{pos}_{ch}.idat", dest)))
    return out


@pytest.fixture(scope="session")
def write_pair():
    """The :func:`_write_pair` helper (synthetic pairs with planted intensities)."""
    return _write_pair


@pytest.fixture(scope="session")
def copy_hm27(hm27_dir: Path):
    """``copy_hm27(dest, positions=("A", "B"))`` copies the real HM27 pairs into ``dest``."""
    return lambda dest, positions=("A", "B"): _copy_hm27(hm27_dir, dest, positions)
