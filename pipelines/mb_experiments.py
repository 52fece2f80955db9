"""Model-design experiments on the real medulloblastoma set (GSE85212, 341 × 399), one process, cached.

Each configuration is a config-file model entry (``conf/model/<name>.yaml`` merged into ``mb_benchmark``, possibly
changed) run through the library's nested CV (:func:`methylclass.tl.cv.nested_cv`, 5 outer × 3 inner folds,
``n_jobs=1``); seed 0 gives the outer splits of ``make benchmark``. Out-of-fold probabilities are cached under
``<cache>/mb_experiments/<name>_s<seed>.csv`` so that votes / log pools of members and the always-wrong samples
can be compared without refitting. Every fitted step (selection, scaling, search, calibration) sits in the
pipeline, i.e. inside each outer training fold. Seeds 0–2 were used while choosing, 3–7 only to confirm.

    python pipelines/mb_experiments.py --configs lda,knn_m_std --seeds 0,1,2
    python pipelines/mb_experiments.py --configs lda --seeds 0 --pool lda+knn_m_std --vote lda+knn_m_std
    python pipelines/mb_experiments.py --configs ensemble_pool --seeds 3,4,5,6,7 --report

``--report`` writes ``results/mb_experiments.json`` and ``results/mb_experiments_table.md`` (every cached
configuration: per-seed numbers, means, how many splits pass the four criteria of ``mb_benchmark``); the
narrative is ``results/mb_experiments.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from methylclass.config import load_config
from methylclass.paths import cache_dir
from methylclass.tl.cv import nested_cv
from methylclass.tl.metrics import evaluate
from methylclass.workflows.data import load_dataset
from methylclass.workflows.runs import estimator_factory

CACHE = cache_dir() / "mb_experiments"
WIDE_C = [0.01, 0.1, 1.0, 10.0, 100.0]


def _conf_model(name: str, **delta) -> dict:
    """A configured model (conf/model/<name>.yaml merged into mb_benchmark), optionally changed."""
    cfg = load_config("mb_benchmark", overrides=[f"defaults.models=[{name}]"])
    m = dict(cfg["models"][name])
    for k, v in delta.items():
        if k == "pipeline":
            m["pipeline"] = {**m.get("pipeline", {}), **v}
        else:
            m[k] = v
    return m


def _stack(members: dict, scale: str | None, combine: str = "stack", calibrate: str = "none") -> dict:
    """An ``ensemble`` entry (stacking by default) of ``members`` on CpGs at ``scale``."""
    return _conf_model("ensemble_stack", params={"combine": combine, "inner_cv": 3, "members": members},
                       pipeline={"scale": scale, "calibrate": calibrate})


def configs() -> dict[str, dict]:
    """name → model entry (estimator, params, pipeline, search) as the config files spell it."""
    return {
        "logreg": _conf_model("logreg"),
        "svm": _conf_model("svm"),
        "logreg_std": _conf_model("logreg", pipeline={"scale": "standard"},
                                  search={"method": "grid", "space": {"C": [0.001, 0.01, 0.1, 1.0]}}),
        "logreg_m_std": _conf_model("logreg", pipeline={"scale": "mvalue_standard"},
                                    search={"method": "grid", "space": {"C": [0.001, 0.01, 0.1, 1.0]}}),
        "logreg_wideC": _conf_model("logreg", search={"method": "grid", "space": {"C": WIDE_C}}),
        "svm_std": _conf_model("svm", pipeline={"scale": "standard"},
                               search={"method": "grid", "space": {"C": [0.0001, 0.001, 0.01, 0.1]}}),
        "knn_m_std": _conf_model("logreg", estimator="knn", params={"n_neighbors": 10},
                                 pipeline={"scale": "mvalue_standard", "balance": None},
                                 search={"method": "grid", "space": {"n_neighbors": [5, 10, 20]}}),
        "lda": _conf_model("logreg", estimator="lda", params={}, pipeline={"balance": None}, search=None),
        "lda_m": _conf_model("logreg", estimator="lda", params={}, pipeline={"scale": "mvalue", "balance": None},
                             search=None),
        "svm_m_std": _conf_model("svm", pipeline={"scale": "mvalue_standard"},
                                 search={"method": "grid", "space": {"C": [0.0001, 0.001, 0.01, 0.1]}}),
        "knn_std": _conf_model("logreg", estimator="knn", params={"n_neighbors": 10},
                               pipeline={"scale": "standard", "balance": None},
                               search={"method": "grid", "space": {"n_neighbors": [5, 10, 20]}}),
        "lda_std": _conf_model("logreg", estimator="lda", params={}, pipeline={"scale": "standard", "balance": None},
                               search=None),
        "stack_lda_knn": _stack({"lda": {}, "knn": {"n_neighbors": 10}}, None),
        "stack_lda_knn_std": _stack({"lda": {}, "knn": {"n_neighbors": 10}}, "standard"),
        "stack_lda_knn_logreg_std": _stack({"lda": {}, "knn": {"n_neighbors": 10},
                                            "logreg": {"balance": "class_weight", "C": 0.1}}, "standard"),
        "votecal_lda_knn_std": _stack({"lda": {}, "knn": {"n_neighbors": 10}}, "standard", "soft", "ridge"),
        "votecal_lda_knn_logreg_std": _stack({"lda": {}, "knn": {"n_neighbors": 10},
                                              "logreg": {"balance": "class_weight", "C": 0.1}}, "standard",
                                             "soft", "ridge"),
        "lda_nocal": _conf_model("logreg", estimator="lda", params={}, pipeline={"balance": None,
                                                                              "calibrate": None}, search=None),
        "knn_m_std_nocal": _conf_model("logreg", estimator="knn", params={"n_neighbors": 10},
                                       pipeline={"scale": "mvalue_standard", "balance": None, "calibrate": None},
                                       search={"method": "grid", "space": {"n_neighbors": [5, 10, 20]}}),
        "ensemble_pool": _conf_model("ensemble_pool"),
        "rf": _conf_model("rf"),
        "ensemble_stack": _conf_model("ensemble_stack"),
        "ensemble": _conf_model("ensemble"),
    }


def run(name: str, entry: dict, seed: int, X: pd.DataFrame, y: pd.Series) -> pd.DataFrame:
    """Nested 5×3 CV of one configuration (cached)."""
    path = CACHE / f"{name}_s{seed}.csv"
    if path.is_file():
        return pd.read_csv(path, index_col=0)
    factory = estimator_factory(entry, inner=3, seed=0)
    t0 = time.perf_counter()
    res = nested_cv(X, y, factory, outer=5, inner=3, repeats=1, seed=seed, n_jobs=1, progress=False)
    out = res.proba.copy()
    out["fold"] = res.folds["repeat_0"]
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path)
    (CACHE / f"{name}_s{seed}.json").write_text(json.dumps({
        "seconds": time.perf_counter() - t0, "entry": entry,
        "params": None if res.params is None else res.params.to_dict(orient="records")}, default=str))
    return out


#: cache-based combinations tried while exploring (each member fitted in-fold; the combination rule has no
#: parameters): arithmetic means ("vote") and normalised geometric means ("pool") of calibrated members
VOTES = ["lda+knn_m_std", "lda+svm_std", "lda+logreg", "lda+knn_m_std+svm_std", "lda+knn_m_std+logreg_m_std",
         "lda+knn_std", "lda+knn_m_std+lda"]
POOLS = ["lda+knn_m_std", "lda+knn_std", "lda+knn_m_std+logreg_m_std", "lda+knn_m_std+svm_m_std",
         "lda_std+knn_m_std"]
#: outer-split seeds: 0 is the split of `make benchmark`; 0-2 were looked at while choosing, 3-7 only after
DEVELOPMENT, CONFIRMATION = (0, 1, 2), (3, 4, 5, 6, 7)
CRITERIA = {"balanced_accuracy": (">=", 0.98), "brier": ("<=", 0.03), "accuracy_classified": (">=", 0.995),
            "classifiable": (">=", 0.92)}


def cached(name: str, seed: int) -> pd.DataFrame | None:
    """Cached out-of-fold probabilities of one configuration and split seed (None if not run)."""
    path = CACHE / f"{name}_s{seed}.csv"
    return pd.read_csv(path, index_col=0).drop(columns="fold") if path.is_file() else None


def combine(parts: list[pd.DataFrame], rule: str) -> pd.DataFrame:
    """Arithmetic ("vote") or normalised geometric ("pool", floor 1e-6) mean of probability tables."""
    if rule == "vote":
        return sum(parts) / len(parts)
    G = np.exp(sum(np.log(np.clip(p, 1e-6, 1.0)) for p in parts) / len(parts))
    return G.div(G.sum(axis=1), axis=0)


def passes(row: dict) -> bool:
    """All four criteria of conf/experiment/mb_benchmark.yaml met."""
    return all(row[k] >= v if op == ">=" else row[k] <= v for k, (op, v) in CRITERIA.items())


def scores(y: pd.Series, P: pd.DataFrame, threshold: float = 0.9) -> dict:
    """The four criteria numbers (and the wrong samples) of out-of-fold probabilities."""
    classes = sorted(y.unique())
    P = P.loc[y.index, classes]
    s = evaluate(y, P, threshold=threshold).scalars
    pred = np.asarray(classes, dtype=object)[P.to_numpy().argmax(axis=1)]
    return {k: round(s[k], 4) for k in ("balanced_accuracy", "accuracy", "brier", "log_loss", "classifiable",
                                         "accuracy_classified")} | {
        "wrong": sorted(y.index[pred != y.to_numpy()].tolist())}


def main(argv: list[str] | None = None) -> int:
    """Run the requested configurations and print their numbers."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", default="logreg")
    p.add_argument("--seeds", default="0")
    p.add_argument("--vote", action="append", default=[], help="soft vote of cached configs, e.g. logreg+knn")
    p.add_argument("--pool", action="append", default=[], help="geometric pool of cached configs, e.g. lda+knn")
    p.add_argument("--report", action="store_true", help="write results/mb_experiments.{json,md} from the cache")
    args = p.parse_args(argv)
    cfg = load_config("mb_benchmark")
    ds = load_dataset(cfg["data"])
    X, y = ds.X, ds.y.astype(str)
    allc = configs()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = {}
    for name in args.configs.split(","):
        for seed in seeds:
            P = run(name, allc[name], seed, X, y)
            rows[f"{name} s{seed}"] = scores(y, P.drop(columns="fold"))
            print(name, seed, rows[f"{name} s{seed}"], flush=True)
    for rule, combos in (("vote", args.vote), ("pool", args.pool)):
        for combo in combos:
            for seed in seeds:
                key = f"{rule}({combo}) s{seed}"
                rows[key] = scores(y, combine([cached(m, seed) for m in combo.split("+")], rule))
                print(key, rows[key], flush=True)
    if args.report:
        report(y, allc)
    return 0


