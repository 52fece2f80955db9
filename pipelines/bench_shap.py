"""Global SHAP at scale: 500 samples × 10,000 CpGs, rf / xgb / logreg (writes results/bench_shap.json).

    python pipelines/bench_shap.py [--samples 500] [--cpgs 10000] [--models rf,xgb,logreg] [--n-jobs 1]

A simulated cohort (5 classes, planted class DMPs; ``methylclass.simulate.betas``) is fitted once per model
(``make_pipeline(model, select="variance", n_features=all, calibrate=None)``; rf 300 trees, xgb 100 rounds) and
then :func:`methylclass.tl.explain.explain` computes the SHAP values of all samples on all 10,000 features
(TreeSHAP path-dependent for rf/xgb, exact LinearExplainer for logreg). Reported: fit and explain wall/CPU
seconds, peak RSS, and the recall of the planted class DMPs among the top 100 of the global ranking.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

from bench_record import machine_record

ROOT = Path(__file__).resolve().parent.parent
PARAMS = {"rf": {"n_estimators": 300}, "xgb": {"n_estimators": 100}, "logreg": {}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--cpgs", type=int, default=10_000)
    ap.add_argument("--models", default="rf,xgb,logreg")
    ap.add_argument("--n-jobs", type=int, default=1, help="threads of the model fit and of TreeSHAP")
    ap.add_argument("--out", default=str(ROOT / "results" / "bench_shap.json"))
    args = ap.parse_args()

    from threadpoolctl import threadpool_limits

    from methylclass.models import make_pipeline
    from methylclass.simulate.betas import simulate_betas
    from methylclass.tl.explain import explain
    from methylclass.tl.importance import shap_ranking

    k = 5
    sim = simulate_betas(n_probes=args.cpgs, classes=k, families=k, n_per_class=args.samples // k, dmps_per_class=20,
                         dmps_per_family=0, dmp_delta=(0.15, 0.35), purity=(0.6, 0.9), heterogeneity=1.0,
                         ffpe_fraction=0.0, seed=0)
    truth = set(sim.class_dmps())
    rows = []
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        clf = make_pipeline(model, select="variance", n_features=args.cpgs, calibrate=None, n_jobs=args.n_jobs,
                            **PARAMS.get(model, {}))
        with threadpool_limits(limits=args.n_jobs):
            t0, c0 = time.perf_counter(), time.process_time()
            clf.fit(sim.X, sim.y)
            t1, c1 = time.perf_counter(), time.process_time()
            exp = explain(clf, sim.X)
            t2, c2 = time.perf_counter(), time.process_time()
        top = set(shap_ranking(exp).index[:100])
        row = {"model": model, "explainer": exp.method, "output": exp.output, "n_samples": len(sim.X),
               "n_features": len(exp.features), "n_classes": len(exp.classes),
               "fit_seconds": round(t1 - t0, 2), "fit_cpu_seconds": round(c1 - c0, 2),
               "explain_seconds": round(t2 - t1, 2), "explain_cpu_seconds": round(c2 - c1, 2),
               "recall_planted_top100": round(len(top & truth) / len(truth), 3)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    record = {"benchmark": "global SHAP", "rows": rows, "peak_rss_mb": round(peak, 1),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_1min": round(os.getloadavg()[0], 2)},
              "planted_class_dmps": len(truth), "n_jobs": args.n_jobs,
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "record": machine_record()}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
