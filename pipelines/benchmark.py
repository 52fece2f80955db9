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
    python pipelines/benchmark.py --only mb --models logreg,ensemble_stack   # a subset of the configured models
    python pipelines/benchmark.py --ablations        # ablations (mb_ablation / simulated_ablation + overrides)

Every experiment run also leaves a machine-readable record ``results/runs/<experiment>-<run_id>.json``: git commit,
machine, data SHA-256, settings, every model's scalar metrics (with bootstrap intervals) and chosen parameters.
Ablations (``--ablations``) run the base experiment once per override set of :data:`ABLATIONS` and write
``results/ablation[_<part>].json`` plus a Markdown table ``results/ablation[_<part>].md``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import subprocess
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
              "--dmps", "40", "--family-dmps", "40",
              "--probes", "10000", "--seed", "7", "--jobs", "2"]),
}
EXPERIMENTS = {"standard": {"mb": "mb_benchmark", "simulated": "simulated_benchmark"},
               "full": {"mb": "mb_full", "simulated": "heidelberg"}}
#: ablation sets: name → (part, --set overrides on the part's base experiment). Each answers one question of
#: issue 12: what do tuning, rebalancing, Boruta, the ensemble, CNV features and material adjustment bring?
ABLATIONS: dict[str, tuple[str, list[str]]] = {
    "tuned": ("mb", []),
    "default_params": ("mb", ["models.logreg.search=null"]),
    "no_rebalancing": ("mb", ["models.logreg.pipeline.balance=null"]),
    "boruta_default_params": ("mb", ["pipeline.select=boruta", "models.logreg.search=null",
                                     "pipeline.boruta_kwargs={n_estimators: 100, max_iter: 30, prefilter: 399}"]),
    "ensemble_soft": ("mb", ["defaults.models=[ensemble]"]),
    "ensemble_stack": ("mb", ["defaults.models=[ensemble_stack]"]),
    "ensemble_pool": ("mb", ["defaults.models=[ensemble_pool]"]),
    "sim_with_cnv": ("simulated", []),
    "sim_no_cnv": ("simulated", ["data.feature_blocks=[]"]),
    "sim_cnv_unweighted": ("simulated", ["pipeline.block_weight=1.0"]),
    "sim_material_adjusted": ("simulated", ["defaults.models=[logreg_adjusted]"]),
}
ABLATION_BASE = {"mb": "mb_ablation", "simulated": "simulated_ablation"}
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
    # the simulator writes the design's control probes (NORM_*, negatives) beside the probe table
    _run(["preprocess", str(sim), "--sheet", str(sim / "samplesheet.csv"), "--manifest", manifest,
          "--controls", str(sim / "manifest" / "controls.tsv"), "--out", str(store), "--local", "--overwrite"], log)
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


