"""The understanding runs: embeddings, CpG panels and SHAP on the real medulloblastoma set and a simulated cohort.

    python pipelines/understand.py [--fast] [--datasets mb,simulated] [--out understand_out]

For each data set it calls the commands a user would (``methylclass embed``, ``panel``, ``train`` + ``explain``)
and writes their folders (each with an ``index.html``) under ``OUT/<dataset>/``; then ``OUT/index.html`` links them
and ``results/understand.json`` records the headline numbers (cluster agreement, smallest panel, recall of the
planted class DMPs in the SHAP top 100 and the Boruta selection on the simulated cohort).

Data: GSE85212 (341 medulloblastomas × 399 CpGs, shared data folder) and a β-level simulated cohort with planted
class DMPs (``methylclass.simulate.betas``: 5 classes × 40 samples × 5,000 CpGs, 25 class DMPs per class).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def _run(argv: list[str]) -> None:
    from methylclass.cli import main

    print("$ methylclass " + " ".join(argv), flush=True)
    t0 = time.perf_counter()
    rc = main(argv)
    if rc:
        raise SystemExit(rc)
    print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)


def _simulated(out: Path, fast: bool) -> tuple[Path, list[str]]:
    from methylclass.simulate.betas import simulate_betas

    sim = simulate_betas(n_probes=1000 if fast else 5000, classes=5, families=5, n_per_class=15 if fast else 40,
                         dmps_per_class=25, dmps_per_family=0, dmp_delta=(0.15, 0.35), purity=(0.6, 0.9),
                         heterogeneity=1.0, ffpe_fraction=0.0, seed=0)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "simulated_betas.csv.gz"
    df = sim.X.copy()
    df.insert(0, "class", sim.y)
    df.rename_axis("sample").to_csv(path, float_format="%.4f")
    sim.dmps.to_csv(out / "planted_dmps.csv", index=False)
    return path, sim.class_dmps()


def _recall(truth: list[str], X: pd.DataFrame, y: pd.Series, panel_dir: Path, explain_dir: Path) -> dict:
    import numpy as np

    from methylclass.tl.panel import PanelOptions, rank_features

    t = set(truth)
    imp = pd.read_csv(explain_dir / "importance.csv").groupby("feature")["importance"].sum()
    top_shap = set(imp.sort_values(ascending=False).index[:100])
    from methylclass.models.selectors import top_variance_indices

    pre = top_variance_indices(X.to_numpy(float), 2000)
    order, score = rank_features(X.iloc[:, pre].to_numpy(float), y.to_numpy(), "boruta", PanelOptions())
    cols = X.columns[pre]
    confirmed = set(cols[score == -1])
    top_boruta = set(cols[order[:100]])
    folds = pd.read_csv(panel_dir / "fold_panels.csv")
    shap_folds = folds[(folds["ranking"] == "shap") & (folds["rank"] < 100)].groupby("fold")["feature"].apply(set)
    return {"planted_class_dmps": len(t),
            "recall_shap_top100_trained_model": round(len(top_shap & t) / len(t), 3),
            "recall_boruta_confirmed": round(len(confirmed & t) / len(t), 3),
            "boruta_confirmed": len(confirmed),
            "recall_boruta_top100": round(len(top_boruta & t) / len(t), 3),
            "recall_shap_top100_per_fold_mean": round(float(np.mean([len(s & t) / len(t) for s in shap_folds])), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fast", action="store_true", help="small settings (minutes)")
    ap.add_argument("--datasets", default="mb,simulated")
    ap.add_argument("--out", default=str(ROOT / "understand_out"))
    args = ap.parse_args()
    from methylclass.paths import data_dir

    out = Path(args.out)
    record: dict = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "fast": args.fast}
    sizes = "5,10,25,50" if args.fast else "5,10,25,50,100,250,500"
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        d = out / name
        if name == "mb":
            betas = data_dir() / "labelled" / "mb_gse85212" / "mb_gse85212_341x399.csv.gz"
            common = ["--betas", str(betas), "--label-column", "subgroup", "--sample-column", "GSM"]
            ann, truth, n_feat = ["--array", "450k"], None, "399"
        else:
            betas, truth = _simulated(d, args.fast)
            common = ["--betas", str(betas), "--label-column", "class"]
            ann, n_feat = [], "2000"
        _run(["embed", *common, "--out", str(d / "embed"), "--n-features", n_feat,
              *(["--methods", "pca,hierarchical,tsne"] if args.fast else [])])
        _run(["panel", *common, "--out", str(d / "panel"), "--sizes", sizes, *ann,
              *(["--rankings", "shap,variance", "--outer", "3"] if args.fast else [])])
        _run(["train", *common, "--model", "rf", "--out", str(d / "model"), "--overwrite",
              "--set", f"pipeline.n_features={n_feat}"])
        _run(["explain", "--model", str(d / "model"), "--betas", str(betas), "--out", str(d / "explain"),
              *(["--sample-column", "GSM"] if name == "mb" else []), *ann])
        rec = {"agreement": pd.read_csv(d / "embed" / "agreement.csv").to_dict(orient="records"),
               "smallest_panel": json.loads((d / "panel" / "summary.json").read_text())["recommended"]}
        if truth is not None:
            from methylclass.io.betas_table import read_beta_table

            X, y = read_beta_table(betas, label_column="class")
            rec["recall"] = _recall(truth, X, y, d / "panel", d / "explain")
        record[name] = rec
        print(json.dumps(rec, indent=1, default=str), flush=True)
    links = "".join(f'<li>{n}: <a href="{n}/embed/index.html">embeddings</a> · <a href="{n}/panel/index.html">'
                    f'CpG panels</a> · <a href="{n}/explain/index.html">SHAP</a></li>'
                    for n in record if n in ("mb", "simulated"))
    (out / "index.html").write_text(f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>methylclass "
                                    f"understanding runs</title></head><body><h1>Understanding runs</h1><ul>{links}"
                                    "</ul></body></html>", encoding="utf-8")
    res = ROOT / "results" / "understand.json"
    res.parent.mkdir(exist_ok=True)
    res.write_text(json.dumps(record, indent=1, default=str))
    print(f"wrote {out / 'index.html'} and {res}")


if __name__ == "__main__":
    main()
