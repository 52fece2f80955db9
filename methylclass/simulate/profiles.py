"""Methylation profiles: the normal background, tumour classes in families with planted DMPs, sample draws.

Background (the copy-neutral *normal* profile) — one mean β per CpG, fixed per design and seed, drawn from
a three-component Beta mixture whose weights depend on the CpG context (:func:`~.design.cpg_context`; other
real arrays take the context of CpGs they share with the 450k from the 450k manifest). The
shapes and weights were fitted by maximum likelihood to the raw betas of the 46,298 Type I Green probes of the
real 450k sample 5723646052_R02C02 (``data/idat/hm450_green_parsed``; both beads of those probes are read in
Green, so their betas are known): islands are 58 % below β 0.1, open sea 44 % above 0.9 (bimodal).

Tumours — every tumour class shares a set of *tumour-common* changes (CIMP-like island hypermethylation and
open-sea hypomethylation), its family's DMPs and its own DMPs. DMP sets are disjoint; a hyper DMP is planted
on a CpG with background β < 0.2, a hypo DMP on one with β > 0.7, and moves the class mean by ``delta``.

Samples — a sample's β at each CpG is ``Beta(μ·φ, (1−μ)·φ)`` around its class mean μ (biological noise;
precision φ per CpG, lower in tumours). SNP probes (``rs…``) follow the sample's genotype (0, ½, 1);
non-CpG probes (``ch…``) stay unmethylated; X-linked island CpGs of females are half methylated (X
inactivation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..io.manifest.types import Manifest
from .design import ISLAND, SEA, SHORE, cpg_context
from .rng import stream

# Beta-mixture of the background (fitted on the real 450k Type I Green betas, see module docstring)
_COMPONENTS = np.array([[0.82, 60.6],    # L: unmethylated
                        [0.70, 2.84],    # M: low / intermediate
                        [3.27, 0.57]])   # H: methylated
_WEIGHTS = {ISLAND: (0.406, 0.400, 0.194), SHORE: (0.023, 0.110, 0.866), SEA: (0.023, 0.078, 0.899)}
# island-context Type II probes (on Illumina arrays they sit at the edges of CpG islands): calibrated on the
# Green (methylated) signal of the real sample's 350,076 Type II probes, see pipelines/calibrate_simulate.py
_WEIGHTS_ISLAND_II = (0.20, 0.60, 0.20)
_HYPER_MAX, _HYPO_MIN = 0.2, 0.7
_XI_BETA = 0.85  # methylation of the inactive X at island CpGs


@dataclass
class ClassLayout:
    """Tumour classes, their families and how many samples of each to simulate."""

    names: list[str]
    families: list[str]  # family of each class, aligned with ``names``
    sizes: list[int]

    @property
    def family_names(self) -> list[str]:
        """Distinct family names in order of first appearance."""
        return list(dict.fromkeys(self.families))


def make_layout(classes, families=None, n_per_class=10) -> ClassLayout:
    """Resolve the user's ``classes`` (count or names), ``families`` (count, mapping class → family, or None
    for pairs of sibling classes) and ``n_per_class`` (int, sequence, or mapping) into a :class:`ClassLayout`."""
    if isinstance(classes, (int, np.integer)) and not isinstance(classes, bool):
        if classes < 1:
            raise ConfigError(f"classes must be at least 1 (got {classes})")
        k = int(classes)
        if isinstance(families, (int, np.integer)) and not isinstance(families, bool):
            n_fam = int(families)
        elif families is None:
            n_fam = (k + 1) // 2
        else:
            n_fam = None
        if n_fam is not None:
            if not 1 <= n_fam <= k:
                raise ConfigError(f"families must be between 1 and the number of classes ({k}); got {n_fam}")
            fam_of = [f"F{(i * n_fam) // k + 1}" for i in range(k)]
            names, counter = [], {}
            for f in fam_of:
                counter[f] = counter.get(f, 0) + 1
                names.append(f"{f}_{chr(ord('A') + counter[f] - 1) if counter[f] <= 26 else counter[f]}")
        else:
            names = [f"C{i + 1}" for i in range(k)]
            fam_of = []
    else:
        names = [str(c) for c in classes]
        if not names:
            raise ConfigError("classes must name at least one tumour class")
        fam_of = []
    if len(set(names)) != len(names):
        raise ConfigError(f"class names must be unique (got {names})")
    if "normal" in names:
        raise ConfigError("'normal' is reserved for the copy-neutral reference samples; rename that class")
    if not fam_of:
        if families is None:
            fam_of = [f"F{i // 2 + 1}" for i in range(len(names))]
        elif isinstance(families, (int, np.integer)):
            if not 1 <= families <= len(names):
                raise ConfigError(f"families must be between 1 and {len(names)} (got {families})")
            fam_of = [f"F{(i * int(families)) // len(names) + 1}" for i in range(len(names))]
        elif isinstance(families, dict):
            unknown = sorted(set(families) - set(names))
            if unknown:
                raise ConfigError(f"families names unknown classes: {', '.join(unknown)}")
            fam_of = [str(families.get(n, n)) for n in names]
        else:
            fam = [str(f) for f in families]
            if len(fam) != len(names):
                raise ConfigError(f"families lists {len(fam)} entries for {len(names)} classes")
            fam_of = fam
    if isinstance(n_per_class, dict):
        unknown = sorted(set(n_per_class) - set(names))
        if unknown:
            raise ConfigError(f"n_per_class names unknown classes: {', '.join(unknown)}")
        missing = [n for n in names if n not in n_per_class]
        if missing:
            raise ConfigError(f"n_per_class gives no size for classes: {', '.join(missing)}")
        sizes = [n_per_class[n] for n in names]
    elif isinstance(n_per_class, (int, np.integer)):
        sizes = [int(n_per_class)] * len(names)
    else:
        sizes = list(n_per_class)
        if len(sizes) != len(names):
            raise ConfigError(f"n_per_class lists {len(sizes)} sizes for {len(names)} classes")
    for n, s in zip(names, sizes):
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 1:
            raise ConfigError(f"class '{n}' needs at least 1 sample (got {s!r})")
    return ClassLayout(names=names, families=fam_of, sizes=[int(s) for s in sizes])


@dataclass
class ProfileModel:
    """Design-level methylation model (CpG level; ``probe_cpg`` maps each probe to its CpG row)."""

    probe_cpg: np.ndarray       # int32, probe -> CpG index
    cpg_ids: np.ndarray         # CpG ids (str)
    context: np.ndarray         # int8 per CpG
    beta_normal: np.ndarray     # float32 per CpG
    precision: np.ndarray       # float32 per CpG (normal tissue)
    is_snp: np.ndarray          # bool per CpG
    x_island: np.ndarray        # bool per CpG (chrX island-like)
    tumour_idx: np.ndarray      # CpGs of the tumour-common changes
    tumour_beta: np.ndarray
    group_idx: dict             # family or class name -> CpG indices
    group_beta: dict            # family or class name -> target means
    layout: ClassLayout
    dmps: pd.DataFrame          # the planted-DMP truth table

    def class_mean(self, cls: str) -> np.ndarray:
        """Mean β per CpG of tumour class ``cls`` (``"normal"`` gives the normal background)."""
        mu = self.beta_normal.copy()
        if cls == "normal":
            return mu
        mu[self.tumour_idx] = self.tumour_beta
        fam = self.layout.families[self.layout.names.index(cls)]
        for key in (("family", fam), ("class", cls)):
            if key in self.group_idx:
                mu[self.group_idx[key]] = self.group_beta[key]
        return mu


def _background(context: np.ndarray, type2: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = context.size
    u = rng.random(n)
    comp = np.zeros(n, dtype=np.int64)
    groups = [(context == ctx, w) for ctx, w in _WEIGHTS.items()]
    groups[0] = ((context == ISLAND) & ~type2, _WEIGHTS[ISLAND])
    groups.append(((context == ISLAND) & type2, _WEIGHTS_ISLAND_II))
    for sel, w in groups:
        cum = np.cumsum(w)
        comp[sel] = np.searchsorted(cum / cum[-1], u[sel], side="right")
    comp = np.minimum(comp, 2)
    a, b = _COMPONENTS[comp, 0], _COMPONENTS[comp, 1]
    return np.clip(rng.beta(a, b), 0.005, 0.995)


def _reference_450k(manifest: Manifest) -> Manifest | None:
    """The real 450k manifest as context reference for other real arrays (None for the 450k itself, for
    synthetic designs — their random cg ids must not match real ones — or when it cannot be loaded)."""
    if manifest.extra.get("synthetic") or manifest.array.upper() in ("HM450", "450K"):
        return None
    try:
        from ..io.manifest import load_manifest

        return load_manifest("HM450")
    except Exception:  # noqa: BLE001 - a missing reference only loses realism, never correctness
        return None


def build_profiles(manifest: Manifest, layout: ClassLayout, *, seed: int, dmps_per_class: int,
                   dmps_per_family: int, delta: tuple[float, float], hyper_fraction: float = 0.5,
                   tumour_fraction: float = 0.02) -> ProfileModel:
    """Draw the background and plant tumour-common, family and class DMPs (see the module docstring).

    Raises :class:`ConfigError` when the design has too few eligible CpGs for the requested DMPs.
    """
    p = manifest.probes
    probe_cpg, uniq = pd.factorize(p["cpg_id"].to_numpy())
    cpg_ids = np.asarray(uniq, dtype=object).astype(str)
    first = np.empty(len(cpg_ids), dtype=np.int64)
    first[probe_cpg[::-1]] = np.arange(len(probe_cpg))[::-1]
    ctx_probe = cpg_context(manifest, seed=seed, reference=_reference_450k(manifest))
    context = ctx_probe[first]
    rng = stream(seed, "profiles")
    beta = _background(context, p["design"].to_numpy()[first] == "II", rng)
    prefix = np.strings.slice(cpg_ids.astype("U"), 0, 2)
    is_snp = prefix == "rs"
    is_ch = prefix == "ch"
    beta[is_ch] = np.clip(rng.beta(1.0, 30.0, size=int(is_ch.sum())), 0.005, 0.3)
    beta[is_snp] = 0.5
    precision = np.exp(rng.normal(np.log(100.0), 0.5, size=beta.size)).astype(np.float32)
    chrom = p["chrom"].to_numpy().astype(str)[first]
    x_island = (chrom == "chrX") & (context == ISLAND)
    sex_chrom = (chrom == "chrX") | (chrom == "chrY")
    eligible = ~is_snp & ~is_ch & ~sex_chrom

    hyper_pool = rng.permutation(np.flatnonzero(eligible & (beta < _HYPER_MAX)))
    hypo_pool = rng.permutation(np.flatnonzero(eligible & (beta > _HYPO_MIN)))
    n_tum = round(tumour_fraction * eligible.sum())
    groups: list[tuple[str, str, str, int]] = [("tumour", "*", "*", n_tum)]
    fam_names = layout.family_names
    if len(fam_names) > 1 or len(layout.names) > 1:
        groups += [("family", f, f, dmps_per_family) for f in fam_names] if dmps_per_family else []
    groups += [("class", c, f, dmps_per_class) for c, f in zip(layout.names, layout.families)]
    n_hyper = [round(n * hyper_fraction) for *_, n in groups]
    n_hypo = [n - h for (*_, n), h in zip(groups, n_hyper)]
    if sum(n_hyper) > hyper_pool.size or sum(n_hypo) > hypo_pool.size:
        raise ConfigError(
            f"{len(layout.names)} classes in {len(fam_names)} families with {dmps_per_class} DMPs per class "
            f"and {dmps_per_family} per family need {sum(n_hyper):,} unmethylated and {sum(n_hypo):,} "
            f"methylated CpGs, but the design offers {hyper_pool.size:,} and {hypo_pool.size:,}: "
            "lower dmps_per_class / dmps_per_family or use a larger design")
    lo, hi = delta
    rows, group_idx, group_beta = [], {}, {}
    h0 = o0 = 0
    tumour_idx = tumour_beta = np.empty(0)
    for (level, name, fam, _), nh, no in zip(groups, n_hyper, n_hypo):
        up = hyper_pool[h0:h0 + nh]
        down = hypo_pool[o0:o0 + no]
        h0 += nh
        o0 += no
        idx = np.concatenate([up, down])
        d = rng.uniform(lo, hi, size=idx.size)
        if level == "tumour":  # tumour-common changes are milder and more variable
            d = d * rng.uniform(0.4, 0.8, size=idx.size)
        sign = np.concatenate([np.ones(up.size), -np.ones(down.size)])
        target = np.clip(beta[idx] + sign * d, 0.02, 0.98)
        if level == "tumour":
            tumour_idx, tumour_beta = idx, target.astype(np.float32)
        else:
            group_idx[(level, name)] = idx
            group_beta[(level, name)] = target.astype(np.float32)
        rows.append(pd.DataFrame({"cpg": idx, "level": level, "class": name if level == "class" else "*",
                                  "family": fam, "direction": np.where(sign > 0, "hyper", "hypo"),
                                  "beta_background": beta[idx], "beta_class": target}))
    dm = pd.concat(rows, ignore_index=True)
    dm["delta"] = (dm["beta_class"] - dm["beta_background"]).abs()
    # expand to probes (EPICv2 replicates share their CpG's DMP)
    order = np.argsort(probe_cpg, kind="stable")
    starts = np.searchsorted(probe_cpg[order], dm["cpg"].to_numpy())
    ends = np.searchsorted(probe_cpg[order], dm["cpg"].to_numpy(), side="right")
    reps = ends - starts
    probe_rows = np.concatenate([order[s:e] for s, e in zip(starts, ends)]) if len(dm) else np.empty(0, int)
    dmps = dm.loc[dm.index.repeat(reps)].reset_index(drop=True)
    dmps.insert(0, "probe_id", p["probe_id"].to_numpy()[probe_rows])
    dmps.insert(1, "cpg_id", cpg_ids[dmps["cpg"].to_numpy()])
    dmps = dmps.drop(columns="cpg")
    for c in ("beta_background", "beta_class", "delta"):
        dmps[c] = dmps[c].round(4)
    dmps = dmps[["probe_id", "cpg_id", "level", "class", "family", "direction", "delta", "beta_background",
                 "beta_class"]]
    return ProfileModel(probe_cpg=probe_cpg.astype(np.int32), cpg_ids=cpg_ids, context=context,
                        beta_normal=beta.astype(np.float32), precision=precision, is_snp=is_snp,
                        x_island=x_island, tumour_idx=tumour_idx.astype(np.int64), tumour_beta=tumour_beta,
                        group_idx=group_idx, group_beta=group_beta, layout=layout, dmps=dmps)


def draw_sample_beta(model: ProfileModel, mean: np.ndarray, rng: np.random.Generator, *, female: bool,
                     heterogeneity: float = 1.0) -> np.ndarray:
    """One individual's β per CpG around ``mean``: Beta noise (precision ÷ ``heterogeneity``), genotype at SNP
    probes, X inactivation for females. Returns float32."""
    phi = model.precision / heterogeneity
    mu = np.clip(mean, 0.004, 0.996)
    out = rng.beta(mu * phi, (1.0 - mu) * phi).astype(np.float32)
    if model.is_snp.any():
        n = int(model.is_snp.sum())
        out[model.is_snp] = rng.choice(np.array([0.03, 0.5, 0.97], dtype=np.float32), size=n, p=[0.25, 0.5, 0.25])
    if female and model.x_island.any():
        out[model.x_island] = 0.5 * (out[model.x_island] + _XI_BETA)
    return out


def genotype_key(model: ProfileModel) -> np.ndarray:
    """Indices of SNP CpGs (for identity checks in tests)."""
    return np.flatnonzero(model.is_snp)


__all__ = ["SEA", "SHORE", "ClassLayout", "ProfileModel", "build_profiles", "draw_sample_beta", "make_layout"]
