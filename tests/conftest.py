"""Shared fixtures: the real data folder (never skipped silently) and one Spark session per test run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from methylclass.paths import data_dir as _data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data folder (``$METHYLCLASS_DATA`` or ``../shared/data``); fails loudly when absent."""
    path = _data_dir(required=False)
    if path is None:
        pytest.fail("shared data folder not found: set METHYLCLASS_DATA or place shared/ beside the repo",
                    pytrace=False)
    return path


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Point the methylclass cache at a per-run folder so tests never depend on a user's cache."""
    os.environ.setdefault("METHYLCLASS_CACHE", str(tmp_path_factory.mktemp("mc_cache")))
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
