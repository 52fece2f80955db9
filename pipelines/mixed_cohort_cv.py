"""Nested CV on a mixed-array store against a single-array cohort of the same size and classes.

    python pipelines/mixed_cohort_cv.py [--per-class 12] [--classes 6] [--local] [--n-jobs 1]
    # prints the balanced accuracies, writes results/mixed_cohort_cv.json

Cohorts are simulated from the same design seed (same classes, DMPs and CNV signatures): one entirely on
the 450k-like layout, and mixed ones split over 450k-, EPIC- and EPICv2-like layouts (a third each, EPICv2
with replicate probes) without and with the extra per-array probe shift (``--array-effects``; even without it
each array has its own probe affinities, i.e. its own technical behaviour). Each is preprocessed into ONE
store on Spark (``--local``: without Spark) — the mixed one through the per-sample manifests named in its
sample sheet — and read the way ``train``/``benchmark`` read a store (:func:`methylclass.workflows.data.
load_dataset` with the run config's store settings; a mixed store: the CpGs every array holds). The model is
built as the benchmark builds it (:func:`methylclass.workflows.runs.covariate_plan` +
``estimator_factory``), so with the DEFAULT settings a mixed store's array is the in-fold adjusted covariate
``cov_array`` (``conf/base.yaml`` ``store.array_covariate: true``); each mixed cohort is also run with that
switched off (``*_no_array_covariate``) to show what the default is worth. Nested CV (``cv.outer`` ×
``cv.inner`` of ``conf/``, default pipeline options with ``--model`` and ``--n-features``) gives the
out-of-fold balanced accuracy; the issue asks for the mixed cohort to be within 2 points of the single-array one.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cohort(root: Path, arrays: dict, args, spark, array_effect: float) -> tuple:
    from methylclass.simulate import simulate_mixed_cohort
    from methylclass.workflows.ingest import ingest

    root.mkdir(parents=True, exist_ok=True)
    sim = simulate_mixed_cohort(root / "sim", arrays, n_normals=0, n_probes=args.probes, classes=args.classes,
                                array_effect=array_effect,
                                seed=args.seed, dmps_per_class=args.dmps, dmps_per_family=args.dmps,
                                dmp_delta=tuple(args.delta), purity=tuple(args.purity), n_jobs=args.n_jobs)
    t0 = time.perf_counter()
    if spark is None:
        res = ingest(sim.samplesheet, root / "store", backend="local")
    else:
        res = ingest(sim.samplesheet, root / "store", spark=spark)
    return res, time.perf_counter() - t0


def _nested_cv(store: Path, args, array_covariate: bool) -> tuple:
    """``(dataset, scalars, adjusted covariates)`` of nested CV on ``store`` as the benchmark runs it."""
    from methylclass.config import load_config, setting
    from methylclass.tl.cv import nested_cv
    from methylclass.workflows.data import load_dataset, resolved_data_block
    from methylclass.workflows.runs import covariate_plan, estimator_factory

    over = [f"defaults.models=[{args.model}]", f"pipeline.n_features={args.n_features}"]
    if not array_covariate:
        over.append("store.array_covariate=false")
    cfg = load_config(overrides=over)
    cfg["data"] = {"store": str(store), "label_column": "Sample_Group"}
    ds = load_dataset(resolved_data_block(cfg))
    model_cfg, used, dropped = covariate_plan(cfg["models"][args.model], ds.covariates, ds.auto_covariates)
    inner = setting(cfg, "cv.inner")
    factory = estimator_factory(model_cfg, inner=inner, seed=args.seed)
    X = ds.X.drop(columns=dropped) if dropped else ds.X
    cv = nested_cv(X, ds.y, factory, outer=int(setting(cfg, "cv.outer")), inner=inner, seed=args.seed,
                   n_jobs=args.n_jobs, progress=False)
    return ds, cv.evaluate().scalars, used


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-class", type=int, default=12, help="tumours per class in each cohort")
    ap.add_argument("--classes", type=int, default=6)
    ap.add_argument("--probes", type=int, default=8000, help="CpGs of the union design")
    ap.add_argument("--dmps", type=int, default=20)
    ap.add_argument("--delta", type=float, nargs=2, default=(0.08, 0.25))
    ap.add_argument("--purity", type=float, nargs=2, default=(0.3, 0.9))
    ap.add_argument("--model", default="rf")
    ap.add_argument("--n-features", type=int, default=2000)
    ap.add_argument("--local", action="store_true", help="preprocess without Spark")
    ap.add_argument("--array-effects", default="0,1",
                    help="strengths of the per-array technical probe shift of the mixed cohorts (0 = none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-jobs", type=int, default=1, help="outer folds fitted in parallel (keep 1 on a busy machine)")
    ap.add_argument("--out", default=str(ROOT / "results" / "mixed_cohort_cv.json"))
    args = ap.parse_args(argv)

    spark = None
    if not args.local:
        from methylclass.spark.session import get_spark

        spark = get_spark()
    n = args.per_class
    third = [n // 3 + (1 if i < n % 3 else 0) for i in range(3)]
    out: dict = {"script": "pipelines/mixed_cohort_cv.py", "args": vars(args),
                 "settings": "conf/ defaults (cv, pipeline, store.array_covariate: true) with --model and "
                             "--n-features; *_no_array_covariate: store.array_covariate=false"}
    t0 = time.perf_counter()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        mixed = {"450k": third[0], "EPIC": third[1], "EPICv2": third[2]}
        cohorts = [("single_450k", {"450k": n}, 0.0)]
        cohorts += [(f"mixed_shift_{float(e):g}", mixed, float(e)) for e in args.array_effects.split(",")]
        for label, arrays, effect in cohorts:
            res, t_ingest = _cohort(Path(tmp) / label, arrays, args, spark, effect)
            variants = [(label, True)] + ([] if label == "single_450k" else [(f"{label}_no_array_covariate", False)])
            for name, flag in variants:
                t1 = time.perf_counter()
                ds, sc, used = _nested_cv(Path(tmp) / label / "store", args, flag)
                out[name] = {"arrays": ds.summary.get("arrays"), "n_samples": len(ds.X),
                             "n_cpgs": int(ds.X.shape[1] - len(ds.covariates)), "store_array": res.array,
                             "adjusted_covariates": used, "ingest_seconds": round(t_ingest, 1),
                             "cv_seconds": round(time.perf_counter() - t1, 1),
                             "balanced_accuracy": sc["balanced_accuracy"], "accuracy": sc["accuracy"],
                             "brier": sc["brier"]}
                runs.append(name)
                print(f"{name:32s} {out[name]['arrays']}  {out[name]['n_cpgs']:,} CpGs  adjusted {used or '-'}  "
                      f"balanced accuracy {sc['balanced_accuracy']:.3f}  (ingest {t_ingest:.0f} s, "
                      f"{'local' if spark is None else 'Spark'})")
    out["gaps"] = {}
    for label in runs[1:]:
        gap = out["single_450k"]["balanced_accuracy"] - out[label]["balanced_accuracy"]
        out["gaps"][label] = {"points": round(100 * gap, 2), "within_2_points": bool(gap <= 0.02)}
        print(f"single − {label}: {100 * gap:+.1f} points ({'within' if gap <= 0.02 else 'NOT within'} 2 points)")
    out.update(seconds=round(time.perf_counter() - t0, 1), python=platform.python_version())
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    main()
