"""Cross-array prediction: a model trained on 450k-like samples classifies EPICv2-like samples; accuracy
against coverage (CpGs removed at random) for the missing-CpG strategies.

    python pipelines/cross_array_coverage.py [--per-class 15] [--test-per-class 12] [--probes 10000]
    # prints tables, writes results/cross_array_coverage.json

A mixed cohort is simulated (:func:`methylclass.simulate.simulate_mixed_cohort`: the same classes on a
450k-like and an EPICv2-like layout with replicate probes and an array-specific probe shift), each array is
normalised (noob) with its own manifest, EPICv2 replicates are collapsed to canonical CpG ids (mean of the
non-missing replicates), a classifier (default pipeline options of ``conf/base.yaml``; ``--model``) is
trained on the 450k samples only, and the EPICv2 samples are predicted:

1. as they are (their natural coverage of the model's CpGs, ≈ 89 %);
2. with a further fraction (0–50 %) of the model's CpGs removed at random per sample, for each missing-CpG
   strategy: ``median`` (training medians: the classic default), ``centroid`` (likelihood-weighted class
   means of the training fold, :class:`methylclass.models.impute.CentroidImputer`).

Accuracy is the fraction of EPICv2 tumours whose top class is the true one (no threshold).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def _betas(res, kind: str) -> tuple[pd.DataFrame, pd.Series]:
    from methylclass.io.canonical import collapse_replicate_columns
    from methylclass.io.manifest import load_sesame_tsv
    from methylclass.workflows.ingest import preprocess_local

    sheet = pd.read_csv(res.samplesheet, dtype={"Sentrix_ID": str})
    man = res.manifests[kind]
    g = sheet[sheet["Array"] == man.array]
    probes, controls = res.manifest_files[kind]
    loaded = load_sesame_tsv(probes, array=man.array, controls=controls)
    refs = [{"sample": r.Sample_Name, "grn": str(res.out_dir / f"{r.Basename}_Grn.idat"),
             "red": str(res.out_dir / f"{r.Basename}_Red.idat")} for r in g.itertuples()]
    b, _ = preprocess_local(refs, manifest=loaded)
    y = g.set_index("Sample_Name")["Sample_Group"].reindex(b.index)
    return collapse_replicate_columns(b, loaded), y


def _drop(X: pd.DataFrame, features, frac: float, rng: np.random.Generator) -> pd.DataFrame:
    """``X`` with ``frac`` of ``features`` set to NaN at random, independently per sample."""
    X = X.reindex(columns=list(features)).copy()
    if frac <= 0:
        return X
    v = X.to_numpy()
    k = round(frac * v.shape[1])
    for i in range(v.shape[0]):
        v[i, rng.choice(v.shape[1], size=k, replace=False)] = np.nan
    return pd.DataFrame(v, index=X.index, columns=X.columns)


def _markdown(table: pd.DataFrame) -> str:
    """A markdown table (removed fraction, mean coverage, accuracy per strategy) for the README."""
    cols = list(table.columns)
    lines = ["| CpGs removed | " + " | ".join(cols) + " |", "|" + "---:|" * (len(cols) + 1)]
    for frac, row in table.iterrows():
        lines.append(f"| {frac:.0%} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-class", type=int, default=15, help="450k training tumours per class")
    ap.add_argument("--test-per-class", type=int, default=12, help="EPICv2 test tumours per class")
    ap.add_argument("--classes", type=int, default=8)
    ap.add_argument("--probes", type=int, default=10000, help="CpGs of the union design")
    ap.add_argument("--dmps", type=int, default=20, help="planted DMPs per class and per family")
    ap.add_argument("--delta", type=float, nargs=2, default=(0.08, 0.25), help="|Δβ| range of planted DMPs")
    ap.add_argument("--purity", type=float, nargs=2, default=(0.3, 0.9))
    ap.add_argument("--model", default="rf")
    ap.add_argument("--repeats", type=int, default=2, help="random removals per coverage level")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "results" / "cross_array_coverage.json"))
    args = ap.parse_args(argv)

    from methylclass.config import load_config
    from methylclass.io.canonical import feature_coverage
    from methylclass.models import make_pipeline
    from methylclass.simulate import simulate_mixed_cohort

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        res = simulate_mixed_cohort(Path(tmp) / "cohort", {"450k": args.per_class, "EPICv2": args.test_per_class},
                                    n_normals=0, n_probes=args.probes, classes=args.classes, seed=args.seed,
                                    dmps_per_class=args.dmps, dmps_per_family=args.dmps,
                                    dmp_delta=tuple(args.delta), purity=tuple(args.purity), n_jobs=2)
        X_tr, y_tr = _betas(res, "450k")
        X_te, y_te = _betas(res, "EPICv2")
    t_sim = time.perf_counter() - t0
    opts = dict(load_config().get("pipeline", {}))
    models, out_rows = {}, []
    for strategy in ("median", "centroid"):
        est = make_pipeline(args.model, **{**opts, "impute": strategy, "random_state": args.seed})
        models[strategy] = est.fit(X_tr, y_tr.to_numpy())
    features = list(models["centroid"].feature_names_in_)
    used = list(models["centroid"].selected_features_)
    natural = feature_coverage(X_te, used)
    rng = np.random.default_rng(args.seed)
    for frac in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5):
        for rep in range(args.repeats if frac > 0 else 1):
            Xd = _drop(X_te, features, frac, rng)
            cov = feature_coverage(Xd, used)
            for strategy, est in models.items():
                pred = est.predict(Xd)
                out_rows.append({"removed": frac, "repeat": rep, "strategy": strategy,
                                 "coverage_mean": float(cov.mean()),
                                 "accuracy": float(np.mean(pred == y_te.to_numpy()))})
    df = pd.DataFrame(out_rows)
    curve = df.groupby(["removed", "strategy"]).agg(coverage=("coverage_mean", "mean"),
                                                     accuracy=("accuracy", "mean")).reset_index()
    table = curve.pivot(index="removed", columns="strategy", values="accuracy")
    table.insert(0, "coverage", curve.groupby("removed")["coverage"].mean())
    print(f"450k training samples {len(X_tr)}, EPICv2 test samples {len(X_te)}, model {args.model}, "
          f"{len(used)} CpGs used; EPICv2 natural coverage {natural.mean():.3f} "
          f"(min {natural.min():.3f})")
    print(_markdown(table))
    record = {
        "script": "pipelines/cross_array_coverage.py", "args": vars(args), "n_train": len(X_tr),
        "n_test": len(X_te), "n_used_features": len(used),
        "natural_coverage_mean": float(natural.mean()), "natural_coverage_min": float(natural.min()),
        "curve": curve.to_dict("records"), "runs": out_rows,
        "seconds": round(time.perf_counter() - t0, 1), "seconds_simulate_preprocess": round(t_sim, 1),
        "python": platform.python_version(), "machine": platform.machine(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    return record


if __name__ == "__main__":
    main()
