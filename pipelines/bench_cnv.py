"""Benchmark: per-sample CNV time on a 450k-size sample once bins are cached (target ≤ 0.5 s).

    python pipelines/bench_cnv.py [--samples 6] [--repeats 3]   # prints a table, writes results/cnv.json

The real HM450 manifest and hg19 bins are used; total intensities of 16 normals and the tumours are
simulated on its 470,870 CNV probes (probe affinities shared by all samples, log-normal noise, planted arm
and focal events). Timed per sample: reference fit, bin medians/variances + shift, segmentation, calls — the
whole of :func:`methylclass.pp.cnv.cnv_sample` — for the default CBS (tail p-values), DNAcopy's hybrid
permutation scheme and binary segmentation. Wall and CPU seconds are reported (CPU is the stable number on a
shared machine).
Peers for comparison (issue note): mepylome 2.08 s, conumee2 20.4 s per sample.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _simulate(bins, genome, n_normals: int, n_tumours: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = bins.n_fit_probes
    aff = rng.normal(12, 1, n)
    sd = rng.uniform(0.12, 0.3, n)
    pq = dict(zip(genome.chroms, genome.pq))
    arm = np.char.add(np.char.replace(bins.probe_chrom.astype(str), "chr", ""),
                      np.where(bins.probe_pos <= np.array([pq[c] for c in bins.probe_chrom]), "p", "q"))

    def sample(cn):
        return np.exp2(aff + rng.normal(0, 0.3) + 0.6 * np.log2(cn / 2) + rng.normal(0, sd))

    normals = np.vstack([sample(np.full(n, 2.0)) for _ in range(n_normals)])
    tumours = []
    arms = np.unique(arm)
    for _ in range(n_tumours):
        cn = np.full(n, 2.0)
        for a in rng.choice(arms, 6, replace=False):
            cn[arm == a] = rng.choice([1.0, 3.0])
        egfr = (bins.probe_chrom == "chr7") & (bins.probe_pos > 54_900_000) & (bins.probe_pos < 55_500_000)
        cn[egfr] = 12
        tumours.append(sample(cn))
    return normals, tumours


def _time(fn, repeats: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus)


def main() -> None:
    """Run the benchmark and write results/cnv.json."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "results" / "cnv.json"))
    args = ap.parse_args()

    from methylclass.io.manifest import load_manifest
    from methylclass.pp.cnv import (
        CBSParams,
        CNVReference,
        bin_values,
        cnv_sample,
        load_genome,
        make_bins,
        segment,
    )

    man = load_manifest("HM450")
    w0 = time.perf_counter()
    bins = make_bins(man, "hg19", cache=False)
    build_s = time.perf_counter() - w0
    make_bins(man, "hg19")  # make sure the cache file exists
    w0 = time.perf_counter()
    bins = make_bins(man, "hg19")
    cached_s = time.perf_counter() - w0
    genome = load_genome("hg19")
    normals, tumours = _simulate(bins, genome, 16, args.samples)
    w0 = time.perf_counter()
    ref = CNVReference.from_intensities(normals, bins)
    ref.stats()
    ref_s = time.perf_counter() - w0
    cnv_sample(tumours[0], ref, bins, sample="warm-up")  # imports, boundary table, region look-ups

    rows = {}
    configs = {"cbs_tail (default)": ("cbs", CBSParams()), "cbs_hybrid (DNAcopy p-values)":
               ("cbs", CBSParams(p_method="hybrid")), "binseg": ("binseg", CBSParams())}
    for label, (method, params) in configs.items():
        walls, cpus = [], []
        slow = params.p_method != "tail" and method == "cbs"  # permutations: fewer samples, one run each
        for i, q in enumerate(tumours[:2] if slow else tumours):
            w, c = _time(lambda q=q, i=i, m=method, p=params: cnv_sample(q, ref, bins, sample=f"t{i}",
                                                                         method=m, seg_params=p),
                         1 if slow else args.repeats)
            walls.append(w)
            cpus.append(c)
        rows[label] = {"wall_median_s": statistics.median(walls), "wall_max_s": max(walls),
                       "cpu_median_s": statistics.median(cpus)}

    # step breakdown of the default on one sample
    q = tumours[0]
    fit_w, _ = _time(lambda: ref.fit(q, bins), args.repeats)
    fit = ref.fit(q, bins)
    bin_w, _ = _time(lambda: bin_values(fit.ratios, bins), args.repeats)
    med, var = bin_values(fit.ratios, bins)
    seg_w, _ = _time(lambda: segment(med, bins.chrom, 1 / var), args.repeats)
    total_w = rows["cbs_tail (default)"]["wall_median_s"]
    steps = {"fit_s": fit_w, "bins_s": bin_w, "segment_s": seg_w,
             "calls_and_rest_s": max(total_w - fit_w - bin_w - seg_w, 0.0)}

    result = {"benchmark": "cnv_sample per 450k sample, bins cached", "target_s": 0.5,
              "n_bins": bins.n_bins, "n_probes": bins.n_fit_probes, "n_references": ref.n_references,
              "n_samples": len(tumours), "bins_build_s": build_s, "bins_cached_load_s": cached_s,
              "reference_build_s": ref_s, "per_sample": rows, "steps_default": steps,
              "peers_s": {"mepylome": 2.08, "conumee2": 20.4},
              "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()}}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"bins: build {build_s:.2f} s, cached load {cached_s:.3f} s ({bins.n_bins:,} bins, "
          f"{bins.n_fit_probes:,} probes); reference of 16 normals {ref_s:.2f} s")
    print(f"{'configuration':34s} {'wall median':>12s} {'wall max':>10s} {'cpu median':>11s}")
    for label, r in rows.items():
        print(f"{label:34s} {r['wall_median_s']:12.3f} {r['wall_max_s']:10.3f} {r['cpu_median_s']:11.3f}")
    print("default steps: " + ", ".join(f"{k} {v:.3f}" for k, v in steps.items()))
    print(f"wrote {out}")


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        main()
