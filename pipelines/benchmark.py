"""Batch entry of the model benchmark (``make benchmark`` / ``make benchmark-full``).

Runs, through the ``methylclass`` CLI (in-process), all configured models under nested CV on

(a) the real GSE85212 medulloblastoma table (experiment ``mb_benchmark``; ``--full``: ``mb_full``), and
(b) a simulated cohort with many imbalanced classes and CNV features (``simulated_benchmark``;
    ``--full``: ``heidelberg``, the shape of the Heidelberg reference cohort of Capper et al. 2018 — 2,801
    tumours in 91 classes grouped in 29 families, class sizes 143 down to 5, 10,000 CpGs + CNV features, five
    models under nested 5 × 3 CV). The cohort is produced first, once, by the CLI chain
    ``methylclass simulate`` → ``preprocess --local`` → ``cnv --store`` into
    ``<cache>/simulated/benchmark_cohort[_full]/`` (skipped when already complete).

Each experiment writes its run folder (``runs/<experiment>/<timestamp>/`` with ``report.html``); this script
prints the side-by-side numbers and writes them, with the wall times, to ``results/benchmark[_full].json``.

    python pipelines/benchmark.py                 # (a) + (b), standard settings
    python pipelines/benchmark.py --full          # larger settings: mb_full + the Heidelberg-size cohort
    python pipelines/benchmark.py --full --only simulated   # just the Heidelberg-size benchmark
    python pipelines/benchmark.py --only mb       # just (a)
    python pipelines/benchmark.py --make-simulated   # only build the simulated cohort
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
import time
from pathlib import Path

from bench_record import machine_record

from methylclass.cli import main as cli
from methylclass.paths import cache_dir


def heidelberg_sizes(n_classes: int = 91, total: int = 2801, largest: int = 143, smallest: int = 5) -> list[int]:
    """Class sizes of the Heidelberg-shaped cohort (Capper et al. 2018: 2,801 reference samples, 91 classes,
    the largest 143): ``s_r = smallest + (largest − smallest)·((r+1)^−b − n^−b)/(1 − n^−b)``, rounded, with
    the power ``b`` found by bisection so that they sum to ``total`` (the rounding rest goes to class 1)."""
    import numpy as np

    lo, hi, r = 0.01, 5.0, np.arange(n_classes)
    for _ in range(100):
        b = (lo + hi) / 2
        s = smallest + (largest - smallest) * ((r + 1.0) ** -b - n_classes ** -b) / (1 - n_classes ** -b)
        lo, hi = (b, hi) if np.round(s).sum() > total else (lo, b)
    sizes = np.round(s).astype(int)
    sizes[0] += total - sizes.sum()
    return [int(x) for x in sizes]


HEIDELBERG_SIZES = ",".join(map(str, heidelberg_sizes()))
#: simulated cohorts: (folder, simulate options). Class sizes are deliberately imbalanced; the two smallest
#: classes are below the 5 samples 5-fold CV needs, so the experiments merge them (cv.rare: merge).
COHORTS = {
    "standard": ("benchmark_cohort",
                 ["--classes", "12", "--per-class", "120,90,70,50,40,30,24,18,14,10,4,3", "--normals", "10",
                  "--probes", "10000", "--seed", "7"]),
    # Heidelberg shape (Capper 2018: 2,801 reference samples, 91 classes): power-law class sizes 143 … 5
    # (sum 2,801), 29 families of sibling classes, 10,000 CpGs; CNV features from 16 normals
    "full": ("benchmark_cohort_heidelberg",
             ["--classes", "91", "--families", "29", "--per-class", HEIDELBERG_SIZES, "--normals", "16",
              "--probes", "10000", "--seed", "7", "--jobs", "2"]),
}
EXPERIMENTS = {"standard": {"mb": "mb_benchmark", "simulated": "simulated_benchmark"},
               "full": {"mb": "mb_full", "simulated": "heidelberg"}}
HEADLINE = ("balanced_accuracy", "accuracy", "brier", "log_loss", "auc_hand_till", "ece", "classifiable",
            "accuracy_classified", "fit_seconds", "predict_seconds", "wall_seconds")


def _run(argv: list[str], log: Path | None = None) -> None:
    """``methylclass ARGV`` in this process; with ``log`` its standard output goes to that file."""
    print("$ methylclass " + " ".join(argv), file=sys.stderr, flush=True)
    if log is None:
        status = cli(argv)
    else:
        with open(log, "a", encoding="utf-8") as fh, contextlib.redirect_stdout(fh):
            status = cli(argv)
    if status != 0:
        raise SystemExit(f"methylclass {argv[0]} failed with status {status}" + (f" (log: {log})" if log else ""))


def make_simulated(size: str, *, force: bool = False) -> tuple[Path, float]:
    """Build (or reuse) the simulated cohort: IDATs, store with betas, CNV features in the store."""
    folder, options = COHORTS[size]
    root = cache_dir() / "simulated" / folder
    ready = root / "READY.json"
    if ready.is_file() and not force and json.loads(ready.read_text()).get("options") == options:
        print(f"simulated cohort ready: {root}", file=sys.stderr)
        return root, 0.0
    t0 = time.perf_counter()
    sim, store = root / "sim", root / "store"
    root.mkdir(parents=True, exist_ok=True)
    ready.unlink(missing_ok=True)
    log = root / "build.log"
    log.unlink(missing_ok=True)
    _run(["simulate", "--out", str(sim), "--force", "--quiet", *options], log)
    manifest = str(sim / "manifest" / "probes.tsv.gz")
    # noob without dye-bias correction: the synthetic design has no NORM_* control probes
    _run(["preprocess", str(sim), "--sheet", str(sim / "samplesheet.csv"), "--manifest", manifest,
          "--out", str(store), "--local", "--dye-bias", "none", "--overwrite"], log)
    with open(sim / "samplesheet.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    normals = sim / "normals.csv"
    with open(normals, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(r for r in rows if r.get("Sample_Group") == "normal")
    _run(["cnv", str(sim / "samplesheet.csv"), "--reference", str(normals), "--manifest", manifest,
          "--out", str(root / "cnv"), "--no-plot", "--store", str(store)], log)
    seconds = time.perf_counter() - t0
    ready.write_text(json.dumps({"options": options, "seconds": seconds}, indent=1))
    return root, seconds


def run_experiment(name: str, out_dir: str, extra: list[str]) -> dict:
    """``methylclass benchmark --experiment NAME``; returns the run's metrics.json plus the headline table."""
    t0 = time.perf_counter()
    _run(["benchmark", "--experiment", name, "--out-dir", out_dir, *extra])
    wall = time.perf_counter() - t0
    run_dir = (Path(out_dir) / name / "latest").resolve()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    table = {m: {k: d["scalars"].get(k) for k in HEADLINE if k in d["scalars"]} | {"wall_seconds": d["wall_seconds"]}
             for m, d in metrics["models"].items()}
    return {"experiment": name, "run_dir": str(run_dir), "report": str(run_dir / "report.html"),
            "wall_seconds": wall, "data": {k: metrics["data"].get(k) for k in
                                           ("source", "n_samples", "n_features", "class_counts", "rare")},
            "cv_scheme": metrics["cv_scheme"], "criteria": metrics.get("criteria"), "models": table}


