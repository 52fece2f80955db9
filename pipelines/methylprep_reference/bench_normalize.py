"""Benchmark of the per-sample normalisation kernels on one realistic 450k sample (485,577 probes).

    .venv/bin/python pipelines/methylprep_reference/bench_normalize.py [--repeat 7]

Times (best of ``--repeat``, wall clock and CPU) each kernel and the whole ``normalize`` for every method on the
synthetic pair of :mod:`synth450k` (real 450k Green channel + synthesised Red), prints them and writes
``results/normalize_bench.json``. Target of the issue: noob on a 450k sample ≤ 0.15 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from synth450k import GREEN_NPZ, synth_pair

from methylclass.io.manifest import load_manifest
from methylclass.io.raw_types import raw_signals_from_idats
from methylclass.paths import data_dir
from methylclass.pp import background, detection, dyebias, qc
from methylclass.pp.normalize import normalize

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_record import machine_record


def best(fn, repeat: int) -> dict:
    """Best wall and CPU seconds of ``repeat`` calls (after one warm-up call)."""
    fn()
    walls, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return {"wall": round(min(walls), 4), "cpu": round(min(cpus), 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "normalize_bench.json")
    args = ap.parse_args(argv)
    man = load_manifest("HM450")
    pair = synth_pair(man, data_dir() / GREEN_NPZ, barcode="5723646052", position="R02C02", seed=100)
    raw = raw_signals_from_idats(pair.grn, pair.red, man, pair.name)
    nb = background.noob(raw)
    p = detection.poobah(raw)
    r = args.repeat
    res = {
        "noob (background only)": best(lambda: background.noob(raw), r),
        "noob + linear dye bias (betas only)": best(
            lambda: normalize(raw, method="noob", detection=None, qc=False), r),
        "linear dye bias": best(lambda: dyebias.linear_dye_bias(nb), r),
        "nonlinear dye bias": best(lambda: dyebias.nonlinear_dye_bias(nb), r),
        "pOOBAH": best(lambda: detection.poobah(raw), r),
        "negative-control p": best(lambda: detection.negative_control_p(raw), r),
        "sample QC": best(lambda: qc.sample_qc(raw, p), r),
        "normalize raw (full: pOOBAH + QC)": best(lambda: normalize(raw, method="raw"), r),
        "normalize illumina (full)": best(lambda: normalize(raw, method="illumina"), r),
        "normalize noob (full)": best(lambda: normalize(raw, method="noob"), r),
    }
    report = {"probes": man.n_probes, "repeat": r, "load_average": os.getloadavg(), "seconds": res,
              "target_noob_seconds": 0.15}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report["record"] = machine_record()
    args.out.write_text(json.dumps(report, indent=1))
    for name, t in res.items():
        print(f"{name:40s} wall {t['wall']:.3f} s   cpu {t['cpu']:.3f} s")
    print(f"(load average {report['load_average'][0]:.1f}; wrote {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
