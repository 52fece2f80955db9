"""Benchmark of the per-sample normalisation kernels on one realistic 450k sample (485,577 probes).

    .venv/bin/python pipelines/methylprep_reference/bench_normalize.py [--repeat 7]

Times (best of ``--repeat``, wall clock and CPU) each kernel and the whole ``normalize`` for every method on the
synthetic pair of :mod:`synth450k` (real 450k Green channel + synthesised Red), prints them and writes
``results/normalize_bench.json``. Target of the issue: noob on a 450k sample ≤ 0.15 s. Every timed call gets a
freshly mapped sample (mapped untimed): a sample keeps what its kernels share (channel keys, level counts), so
timing repeated calls on one sample would leave that work out.
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


def best(fn, repeat: int, setup=None) -> dict:
    """Best wall and CPU seconds of ``repeat`` calls ``fn(setup())`` (after one warm-up call; ``setup`` untimed)."""
    setup = setup or (lambda: None)
    fn(setup())
    walls, cpus = [], []
    for _ in range(repeat):
        x = setup()
        t, c = time.perf_counter(), time.process_time()
        fn(x)
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
    def fresh():  # a newly mapped sample, as every sample a user normalises is
        return raw_signals_from_idats(pair.grn, pair.red, man, pair.name)

    def built():  # with its per-probe arrays built (what the generic float kernels read)
        s = fresh()
        for name in ("meth", "unmeth", "oob_meth", "oob_unmeth", "beads_meth", "beads_unmeth", "controls"):
            getattr(s, name)
        return s

    raw = built()
    nb = background.noob(raw)
    p = detection.poobah(raw)
    r = args.repeat
    res = {
        "noob (background only)": best(background.noob, r, built),
        "noob + linear dye bias (betas only)": best(
            lambda s: normalize(s, method="noob", detection=None, qc=False), r, fresh),
        "linear dye bias": best(lambda _: dyebias.linear_dye_bias(nb), r),
        "nonlinear dye bias": best(lambda _: dyebias.nonlinear_dye_bias(nb), r),
        "pOOBAH": best(detection.poobah, r, fresh),
        "negative-control p": best(detection.negative_control_p, r, fresh),
        "sample QC": best(lambda s: qc.sample_qc(s, p), r, fresh),
        "normalize raw (full: pOOBAH + QC)": best(lambda s: normalize(s, method="raw"), r, fresh),
        "normalize illumina (full)": best(lambda s: normalize(s, method="illumina"), r, fresh),
        "normalize noob (full)": best(lambda s: normalize(s, method="noob"), r, fresh),
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
