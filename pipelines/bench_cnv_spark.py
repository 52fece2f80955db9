"""Benchmark: CNV of a stored cohort on Spark vs the in-process loop — seconds per sample and driver memory.

    python pipelines/bench_cnv_spark.py                          # HM450, stores of 16 and 64 samples
    python pipelines/bench_cnv_spark.py --array SYNTH --sizes 8,16  # a quick check on a 20k-probe design

A cohort of ``--normals`` copy-neutral normals and ``--tumours`` tumours (+7, −10, EGFR amplification) is
simulated once (:func:`methylclass.simulate.simulate_cohort`); for each N a store of the normals plus N tumour
samples (the simulated pairs under distinct names) is ingested raw without Spark. Timed on each store, with
the same normals: :func:`run_cnv_store` (one process) and :func:`run_cnv_store_spark` (embedded ``local[*]``,
warm workers). While the Spark run goes, a sampler records the driver's Python RSS every 0.1 s: its growth
over the run should not depend on N (executors return a few-KB record per sample, no probe data). The bytes
of one pickled record are reported too. Results go to ``results/cnv_spark.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import shutil
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class RssPeak(threading.Thread):
    """Peak resident memory of this process while running."""

    def __init__(self):
        super().__init__(daemon=True)
        import psutil

        self.proc, self.peak, self.done = psutil.Process(), 0, threading.Event()
        self.start_rss = self.proc.memory_info().rss

    def run(self) -> None:
        while not self.done.wait(0.1):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def stop(self) -> float:
        """Growth of the RSS over the run (MB)."""
        self.done.set()
        self.join()
        return round((max(self.peak, self.proc.memory_info().rss) - self.start_rss) / 2**20, 1)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write results/cnv_spark.json."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--array", default="HM450", help="HM450 (real manifest) or SYNTH (20k-probe design)")
    ap.add_argument("--normals", type=int, default=8)
    ap.add_argument("--tumours", type=int, default=8, help="distinct simulated tumour pairs")
    ap.add_argument("--sizes", default="16,64", help="tumour samples per store")
    ap.add_argument("--work", help="working folder (default: a temporary one, removed at the end)")
    args = ap.parse_args(argv)

    from methylclass.io.manifest import load_manifest
    from methylclass.pp.cnv.store import plan_store_cnv
    from methylclass.simulate.cohort import SimulationConfig, simulate_cohort
    from methylclass.spark.session import get_spark
    from methylclass.workflows.cnv import run_cnv_store, run_cnv_store_spark
    from methylclass.workflows.ingest import ingest_cohort

    work = Path(args.work or tempfile.mkdtemp(prefix="bench_cnv_spark_"))
    work.mkdir(parents=True, exist_ok=True)
    synth = args.array.upper() == "SYNTH"
    t = time.perf_counter()
    sim = simulate_cohort(work / "sim", SimulationConfig(
        manifest="synthetic" if synth else args.array, classes=1, n_per_class=args.tumours,
        n_normals=args.normals, cnv=["F1_A=+7,-10,EGFR:amp"], cnv_penetrance=1.0, seed=0, force=True,
        n_jobs=2))
    simulate_s = time.perf_counter() - t
    manifest = (load_manifest(path=sim.manifest_files[0], controls=sim.manifest_files[1]) if sim.manifest_files
                else sim.manifest)
    truth = sim.samples
    pair = {s: (str(sim.out_dir / f"{b}_Grn.idat"), str(sim.out_dir / f"{b}_Red.idat"))
            for s, b in zip(truth["sample"], truth["basename"])}
    normals = truth.loc[truth["is_normal"], "sample"].tolist()
    tumours = truth.loc[~truth["is_normal"], "sample"].tolist()
    spark = get_spark()
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        refs = [{"sample": s, "grn": pair[s][0], "red": pair[s][1]} for s in normals]
        refs += [{"sample": f"T{i:05d}", "grn": pair[tumours[i % len(tumours)]][0],
                  "red": pair[tumours[i % len(tumours)]][1]} for i in range(n)]
        store = work / f"store_{n}"
        t = time.perf_counter()
        ingest_cohort(refs, store, method="raw", manifest=manifest, local=True, overwrite=True)
        ingest_s = time.perf_counter() - t
        run_cnv_store_spark(store, normals, samples=["T00000"], spark=spark, write_features=False)  # warm workers
        t = time.perf_counter()
        local = run_cnv_store(store, normals, write_features=False)
        local_s = time.perf_counter() - t
        sampler = RssPeak()
        sampler.start()
        t = time.perf_counter()
        srun = run_cnv_store_spark(store, normals, spark=spark)
        spark_s = time.perf_counter() - t
        growth = sampler.stop()
        plan = plan_store_cnv(store, normals, ["T00000"])
        record_bytes = len(pickle.dumps(plan.task().record(plan.samples[0], plan.files[0])))
        same = bool(srun.features.equals(local.features))
        rows.append({"tumours": n, "probes": plan.store.n_probes, "cnv_probes": plan.bins.n_fit_probes,
                     "bins": plan.bins.n_bins, "ingest_s": round(ingest_s, 1),
                     "local_s_per_sample": round(local_s / n, 3), "spark_s_per_sample": round(spark_s / n, 3),
                     "spark_total_s": round(spark_s, 1), "driver_rss_growth_mb": growth,
                     "record_bytes": record_bytes, "spark_equals_local": same, "failures": len(srun.failures)})
        print(rows[-1], flush=True)
        shutil.rmtree(store)
    result = {"benchmark": "CNV of a stored cohort: Spark (local[*]) vs in-process loop", "array": args.array,
              "normals": len(normals), "simulate_s": round(simulate_s, 1), "runs": rows,
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "load_avg_1m": round(os.getloadavg()[0], 2)}}
    out = ROOT / "results" / "cnv_spark.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {out}")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
