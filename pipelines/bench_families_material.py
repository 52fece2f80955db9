"""Planted-truth numbers for class families and the in-fold material adjustment (issue 12), on beta-level
simulated cohorts (:func:`methylclass.simulate.betas.simulate_betas`), nested 5 x 3 CV of the tuned ridge
logistic regression. Writes ``results/families_material.json``.

1. Families: 6 classes in 3 sibling pairs, 20 % ambiguous sibling-class samples. Counts of class-level
   no-matches among the ambiguous samples, how many the family fallback turns into correct family calls, and
   wrong family calls above the threshold.
2. Material: a cohort with a strong FFPE effect (logit shift ~ N(2, 1.3) on 30 % of the CpGs, FFPE share 0.9 in
   half of the classes and 0.1 in the others) and a harder one without any FFPE effect (same confounding);
   balanced accuracy / Brier without adjustment, with ``adjust`` (CovariateAdjuster fitted per fold, empirical-
   Bayes shrinkage) and with limma's unshrunken estimate, with 95 % bootstrap intervals.

    python pipelines/bench_families_material.py [--results results]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from methylclass.models import decide_hierarchical, make_pipeline
from methylclass.simulate.betas import simulate_betas
from methylclass.tl.cv import nested_cv
from methylclass.tl.hierarchy import bootstrap_ci

SEARCH = {"space": {"C": [0.1, 1.0, 10.0]}}


def families(seed: int) -> dict:
    c = simulate_betas(classes=6, n_per_class=30, n_probes=2000, dmps_per_class=10, dmps_per_family=30,
                       ambiguous_fraction=0.2, seed=seed)
    res = nested_cv(c.X, c.truth["class"], lambda: make_pipeline("logreg", n_features=500, balance="class_weight",
                                                                 search=SEARCH),
                    outer=5, inner=3, n_jobs=1, progress=False)
    out = decide_hierarchical(res.proba, taxonomy=c.taxonomy, threshold=0.9)
    amb = c.truth["ambiguous"].to_numpy()
    fam = c.truth["family"].to_numpy()
    lvl, pred = out["prediction_level"].to_numpy(), out["prediction"].to_numpy()
    class_nm = lvl != "class"
    fcall = lvl == "family"
    return {"seed": seed, "n_samples": len(c.X), "n_ambiguous": int(amb.sum()),
            "ambiguous_class_no_match": int((amb & class_nm).sum()),
            "ambiguous_rescued_to_correct_family": int((amb & fcall & (pred == fam)).sum()),
            "family_calls": int(fcall.sum()), "wrong_family_calls": int((fcall & (pred != fam)).sum()),
            "wrong_class_calls": int(((lvl == "class") & (pred != c.truth["class"].to_numpy())).sum())}


def material(shift: float, frac: float, seed: int, *, dmps: int, heterogeneity: float,
             purity: tuple[float, float]) -> dict:
    c = simulate_betas(classes=4, families=4, n_per_class=30, n_probes=2000, dmps_per_class=dmps,
                       dmps_per_family=0, ffpe_fraction=0.5, ffpe_shift=shift, ffpe_probe_fraction=frac,
                       ffpe_class_bias=0.4, heterogeneity=heterogeneity, purity=purity, seed=seed)
    out = {"ffpe_shift": shift, "ffpe_probe_fraction": frac, "seed": seed}
    variants = {"unadjusted": None, "adjusted": True, "adjusted_no_shrinkage": {"shrink": False}}
    for name, adjust in variants.items():
        X = c.X.assign(cov_material=c.truth["ffpe"].astype(float).to_numpy()) if adjust else c.X
        res = nested_cv(X, c.truth["class"], lambda a=adjust: make_pipeline(
            "logreg", n_features=200, balance="class_weight", search=SEARCH, adjust=a),
            outer=5, inner=3, n_jobs=1, progress=False)
        s = res.evaluate().scalars
        ci = bootstrap_ci(res.y, res.proba, n_boot=1000)
        out[name] = {k: {"value": s[k], "ci95": ci[k]} for k in ("balanced_accuracy", "brier")}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", default="results")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    rec = {"families": [families(s) for s in (1, 2)],
           "material": {"strong_ffpe": material(2.0, 0.3, 2, dmps=6, heterogeneity=3.0, purity=(0.3, 0.7)),
                        "no_ffpe": material(0.0, 0.01, 3, dmps=3, heterogeneity=8.0, purity=(0.2, 0.5))}}
    rec["seconds"] = time.perf_counter() - t0
    out = Path(args.results) / "families_material.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rec, indent=1, default=lambda o: float(o) if isinstance(o, np.floating) else str(o)))
    print(json.dumps(rec, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