def report(y: pd.Series, allc: dict[str, dict], out: Path = Path("results")) -> None:
    """Every cached configuration and combination: per-seed numbers, means, how many splits pass."""
    table: dict[str, dict] = {}
    names = [(n, "single", n) for n in allc] + [(f"vote({c})", "vote", c) for c in VOTES] + \
        [(f"pool({c})", "pool", c) for c in POOLS]
    for label, rule, spec in names:
        per_seed = {}
        for seed in DEVELOPMENT + CONFIRMATION:
            if rule == "single":
                P = cached(spec, seed)
            else:
                parts = [cached(m, seed) for m in spec.split("+")]
                P = None if any(p is None for p in parts) else combine(parts, rule)
            if P is not None:
                r = scores(y, P)
                r["passes"] = passes(r)
                per_seed[seed] = r
        if not per_seed:
            continue
        keys = ("balanced_accuracy", "brier", "classifiable", "accuracy_classified")
        mean = {k: round(float(np.mean([r[k] for r in per_seed.values()])), 4) for k in keys}
        table[label] = {"seeds": per_seed, "mean": mean, "n_pass": sum(r["passes"] for r in per_seed.values()),
                        "n_seeds": len(per_seed)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "mb_experiments.json").write_text(json.dumps({
        "data": "GSE85212 341 x 399, nested 5x3 CV (methylclass.tl.cv.nested_cv), threshold 0.9",
        "development_seeds": DEVELOPMENT, "confirmation_seeds": CONFIRMATION, "criteria": CRITERIA,
        "configs": {k: v for k, v in allc.items()}, "results": table}, indent=1, default=str))
    lines = [("| configuration | splits | mean bal. acc. | mean Brier | mean classifiable | mean acc. called | "
             "seed 0 (make benchmark) | splits passing all four |"), "|---|---|---|---|---|---|---|---|"]
    for label, t in table.items():
        s0 = t["seeds"].get(0)
        s0txt = (f"{s0['balanced_accuracy']:.3f} / {s0['brier']:.4f} / {s0['classifiable']:.3f} / "
                 f"{s0['accuracy_classified']:.4f}") if s0 else "–"
        m = t["mean"]
        lines.append(f"| {label} | {','.join(map(str, t['seeds']))} | {m['balanced_accuracy']:.4f} | "
                     f"{m['brier']:.4f} | {m['classifiable']:.3f} | {m['accuracy_classified']:.4f} | {s0txt} | "
                     f"{t['n_pass']}/{t['n_seeds']} |")
    (out / "mb_experiments_table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
