"""Fixtures of the workflow tests: small real-data tables cut from GSE85212 (written once per session)."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def mb_frame(data_dir) -> pd.DataFrame:
    """The real GSE85212 table (341 medulloblastomas × 399 CpGs + subgroup), as pandas reads it."""
    return pd.read_csv(data_dir / "labelled" / "mb_gse85212" / "mb_gse85212_341x399.csv.gz")


@pytest.fixture(scope="session")
def mb_tables(mb_frame, tmp_path_factory) -> dict:
    """Cuts of the real table for fast runs: ``small`` (120 samples, 30 per subgroup, 150 CpGs);
    ``train``/``test`` (non-WNT samples split 3:1, 150 CpGs) and ``wnt`` (every WNT sample) for the
    held-out-class test."""
    root = tmp_path_factory.mktemp("mb_tables")
    cpgs = [c for c in mb_frame.columns if c.startswith("cg")][:150]
    df = mb_frame[["GSM", *cpgs, "subgroup"]]
    small = df.groupby("subgroup", group_keys=False).head(30)
    non_wnt = df[df.subgroup != "WNT"].sample(frac=1.0, random_state=0)
    n_train = int(len(non_wnt) * 0.75)
    paths = {"small": root / "small.csv", "train": root / "train.csv.gz", "test": root / "test.tsv",
             "wnt": root / "wnt.csv"}
    small.to_csv(paths["small"], index=False)
    non_wnt.iloc[:n_train].to_csv(paths["train"], index=False)
    non_wnt.iloc[n_train:].to_csv(paths["test"], sep="\t", index=False)
    df[df.subgroup == "WNT"].to_csv(paths["wnt"], index=False)
    return paths
