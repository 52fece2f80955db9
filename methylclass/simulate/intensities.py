"""From betas and copy number to the two colour channels of one sample: Mean, SD and NBeads per bead address.

Model (per bead address ``a`` of probe ``j`` in sample ``s``):

* total intensity ``I = exp(affinity_a) · ε · scale_s · f_j`` — a probe affinity fixed per design (log
  affinity = type-specific upper bound − Gamma(shape, scale): log-normal-like bulk with the short upper tail of
  real arrays, plus a small tail of weak probes), per-address technical noise
  ``ε = exp(N(0, tech_sd))``, the sample's scale (slide × sample × FFPE × low-quality factors) and the
  copy-number factor ``f = purity·CN/2 + (1 − purity)·CN_normal/2``;
* split by β: Type II ``Grn = I·β``, ``Red = I·(1−β)·ii_red_gain``; Type I ``M = I_M·β`` and
  ``U = I_U·(1−β)`` in the probe's colour (raw_types channel rules), the two beads' affinities correlated;
* optical cross-talk: a fraction of each channel's signal leaks into the other (this is what makes real
  out-of-band signal of Type I probes brighter than the negative controls and correlated with the in-band
  signal; ``crosstalk_*=0`` makes out-of-band pure background);
* channel gains: Green 1, Red = the sample's dye-bias ratio;
* background: normal + exponential per channel (the noob model), scaled per sample;
* bead counts: negative binomial (probes and controls separately), the same in Red and Grn as on real chips;
  bead SD ``sqrt((cv·signal)² + shot·signal + (cv_x·cross-talk)² + sd_bg²)`` with log-normal spread;
  Mean = signal + background + N(0, SD/√NBeads).

Controls follow the Illumina design: NEGATIVE/BACKGROUND are background only, NORM_A/T bright in Red and
NORM_C/G in Green, bisulfite-conversion controls scale with the conversion efficiency (C-type × e,
U-type × (1 − e)), staining / extension / hybridisation / target-removal controls do not depend on the DNA
(so they stay bright in a low-input sample). Failed probes have 0 beads or background-only signal.

The default parameters (:data:`PRESETS`) were calibrated on real data by ``pipelines/calibrate_simulate.py``:
``hm450`` on the real 450k Green channel (``data/idat/hm450_green_parsed``; Red-channel ratios from the minfi
oracle's six 450k samples), ``hm27`` on the real HM27 pair (``data/idat/hm27``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import stats

from ..io.manifest.types import Manifest
from ._arrays import isin_sorted, sorted_unique

_GREEN_COLOURS = {"green", "limegreen", "lime", "blue", "skyblue", "cyan"}
_RED_COLOURS = {"red", "purple", "tomato", "orange", "gold", "yellow"}


@dataclass(frozen=True)
class IntensityParams:
    """Parameters of the intensity model (see the module docstring); presets in :data:`PRESETS`."""

    aff_ii: tuple[float, float]            # log total intensity of Type II probes: upper bound, gamma scale
    aff_i: tuple[float, float]             # log total intensity of Type I probes: upper bound, gamma scale
    aff_shape: float                       # gamma shape of the distance below the bound
    aff_bead_sd: float                     # independent spread of the M and U beads of a Type I probe
    aff_um_shift: float                    # log brightness of a Type I U bead over its M bead (sequence)
    weak_fraction: float                   # fraction of weak probes (left tail of real intensities)
    weak_shift: float                      # their log-intensity shift
    ii_red_gain: float                     # Type II: Red (unmethylated) vs Green (methylated) efficiency
    i_red_gain: float                      # Type I Red probes vs Type I Grn probes
    bg_grn: tuple[float, float, float]     # background Green: normal mean, normal sd, exponential mean
    bg_red: tuple[float, float, float]     # background Red
    crosstalk_to_grn: float                # Red signal seen in Green
    crosstalk_to_red: float                # Green signal seen in Red
    crosstalk_sd: float                    # log-normal spread of the cross-talk fraction across addresses
    tech_sd: float                         # per-address multiplicative noise (log scale)
    bead_cv: float                         # bead-level SD / signal (Type I probes and controls)
    bead_cv_ii: float                      # bead-level SD / signal (Type II probes)
    crosstalk_cv: float                    # bead-level SD / cross-talk signal
    bead_bg_sd: tuple[float, float]        # bead-level SD of the background (Grn, Red)
    bead_shot: float                       # shot-noise term: bead variance grows by bead_shot × signal
    sd_spread: float                       # log-normal spread of the SD around its model
    nbeads_probe: tuple[float, float]      # negative binomial mean, size (probes)
    nbeads_control: tuple[float, float]    # negative binomial mean, size (controls)
    control_gain: float = 1.0              # multiplies the nominal control levels
    sample_scale_sd: float = 0.2           # between-sample sd of log intensity
    bg_scale_sd: float = 0.25              # between-sample sd of log background
    dye_sd: float = 0.12                   # between-sample sd of log Red/Grn ratio
    dye_ratio: float = 1.0                 # nominal Red/Grn gain
    slide_sd: float = 0.1                  # between-slide sd of log intensity (per channel)

    def with_overrides(self, **kw) -> IntensityParams:
        """A copy with some fields replaced."""
        return replace(self, **kw)


#: calibrated parameter sets (see pipelines/calibrate_simulate.py)
PRESETS: dict[str, IntensityParams] = {
    "hm450": IntensityParams(
        aff_ii=(9.6733, 0.3995), aff_i=(9.9949, 0.2939), aff_shape=1.9435, aff_bead_sd=0.1556, aff_um_shift=0.0,
        weak_fraction=0.03, weak_shift=-2.0, ii_red_gain=1.0949, i_red_gain=1.3495,
        bg_grn=(143.63, 23.76, 25.72), bg_red=(268.21, 39.11, 43.90), crosstalk_to_grn=0.0414,
        crosstalk_to_red=0.0585, crosstalk_sd=0.6344, tech_sd=0.1283, bead_cv=0.1084, bead_cv_ii=0.1585,
        crosstalk_cv=0.6007, bead_bg_sd=(108.50, 160.0), bead_shot=36.22, sd_spread=0.209,
        nbeads_probe=(13.92, 39.1), nbeads_control=(29.0, 27.9)),
    "hm27": IntensityParams(
        aff_ii=(9.874, 0.4188), aff_i=(9.874, 0.4188), aff_shape=1.9745, aff_bead_sd=0.1416, aff_um_shift=0.0,
        weak_fraction=0.03, weak_shift=-2.0, ii_red_gain=1.0, i_red_gain=0.8183, bg_grn=(331.98, 39.03, 48.91),
        bg_red=(168.79, 44.32, 35.51), crosstalk_to_grn=0.1575, crosstalk_to_red=0.1138, crosstalk_sd=0.7604,
        tech_sd=0.1189, bead_cv=0.4822, bead_cv_ii=0.4788, crosstalk_cv=0.5064, bead_bg_sd=(268.90, 223.72),
        bead_shot=29.05, sd_spread=0.3684, nbeads_probe=(17.78, 172.2), nbeads_control=(19.03, 1000.0),
        control_gain=0.55, dye_ratio=0.5),
}


def preset_for(array: str) -> str:
    """The calibrated preset for an array name (HM27 → ``hm27``; everything else → ``hm450``)."""
    return "hm27" if array.upper() in ("HM27", "27K") else "hm450"


# --------------------------------------------------------------------------------------------- controls
def control_levels(controls: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Nominal Green / Red signal (above background) of every control probe, by Illumina control type.

    Returns ``controls`` with columns ``grn``, ``red`` (float), ``conv`` (+1 converted-C bisulfite control,
    -1 unconverted-U, 0 other) and ``dna`` (True when the signal depends on the sample's DNA). Levels were
    read off the real 450k sample (Green) and the minfi oracle (Red).
    """
    t = controls["type"].astype(str).str.upper().str.strip().to_numpy()
    name = controls["name"].astype(str).str.lower().to_numpy()
    colour = controls["channel"].astype(str).str.lower().str.strip().to_numpy()
    n = len(controls)
    grn = np.zeros(n)
    red = np.zeros(n)
    conv = np.zeros(n, dtype=np.int8)
    dna = np.ones(n, dtype=bool)
    spread = np.exp(rng.normal(0.0, 0.25, size=n))
    for i in range(n):  # ~ 850 rows, once per design: clarity over vectorisation
        ty, nm, col = t[i], name[i], colour[i]
        if col in _RED_COLOURS:
            ch = "red"
        elif col in _GREEN_COLOURS:
            ch = "grn"
        elif re.search(r"\((a|t)\b|dnp|\(a$|\(t$", nm) or re.search(r"[cu-]\s?[4-6]\b|\b[4-6]\s?\(", nm):
            ch = "red"
        else:
            ch = "grn"
        level = 0.0
        if ty in ("NEGATIVE", "BACKGROUND") or ty.startswith(("PACYC", "PHIX", "PUC")):
            level = 0.0
        elif ty in ("NORM_A", "NORM_T", "NORMALIZATION-RED"):
            ch, level = "red", float(np.exp(rng.normal(np.log(3400.0), 0.6)))
        elif ty in ("NORM_C", "NORM_G", "NORMALIZATION-GREEN"):
            ch, level = "grn", float(np.exp(rng.normal(np.log(3500.0), 0.6)))
        elif ty == "STAINING":
            dna[i] = False
            if "bkg" in nm or "bgnd" in nm:
                level = 0.0
            else:
                ch = "red" if "dnp" in nm else "grn"
                level = 40000.0 if "high" in nm else 15000.0
        elif ty == "EXTENSION":
            dna[i] = False
            ch = "red" if re.search(r"\((a|t)", nm) else "grn"
            level = 55000.0 if ch == "red" else 40000.0
        elif ty == "HYBRIDIZATION":
            dna[i] = False
            ch = "grn"
            level = 33000.0 if "high" in nm else (17000.0 if "med" in nm else 9000.0)
        elif ty == "TARGET REMOVAL":
            dna[i] = False
            grn[i], red[i] = 300.0 * spread[i], 1300.0 * spread[i]
            continue
        elif ty.startswith("BISULFITE CONVERSION"):
            if ty.endswith(" II"):
                grn[i], red[i], conv[i] = 25000.0 * spread[i], 25000.0 * spread[i], 2
                continue
            is_u = bool(re.search(r"(conversion\s+i?\s*-?\s*u|\bu\d|conversion u)", nm))
            conv[i] = -1 if is_u else 1
            level = 22000.0 if ch == "red" else 13000.0
        elif ty.startswith("SPECIFICITY"):
            if ty.endswith(" II"):
                ch, level = "red", 20000.0
            else:
                mm = "mm" in nm
                level = (1500.0 if ch == "red" else 200.0) if mm else (20000.0 if ch == "red" else 9000.0)
        elif ty == "NON-POLYMORPHIC":
            ch = "red" if re.search(r"\((a|t)", nm) else "grn"
            level = 19000.0 if ch == "red" else 12000.0
        elif ty == "GENOTYPING":
            level = float(np.exp(rng.normal(np.log(1500.0), 1.0)))
            ch = "red" if rng.random() < 0.5 else "grn"
        elif ty == "RESTORATION":
            ch, level = "grn", 2000.0
        else:
            level = 500.0
        if ch == "red":
            red[i] = level * spread[i]
        else:
            grn[i] = level * spread[i]
    out = controls.copy()
    out["grn"], out["red"], out["conv"], out["dna"] = grn, red, conv, dna
    return out


