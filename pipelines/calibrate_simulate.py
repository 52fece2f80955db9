"""Calibrate the simulator's intensity model on real arrays and print / save the fitted parameters.

    .venv/bin/python pipelines/calibrate_simulate.py [--array hm450|hm27] [--rounds 2] [--fraction 0.25]

hm450: the Green channel is fitted to the real 450k Green IDAT of 5723646052_R02C02
(``data/idat/hm450_green_parsed``: Mean, SD, NBeads of every address); the Red channel to the same sample's
Red intensities in the minfi oracle (``oracle/minfi_hm450_subset/RGset_Red.csv``, 1,938 addresses on chrX/chrY
and the controls; the sample is male). hm27: both channels of the real HM27 sample 4207113116_A.

Starting values of the Red/Green ratios were measured directly in the oracle (sample 1, chrX probes,
background-subtracted medians; both channels see the same copy number): Type I Red/Grn in-band totals 1.19
with NORM_A/T-to-NORM_C/G 1.01 → ``i_red_gain`` 1.2; Type II chemistry = the NORM controls → ``ii_red_gain``
1.0; out-of-band/in-band 0.028 (Red→Grn) and 0.055 (Grn→Red). The Red reference sample is simulated with
``cn_gamma`` 0.65 (X dosage of the oracle's 2 male vs 4 female samples, normalised by their NORM controls) so
that its chrX/chrY probes — all the Red oracle has — sit at real levels.

Method: staged Nelder–Mead minimising the sum of two-sample KS statistics (Mean and SD per probe group, see
:mod:`methylclass.simulate.calibration`) between a simulated nominal copy-neutral male sample and the real one,
with common random numbers (fixed seed) so the objective is deterministic. The fitted values are written to
``results/simulate_calibration_<array>.json``; copy them into ``methylclass/simulate/intensities.py::PRESETS``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize

from methylclass.io.idat import Idat, read_idat
from methylclass.io.manifest import load_manifest
from methylclass.io.manifest.types import Manifest
from methylclass.paths import data_dir
from methylclass.simulate.calibration import ks_table, real_450k_green, reference_channels
from methylclass.simulate.intensities import PRESETS, IntensityParams

ROOT = Path(__file__).resolve().parent.parent
CN_GAMMA = 0.65


SUBSET_CHROMS = ("chr1", "chr2", "chr6", "chr11", "chr17", "chr19")


def subset_manifest(m: Manifest, fraction: float) -> Manifest:
    """Whole chromosomes (all controls kept) holding about ``fraction`` of the probes: the same group
    distributions (probe density, hence CpG context, is unchanged within a chromosome), faster to simulate.
    chrX and chrY are always kept."""
    if fraction >= 1:
        return m
    chrom = m.probes["chrom"].to_numpy()
    keep = ["chrX", "chrY"]  # the Red reference (minfi oracle) covers chrX/chrY probes
    n = int(np.isin(chrom, keep).sum())
    for c in SUBSET_CHROMS:
        if n >= fraction * m.n_probes:
            break
        keep.append(c)
        n += int((chrom == c).sum())
    sel = np.isin(chrom, keep)
    return dataclasses.replace(m, probes=m.probes[sel].reset_index(drop=True), array=m.array + "_sub")


# parameter vector <-> IntensityParams ------------------------------------------------------------------
STAGES = {
    "background": ["bg_grn.0", "bg_grn.1", "bg_grn.2", "bead_bg_sd.0", "sd_spread", "crosstalk_to_grn",
                   "crosstalk_sd", "crosstalk_cv"],
    "probes": ["aff_ii.0", "aff_ii.1", "aff_i.0", "aff_i.1", "aff_shape", "aff_bead_sd", "aff_um_shift", "tech_sd",
               "bead_cv", "bead_cv_ii", "bead_shot"],
    "red": ["bg_red.0", "bg_red.1", "bg_red.2", "i_red_gain", "ii_red_gain", "crosstalk_to_red"],
    "red27": ["bg_red.0", "bg_red.1", "bg_red.2", "bead_bg_sd.1", "i_red_gain", "crosstalk_to_red"],
}


def get(p: IntensityParams, key: str) -> float:
    name, _, i = key.partition(".")
    v = getattr(p, name)
    return float(v[int(i)]) if i else float(v)


def put(p: IntensityParams, key: str, value: float) -> IntensityParams:
    name, _, i = key.partition(".")
    if i:
        v = list(getattr(p, name))
        v[int(i)] = value
        value = tuple(v)
    return dataclasses.replace(p, **{name: value})


def fit_stage(p: IntensityParams, keys: list[str], objective, max_evals: int) -> IntensityParams:
    x0 = np.array([get(p, k) for k in keys])
    scale = np.where(np.abs(x0) > 0, x0, 0.2)

    def f(z: np.ndarray) -> float:
        x = z * scale
        q = p
        for k, v in zip(keys, x):
            if v < 0 and k != "aff_um_shift":
                return 1e3
            q = put(q, k, float(v))
        return objective(q)

    res = optimize.minimize(f, np.where(x0 == 0, 0.0, 1.0), method="Nelder-Mead",
                            options={"maxfev": max_evals, "xatol": 1e-3, "fatol": 1e-4, "adaptive": True})
    for k, v in zip(keys, res.x * scale):
        p = put(p, k, float(v))
    print(f"  stage {keys[0]}…: objective {res.fun:.4f} after {res.nfev} evaluations")
    return p


# real data ------------------------------------------------------------------------------------------------
def real_450k_red(man: Manifest) -> Idat:
    """Red intensities of 5723646052_R02C02 at the oracle's addresses (Mean only; SD/NBeads unknown)."""
    red = pd.read_csv(data_dir() / "oracle" / "minfi_hm450_subset" / "RGset_Red.csv", index_col=0)
    col = red["5723646052_R02C02"]
    return Idat.from_arrays(col.index.to_numpy(), col.to_numpy())


