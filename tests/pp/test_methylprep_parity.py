"""Parity of methylclass noob with the unmodified methylprep 1.7.1 (``sesame=False``) on the same 450k IDATs.

Slow (builds methylprep's own venv on first use, ~40 s, then ~40-60 s of methylprep CPU per sample): run by
``make bench`` / ``pytest -m slow``. Driver: ``pipelines/methylprep_reference/parity.py``.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PARITY = ROOT / "pipelines" / "methylprep_reference" / "parity.py"

pytestmark = pytest.mark.slow


def _parity_module():
    spec = importlib.util.spec_from_file_location("mc_methylprep_parity", PARITY)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_noob_matches_methylprep(tmp_path, data_dir):
    """Reference: methylprep 1.7.1 ``run_pipeline(sesame=False)`` — minfi-style noob (offset 15), linear dye
    bias, beta offset 100 — run unmodified in its own venv on 3 realistic 450k pairs (real Green channel,
    synthesised Red) with our offline manifest. Criteria: Pearson r ≥ 0.9999 and max |Δβ| ≤ 0.01 per sample
    (methylprep rounds intensities to integers, so exact equality is impossible). Numbers are printed and
    written to results/methylprep_parity.json."""
    if shutil.which("python3.11") is None and not (ROOT / ".cache" / "methylprep-venv").exists():
        pytest.skip("python3.11 is needed to build methylprep's venv")
    parity = _parity_module()
    report = parity.run_parity(tmp_path, n_samples=3)
    out = ROOT / "results" / "methylprep_parity.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    for name, s in report["samples"].items():
        print(f"\n{name}: r={s['beta']['pearson_r']:.8f} max|dβ|={s['beta']['max_abs_delta']:.5f} "
              f"({s['probes_compared']:,} probes)")
    print(f"seconds/sample wall: {report['seconds_per_sample']}, CPU: {report['cpu_seconds_per_sample']}")
    assert all(s["probes_compared"] == 485_512 for s in report["samples"].values())
    assert report["beta_min_pearson_r"] >= 0.9999
    assert report["beta_max_abs_delta"] <= 0.01
    assert report["passed"]


def test_read_methylprep_pickle_written_by_pandas_15(tmp_path):
    """Reference: a beta_values.pkl pickled by methylprep's own environment (pandas 1.5.3) must load in ours
    (pandas 2.x) with values intact."""
    venv_py = ROOT / ".cache" / "methylprep-venv" / "bin" / "python"
    if not venv_py.exists():
        pytest.skip("methylprep venv not built (pipelines/methylprep_reference/build_venv.sh)")
    import subprocess

    import numpy as np

    from methylclass.io.methylprep import read_methylprep
    code = ("import numpy as np, pandas as pd; "
            "df = pd.DataFrame(np.arange(6, dtype='float32').reshape(3, 2) / 10, "
            "index=pd.Index(['cg1', 'cg2', 'cg3'], name='IlmnID'), columns=['201_R01C01', '201_R02C01']); "
            f"df.to_pickle(r'{tmp_path / 'beta_values.pkl'}')")
    subprocess.run([str(venv_py), "-W", "ignore", "-c", code], check=True)
    got = read_methylprep(tmp_path)
    np.testing.assert_allclose(got.to_numpy(), (np.arange(6).reshape(3, 2) / 10).T, rtol=1e-6)
    assert list(got.index) == ["201_R01C01", "201_R02C01"]
