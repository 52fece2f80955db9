"""CNV feature block vs the ridge penalty on the simulated cohort: nested 3×3 CV of logreg variants, one process.

The standard simulated cohort (``python pipelines/benchmark.py --make-simulated``; 12 imbalanced classes, CpGs +
68 copy-number features from the store) under ``simulated_ablation`` with 3 outer × 3 inner folds: CNV block
unweighted (``pipeline.block_weight: 1``), weighted 0.1, ``auto`` (median training-fold SD of the selected CpGs),
the weight searched in-fold, no CNV block, and all features standardised (``pipeline.scale: standard``).

    python pipelines/cnv_block_weight.py                      # every variant → results/cnv_block_weight.json
    python pipelines/cnv_block_weight.py with_cnv_auto,no_cnv # a subset
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from methylclass.config import load_config
from methylclass.paths import cache_dir
from methylclass.tl.cv import nested_cv
from methylclass.workflows.data import load_dataset
from methylclass.workflows.runs import estimator_factory

ROOT = cache_dir() / "simulated" / "benchmark_cohort"
BASE = [f"data.store={ROOT / 'store'}", f"data.labels={ROOT / 'sim' / 'truth' / 'samples.tsv'}",
        "defaults.cv=nested_3x3"]
WIDE = {"method": "grid", "space": {"C": [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]}}
#: name → (config overrides, changes to the logreg model entry)
VARIANTS: dict[str, tuple[list[str], dict]] = {
    "with_cnv_unweighted": ([], {"pipeline": {"block_weight": 1.0}}),
    "with_cnv_w0.1": ([], {"pipeline": {"block_weight": 0.1}}),
    "with_cnv_auto": ([], {"pipeline": {"block_weight": "auto"}}),
    "with_cnv_searched": ([], {"pipeline": {"block_weight": 1.0},
                               "search": {"method": "grid", "space": {"C": [0.1, 1.0, 10.0],
                                                                      "pipeline.block_weight": [0.03, 0.1, 0.3,
                                                                                                1.0]}}}),
    "no_cnv": (["data.feature_blocks=[]"], {}),
    "with_cnv_standardised": ([], {"search": WIDE, "pipeline": {"scale": "standard"}}),
    "no_cnv_standardised": (["data.feature_blocks=[]"], {"search": WIDE, "pipeline": {"scale": "standard"}}),
}


def run(name: str) -> dict:
    """Nested 3×3 CV of one variant; the four criteria numbers, the chosen parameters and the time."""
    overrides, delta = VARIANTS[name]
    cfg = load_config("simulated_ablation", overrides=BASE + overrides)
    model = dict(cfg["models"]["logreg"])
    for k, v in delta.items():
        model[k] = {**model.get(k, {}), **v} if k == "pipeline" else v
    ds = load_dataset(cfg["data"])
    X = ds.X.drop(columns=ds.covariates)  # as the benchmark workflow does for models without pipeline.adjust
    factory = estimator_factory(model, inner=3, seed=0, feature_blocks=tuple(cfg["data"].get("feature_blocks") or ()))
    t0 = time.perf_counter()
    res = nested_cv(X, ds.y, factory, outer=3, inner=3, seed=0, n_jobs=1, rare="merge", progress=False)
    ev = res.evaluate(threshold=0.9).scalars
    out = {k: round(ev[k], 4) for k in ("balanced_accuracy", "brier", "classifiable", "accuracy_classified")}
    out["params"] = None if res.params is None else res.params.drop(columns=["repeat", "fold"]).to_dict("records")
    out.update(seconds=round(time.perf_counter() - t0, 1), n_features=int(X.shape[1]))
    return out


def main(argv: list[str]) -> int:
    """Run the named variants (all by default) and merge them into results/cnv_block_weight.json."""
    names = argv[0].split(",") if argv else list(VARIANTS)
    path = Path("results") / "cnv_block_weight.json"
    table = json.loads(path.read_text()) if path.is_file() and argv else {}
    for name in names:
        table[name] = run(name)
        print(name, table[name], flush=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
