"""Realistic 450k IDAT pairs for the methylprep parity check and the normalisation tests.

Stand-in until ``methylclass.simulate`` lands. The shared data hold no complete 450k Red/Grn pair, only the
**real** Green channel of minfiData sample 5723646052_R02C02 (all 622,399 addresses). Each pair built here:

* **Green**: the real Green IDAT (sample 1 verbatim; further samples scale it and add 5 % multiplicative noise);
* **Red**, synthesised address by address from the HM450 manifest (vectorised):

  - Type II address: the unmethylated (red) signal, ``U = max(T - G, 0) · r + background`` where ``G`` is the
    real green (methylated) signal, ``T ~ LogNormal(log 7000, 0.45)`` the probe's total and ``r`` the sample's
    red/green dye ratio — so ``beta`` follows the real bimodal green signal;
  - Type I Red addresses: in-band ``M = beta·T + bg``, ``U = (1-beta)·T + bg`` with ``beta`` from a bimodal
    mixture (45 % Beta(1.5, 12), 45 % Beta(12, 1.5), 10 % uniform);
  - Type I Grn addresses: the out-of-band red background ``bg ~ N(450, 110²) + Exp(60)``;
  - controls by type (NEGATIVE = background, NORM_A/NORM_T = green NORM_C/NORM_G level × dye ratio,
    staining/extension/bisulfite/specificity/non-polymorphic at their expected high or low red levels);
* bead counts of the real file for both channels, SD = 10 % of the mean.

Everything is deterministic given ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from methylclass.io.idat import Idat, write_idat
from methylclass.io.manifest.types import Manifest

GREEN_NPZ = "idat/hm450_green_parsed/5723646052_R02C02_Grn.npz"

#: (barcode, position, green scale, red/green dye ratio) of the synthetic samples
SAMPLES = (
    ("5723646052", "R02C02", 1.00, 1.10),
    ("5723646052", "R03C01", 0.80, 0.85),
    ("5723646053", "R01C01", 1.25, 1.30),
)


@dataclass
class SynthPair:
    """One synthetic sample: its name (``<barcode>_<position>``) and the two IDATs."""

    name: str
    grn: Idat
    red: Idat


def _red_background(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.maximum(rng.normal(450.0, 110.0, n) + rng.exponential(60.0, n), 20.0)


def _control_red(controls: pd.DataFrame, grn_norm_level: float, dye: float, rng: np.random.Generator,
                 ) -> np.ndarray:
    """Red intensity of each control probe according to what it measures."""
    t = controls["type"].astype(str).str.upper().to_numpy()
    name = controls["name"].astype(str).to_numpy()
    n = len(t)
    bg = _red_background(rng, n)
    high = rng.lognormal(np.log(9000.0), 0.15, n) * dye
    out = bg.copy()

    def has(pattern: str) -> np.ndarray:
        return pd.Series(name).str.contains(pattern, regex=True).to_numpy()

    norm_red = np.isin(t, ["NORM_A", "NORM_T"])
    out[norm_red] = rng.lognormal(np.log(grn_norm_level * dye), 0.12, norm_red.sum())
    out[(t == "STAINING") & has(r"DNP \(High\)")] = high[(t == "STAINING") & has(r"DNP \(High\)")] * 2
    out[(t == "EXTENSION") & has(r"\((?:A|T)\)")] = high[(t == "EXTENSION") & has(r"\((?:A|T)\)")] * 1.5
    bs1_red_c = (t == "BISULFITE CONVERSION I") & has(r"C[456]$")
    out[bs1_red_c] = high[bs1_red_c] * 0.6
    bs1_red_u = (t == "BISULFITE CONVERSION I") & has(r"U[456]$")
    out[bs1_red_u] = bg[bs1_red_u] * 1.3
    out[t == "BISULFITE CONVERSION II"] = high[t == "BISULFITE CONVERSION II"]
    spec1_pm = (t == "SPECIFICITY I") & has(r"[456] \(PM\)")
    out[spec1_pm] = high[spec1_pm] * 0.8
    out[t == "SPECIFICITY II"] = high[t == "SPECIFICITY II"] * 0.7
    np_red = (t == "NON-POLYMORPHIC") & has(r"\((?:A|T)\)")
    out[np_red] = high[np_red]
    return out


def synth_pair(manifest: Manifest, green_npz: Path, *, barcode: str, position: str, green_scale: float = 1.0,
               dye: float = 1.1, seed: int = 0) -> SynthPair:
    """Build one realistic 450k pair (see the module docstring) from the real Green channel."""
    rng = np.random.default_rng(seed)
    z = np.load(green_npz)
    ids = z["IlluminaID"].astype(np.int64)
    g_mean = z["Mean"].astype(np.float64)
    n_beads = z["NBeads"]
    if green_scale != 1.0:
        g_mean = g_mean * green_scale * rng.lognormal(0.0, 0.05, g_mean.size)
    order = np.argsort(ids)
    sorted_ids = ids[order]

    def pos(addr: np.ndarray) -> np.ndarray:
        p = np.searchsorted(sorted_ids, addr)
        p = np.clip(p, 0, len(sorted_ids) - 1)
        ok = sorted_ids[p] == addr
        return order[p[ok]], ok

    red = _red_background(rng, ids.size)  # default: background (also for addresses in no probe)
    pr = manifest.probes
    design = pr["design"].to_numpy()
    chan = pr["channel"].to_numpy()
    au = pr["address_u"].to_numpy(np.int64)
    am = pr["address_m"].to_numpy(np.int64)

    # Type II: unmethylated red signal from the real green methylated signal
    t2 = design == "II"
    i_u, _ = pos(au[t2])
    g = g_mean[i_u]
    total = rng.lognormal(np.log(7000.0), 0.45, g.size)
    red[i_u] = np.maximum(total - g, 0.0) * dye + _red_background(rng, g.size)

    # Type I Red: in-band methylated/unmethylated beads
    r1 = (design == "I") & (chan == "Red")
    n1 = int(r1.sum())
    comp = rng.random(n1)
    beta = np.where(comp < 0.45, rng.beta(1.5, 12, n1), np.where(comp < 0.9, rng.beta(12, 1.5, n1),
                                                                   rng.random(n1)))
    total = rng.lognormal(np.log(5000.0), 0.5, n1) * dye
    i_m, ok_m = pos(am[r1])
    i_u, ok_u = pos(au[r1])
    red[i_m] = (beta * total)[ok_m] + _red_background(rng, ok_m.sum())
    red[i_u] = ((1 - beta) * total)[ok_u] + _red_background(rng, ok_u.sum())
    # Type I Grn addresses keep the red background drawn above (their out-of-band signal)

    ctrl = manifest.controls
    c_addr = ctrl["address"].to_numpy(np.int64)
    i_c, ok_c = pos(c_addr)
    ctype = ctrl["type"].astype(str).str.upper().to_numpy()
    norm_g = np.isin(ctype, ["NORM_C", "NORM_G"])
    i_ng, _ = pos(c_addr[norm_g])
    grn_norm_level = float(np.mean(g_mean[i_ng])) if i_ng.size else 8000.0
    red[i_c] = _control_red(ctrl, grn_norm_level, dye, rng)[ok_c]

    red = np.clip(np.rint(red), 1, 65535)
    g_mean = np.clip(np.rint(g_mean), 0, 65535)
    chip = "BeadChip 12x8"
    grn = Idat.from_arrays(ids, g_mean, sd=g_mean * 0.1, n_beads=n_beads, barcode=barcode, position=position,
                           chip_type=chip)
    if green_scale == 1.0:
        grn.sd = z["SD"].astype("<u2")
    red_idat = Idat.from_arrays(ids, red, sd=red * 0.1, n_beads=n_beads, barcode=barcode, position=position,
                                chip_type=chip, red_green=1)
    return SynthPair(name=f"{barcode}_{position}", grn=grn, red=red_idat)


def write_pairs(manifest: Manifest, data_dir: Path, out_dir: Path, n: int = 3) -> list[str]:
    """Write ``n`` (≤ 3) synthetic pairs as ``<barcode>_<position>_{Grn,Red}.idat`` into ``out_dir``; return
    the sample names."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for k, (barcode, position, scale, dye) in enumerate(SAMPLES[:n]):
        pair = synth_pair(manifest, Path(data_dir) / GREEN_NPZ, barcode=barcode, position=position,
                          green_scale=scale, dye=dye, seed=100 + k)
        write_idat(out_dir / f"{pair.name}_Grn.idat", pair.grn)
        write_idat(out_dir / f"{pair.name}_Red.idat", pair.red)
        names.append(pair.name)
    return names