# ------------------------------------------------------------------------------------------ the design
@dataclass
class AddressPlan:
    """Everything per bead address that is fixed for a design (built once, shared by all workers)."""

    addresses: np.ndarray      # int32, sorted: the IDAT address set
    log_aff: np.ndarray        # float32 per address
    cv: np.ndarray             # float32 per address: bead-level SD / signal
    xtalk: np.ndarray          # float32 per address: cross-talk fraction relative to the nominal one
    is_control: np.ndarray     # bool per address
    t2_addr: np.ndarray        # address index of each Type II probe
    t2_probe: np.ndarray       # probe row of each Type II probe
    t1_u: np.ndarray
    t1_m: np.ndarray
    t1_probe: np.ndarray
    t1_red: np.ndarray         # bool: Type I Red probe
    ctrl_addr: np.ndarray
    ctrl_grn: np.ndarray
    ctrl_red: np.ndarray
    ctrl_conv: np.ndarray
    ctrl_dna: np.ndarray
    unused_addr: np.ndarray
    unused_grn: np.ndarray
    unused_red: np.ndarray
    params: IntensityParams
    nb_probe_lut: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    nb_control_lut: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))

    @property
    def n_addresses(self) -> int:
        """Number of addresses written to each IDAT."""
        return int(self.addresses.size)