def ks_sum(tab: pd.DataFrame, groups: list[str], metrics=("Mean", "SD")) -> float:
    t = tab[tab["group"].isin(groups) & tab["metric"].isin(metrics)]
    return float(t["ks"].sum())


def restrict(idat: Idat, ids: np.ndarray) -> Idat:
    keep = np.isin(idat.illumina_ids, ids)
    return Idat.from_arrays(idat.illumina_ids[keep], idat.mean[keep], sd=idat.sd[keep], n_beads=idat.n_beads[keep])


def calibrate_hm450(rounds: int, fraction: float, evals: int,
                    stages: tuple[str, ...] = ("background", "probes", "red")) -> tuple[IntensityParams, pd.DataFrame]:
    full = load_manifest("HM450")
    man = subset_manifest(full, fraction)
    real_g = real_450k_green()
    real_r = real_450k_red(full)
    p = PRESETS["hm450"]

    def green_obj(groups):
        def obj(q):
            g, _ = reference_channels(man, q, seed=0)
            return ks_sum(ks_table(g, real_g, man, "Grn"), groups)
        return obj

    def red_obj(q):
        _, r = reference_channels(man, q, seed=0, cn_gamma=CN_GAMMA)
        r = restrict(r, real_r.illumina_ids)
        t = ks_table(r, real_r, man, "Red")
        return ks_sum(t, ["NEGATIVE", "I_Red_M", "I_Red_U", "I_Red_T", "oob_Red", "II"], ("Mean",))

    for r in range(rounds):
        print(f"round {r + 1}")
        if "background" in stages:
            p = fit_stage(p, STAGES["background"], green_obj(["NEGATIVE", "oob_Grn"]), evals)
        if "probes" in stages:
            p = fit_stage(p, STAGES["probes"], green_obj(["II", "I_Grn_M", "I_Grn_U", "I_Grn_T"]), evals)
        if "red" in stages:
            p = fit_stage(p, STAGES["red"], red_obj, evals)
    g, _ = reference_channels(full, p, seed=1)
    _, r = reference_channels(full, p, seed=1, cn_gamma=CN_GAMMA)
    tab = pd.concat([ks_table(g, real_g, full, "Grn"),
                     ks_table(restrict(r, real_r.illumina_ids), real_r, full, "Red").query("metric == 'Mean'")])
    return p, tab


def calibrate_hm27(rounds: int, evals: int) -> tuple[IntensityParams, pd.DataFrame]:
    man = load_manifest("HM27")
    d = data_dir() / "idat" / "hm27"
    real_g = read_idat(d / "4207113116_A_Grn.idat")
    real_r = read_idat(d / "4207113116_A_Red.idat")
    p = PRESETS["hm27"]
    probe = ~np.isin(real_g.illumina_ids, man.controls["address"].to_numpy())
    ctl = ~probe
    for name, sel in (("nbeads_probe", probe), ("nbeads_control", ctl)):
        x = real_g.n_beads[sel].astype(float)
        mu, var = x.mean(), x.var()
        p = dataclasses.replace(p, **{name: (round(mu, 2), round(mu * mu / max(var - mu, 1e-3), 1))})

    def obj_g(groups):
        def obj(q):
            g, _ = reference_channels(man, q, seed=0)
            return ks_sum(ks_table(g, real_g, man, "Grn"), groups)
        return obj

    def obj_r(q):
        _, r = reference_channels(man, q, seed=0)
        return ks_sum(ks_table(r, real_r, man, "Red"), ["I_Red_M", "I_Red_U", "I_Red_T", "oob_Red", "NEGATIVE"])

    for r in range(rounds):
        print(f"round {r + 1}")
        p = fit_stage(p, STAGES["background"], obj_g(["NEGATIVE", "oob_Grn"]), evals)
        p = fit_stage(p, ["aff_i.0", "aff_i.1", "aff_shape", "aff_bead_sd", "aff_um_shift", "tech_sd", "bead_cv",
                          "bead_shot"], obj_g(["I_Grn_M", "I_Grn_U", "I_Grn_T"]), evals)
        p = fit_stage(p, STAGES["red27"], obj_r, evals)
    g, r = reference_channels(man, p, seed=1)
    tab = pd.concat([ks_table(g, real_g, man, "Grn"), ks_table(r, real_r, man, "Red")])
    return p, tab


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--array", choices=["hm450", "hm27"], default="hm450")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--fraction", type=float, default=0.25, help="fraction of 450k probes simulated while fitting")
    ap.add_argument("--evals", type=int, default=150, help="Nelder-Mead evaluations per stage")
    ap.add_argument("--stages", default="background,probes,red", help="hm450 stages to fit (comma-separated)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.array == "hm450":
        p, tab = calibrate_hm450(args.rounds, args.fraction, args.evals, tuple(args.stages.split(",")))
    else:
        p, tab = calibrate_hm27(args.rounds, args.evals)
    pd.set_option("display.width", 200)
    print(tab.round(3).to_string(index=False))
    rounded = {k: (tuple(round(x, 4) for x in v) if isinstance(v, tuple) else round(v, 4))
               for k, v in dataclasses.asdict(p).items()}
    print(json.dumps(rounded))
    out = ROOT / "results" / f"simulate_calibration_{args.array}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"params": rounded, "ks": tab.round(4).to_dict(orient="records"),
                               "seconds": round(time.perf_counter() - t0, 1)}, indent=1) + "\n")
    print(f"wrote {out} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
