"""Benchmark of the model zoo on the real medulloblastoma cohort (prints a table, writes results/models.json).

    python pipelines/bench_models.py [--outer 5] [--inner 3] [--models rf,logreg,enet,svm,svm_rbf,xgb,mlp]

1. Nested CV (stratified outer k, inner k inside the ridge calibrator) of every model on GSE85212 (341 × 399,
   labels: Group3/Group4/SHH/WNT) with the conf/ defaults (RF: per-tree down-sampling; others: class weights):
   balanced accuracy, multiclass Brier (0–2 scale), top-label ECE (15 bins), % classifiable at 0.9 and accuracy
   among them, fit CPU seconds per outer fold. Uncalibrated Brier/ECE are given for contrast.
2. Held-out subgroup: each subgroup in turn is left out of training (logreg, 50 % train / 25 % calibration /
   25 % test of the rest); fraction of its samples called "no_match" (0.9 threshold and/or kNN OOD at α = 0.05),
   empty conformal sets, and in-distribution coverage / no-match rate.
3. Boruta time on small data: BorutaSelector defaults (prefilter 1000, 100 trees, ≤ 50 iterations) on a
   200 × 2000 simulated matrix with 20 informative features.

Caveat from data/README: the 399 CpGs were chosen by the MBMethPred authors on this very cohort, so scores are
optimistic (MBMethPred reports > 96 % accuracy).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from bench_record import machine_record

ROOT = Path(__file__).resolve().parent.parent
CONF = {"rf": {"balance": "downsample", "n_estimators": 500}, "logreg": {"balance": "class_weight"},
        "enet": {"balance": "class_weight"}, "svm": {"balance": "class_weight"},
        "svm_rbf": {"balance": "class_weight"}, "xgb": {"balance": "class_weight"},
        "mlp": {"balance": "class_weight"}}


def brier(P, y, classes) -> float:
    Y = (y[:, None] == classes[None, :]).astype(float)
    return float(((P - Y) ** 2).sum(axis=1).mean())


def ece(P, y, classes, n_bins: int = 15) -> float:
    conf, correct = P.max(axis=1), classes[P.argmax(axis=1)] == y
    edges = np.linspace(0, 1, n_bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    return float(sum(abs(correct[idx == b].mean() - conf[idx == b].mean()) * (idx == b).mean()
                     for b in range(n_bins) if (idx == b).any()))


def nested_cv(X, y, model: str, outer: int, inner: int, calibrate: str | None):
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    from methylclass.models import make_pipeline

    est = make_pipeline(model, n_features=10000, calibrate=calibrate, inner_cv=inner, **CONF[model])
    classes = np.unique(y)
    P = np.zeros((len(y), len(classes)))
    fit_cpu = []
    for tr, te in StratifiedKFold(outer, shuffle=True, random_state=0).split(X, y):
        c0 = time.process_time()
        f = clone(est).fit(X.iloc[tr], y[tr])
        fit_cpu.append(time.process_time() - c0)
        P[te] = f.predict_proba(X.iloc[te])
    pred = classes[P.argmax(axis=1)]
    from sklearn.metrics import balanced_accuracy_score

    called = P.max(axis=1) >= 0.9
    return {"balanced_accuracy": balanced_accuracy_score(y, pred), "accuracy": float((pred == y).mean()),
            "brier": brier(P, y, classes), "ece": ece(P, y, classes),
            "classifiable_at_0.9": float(called.mean()),
            "accuracy_among_classified": float((pred[called] == y[called]).mean()),
            "fit_cpu_s_per_fold": float(np.mean(fit_cpu))}


def held_out(X, y):
    from sklearn.model_selection import train_test_split

    from methylclass.models import NO_MATCH, ConformalClassifier, KNNDistanceOOD, decide, make_pipeline
    from methylclass.models.decision import set_coverage, set_sizes

    out = {}
    for cls in np.unique(y):
        novel = y == cls
        Xi, yi = X[~novel], y[~novel]
        Xtr, Xr, ytr, yr = train_test_split(Xi, yi, test_size=0.5, stratify=yi, random_state=0)
        Xc, Xt, yc, yt = train_test_split(Xr, yr, test_size=0.5, stratify=yr, random_state=0)
        clf = make_pipeline("logreg", n_features=10000).fit(Xtr, ytr)
        cc = ConformalClassifier("lac", "class_conditional").fit(clf.predict_proba(Xc), yc, clf.classes_)
        ood = KNNDistanceOOD(5).fit(clf.transform_selected(Xtr)).calibrate(clf.transform_selected(Xc))
        res = {}
        for name, Xs in (("novel", X[novel]), ("in_distribution", Xt)):
            P = clf.predict_proba(Xs)
            flags = ood.flag(clf.transform_selected(Xs), 0.05)
            sets = cc.predict_sets(P, 0.1)
            res[name] = {"no_match_threshold_only": float((decide(P, clf.classes_) == NO_MATCH).mean()),
                         "ood_flagged": float(flags.mean()),
                         "no_match": float((decide(P, clf.classes_, ood=flags) == NO_MATCH).mean()),
                         "empty_conformal_set": float((set_sizes(sets) == 0).mean())}
            if name == "in_distribution":
                res[name]["conformal_coverage_0.9"] = set_coverage(sets, yt, clf.classes_)
        out[str(cls)] = res
    return out


def boruta_time() -> dict:
    from methylclass.models import BorutaSelector

    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b", "c", "d"], 50)
    X = rng.random((200, 2000))
    X[:, :20] += (np.searchsorted(np.unique(y), y)[:, None] * 0.1)
    w0, c0 = time.perf_counter(), time.process_time()
    sel = BorutaSelector().fit(X, y)
    return {"shape": [200, 2000], "wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0,
            "confirmed": sel.n_confirmed_, "planted_found": int(sel.get_support()[:20].sum()),
            "iterations": sel.n_iter_}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--outer", type=int, default=5)
    ap.add_argument("--inner", type=int, default=3)
    ap.add_argument("--models", default=",".join(CONF))
    ap.add_argument("--out", default=str(ROOT / "results" / "models.json"))
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits

    from methylclass.paths import data_dir

    df = pd.read_csv(data_dir() / "labelled/mb_gse85212/mb_gse85212_341x399.csv.gz")
    X = df.drop(columns=["GSM", "subgroup"]).set_index(df["GSM"])
    y = df["subgroup"].to_numpy(dtype=object)
    results: dict = {"machine": platform.node(), "python": platform.python_version(),
                     "scheme": f"{args.outer}-fold outer x {args.inner}-fold inner (ridge calibration)",
                     "models": {}}
    t0 = time.perf_counter()
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")
        print(f"{'model':8} {'bal.acc':>8} {'brier':>7} {'ece':>7} {'brier0':>7} {'ece0':>7} {'@0.9':>6} "
              f"{'acc@0.9':>8} {'fit s':>6}")
        for m in args.models.split(","):
            cal = nested_cv(X, y, m, args.outer, args.inner, "ridge")
            raw = nested_cv(X, y, m, args.outer, args.inner, None)
            cal["uncalibrated_brier"], cal["uncalibrated_ece"] = raw["brier"], raw["ece"]
            results["models"][m] = cal
            print(f"{m:8} {cal['balanced_accuracy']:8.4f} {cal['brier']:7.4f} {cal['ece']:7.4f} "
                  f"{raw['brier']:7.4f} {raw['ece']:7.4f} {cal['classifiable_at_0.9']:6.3f} "
                  f"{cal['accuracy_among_classified']:8.4f} {cal['fit_cpu_s_per_fold']:6.1f}", flush=True)
        results["held_out_subgroup"] = held_out(X, y)
        for cls, r in results["held_out_subgroup"].items():
            print(f"held out {cls:7}: novel no_match {r['novel']['no_match']:.2f} (threshold only "
                  f"{r['novel']['no_match_threshold_only']:.2f}, OOD {r['novel']['ood_flagged']:.2f}); "
                  f"in-distribution coverage {r['in_distribution']['conformal_coverage_0.9']:.3f}, "
                  f"no_match {r['in_distribution']['no_match']:.2f}")
        results["boruta"] = boruta_time()
        b = results["boruta"]
        print(f"Boruta 200 x 2000 (defaults): {b['wall_s']:.1f} s wall, {b['cpu_s']:.1f} s CPU, "
              f"{b['planted_found']}/20 planted kept, {b['iterations']} iterations")
    ok = [m for m, r in results["models"].items() if r["balanced_accuracy"] >= 0.97 and r["brier"] <= 0.06]
    results["criterion_ba>=0.97_brier<=0.06"] = ok
    results["wall_s"] = time.perf_counter() - t0
    print(f"models meeting BA ≥ 0.97 and Brier ≤ 0.06: {ok} ({len(ok)}); total {results['wall_s']:.0f} s")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    results["record"] = machine_record()
    tmp.write_text(json.dumps(results, indent=1, default=float))
    tmp.replace(out)


if __name__ == "__main__":
    main()
