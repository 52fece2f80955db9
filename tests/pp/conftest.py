"""Shared helpers of the normalisation / detection / QC tests (tests/pp, not tests/pp/cnv).

* :func:`tiny_raw` builds a hand-sized :class:`RawSignals` whose correct results can be computed by hand;
* ``pp_hm450`` is the real HM450 manifest (session-scoped: loading takes seconds);
* ``pp_synth_raw`` is one realistic 450k sample: the real Green IDAT of minfiData 5723646052_R02C02 plus a
  synthesised Red channel (``pipelines/methylprep_reference/synth450k.py``), mapped with the HM450 manifest;
* :func:`rscript` returns the Rscript path, or skips with a clear reason when R is not installed here.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from methylclass.io.manifest import load_manifest
from methylclass.io.manifest.types import PROBE_COLUMNS, Manifest
from methylclass.io.raw_types import RawSignals, raw_signals_from_idats

ROOT = Path(__file__).resolve().parents[2]
SYNTH = ROOT / "pipelines" / "methylprep_reference" / "synth450k.py"


def load_synth_module():
    """Import ``pipelines/methylprep_reference/synth450k.py`` (not a package) by path."""
    name = "mc_synth450k"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SYNTH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def tiny_manifest(design: list[str], channel: list[str], controls: pd.DataFrame | None = None,
                  chrom: list[str] | None = None, probe_ids: list[str] | None = None) -> Manifest:
    """A manifest of ``len(design)`` probes with made-up addresses (Type I: u = 1000+i, m = 2000+i)."""
    n = len(design)
    ids = probe_ids or [f"cg{i:08d}" for i in range(n)]
    probes = pd.DataFrame({
        "probe_id": ids, "cpg_id": ids,
        "address_u": np.arange(1000, 1000 + n, dtype=np.int64),
        "address_m": np.array([2000 + i if d == "I" else -1 for i, d in enumerate(design)], dtype=np.int64),
        "design": design, "channel": [c if d == "I" else "" for c, d in zip(channel, design)],
        "chrom": chrom or ["chr1"] * n, "pos": np.arange(n, dtype=np.int64) * 100,
    })[list(PROBE_COLUMNS)]
    if controls is None:
        controls = pd.DataFrame({"address": pd.Series([], dtype=np.int64), "type": [], "channel": [], "name": []})
    return Manifest(array="TEST", probes=probes, controls=controls[["address", "type", "channel", "name"]])


def tiny_raw(manifest: Manifest, meth, unmeth, oob_meth=None, oob_unmeth=None, ctrl_grn=None, ctrl_red=None,
             beads=None, sample: str = "tiny") -> RawSignals:
    """RawSignals with the given intensities (oob NaN for Type II; controls from ``ctrl_grn``/``ctrl_red``)."""
    n = manifest.n_probes
    f32 = lambda x, fill=np.nan: (np.full(n, fill, np.float32) if x is None
                                  else np.asarray(x, dtype=np.float32))
    ctrl = manifest.controls.copy()
    ctrl["grn"] = np.asarray(ctrl_grn if ctrl_grn is not None else np.zeros(len(ctrl)), dtype=np.float32)
    ctrl["red"] = np.asarray(ctrl_red if ctrl_red is not None else np.zeros(len(ctrl)), dtype=np.float32)
    b = np.full(n, 10, np.uint16) if beads is None else np.asarray(beads, dtype=np.uint16)
    return RawSignals(sample=sample, manifest=manifest, meth=f32(meth), unmeth=f32(unmeth),
                      oob_meth=f32(oob_meth), oob_unmeth=f32(oob_unmeth), beads_meth=b, beads_unmeth=b.copy(),
                      controls=ctrl)


@pytest.fixture(scope="session")
def pp_hm450(data_dir) -> Manifest:
    """The real HM450 manifest (485,577 probes, 850 controls)."""
    return load_manifest("HM450")


@pytest.fixture(scope="session")
def pp_synth_pair(pp_hm450, data_dir):
    """One realistic 450k IDAT pair (real Green, synthesised Red)."""
    synth = load_synth_module()
    return synth.synth_pair(pp_hm450, data_dir / synth.GREEN_NPZ, barcode="5723646052", position="R02C02",
                            seed=100)


@pytest.fixture(scope="session")
def pp_synth_raw(pp_synth_pair, pp_hm450) -> RawSignals:
    """:class:`RawSignals` of :func:`pp_synth_pair` mapped with the HM450 manifest."""
    return raw_signals_from_idats(pp_synth_pair.grn, pp_synth_pair.red, pp_hm450, pp_synth_pair.name)


def rscript() -> str:
    """Path of Rscript; skips the calling test with the reason when R is not installed."""
    path = shutil.which("Rscript")
    if path is None:
        pytest.skip("Rscript is not installed here (CI installs r-base-core r-bioc-limma r-cran-mass)")
    return path


def run_r(code: str, timeout: int = 120) -> str:
    """Run R ``code`` with Rscript and return its stdout (fails the test with R's stderr on error)."""
    proc = subprocess.run([rscript(), "--vanilla", "-e", code], capture_output=True, text=True, timeout=timeout,
                          check=False)
    if proc.returncode != 0:
        pytest.fail(f"R failed:\n{proc.stderr}", pytrace=False)
    return proc.stdout


@pytest.fixture(scope="session")
def pp_tiny():
    """The hand-sized builders as a fixture (``--import-mode=importlib`` forbids importing conftest):
    ``pp_tiny.manifest(...)`` = :func:`tiny_manifest`, ``pp_tiny.raw(...)`` = :func:`tiny_raw`."""
    from types import SimpleNamespace
    return SimpleNamespace(manifest=tiny_manifest, raw=tiny_raw, run_r=run_r)
