"""Benchmark the cohort simulator: seconds per sample, setup time, peak memory; writes results/simulate.json.

    .venv/bin/python pipelines/bench_simulate.py [--array HM450] [--samples 20] [--jobs 2] [--gzip] [--keep DIR]

The cohort is written to a temporary folder (deleted afterwards unless ``--keep``). Setup (manifest, design
model) is timed separately from the per-sample work; the extrapolation to 1,000 samples is
``setup + 1000 × per-sample`` (wall clock, as loaded as the machine is now) and, load-independent,
``setup + 1000 × CPU-seconds-per-sample / jobs`` (what an idle machine with ``jobs`` cores would take; the
workers measure their own CPU time per sample). Peak RSS: this process and its finished children.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

from methylclass.simulate import simulate_cohort

ROOT = Path(__file__).resolve().parent.parent


def _cpu() -> float:
    """CPU seconds (user + system) of this process and its finished worker processes."""
    a = resource.getrusage(resource.RUSAGE_SELF)
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--array", default="HM450", help="HM450 (default), HM27, MSA, SYNTH")
    ap.add_argument("--probes", type=int, default=485_577, help="probes of a SYNTH design")
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--keep", help="write the cohort here and keep it")
    args = ap.parse_args()

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_simulate_"))
    out = base / "cohort" if not args.keep else base
    manifest = "synthetic" if args.array.upper() == "SYNTH" else args.array
    n_normals = max(2, args.samples // 5)
    n_tum = args.samples - n_normals
    kw = {"manifest": manifest, "n_probes": args.probes, "classes": 4, "n_per_class": [max(1, n_tum // 4)] * 3
              + [max(1, n_tum - 3 * max(1, n_tum // 4))], "n_normals": n_normals, "n_jobs": args.jobs,
              "compress": args.gzip, "seed": 0, "force": True}
    done_at: list[tuple[float, int]] = []
    t0 = time.perf_counter()
    cpu0 = _cpu()

    def progress(done: int, total: int) -> None:
        done_at.append((time.perf_counter(), done))

    try:
        res = simulate_cohort(out, progress=progress, **kw)
        total = time.perf_counter() - t0
        cpu = _cpu() - cpu0
        n = len(res.samples)
        # wall time per sample from the progress reports (chunks finishing), setup = the rest
        (t_a, d_a), (t_b, d_b) = done_at[0], done_at[-1]
        per_sample = (t_b - t_a) / (d_b - d_a) if d_b > d_a else total / n
        setup = max(0.0, total - per_sample * n)
        size = sum(f.stat().st_size for f in (out / "idat").iterdir())
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    result = {
        "array": res.manifest.array, "n_probes": res.manifest.n_probes, "samples": n, "jobs": args.jobs,
        "gzip": args.gzip, "seconds_total": round(total, 2), "seconds_setup": round(setup, 2),
        "seconds_per_sample": round(per_sample, 3), "cpu_seconds_main_process": round(cpu, 1),
        "cpu_seconds_per_sample": round(res.sample_cpu_seconds / n, 3),
        "idat_mb_per_sample": round(size / n / 1e6, 2),
        "extrapolated_1000_samples_s": round(setup + 1000 * per_sample, 1),
        "extrapolated_1000_samples_s_idle_machine": round(
            setup + 1000 * res.sample_cpu_seconds / n / max(1, args.jobs), 1),
        "load_average_1min": round(__import__("os").getloadavg()[0], 2),
        "peak_rss_mb": round(rss / 1024, 1), "cpu_count": __import__("os").cpu_count(),
        "python": platform.python_version(),
    }
    print(json.dumps(result, indent=1))
    dest = ROOT / "results" / "simulate.json"
    dest.parent.mkdir(exist_ok=True)
    dest.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
