"""Shared fixtures of the simulator tests: one small synthetic cohort with planted classes and CNV events."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from methylclass.io.idat import read_idat
from methylclass.io.raw_types import raw_signals_from_idats
from methylclass.simulate import read_truth, simulate_cohort

#: class signature events of the fixture cohort (4 classes in 2 families)
CNV_SPECS = ["F1_A=+7,-10,CDKN2A:homdel", "F1_B=-9p,+1q", "F2_A=+12,MYCN:amp:10", "F2_B=-13"]


@pytest.fixture(scope="session")
def cohort(tmp_path_factory: pytest.TempPathFactory, data_dir: Path):
    """A synthetic 8,000-probe cohort: 4 classes × 8 tumours + 6 normals, known CNV events, no low-quality
    samples (so every tumour is usable for the class and CNV checks)."""
    out = tmp_path_factory.mktemp("sim") / "cohort"
    res = simulate_cohort(out, n_probes=8000, classes=4, n_per_class=8, n_normals=6, seed=11, cnv=CNV_SPECS,
                          cnv_penetrance=1.0, sample_cnv_rate=0.0, low_quality_fraction=0.0,
                          purity=(0.6, 0.95), dmps_per_class=150, dmps_per_family=100)
    return res


@pytest.fixture(scope="session")
def cohort_signals(cohort):
    """Raw signals of every sample of the fixture cohort, read back from its IDAT files."""
    truth = read_truth(cohort.out_dir)
    raws = {}
    for row in truth.samples.itertuples(index=False):
        base = cohort.out_dir / row.basename
        grn = read_idat(f"{base}_Grn.idat")
        red = read_idat(f"{base}_Red.idat")
        raws[row.sample] = raw_signals_from_idats(grn, red, cohort.manifest, row.sample)
    return truth, raws


def beta_matrix(raws: dict, samples: list[str]) -> np.ndarray:
    """samples × probes raw betas (offset 100)."""
    return np.vstack([raws[s].betas() for s in samples])


def log2_total(raws: dict, samples: list[str]) -> np.ndarray:
    """samples × probes log2(M + U)."""
    return np.vstack([np.log2(np.maximum(raws[s].total_intensity(), 1.0)) for s in samples])


def autosomal(manifest) -> np.ndarray:
    chrom = manifest.probes["chrom"].to_numpy()
    return ~np.isin(chrom, ["chrX", "chrY", ""])


@pytest.fixture(scope="session")
def sim():
    """Helper functions of the simulator tests (importlib mode: shared through a fixture)."""
    from types import SimpleNamespace

    return SimpleNamespace(beta_matrix=beta_matrix, log2_total=log2_total, autosomal=autosomal,
                           cnv_specs=CNV_SPECS)
