"""Fixtures of the tl tests: the real medulloblastoma beta table (read once per session)."""

from __future__ import annotations

import pytest

from methylclass.io.betas_table import read_beta_table


@pytest.fixture(scope="session")
def mb_small(data_dir):
    """GSE85212 medulloblastoma: 341 samples × 399 CpGs and their subgroup labels."""
    return read_beta_table(data_dir / "labelled" / "mb_gse85212" / "mb_gse85212_341x399.csv.gz",
                           label_column="subgroup", sample_column="GSM")