def _commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parent)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               check=False, text=True, cwd=Path(__file__).resolve().parent).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def machine() -> dict:
    """Where a run happened: host, OS, Python, CPU count and the 1-minute load (shared machines)."""
    return {"host": platform.node(), "system": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "load_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


def write_record(metrics: dict, run_dir: Path, results: Path, overrides: list[str]) -> Path:
    """``results/runs/<experiment>-<run_id>.json``: commit, machine, data hash, settings, metrics, parameters."""
    rec = {"experiment": metrics.get("experiment"), "run_id": metrics.get("run_id"), "run_dir": str(run_dir),
           "commit": _commit(), "machine": machine(), "overrides": overrides,
           "data": {k: metrics["data"].get(k) for k in ("source", "sha256", "n_samples", "n_features",
                                                         "class_counts", "taxonomy", "covariates")},
           "cv_scheme": metrics.get("cv_scheme"), "threshold": metrics.get("threshold"),
           "wall_seconds": metrics.get("wall_seconds"), "criteria": metrics.get("criteria"),
           "models": {m: {"scalars": d["scalars"], "chosen_params": d.get("chosen_params"),
                          "per_class": d.get("per_class"),
                          "family_per_class": (d.get("family") or {}).get("per_class"),
                          "wall_seconds": d.get("wall_seconds")} for m, d in metrics["models"].items()}}
    path = results / "runs" / f"{rec['experiment']}-{rec['run_id']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec, indent=1))
    return path


def run_experiment(name: str, out_dir: str, extra: list[str], results: Path | None = None) -> dict:
    """``methylclass benchmark --experiment NAME``; returns the run's metrics.json plus the headline table."""
    t0 = time.perf_counter()
    _run(["benchmark", "--experiment", name, "--out-dir", out_dir, *extra])
    wall = time.perf_counter() - t0
    run_dir = (Path(out_dir) / name / "latest").resolve()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    record = None
    if results is not None:
        record = str(write_record(metrics, run_dir, results, [extra[i + 1] for i, a in enumerate(extra)
                                                              if a == "--set"]))
    keys = HEADLINE + tuple(f"{k}_ci_{e}" for k in HEADLINE for e in ("low", "high"))
    table = {m: {k: d["scalars"].get(k) for k in keys if k in d["scalars"]} | {"wall_seconds": d["wall_seconds"]}
             for m, d in metrics["models"].items()}
    return {"experiment": name, "run_dir": str(run_dir), "report": str(run_dir / "report.html"),
            "wall_seconds": wall, "data": {k: metrics["data"].get(k) for k in
                                           ("source", "n_samples", "n_features", "class_counts", "rare")},
            "cv_scheme": metrics["cv_scheme"], "criteria": metrics.get("criteria"), "models": table,
            "record": record}


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
    p.add_argument("--models", help="comma-separated subset of the experiment's models (e.g. logreg,ensemble)")
    p.add_argument("--ablations", nargs="?", const="all", metavar="NAMES",
                   help="run the ablation sets instead (see ABLATIONS; optionally a comma-separated subset)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override passed to every experiment (repeatable)")
    args = p.parse_args(argv)
    size = "full" if args.full else "standard"
    t0 = time.perf_counter()
    summary: dict = {"settings": size, "experiments": {}}
    if args.make_simulated:
        root, seconds = make_simulated(size, force=args.force_simulate)
        print(root)
        return 0
    # no --no-progress: off a terminal the nested CV prints a plain line as folds finish (long runs show where
    # they are)
    extra = ["--n-jobs", str(args.n_jobs)] if args.n_jobs else []
    for o in args.overrides + ([f"defaults.models=[{args.models}]"] if args.models else []):
        extra += ["--set", o]
    if args.ablations:
        return run_ablations(args, size, extra)
    parts = [args.only] if args.only else ["mb", "simulated"]
    for part in parts:
        if part == "simulated":
            root, seconds = make_simulated(size, force=args.force_simulate)
            summary["simulated_cohort"] = {"path": str(root), "build_seconds": seconds}
            cfg = ["--set", f"data.store={root / 'store'}",
                   "--set", f"data.labels={root / 'sim' / 'truth' / 'samples.tsv'}"]
        else:
            cfg = []
        res = run_experiment(EXPERIMENTS[size][part], args.out_dir, extra + cfg, Path(args.results))
        summary["experiments"][part] = res
        _print(res)
    summary["total_seconds"] = time.perf_counter() - t0
    out = Path(args.results) / ("benchmark_full.json" if args.full else "benchmark.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    summary["record"] = machine_record()
    out.write_text(json.dumps(summary, indent=1))
    print(f"\ntotal {summary['total_seconds']:.0f} s; summary written to {out}")
    return 0


def _simulated_cfg(size: str, force: bool) -> list[str]:
    root, _ = make_simulated(size, force=force)
    return ["--set", f"data.store={root / 'store'}", "--set", f"data.labels={root / 'sim' / 'truth' / 'samples.tsv'}"]


def ablation_table(rows: dict[str, dict]) -> str:
    """Markdown: one row per ablation and model, headline metrics with their 95 % bootstrap intervals."""
    def cell(r, k, fmt):
        v, lo, hi = r.get(k), r.get(f"{k}_ci_low"), r.get(f"{k}_ci_high")
        if v is None:
            return "–"
        return f"{v:{fmt}}" + (f" [{lo:{fmt}}, {hi:{fmt}}]" if lo is not None and hi is not None else "")
    out = ["| ablation | model | balanced accuracy | Brier (0–2) | classifiable | accuracy among called |",
           "|---|---|---|---|---|---|"]
    for name, res in rows.items():
        for m, r in res["models"].items():
            out.append(f"| {name} | {m} | {cell(r, 'balanced_accuracy', '.3f')} | {cell(r, 'brier', '.4f')} | "
                       f"{cell(r, 'classifiable', '.3f')} | {cell(r, 'accuracy_classified', '.3f')} |")
    return "\n".join(out) + "\n"


def run_ablations(args, size: str, extra: list[str]) -> int:
    """Run every ablation set (of ``--only``'s part, default both) and write results/ablation*.json/.md."""
    names = list(ABLATIONS) if args.ablations == "all" else args.ablations.split(",")
    unknown = [n for n in names if n not in ABLATIONS]
    if unknown:
        raise SystemExit(f"unknown ablation(s) {unknown}; known: {', '.join(ABLATIONS)}")
    chosen = {k: ABLATIONS[k] for k in names if not args.only or ABLATIONS[k][0] == args.only}
    rows: dict[str, dict] = {}
    sim: list[str] | None = None
    for name, (part, overrides) in chosen.items():
        cfg = [x for o in overrides for x in ("--set", o)]
        if part == "simulated":
            sim = sim if sim is not None else _simulated_cfg(size, args.force_simulate)
            cfg += sim
        res = run_experiment(ABLATION_BASE[part], args.out_dir, extra + cfg, Path(args.results))
        rows[name] = res
        _print(res)
    stem = "ablation" + (f"_{args.only}" if args.only else "")
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps({"settings": size, "ablations": rows}, indent=1))
    (out / f"{stem}.md").write_text(ablation_table(rows))
    print(ablation_table(rows))
    print(f"ablations written to {out / (stem + '.json')} and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
