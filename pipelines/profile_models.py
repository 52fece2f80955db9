"""Profile one outer-fold fit of benchmark models on a Heidelberg-shaped, scaled-down cohort.

    python pipelines/profile_models.py --samples 600 --models logreg,svm,xgb,rf,mlp
    python pipelines/profile_models.py --models xgb --set models.xgb.params.n_estimators=5   # per-round cost

The cohort is a beta matrix drawn directly (no IDATs): ``--classes`` classes (default 91) in 29 families with
power-law sizes (largest 25, smallest 5 at 600 samples — the shape of ``pipelines/benchmark.py``'s Heidelberg
cohort), ``--cpgs`` CpGs (default 10,000) with 1 % class DMPs (±0.4) on family profiles, noise sd 0.1, and 60
``cnv_`` features. Each model is built exactly as ``methylclass benchmark`` builds it (``conf/`` + ``--set``,
inner 3-fold calibration), fitted on the first outer training fold (80 %) of a 5-fold split, then asked for
probabilities, conformal sets and OOD scores of the test fold, under cProfile. Every model runs in its own
process (``--one``). Reported per model: wall and CPU seconds (CPU is what to extrapolate from on a shared
machine), the top functions by cumulative and own time. Writes ``results/heidelberg_profile.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import subprocess
import sys
import time
from pathlib import Path

from bench_record import machine_record
from benchmark import heidelberg_sizes

ROOT = Path(__file__).resolve().parent.parent


def cohort(n_total: int, n_classes: int, n_cpg: int, n_cnv: int = 60, seed: int = 0):
    """The scaled-down Heidelberg-shaped beta matrix (module docstring) and its labels."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    sizes = heidelberg_sizes(n_classes, n_total, max(round(143 * n_total / 2801), 2 * n_total // n_classes), 5)
    fam = rng.integers(0, 29, n_classes)
    base = rng.beta(0.5, 0.5, n_cpg)
    fam_prof = np.clip(base + rng.normal(0, 0.25, (29, n_cpg)) * (rng.random((29, n_cpg)) < 0.02), 0, 1)
    rows, labels = [], []
    for c in range(n_classes):
        prof = fam_prof[fam[c]].copy()
        dm = rng.random(n_cpg) < 0.01
        prof[dm] = np.clip(prof[dm] + rng.choice([-0.4, 0.4], dm.sum()), 0, 1)
        rows.append(np.clip(prof + rng.normal(0, 0.1, (sizes[c], n_cpg)), 0, 1))
        labels += [f"C{c:02d}"] * sizes[c]
    X = np.vstack(rows)
    idx = [f"S{i}" for i in range(len(X))]
    cols = [f"cg{i:08d}" for i in range(n_cpg)] + [f"cnv_f{i}" for i in range(n_cnv)]
    return (pd.DataFrame(np.hstack([X, rng.normal(0, 0.1, (len(X), n_cnv))]), columns=cols, index=idx),
            pd.Series(labels, index=idx))


def _top(pr: cProfile.Profile, key: str, n: int) -> list[dict]:
    st = pstats.Stats(pr, stream=io.StringIO())
    st.sort_stats(key)
    out = []
    for func in st.fcn_list[:n]:
        _, nc, tt, ct, _ = st.stats[func]
        out.append({"function": f"{Path(func[0]).name}:{func[1]}({func[2]})", "calls": nc,
                    "own_s": round(tt, 3), "cumulative_s": round(ct, 3)})
    return out


def profile_one(model: str, n: int, n_classes: int, n_cpg: int, overrides: list[str]) -> dict:
    """One outer-fold fit + predict of ``model`` under cProfile (runs in this process)."""
    from sklearn.model_selection import StratifiedKFold

    from methylclass.config import load_config
    from methylclass.workflows.runs import estimator_factory

    X, y = cohort(n, n_classes, n_cpg)
    cfg = load_config(None, overrides=[f"defaults.models=[{model}]", *overrides])
    est = estimator_factory(cfg["models"][model], inner=3, seed=0, feature_blocks=["cnv_"])()
    train, test = next(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    pr = cProfile.Profile()
    t, c = time.perf_counter(), time.process_time()
    pr.enable()
    est.fit(X.iloc[train], y.iloc[train].to_numpy())
    t_fit, c_fit = time.perf_counter() - t, time.process_time() - c
    est.predict_proba(X.iloc[test])
    for extra in ("predict_sets", "ood_score"):
        if hasattr(est, extra):
            getattr(est, extra)(X.iloc[test])
    pr.disable()
    return {"model": model, "samples": n, "classes": n_classes, "cpgs": n_cpg, "n_train": len(train),
            "overrides": overrides, "fit_wall_s": round(t_fit, 2), "fit_cpu_s": round(c_fit, 2),
            "total_wall_s": round(time.perf_counter() - t, 2), "total_cpu_s": round(time.process_time() - c, 2),
            "top_cumulative": _top(pr, "cumulative", 25), "top_own": _top(pr, "tottime", 15)}


def main(argv: list[str] | None = None) -> int:
    """Run every model in its own process and write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=600)
    ap.add_argument("--classes", type=int, default=91)
    ap.add_argument("--cpgs", type=int, default=10_000)
    ap.add_argument("--models", default="logreg,svm,xgb,rf,mlp")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "heidelberg_profile.json")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print("RESULT " + json.dumps(profile_one(args.one, args.samples, args.classes, args.cpgs, args.overrides)))
        return 0
    report = json.loads(args.out.read_text()) if args.out.is_file() else {"runs": []}
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        cmd = [sys.executable, __file__, "--one", model, "--samples", str(args.samples), "--classes",
               str(args.classes), "--cpgs", str(args.cpgs), *[a for o in args.overrides for a in ("--set", o)]]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            print(f"{model}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        res = json.loads(line[len("RESULT "):]) | {"record": machine_record()}
        report["runs"].append(res)
        print(f"{model}: fit {res['fit_wall_s']:.1f} s wall / {res['fit_cpu_s']:.1f} s CPU (load "
              f"{res['record']['load_average'][0]:.1f})", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