def _nb_lut(mean: float, size: float) -> np.ndarray:
    """Inverse-CDF lookup table of a negative binomial bead count: entry ``k`` is the quantile at
    ``(k + ½) / 65536`` (sampling by table look-up is ~8× faster than ``searchsorted`` and exact to 1.5e-5
    in probability)."""
    cdf = stats.nbinom.cdf(np.arange(256), size, size / (size + mean))
    return np.minimum(np.searchsorted(cdf, (np.arange(65536) + 0.5) / 65536, side="right"), 255).astype(np.uint8)


def _bounded(rng: np.random.Generator, top: float, scale: float, shape: float, n: int) -> np.ndarray:
    """Log probe intensities ``top − Gamma(shape, scale)``: a long lower tail and a bounded upper one.

    Real 450k in-band intensities have a short top tail (Type I Green unmethylated beads: q99 only 2.0× the
    median, where a log-normal fitted to the bulk gives 2.9×), while copy number still acts linearly on top of
    the affinity; a bounded affinity distribution reproduces both (hand-written: no library distribution
    has this parametrisation)."""
    return top - rng.gamma(shape, scale, size=n)


def build_address_plan(manifest: Manifest, params: IntensityParams, *, seed_rng: np.random.Generator,
                       n_unused: int = 0, unused_addresses: np.ndarray | None = None) -> AddressPlan:
    """Fix the per-address design quantities (affinities, control levels, unused addresses) of ``manifest``."""
    rng = seed_rng
    p = manifest.probes
    c = manifest.controls
    addr_u = p["address_u"].to_numpy(np.int64)
    addr_m = p["address_m"].to_numpy(np.int64)
    design = p["design"].to_numpy()
    t1 = design == "I"
    red = (p["channel"].to_numpy() == "Red") & t1
    ctrl_a = c["address"].to_numpy(np.int64)
    ctrl_a = ctrl_a[ctrl_a >= 0]
    unused = np.asarray(unused_addresses if unused_addresses is not None else [], dtype=np.int64)
    all_a = sorted_unique(np.concatenate([addr_u, addr_m[addr_m >= 0], ctrl_a, unused]))
    addresses = all_a.astype(np.int32)
    idx = lambda a: np.searchsorted(all_a, a)

    n_a = all_a.size
    log_aff = np.zeros(n_a, dtype=np.float32)
    weak = rng.random(len(p)) < params.weak_fraction
    shift = np.where(weak, params.weak_shift * rng.random(len(p)), 0.0)
    t2_rows = np.flatnonzero(~t1)
    t1_rows = np.flatnonzero(t1)
    t2_addr = idx(addr_u[t2_rows])
    log_aff[t2_addr] = _bounded(rng, *params.aff_ii, params.aff_shape, t2_rows.size) + shift[t2_rows]
    base = _bounded(rng, *params.aff_i, params.aff_shape, t1_rows.size) + shift[t1_rows]
    t1_u, t1_m = idx(addr_u[t1_rows]), idx(addr_m[t1_rows])
    half = 0.5 * params.aff_um_shift
    log_aff[t1_u] = base + half + rng.normal(0, params.aff_bead_sd, size=t1_rows.size)
    log_aff[t1_m] = base - half + rng.normal(0, params.aff_bead_sd, size=t1_rows.size)

    xtalk = np.exp(rng.normal(-0.5 * params.crosstalk_sd ** 2, params.crosstalk_sd, size=n_a)).astype(np.float32)
    cv = np.full(n_a, params.bead_cv, dtype=np.float32)
    cv[t2_addr] = params.bead_cv_ii
    lv = control_levels(manifest.controls[manifest.controls["address"] >= 0].reset_index(drop=True), rng)
    # duplicated control addresses (rare) keep their first definition
    lv = lv.drop_duplicates("address")
    ctrl_idx = idx(lv["address"].to_numpy(np.int64))
    is_control = np.zeros(n_a, dtype=bool)
    is_control[ctrl_idx] = True
    probe_addr = np.zeros(n_a, dtype=bool)
    probe_addr[t2_addr] = True
    probe_addr[t1_u] = True
    probe_addr[t1_m] = True
    is_control &= ~probe_addr  # an address used by a probe behaves like a probe
    keep = ~probe_addr[ctrl_idx]
    un_idx = idx(unused[~isin_sorted(unused, sorted_unique(np.concatenate([addr_u, addr_m, ctrl_a])))])
    n_un = un_idx.size
    bright = rng.random(n_un) < 0.15
    lvl = np.where(bright, np.exp(rng.normal(np.log(5000.0), 1.0, size=n_un)), 0.0)
    in_red = rng.random(n_un) < 0.5
    return AddressPlan(
        addresses=addresses, log_aff=log_aff, cv=cv, xtalk=xtalk, is_control=is_control,
        t2_addr=t2_addr, t2_probe=t2_rows, t1_u=t1_u, t1_m=t1_m, t1_probe=t1_rows, t1_red=red[t1_rows],
        ctrl_addr=ctrl_idx[keep], ctrl_grn=lv["grn"].to_numpy()[keep] * params.control_gain,
        ctrl_red=lv["red"].to_numpy()[keep] * params.control_gain, ctrl_conv=lv["conv"].to_numpy()[keep],
        ctrl_dna=lv["dna"].to_numpy()[keep], unused_addr=un_idx,
        unused_grn=np.where(in_red, 0.0, lvl), unused_red=np.where(in_red, lvl, 0.0), params=params,
        nb_probe_lut=_nb_lut(*params.nbeads_probe), nb_control_lut=_nb_lut(*params.nbeads_control))


