"""Benchmark: cohort ingestion on local Spark — wall time and peak memory of driver and executors vs N.

    python pipelines/bench_ingest.py --sizes 100,500,1000 --array HM450      # the issue's benchmark
    python pipelines/bench_ingest.py --sizes 20,40 --array HM27 --base 4     # a quick check

For each N a fresh Python process ingests an N-sample cohort into a new store with ``ingest_cohort`` on Spark
(the same path as ``methylclass preprocess``), while a sampler thread records every 0.2 s the resident memory
of the driver's Python process, of the Spark JVM it started (in local mode: driver and executor in one JVM)
and of the Python worker processes (executors' Python side). Peaks go to ``results/ingest.json``.

Cohorts: ``--base K`` distinct IDAT pairs are simulated once (``methylclass.simulate``, any array it knows) and
N samples are symbolic links to them under distinct names, so N = 1,000 needs K pairs of disk, not N. Every
sample is still read, normalised and written separately (the store holds N sample files); only the page cache
is warmer than with N distinct files.

Also measured once, on the largest store and after the ingestion peaks were taken: ``load_betas`` of 100
samples × 10,000 random probes, of 10 samples × all probes, and the top-10,000-variance selection (local
streaming and on Spark), with their own memory peaks (``read_checks_*``).

Needs ``psutil`` (a dev dependency) for the memory sampler.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _dirty_bytes() -> int:
    """Written data the kernel has not yet put on disk (``Dirty`` + ``Writeback`` of /proc/meminfo; 0
    elsewhere): a store written faster than the disk absorbs shows here, and writers are throttled."""
    try:
        with open("/proc/meminfo") as fh:
            return sum(int(ln.split()[1]) * 1024 for ln in fh if ln.startswith(("Dirty:", "Writeback:")))
    except (OSError, ValueError, IndexError):
        return 0


def _machine_cpu() -> dict:
    """Machine-wide CPU seconds so far from /proc/stat (busy, idle, iowait, steal; {} elsewhere): with this
    run's own CPU seconds they show how much of the machine other work took during the run."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:9]]
    except (OSError, ValueError):
        return {}
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = (f / hz for f in fields)
    return {"busy": user + nice + system + irq + softirq, "idle": idle, "iowait": iowait, "steal": steal}


class PeakSampler(threading.Thread):
    """Polls the RSS of this process, its JVM child and the Python workers below it; keeps the peaks."""

    def __init__(self, interval: float = 0.2):
        super().__init__(daemon=True)
        import psutil

        self.psutil, self.proc, self.interval = psutil, psutil.Process(), interval
        self.peak = {"driver_python": 0, "driver_jvm": 0, "driver_total": 0, "workers_sum": 0, "worker_max": 0,
                     "n_workers_max": 0, "dirty_writeback": 0}
        self._stop_event = threading.Event()

    def sample(self) -> None:
        """One measurement."""
        ps = self.psutil
        try:
            py = self.proc.memory_info().rss
            kids = self.proc.children(recursive=True)
        except ps.Error:
            return
        jvm, workers = 0, []
        for k in kids:
            try:
                name, rss = k.name().lower(), k.memory_info().rss
            except ps.Error:
                continue
            if "java" in name:
                jvm += rss
            elif "python" in name:
                workers.append(rss)
        p = self.peak
        p["driver_python"] = max(p["driver_python"], py)
        p["driver_jvm"] = max(p["driver_jvm"], jvm)
        p["driver_total"] = max(p["driver_total"], py + jvm)
        p["workers_sum"] = max(p["workers_sum"], sum(workers))
        p["worker_max"] = max(p["worker_max"], max(workers, default=0))
        p["n_workers_max"] = max(p["n_workers_max"], len(workers))
        p["dirty_writeback"] = max(p["dirty_writeback"], _dirty_bytes())

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def snapshot(self, reset: bool = False) -> dict:
        """The peaks so far in MB (worker count as is); ``reset`` starts a new measuring window."""
        self.sample()
        out = {f"{k}_mb" if k != "n_workers_max" else k: (round(v / 2**20, 1) if k != "n_workers_max" else v)
               for k, v in self.peak.items()}
        if reset:
            self.peak = dict.fromkeys(self.peak, 0)
        return out

    def cpu_seconds(self) -> dict:
        """CPU seconds (user + system) so far of this process, its JVM and the Python workers (live ones:
        local-mode workers are reused for the whole run, so theirs accumulate)."""
        ps = self.psutil
        t = self.proc.cpu_times()
        out = {"driver_python": t.user + t.system, "jvm": 0.0, "python_workers": 0.0}
        for k in self.proc.children(recursive=True):
            try:
                name, ct = k.name().lower(), k.cpu_times()
            except ps.Error:
                continue
            key = "jvm" if "java" in name else "python_workers" if "python" in name else None
            if key:
                out[key] += ct.user + ct.system
        return out

    def stop(self) -> dict:
        """Stop sampling; return the peaks of the current window."""
        self._stop_event.set()
        self.join()
        return self.snapshot()


