"""Benchmark: warm prediction of one 450k sample from its IDATs — read, normalise, CNV, classify, explain.

    python pipelines/bench_predict.py [--work DIR] [--repeats 5]     # writes results/bench_predict.json
    python pipelines/bench_predict.py --model BUNDLE --idat BASENAME  # time an existing bundle and sample

Without ``--model`` a small simulated 450k cohort (4 classes, ``methylclass simulate --array HM450``) is
built in ``--work`` (reused when present): training tumours + normals preprocessed into a store without Spark,
CNV against the normals, a logistic regression trained with the CNV block through the CLI. Then one new
sample is predicted ``--repeats`` times through ``load_model(...).diagnose([basename])`` + ``explain`` after
one warm-up call (the bundle loaded once, as a server would hold it). Wall and CPU seconds per stage are
recorded; the target is ≤ 1 s warm. A cold CLI call (``python -m methylclass predict``) is timed once too, and
the script checks that it did not import pyspark.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_record import machine_record

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _cli(*argv) -> None:
    from methylclass.cli import main

    if main([str(a) for a in argv]) != 0:
        raise SystemExit(f"failed: methylclass {' '.join(map(str, argv))}")


def build(work: Path) -> tuple[Path, str]:
    """The model bundle and one new sample's basename (built once in ``work``)."""
    import pandas as pd

    model, sim = work / "model", work / "sim"
    if not (sim / "samplesheet.csv").is_file():
        _cli("simulate", "--out", sim, "--array", "HM450", "--classes", "4", "--families", "4",
             "--per-class", "8", "--normals", "4", "--low-quality", "0", "--seed", "7", "--quiet", "--force")
    sheet = pd.read_csv(sim / "samplesheet.csv")
    sheet["Basename"] = [str(sim / b) for b in sheet["Basename"]]
    new = sheet[sheet["Sample_Group"] != "normal"].groupby("Sample_Group").tail(1)
    if not (model / "card.json").is_file():
        sheet[~sheet["Sample_Name"].isin(new["Sample_Name"])].to_csv(work / "train.csv", index=False)
        _cli("preprocess", work / "train.csv", "--out", work / "store", "--local", "--overwrite")
        _cli("cnv", "--from-store", work / "store", "--normals-group", "normal", "--local")
        _cli("train", "--betas", work / "store", "--label-column", "Sample_Group", "--exclude", "normal", "--cnv",
             "--model", "logreg", "--out", model, "--overwrite", "--conformal", "none", "--n-jobs", "1",
             "--set", "pipeline.n_features=2000", "--no-progress")
    return model, str(new["Basename"].iloc[0])


def _timed(fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--work", type=Path, default=None, help="folder for the simulated cohort and model")
    ap.add_argument("--model", type=Path, help="an existing bundle (with --idat)")
    ap.add_argument("--idat", help="basename of the sample to predict (with --model)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "bench_predict.json")
    args = ap.parse_args()
    import methylclass as mc
    from methylclass.paths import cache_dir

    if args.model:
        model_dir, basename = args.model, args.idat
    else:
        work = args.work or cache_dir() / "bench_predict"
        work.mkdir(parents=True, exist_ok=True)
        model_dir, basename = build(work)
    model, load_s, _ = _timed(lambda: mc.load_model(model_dir))
    model.diagnose([basename])  # warm-up: manifest, CNV panel and focal regions loaded once
    rows = []
    for _ in range(args.repeats):
        diag, wall_p, cpu_p = _timed(lambda: model.diagnose([basename]))
        _, wall_e, cpu_e = _timed(lambda d=diag: model.explain(d.X))
        rows.append({"predict_wall": wall_p, "predict_cpu": cpu_p, "explain_wall": wall_e, "explain_cpu": cpu_e,
                     "total_wall": wall_p + wall_e, "total_cpu": cpu_p + cpu_e})
    pred = diag.predictions.iloc[0]
    probe = ("import sys, runpy; sys.argv=['methylclass', 'predict', '--model', %r, %r, '--out', %r, "
             "'--no-report']\ntry:\n    runpy.run_module('methylclass', run_name='__main__')\nexcept SystemExit:\n"
             "    pass\nprint('PYSPARK_IMPORTED' if 'pyspark' in sys.modules else 'NO_PYSPARK')")
    cold_out = Path(model_dir).parent / "bench_cold_out"
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", probe % (str(model_dir), basename, str(cold_out))],
                          capture_output=True, text=True, cwd=ROOT, check=False,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    cold = time.perf_counter() - t
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    record = {"benchmark": "predict one 450k sample from IDATs (read, normalise, CNV, classify, explain)",
              "model": str(model_dir), "sample": basename, "prediction": str(pred["prediction"]),
              "reason": str(pred["reason"]), "score": float(pred["score"]), "load_bundle_s": load_s,
              "warm_median": med, "repeats": rows, "target_s": 1.0, "meets_target": med["total_wall"] <= 1.0,
              "cold_cli_s": cold, "cold_cli_pyspark": "PYSPARK_IMPORTED" in proc.stdout,
              "python": platform.python_version(), "machine": platform.machine(),
              "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "record": machine_record()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1))
    print(f"warm: predict {med['predict_wall']:.3f} s + explain {med['explain_wall']:.3f} s = "
          f"{med['total_wall']:.3f} s wall ({med['total_cpu']:.3f} s CPU); target ≤ 1 s: "
          f"{'met' if record['meets_target'] else 'NOT met'}")
    print(f"cold CLI call {cold:.1f} s, pyspark imported: {record['cold_cli_pyspark']}; record → {args.out}")


if __name__ == "__main__":
    main()