# ------------------------------------------------------------------------------------------ one sample
@dataclass(frozen=True)
class ChannelState:
    """Per-sample scalars of the intensity model."""

    dna_scale: float        # multiplies every DNA-dependent signal (sample × slide × FFPE × quality)
    scanner_grn: float      # Green gain (slide/scanner), applies to every signal incl. spike-in controls
    scanner_red: float      # Red gain (× dye bias)
    bg_scale: float         # multiplies the background mean
    conversion: float       # bisulfite conversion efficiency
    tech_sd: float          # per-address noise (FFPE / low quality raise it)
    failed_rate: float      # fraction of probes that fail (half 0 beads, half background only)


@dataclass
class ChannelArrays:
    """Mean/SD (uint16) per channel and NBeads (uint8, shared) aligned with ``AddressPlan.addresses``."""

    grn_mean: np.ndarray
    grn_sd: np.ndarray
    red_mean: np.ndarray
    red_sd: np.ndarray
    n_beads: np.ndarray
    n_failed: int
    zero_bead_probes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # probe rows
    dropout_probes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))    # probe rows


def render_channels(plan: AddressPlan, beta: np.ndarray, cn_factor: np.ndarray, state: ChannelState,
                    rng: np.random.Generator) -> ChannelArrays:
    """Simulate both channels of one sample from per-probe ``beta`` and copy-number factor ``cn_factor``."""
    prm = plan.params
    n_a = plan.n_addresses
    f32 = np.float32
    a = np.exp(plan.log_aff + f32(state.tech_sd) * rng.standard_normal(n_a, dtype=f32))
    sig_g = np.zeros(n_a, dtype=f32)
    sig_r = np.zeros(n_a, dtype=f32)
    s = f32(state.dna_scale)

    b2 = beta[plan.t2_probe]
    i2 = a[plan.t2_addr] * cn_factor[plan.t2_probe] * s
    sig_g[plan.t2_addr] = i2 * b2
    sig_r[plan.t2_addr] = i2 * (1 - b2) * f32(prm.ii_red_gain)

    b1 = beta[plan.t1_probe]
    f1 = cn_factor[plan.t1_probe] * s
    su = a[plan.t1_u] * f1 * (1 - b1)
    sm = a[plan.t1_m] * f1 * b1
    red = plan.t1_red
    g = f32(prm.i_red_gain)
    sig_r[plan.t1_u[red]] = su[red] * g
    sig_r[plan.t1_m[red]] = sm[red] * g
    sig_g[plan.t1_u[~red]] = su[~red]
    sig_g[plan.t1_m[~red]] = sm[~red]

    # controls: DNA-dependent ones scale with the sample, spike-ins only with the scanner
    e = state.conversion
    cscale = np.where(plan.ctrl_dna, state.dna_scale, 1.0)
    cg = plan.ctrl_grn.copy()
    cr = plan.ctrl_red.copy()
    conv = plan.ctrl_conv
    cg = np.where(conv == 1, cg * e, np.where(conv == -1, cg * (1 - e) + 200.0, cg))
    cr = np.where(conv == 1, cr * e, np.where(conv == -1, cr * (1 - e) + 300.0, cr))
    cg = np.where(conv == 2, cg * (1 - e), cg)   # BS II: unconverted -> Green, converted -> Red
    cr = np.where(conv == 2, cr * e, cr)
    noise_c = a[plan.ctrl_addr]  # log affinity of controls is 0: a = technical noise only
    sig_g[plan.ctrl_addr] = cg * cscale * noise_c
    sig_r[plan.ctrl_addr] = cr * cscale * noise_c
    sig_g[plan.unused_addr] = plan.unused_grn
    sig_r[plan.unused_addr] = plan.unused_red

    # failed probes: half lose all beads, half give background only
    n_probes = plan.t2_probe.size + plan.t1_probe.size
    n_fail = int(rng.binomial(n_probes, min(1.0, state.failed_rate))) if state.failed_rate > 0 else 0
    zero_beads = np.zeros(n_a, dtype=bool)
    rows_zero = rows_drop = np.zeros(0, dtype=np.int64)
    if n_fail:
        all_addr_u = np.concatenate([plan.t2_addr, plan.t1_u])
        all_addr_m = np.concatenate([np.full(plan.t2_addr.size, -1), plan.t1_m])
        pick = rng.choice(n_probes, size=n_fail, replace=False)
        half = n_fail // 2
        rows = np.concatenate([plan.t2_probe, plan.t1_probe])[pick]
        rows_zero, rows_drop = rows[:half], rows[half:]
        dead_u, dead_m = all_addr_u[pick], all_addr_m[pick]
        zero_beads[dead_u[:half]] = True
        zero_beads[dead_m[:half][dead_m[:half] >= 0]] = True
        drop = np.concatenate([dead_u[half:], dead_m[half:][dead_m[half:] >= 0]])
        sig_g[drop] = 0
        sig_r[drop] = 0

    xg = f32(prm.crosstalk_to_grn) * plan.xtalk * sig_r * f32(state.scanner_grn)
    xr = f32(prm.crosstalk_to_red) * plan.xtalk * sig_g * f32(state.scanner_red)
    tg = sig_g * f32(state.scanner_grn)
    tr = sig_r * f32(state.scanner_red)

    u = rng.integers(0, 65536, size=n_a, dtype=np.uint16)
    nb = plan.nb_probe_lut[u]
    nb[plan.is_control] = plan.nb_control_lut[u[plan.is_control]]
    nb = np.where(zero_beads, 0, np.maximum(nb, 1)).astype(np.uint8)
    sqrt_nb = np.sqrt(np.maximum(nb, 1)).astype(f32)

    out = []
    xcv = f32(prm.crosstalk_cv)
    for sig, x, (mu, sd, lam), bsd in ((tg, xg, prm.bg_grn, prm.bead_bg_sd[0]),
                                       (tr, xr, prm.bg_red, prm.bead_bg_sd[1])):
        bs = f32(state.bg_scale)
        bg = (f32(mu) * bs + f32(sd) * bs * rng.standard_normal(n_a, dtype=f32)
              + f32(lam) * bs * rng.standard_exponential(n_a, dtype=f32))
        bead_sd = np.sqrt((plan.cv * sig) ** 2 + f32(prm.bead_shot) * sig + (xcv * x) ** 2 + (f32(bsd) * bs) ** 2)
        bead_sd *= np.exp(f32(prm.sd_spread) * rng.standard_normal(n_a, dtype=f32))
        mean = sig + x + np.maximum(bg, 1) + rng.standard_normal(n_a, dtype=f32) * bead_sd / sqrt_nb
        mean = np.where(nb == 0, 0, np.clip(np.rint(mean), 1, 65535)).astype(np.uint16)
        sd_out = np.where(nb == 0, 0, np.clip(np.rint(bead_sd), 1, 65535)).astype(np.uint16)
        out += [mean, sd_out]
    return ChannelArrays(grn_mean=out[0], grn_sd=out[1], red_mean=out[2], red_sd=out[3], n_beads=nb,
                         n_failed=n_fail, zero_bead_probes=rows_zero, dropout_probes=rows_drop)