def _print(res: dict) -> None:
    print(f"\n== {res['experiment']}: {res['cv_scheme']}, {res['data']['n_samples']} samples × "
          f"{res['data']['n_features']} features, {res['wall_seconds']:.0f} s")
    cols = ("balanced_accuracy", "brier", "ece", "classifiable", "fit_seconds", "wall_seconds")
    print(f"{'model':8s} " + " ".join(f"{c[:17]:>17s}" for c in cols))
    for m, row in res["models"].items():
        print(f"{m:8s} " + " ".join(f"{row.get(c, float('nan')):17.4f}" for c in cols))
    if res["criteria"]:
        print(f"criteria {res['criteria']['label']}: {res['criteria']['verdict']}")
    print(f"report: {res['report']}")


def main(argv: list[str] | None = None) -> int:
    """Parse options, build the cohort if needed, run the experiments, write results/benchmark*.json."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="larger settings (make benchmark-full)")
    p.add_argument("--only", choices=("mb", "simulated"), help="run one of the two benchmarks")
    p.add_argument("--make-simulated", action="store_true", help="only build the simulated cohort")
    p.add_argument("--force-simulate", action="store_true", help="rebuild the simulated cohort")
    p.add_argument("--out-dir", default="runs", help="run folders go to OUT_DIR/<experiment>/ (default runs)")
    p.add_argument("--results", default="results", help="folder of the summary JSON (default results)")
    p.add_argument("--n-jobs", type=int, help="folds in parallel (default: the experiment's, 2)")
    args = p.parse_args(argv)
    size = "full" if args.full else "standard"
    t0 = time.perf_counter()
    summary: dict = {"settings": size, "experiments": {}}
    if args.make_simulated:
        root, seconds = make_simulated(size, force=args.force_simulate)
        print(root)
        return 0
    extra = ["--no-progress"] + (["--n-jobs", str(args.n_jobs)] if args.n_jobs else [])
    parts = [args.only] if args.only else ["mb", "simulated"]
    for part in parts:
        if part == "simulated":
            root, seconds = make_simulated(size, force=args.force_simulate)
            summary["simulated_cohort"] = {"path": str(root), "build_seconds": seconds}
            cfg = ["--set", f"data.store={root / 'store'}",
                   "--set", f"data.labels={root / 'sim' / 'truth' / 'samples.tsv'}"]
        else:
            cfg = []
        res = run_experiment(EXPERIMENTS[size][part], args.out_dir, extra + cfg)
        summary["experiments"][part] = res
        _print(res)
    summary["total_seconds"] = time.perf_counter() - t0
    out = Path(args.results) / ("benchmark_full.json" if args.full else "benchmark.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    summary["record"] = machine_record()
    out.write_text(json.dumps(summary, indent=1))
    print(f"\ntotal {summary['total_seconds']:.0f} s; summary written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
