"""Profile: where the time of Spark ingestion goes (kernel stages in this process, then the Spark overheads).

    python pipelines/profile_ingest.py --n 200                     # 450k, 200 samples, local[*]
    python pipelines/profile_ingest.py --n 200 --per-task 1,8,25   # compare task sizes
    python pipelines/profile_ingest.py --skip-spark --n-kernel 30  # the kernel stages only

Part 1 (no Spark, one process): for ``--n-kernel`` samples the kernel's stages are timed separately in CPU
seconds — read the two IDATs, pair/channel checks, map onto the manifest, address coverage, ``normalize``
split into noob alone / + pOOBAH / + QC, the QC flattening, and the sample-file write with the store's
codec and alternatives (file size beside each).

Part 2 (Spark ``--master``, a cohort of ``--n`` symbolic links to ``--base`` simulated pairs, as
``bench_ingest.py``): the per-task overhead of an empty job with one task per sample, the same with the
broadcast manifest read, then ``run_on_spark`` (the ingestion path) with each ``--per-task`` value. For each:
driver wall time and the CPU seconds spent by the driver's Python, the JVM and the Python workers (from
``psutil``: live processes at the end of each job; Python workers are reused, so their CPU accumulates).
Also the machine's load average, since the machine may be shared.

Writes ``results/profile_ingest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))


def _cpu() -> float:
    return time.process_time()


# -- part 1: kernel stages --------------------------------------------------------------------------------
def kernel_stages(pairs: list[tuple[Path, Path]], manifest, n: int, out: Path) -> dict:
    """CPU seconds per stage of the per-sample kernel, averaged over ``n`` samples (round robin on pairs)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from methylclass.io.channels import check_channels
    from methylclass.io.discover import check_pair
    from methylclass.io.idat import read_idat
    from methylclass.io.raw import address_coverage
    from methylclass.io.raw_types import raw_signals_from_idats
    from methylclass.io.store import write_sample_file
    from methylclass.pp.kernel import _flatten_qc
    from methylclass.pp.normalize import normalize

    stages: dict[str, float] = {}
    sizes: dict[str, int] = {}

    def add(name: str, t0: float) -> float:
        t = _cpu()
        stages[name] = stages.get(name, 0.0) + t - t0
        return t

    out.mkdir(parents=True, exist_ok=True)
    codecs = {"zstd1_bss (store)": None,
              "zstd1_plain": {"compression": "zstd", "compression_level": 1},
              "lz4_bss": {"compression": "lz4", "use_byte_stream_split": True},
              "snappy_plain": {"compression": "snappy"},
              "none": {"compression": "none"}}
    for i in range(n):
        grn_p, red_p = pairs[i % len(pairs)]
        t = _cpu()
        grn = read_idat(grn_p)
        red = read_idat(red_p)
        t = add("read_idats", t)
        red = check_pair(grn, red)
        check_channels(grn, red, manifest, "s")
        t = add("pair_channel_checks", t)
        raw = raw_signals_from_idats(grn, red, manifest, "s")
        t = add("map_to_manifest", t)
        address_coverage(raw)
        t = add("address_coverage", t)
        normalize(raw, method="noob", detection=None, qc=False)
        t = add("normalize_noob_only", t)
        normalize(raw, method="noob", qc=False)
        t = add("normalize_noob_poobah", t)
        ns = normalize(raw, method="noob")
        t = add("normalize_full (kernel)", t)
        rec = {"sample": f"s{i}", "status": "ok", **_flatten_qc(ns.qc)}
        t = add("flatten_qc", t)
        arrays = {"beta": ns.beta, "detection_p": ns.detection_p, "meth": ns.meth, "unmeth": ns.unmeth}
        write_sample_file(out, f"s{i}", arrays, rec)
        t = add("write zstd1_bss (store)", t)
        for name, kw in codecs.items():
            if kw is None:
                continue
            cols = {"sample": pa.array([f"s{i}"])}
            for f, v in arrays.items():
                v = np.ascontiguousarray(v, dtype=np.float32)
                cols[f] = pa.ListArray.from_arrays(pa.array([0, v.shape[0]], type=pa.int32()), pa.array(v))
            kw = dict(kw)
            if kw.pop("use_byte_stream_split", False):
                kw["use_byte_stream_split"] = [f"{f}.list.element" for f in arrays]
            path = out / f"alt_{name}_{i}.parquet"
            t = _cpu()
            pq.write_table(pa.table(cols), path, **kw)
            t = add(f"write {name}", t)
            sizes[name] = path.stat().st_size
    sizes["zstd1_bss (store)"] = next((out / "betas").glob("*.parquet")).stat().st_size
    per = {k: round(v / n, 4) for k, v in stages.items()}
    noob = per["normalize_noob_only"]
    per["poobah (difference)"] = round(per["normalize_noob_poobah"] - noob, 4)
    per["qc (difference)"] = round(per["normalize_full (kernel)"] - per["normalize_noob_poobah"], 4)
    kernel = sum(per[k] for k in ("read_idats", "pair_channel_checks", "map_to_manifest", "address_coverage",
                                  "normalize_full (kernel)", "flatten_qc", "write zstd1_bss (store)"))
    return {"n": n, "cpu_s_per_sample": per, "kernel_cpu_s_per_sample": round(kernel, 4),
            "file_mb": {k: round(v / 2**20, 2) for k, v in sizes.items()}}


