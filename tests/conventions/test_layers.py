"""The layering rule of CONTRIBUTING.md as import-linter contracts (pyproject.toml): the package keeps them,
and a copy of the package with a deliberate violation breaks them (so the check can fail)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (pip install -e .[dev])")


def _lint(cwd: Path, *contracts: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    args = [str(LINT), "--no-cache", *(a for c in contracts for a in ("--contract", c))]
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "methylclass", tmp_path / "methylclass",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_package_keeps_the_contracts():
    res = _lint(ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout


def test_pure_step_importing_plots_inside_a_function_breaks_the_contracts(tmp_path):
    """A function-level import (the way such breaks used to hide) of pl from io is caught by every contract:
    layers, forbidden, and acyclic (pl already imports pp → io, so it is also a package cycle)."""
    root = _copy(tmp_path)
    _append(root / "methylclass" / "io" / "idat.py",
            "\n\ndef _sneaky():\n    from ..pl import confusion  # noqa: F401\n")
    res = _lint(root)
    assert res.returncode != 0
    assert "methylclass.io.idat -> methylclass.pl.confusion" in res.stdout
    assert "0 kept, 3 broken" in res.stdout


def test_cycle_between_modules_breaks_the_contracts(tmp_path):
    """A new cycle inside one package (pp.cnv.bins ↔ pp.cnv.calls) breaks the acyclic contract."""
    root = _copy(tmp_path)
    cnv = root / "methylclass" / "pp" / "cnv"
    assert "from .bins import" in (cnv / "calls.py").read_text()  # calls → bins exists already
    _append(cnv / "bins.py", "\n\ndef _cycle():\n    from . import calls  # noqa: F401\n")
    res = _lint(root, "acyclic")
    assert res.returncode != 0
    assert "BROKEN" in res.stdout