# -- cohort preparation -------------------------------------------------------------------------------------
def make_base(work: Path, array: str, k: int, seed: int) -> list[tuple[Path, Path]]:
    """Simulate ``k`` IDAT pairs of ``array`` once (cached under ``work``); return their (grn, red) paths."""
    base = work / f"base_{array}_{k}_{seed}"
    if not (base / "idat").is_dir():
        from methylclass.simulate import SimulationConfig, simulate_cohort

        tmp = work / f".base_{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        n_classes = 2
        per_class = max(1, -(-k // n_classes))
        simulate_cohort(tmp, SimulationConfig(manifest=array, classes=n_classes, n_per_class=per_class,
                                              n_normals=0, seed=seed, force=True))
        tmp.replace(base)
    grns = sorted((base / "idat").glob("*_Grn.idat*"))[:k]
    pairs = [(g, g.with_name(g.name.replace("_Grn.", "_Red."))) for g in grns]
    if len(pairs) < k:
        raise SystemExit(f"simulation gave {len(pairs)} pairs, {k} asked for")
    return pairs


def make_cohort(folder: Path, base: list[tuple[Path, Path]], n: int) -> Path:
    """``n`` samples named ``990000xxxxxx_R01C01`` as symbolic links to the base pairs (round robin)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for i in range(n):
        grn, red = base[i % len(base)]
        stem = f"99{i // 12:010d}_R{i % 12 + 1:02d}C01"
        gz = ".gz" if grn.name.endswith(".gz") else ""
        (folder / f"{stem}_Grn.idat{gz}").symlink_to(grn.resolve())
        (folder / f"{stem}_Red.idat{gz}").symlink_to(red.resolve())
    return folder


# -- one measured run (in its own process) ---------------------------------------------------------------
def run_one(args: argparse.Namespace) -> None:
    """Ingest ``--cohort`` into ``--store`` on Spark and print one JSON line of measurements."""
    sampler = PeakSampler()
    sampler.start()
    t0 = time.perf_counter()
    from methylclass.spark.session import get_spark
    from methylclass.workflows.ingest import ingest_cohort

    spark = get_spark(args.master, driver_memory=args.driver_memory)
    t_spark = time.perf_counter() - t0
    load_before = os.getloadavg()
    cpu0, machine0 = sampler.cpu_seconds(), _machine_cpu()
    t1 = time.perf_counter()
    res = ingest_cohort(args.cohort, args.store, method=args.method, spark=spark,
                        samples_per_task=args.samples_per_task)
    t_ingest = time.perf_counter() - t1
    cpu1, machine1 = sampler.cpu_seconds(), _machine_cpu()
    cpu = {f"cpu_{k}_s": round(cpu1[k] - cpu0[k], 2) for k in cpu0}
    cpu["cpu_total_s"] = round(sum(cpu1[k] - cpu0[k] for k in cpu0), 2)
    cpu["cpu_s_per_sample"] = round(cpu["cpu_total_s"] / max(1, res.n_ok + res.n_failed), 4)
    if machine0 and machine1:
        for k in machine0:
            cpu[f"machine_{k}_s"] = round(machine1[k] - machine0[k], 1)
        # what the rest of the machine ran meanwhile; our CPU ÷ cores is the wall time the run would need alone
        cpu["machine_others_cpu_s"] = round(cpu["machine_busy_s"] - cpu["cpu_total_s"], 1)
        cpu["alone_estimate_s"] = round(cpu["cpu_total_s"] / max(1, os.cpu_count() or 1), 1)
    cpu["load_avg_before"] = [round(x, 2) for x in load_before]
    cpu["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    cpu["spark_cores"] = spark.sparkContext.defaultParallelism
    from methylclass.config import setting
    from methylclass.spark.jobs import choose_samples_per_task

    chosen = args.samples_per_task or setting({}, "ingest.samples_per_task")
    cpu["samples_per_task"] = choose_samples_per_task(res.n_processed, cpu["spark_cores"], chosen)
    cpu["samples_per_task_setting"] = chosen
    peaks = sampler.snapshot(reset=True)
    extra = {}
    if args.read_checks:
        extra = read_checks(Path(args.store), spark)
        extra.update({f"read_checks_{k}": v for k, v in sampler.snapshot().items()
                      if k in ("driver_python_mb", "driver_jvm_mb", "workers_sum_mb")})
    sampler.stop()
    spark.stop()
    out = {"n_samples": res.n_ok + res.n_failed, "n_ok": res.n_ok, "n_failed": res.n_failed,
           "array": res.array, "method": res.method, "spark_start_s": round(t_spark, 2),
           "ingest_s": round(t_ingest, 2), "wall_s": round(time.perf_counter() - t0, 2),
           "s_per_sample": round(t_ingest / max(1, res.n_ok), 3),
           "driver_ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
           **cpu, **peaks, **extra,
           "store_mb": round(sum(f.stat().st_size for f in Path(args.store).rglob("*") if f.is_file()) / 2**20, 1)}
    print("RESULT " + json.dumps(out), flush=True)


def read_checks(store: Path, spark) -> dict:
    """Read-back speed on a store: load 100 samples × 10k random probes; top-10k variance (local, Spark)."""
    import numpy as np

    from methylclass.io.store import Store, load_betas, top_variance_probes
    from methylclass.spark.stats import top_variance_probes_spark

    st = Store.open(store)
    names = st.ok_samples[:100]
    probes = np.sort(np.random.default_rng(0).choice(st.n_probes, 10_000, replace=False))
    t = time.perf_counter()
    df = load_betas(st, names, probes)
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    load_betas(st, names[:10])
    t_full10 = time.perf_counter() - t
    t = time.perf_counter()
    top_local = top_variance_probes(st, 10_000)
    t_top_local = time.perf_counter() - t
    t = time.perf_counter()
    top_spark = top_variance_probes_spark(st, 10_000, spark=spark)
    t_top_spark = time.perf_counter() - t
    same = bool(np.array_equal(top_local["index"].to_numpy(), top_spark["index"].to_numpy()))
    return {"load_100x10k_s": round(t_load, 3), "load_shape": list(df.shape),
            "load_10_all_probes_s": round(t_full10, 3), "top10k_local_s": round(t_top_local, 2),
            "top10k_spark_s": round(t_top_spark, 2), "top10k_spark_equals_local": same,
            "top10k_n_samples": len(st.ok_samples)}


# -- orchestration ----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Parse arguments; run the benchmark (or, with --run-one, one measured ingestion)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,500,1000", help="comma-separated cohort sizes")
    ap.add_argument("--array", default="HM450", help="array simulated for the base pairs (HM450, HM27, MSA)")
    ap.add_argument("--base", type=int, default=12, help="distinct simulated IDAT pairs")
    ap.add_argument("--method", default="noob")
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--driver-memory", default="2g")
    ap.add_argument("--samples-per-task", help="samples per Spark task (default: conf/base.yaml's)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--work", help="scratch folder (default: <methylclass cache>/bench_ingest)")
    ap.add_argument("--out", default=str(ROOT / "results" / "ingest.json"))
    ap.add_argument("--keep", action="store_true", help="keep the stores")
    ap.add_argument("--run-one", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--cohort", help=argparse.SUPPRESS)
    ap.add_argument("--store", help=argparse.SUPPRESS)
    ap.add_argument("--read-checks", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.run_one:
        run_one(args)
        return 0

    from methylclass.paths import cache_dir

    sizes = sorted(int(s) for s in args.sizes.split(","))
    work = Path(args.work) if args.work else cache_dir() / "bench_ingest"
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    base = make_base(work, args.array, args.base, args.seed)
    print(f"{len(base)} base {args.array} pairs ready ({time.perf_counter() - t:.1f} s)", flush=True)
    runs = []
    for n in sizes:
        cohort = make_cohort(work / f"cohort_{n}", base, n)
        store = work / f"store_{n}"
        shutil.rmtree(store, ignore_errors=True)
        cmd = [sys.executable, __file__, "--run-one", "--cohort", str(cohort), "--store", str(store),
               "--method", args.method, "--master", args.master, "--driver-memory", args.driver_memory]
        if args.samples_per_task:
            cmd += ["--samples-per-task", args.samples_per_task]
        if n == sizes[-1]:
            cmd.append("--read-checks")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if proc.returncode != 0 or line is None:
            print(proc.stdout[-2000:], proc.stderr[-4000:], file=sys.stderr)
            raise SystemExit(f"run with N={n} failed (exit {proc.returncode})")
        res = json.loads(line[len("RESULT "):])
        runs.append(res)
        print(f"N={n:5d}: ingest {res['ingest_s']:8.1f} s ({res['s_per_sample']:.3f} s/sample), driver python "
              f"{res['driver_python_mb']:7.1f} MB, driver JVM {res['driver_jvm_mb']:7.1f} MB, driver total "
              f"{res['driver_total_mb']:7.1f} MB, python workers {res['workers_sum_mb']:7.1f} MB "
              f"(max one {res['worker_max_mb']:.1f}), store {res['store_mb']:.0f} MB; CPU {res['cpu_total_s']:.0f} s "
              f"({res['cpu_s_per_sample']:.3f} s/sample), load average {res['load_avg_before'][0]:.1f} → "
              f"{res['load_avg_after'][0]:.1f}", flush=True)
        if not args.keep:
            shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(cohort, ignore_errors=True)
    growth = {}
    if len(runs) >= 2:
        a, b = runs[0], runs[-1]
        for key in ("driver_python_mb", "driver_total_mb", "workers_sum_mb"):
            growth[key] = round(b[key] / a[key] - 1, 3) if a[key] else None
    result = {"benchmark": "ingest", "array": args.array, "method": args.method, "master": args.master,
              "driver_memory": args.driver_memory, "base_pairs": len(base), "sizes": sizes, "runs": runs,
              "peak_growth_smallest_to_largest": growth,
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "platform": platform.platform()},
              "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(out)
    print(f"wrote {out}; peak growth {sizes[0]} → {sizes[-1]}: {growth}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
