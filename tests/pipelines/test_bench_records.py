"""``make bench`` writes machine-readable records: every script of its recipe attaches the commit, machine, load
average and package versions to what it writes in ``results/`` (``bench_record.machine_record``, or
``bench_preprocess.machine_info`` with the same facts)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bench_scripts() -> list[Path]:
    text = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^bench:.*?\n((?:\t.*\n)+)", text, re.MULTILINE).group(1)
    return [ROOT / p for p in re.findall(r"(pipelines/\S+\.py)", recipe)]


def test_every_bench_script_records_commit_machine_load_and_versions():
    scripts = _bench_scripts()
    assert len(scripts) >= 8 and all(p.is_file() for p in scripts)
    missing = [p.name for p in scripts if not re.search(r"machine_(record|info)\(\)", p.read_text())]
    assert not missing, f"scripts of `make bench` writing results without a machine record: {missing}"


def test_machine_record_holds_the_facts():
    spec = importlib.util.spec_from_file_location("bench_record", ROOT / "pipelines" / "bench_record.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rec = mod.machine_record()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    assert rec["commit"] == head and len(rec["load_average"]) == 3 and rec["nproc"] >= 1
    assert {"numpy", "pandas", "methylclass"} <= rec["versions"].keys()