# -- part 2: Spark --------------------------------------------------------------------------------------
class CpuMeter:
    """CPU seconds of this process, its JVM child and the Python workers below it (live processes)."""

    def __init__(self):
        import psutil

        self.psutil, self.me = psutil, psutil.Process()

    def read(self) -> dict:
        ps = self.psutil
        t = self.me.cpu_times()
        out = {"driver_python": t.user + t.system, "jvm": 0.0, "python_workers": 0.0, "n_workers": 0}
        for k in self.me.children(recursive=True):
            try:
                name, ct = k.name().lower(), k.cpu_times()
            except ps.Error:
                continue
            if "java" in name:
                out["jvm"] += ct.user + ct.system
            elif "python" in name:
                out["python_workers"] += ct.user + ct.system
                out["n_workers"] += 1
        return out

    @staticmethod
    def diff(a: dict, b: dict) -> dict:
        d = {k: round(b[k] - a[k], 2) for k in ("driver_python", "jvm", "python_workers")}
        d["total"] = round(sum(d.values()), 2)
        d["n_workers_end"] = b["n_workers"]
        return d


def _noop(it):
    n = sum(1 for _ in it)
    yield n


class _BroadcastRead:
    def __init__(self, bc):
        self.bc = bc

    def __call__(self, it):
        value = self.bc.value
        n = sum(1 for _ in it)
        yield (n, type(value).__name__)


def spark_part(args, cohort: Path, manifest) -> dict:
    """Overheads and ingestion runs on Spark."""
    from methylclass.spark.jobs import run_on_spark
    from methylclass.spark.session import get_spark
    from methylclass.workflows.ingest import discover

    meter = CpuMeter()
    t = time.perf_counter()
    spark = get_spark(args.master, driver_memory="2g")
    sc = spark.sparkContext
    out: dict = {"spark_start_s": round(time.perf_counter() - t, 2), "parallelism": sc.defaultParallelism}
    refs = discover(cohort)
    n = len(refs)

    def timed(name, fn):
        a, t0 = meter.read(), time.perf_counter()
        res = fn()
        wall = time.perf_counter() - t0
        out[name] = {"wall_s": round(wall, 2), "cpu_s": CpuMeter.diff(a, meter.read()),
                     "load_avg": [round(x, 2) for x in os.getloadavg()]}
        print(f"{name}: {out[name]}", flush=True)
        return res

    timed("warmup_2_tasks", lambda: sc.parallelize(range(2), 2).mapPartitions(_noop).collect())
    timed(f"noop_{n}_tasks", lambda: sc.parallelize(refs, n).mapPartitions(_noop).collect())
    bc = sc.broadcast((manifest, None))
    timed(f"broadcast_read_{n}_tasks", lambda: sc.parallelize(refs, n).mapPartitions(_BroadcastRead(bc)).collect())
    bc.unpersist(blocking=True)
    for k in [x if x == "auto" else int(x) for x in args.per_task.split(",")]:
        store = Path(args.work) / f"profile_store_{k}"
        shutil.rmtree(store, ignore_errors=True)
        (store / "betas").mkdir(parents=True)
        recs = timed(f"ingest_{n}_samples_per_task_{k}",
                     lambda k=k, store=store: run_on_spark(spark, refs, manifest, "noob", store,
                                                           min_fraction=0.5, samples_per_task=k))
        assert sum(r["status"] == "ok" for r in recs) == n, [r["reason"] for r in recs if r["status"] != "ok"][:3]
        out[f"ingest_{n}_samples_per_task_{k}"]["s_per_sample"] = round(
            out[f"ingest_{n}_samples_per_task_{k}"]["wall_s"] / n, 4)
        shutil.rmtree(store, ignore_errors=True)
    spark.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run both parts, write the JSON record."""
    import bench_ingest

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="cohort size of the Spark part")
    ap.add_argument("--n-kernel", type=int, default=20, help="samples of the kernel-stage part")
    ap.add_argument("--per-task", default="1,auto", help="samples per task of the ingestion runs (or auto)")
    ap.add_argument("--array", default="HM450")
    ap.add_argument("--base", type=int, default=12)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--work", help="scratch folder (default: <methylclass cache>/bench_ingest)")
    ap.add_argument("--skip-spark", action="store_true")
    ap.add_argument("--skip-kernel", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "results" / "profile_ingest.json"))
    args = ap.parse_args(argv)

    from methylclass.io.manifest import load_manifest
    from methylclass.paths import cache_dir

    args.work = args.work or str(cache_dir() / "bench_ingest")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    pairs = bench_ingest.make_base(work, args.array, args.base, args.seed)
    manifest = load_manifest(args.array)
    report: dict = {"profile": "ingest", "array": args.array, "master": args.master,
                    "load_avg_start": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}
    if not args.skip_kernel:
        tmp = work / "profile_kernel"
        shutil.rmtree(tmp, ignore_errors=True)
        report["kernel"] = kernel_stages(pairs, manifest, args.n_kernel, tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        print(json.dumps(report["kernel"], indent=1), flush=True)
    if not args.skip_spark:
        cohort = bench_ingest.make_cohort(work / f"profile_cohort_{args.n}", pairs, args.n)
        report["spark"] = spark_part(args, cohort, manifest)
        shutil.rmtree(cohort, ignore_errors=True)
    report["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    report["when"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
