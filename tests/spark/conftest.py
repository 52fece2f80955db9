"""Shared fixtures of the Spark / store tests: one local Spark session, and small IDAT cohorts on disk.

Cohorts are built from the two real HM27 samples of the shared data folder (copied) plus synthetic HM27
samples (the real intensities times a planted log-normal factor per address, written with
:mod:`methylclass.io.idat`), and the bad inputs the ingestion must survive.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from methylclass.io.idat import Idat, read_idat, write_idat


@pytest.fixture(scope="session")
def spark():
    """One local[2] Spark session for the whole test run (start-up costs ~7 s)."""
    from methylclass.spark.session import get_spark, stop_spark

    session = get_spark("local[2]", driver_memory="1g", app_name="methylclass-tests")
    yield session
    stop_spark()


@pytest.fixture(scope="session")
def hm27_dir(data_dir: Path) -> Path:
    """The real HM27 IDATs (samples 4207113116_A and _B)."""
    return data_dir / "idat" / "hm27"


def perturbed(idat: Idat, seed: int, *, barcode: str, position: str) -> Idat:
    """A copy of ``idat`` with every mean intensity times a planted log-normal factor (sd 0.3)."""
    rng = np.random.default_rng(seed)
    mean = idat.mean.astype(np.float64) * rng.lognormal(0.0, 0.3, idat.n_probes)
    return Idat.from_arrays(idat.illumina_ids, mean, n_beads=idat.n_beads, barcode=barcode, position=position)


def write_pair(folder: Path, stem: str, grn: Idat, red: Idat) -> tuple[Path, Path]:
    """Write ``<stem>_Grn.idat`` / ``<stem>_Red.idat``."""
    return (write_idat(folder / f"{stem}_Grn.idat", grn), write_idat(folder / f"{stem}_Red.idat", red))


def build_cohort(folder: Path, hm27_dir: Path, *, n_synthetic: int = 4, bad: bool = True,
                 hm450_ids: np.ndarray | None = None) -> dict[str, str]:
    """Write a cohort into ``folder``; return {sample name: expected status or failure keyword}.

    Good samples: the two real HM27 pairs and ``n_synthetic`` perturbed copies. With ``bad``: a pair whose Red
    file is truncated, a Grn file without its Red partner, a pair of random addresses matching no array, and
    (when ``hm450_ids`` is given) a pair with the 450k address set (another array type).
    """
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str] = {}
    for pos in ("A", "B"):
        for ch in ("Grn", "Red"):
            shutil.copy(hm27_dir / f"4207113116_{pos}_{ch}.idat", folder / f"4207113116_{pos}_{ch}.idat")
        expected[f"4207113116_{pos}"] = "ok"
    real = {pos: (read_idat(hm27_dir / f"4207113116_{pos}_Grn.idat"),
                  read_idat(hm27_dir / f"4207113116_{pos}_Red.idat")) for pos in ("A", "B")}
    for i in range(n_synthetic):
        grn, red = real["AB"[i % 2]]
        barcode, position = "9000000001", f"R0{i + 1}C01"
        write_pair(folder, f"{barcode}_{position}", perturbed(grn, 10 + i, barcode=barcode, position=position),
                   perturbed(red, 100 + i, barcode=barcode, position=position))
        expected[f"{barcode}_{position}"] = "ok"
    if bad:
        grn, red = real["A"]
        _, r = write_pair(folder, "9000000002_R01C01", perturbed(grn, 1, barcode="9000000002", position="R01C01"),
                          perturbed(red, 2, barcode="9000000002", position="R01C01"))
        data = r.read_bytes()
        r.write_bytes(data[: len(data) // 2])
        expected["9000000002_R01C01"] = "truncated"
        write_idat(folder / "9000000002_R02C01_Grn.idat",
                   perturbed(grn, 3, barcode="9000000002", position="R02C01"))
        expected["9000000002_R02C01"] = "partner"
        rng = np.random.default_rng(5)
        ids = np.sort(rng.choice(np.arange(20_000_000, 21_000_000), 30_000, replace=False))
        write_pair(folder, "9000000002_R03C01",
                   Idat.from_arrays(ids, rng.uniform(200, 9000, ids.size), barcode="9000000002",
                                    position="R03C01"),
                   Idat.from_arrays(ids, rng.uniform(200, 9000, ids.size), barcode="9000000002",
                                    position="R03C01"))
        expected["9000000002_R03C01"] = "only"
        if hm450_ids is not None:
            write_pair(folder, "9000000003_R01C01",
                       Idat.from_arrays(hm450_ids, rng.uniform(200, 9000, hm450_ids.size),
                                        barcode="9000000003", position="R01C01"),
                       Idat.from_arrays(hm450_ids, rng.uniform(200, 9000, hm450_ids.size),
                                        barcode="9000000003", position="R01C01"))
            expected["9000000003_R01C01"] = "HM450"
    (folder / "expected.json").write_text(json.dumps(expected))
    return expected


@pytest.fixture(scope="session")
def hm450_ids(data_dir: Path) -> np.ndarray:
    """The 622,399 bead addresses of a real 450k IDAT (illuminaio's parse of minfiData 5723646052_R02C02)."""
    with np.load(data_dir / "idat" / "hm450_green_parsed" / "5723646052_R02C02_Grn.npz") as z:
        return np.asarray(z["IlluminaID"], dtype=np.int64)


@pytest.fixture(scope="session")
def cohort(tmp_path_factory: pytest.TempPathFactory, hm27_dir: Path, hm450_ids: np.ndarray):
    """A cohort folder with 6 good HM27 samples and 4 bad ones; returns (folder, expected statuses)."""
    folder = tmp_path_factory.mktemp("cohort")
    return folder, build_cohort(folder, hm27_dir, hm450_ids=hm450_ids)


@pytest.fixture(scope="session")
def hm27_manifest():
    """The HM27 manifest of the shared data folder."""
    from methylclass.io.manifest import load_manifest

    return load_manifest("HM27")
