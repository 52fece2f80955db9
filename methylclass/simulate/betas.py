"""Beta-level simulated cohorts (no IDATs): the simulator's methylation model, straight to a samples × CpGs table.

:func:`simulate_betas` draws the same planted truth as :func:`~methylclass.simulate.simulate_cohort` — a synthetic
design, tumour-common / family / class DMPs (:func:`~methylclass.simulate.profiles.build_profiles`), per-sample
biological noise (:func:`~methylclass.simulate.profiles.draw_sample_beta`), purity dilution and the FFPE logit
shift on FFPE-sensitive probes — but skips the intensity rendering and preprocessing, so a 300-sample cohort
takes about a second. It is what model tests and the model benchmark's family / FFPE experiments use.

Knobs for the model questions: ``dmps_per_class`` vs ``dmps_per_family`` (few class DMPs and many family DMPs
make sibling classes hard to tell apart but the family obvious), ``ffpe_fraction`` and ``ffpe_shift`` (mean
logit shift of FFPE-sensitive probes; the IDAT simulator uses 0.3), ``ffpe_probe_fraction`` (share of probes
affected, 1 % in the IDAT simulator) and ``ffpe_class_bias`` (FFPE share differs between classes: the
confounding that makes an unadjusted classifier learn material instead of biology).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .design import synthetic_manifest
from .profiles import build_profiles, draw_sample_beta, make_layout
from .rng import stream

__all__ = ["BetaCohort", "simulate_betas"]


@dataclass
class BetaCohort:
    """``X`` (samples × CpGs betas), ``truth`` (one row per sample: ``class, family, ffpe, purity, ambiguous``),
    ``taxonomy`` (``class → family``), the FFPE-sensitive probes and ``dmps`` (the planted-DMP truth table:
    ``cpg_id, level, class, family, direction, delta, …``; ``level == "class"`` rows are the class DMPs)."""

    X: pd.DataFrame
    truth: pd.DataFrame
    taxonomy: dict[str, str]
    ffpe_probes: np.ndarray
    dmps: pd.DataFrame

    @property
    def y(self) -> pd.Series:
        """The class label of every sample (index = ``X.index``)."""
        return self.truth["class"].rename("class")

    def class_dmps(self) -> list[str]:
        """CpG ids of the planted class-level DMPs (family DMPs excluded) that are columns of ``X``."""
        d = self.dmps[self.dmps["level"] == "class"]
        return sorted(set(d["cpg_id"].astype(str)) & set(self.X.columns))


def _logit_shift(beta: np.ndarray, idx: np.ndarray, shift: np.ndarray) -> None:
    b = np.clip(beta[..., idx], 1e-4, 1 - 1e-4)
    beta[..., idx] = 1.0 / (1.0 + np.exp(-(np.log(b / (1 - b)) + shift)))


def simulate_betas(*, classes: int = 6, families: int | None = None, n_per_class: int | list[int] = 30,
                   n_probes: int = 3000, dmps_per_class: int = 20, dmps_per_family: int = 20,
                   dmp_delta: tuple[float, float] = (0.3, 0.6), purity: tuple[float, float] = (0.5, 0.95),
                   heterogeneity: float = 1.6, ffpe_fraction: float = 0.3, ffpe_shift: float = 0.3,
                   ffpe_probe_fraction: float = 0.01, ffpe_class_bias: float = 0.0, ambiguous_fraction: float = 0.0,
                   ambiguous_mix: tuple[float, float] = (0.35, 0.5), seed: int = 0) -> BetaCohort:
    """Simulate a labelled beta table with families and FFPE material (module docstring).

    ``families`` None: pairs of sibling classes. ``ffpe_class_bias`` in [0, 1): the FFPE probability of class
    ``k`` is ``ffpe_fraction`` moved by ``± bias`` alternately (even classes more often FFPE).
    ``ambiguous_fraction`` of the tumours of multi-class families are *ambiguous sibling-class samples*: their
    tumour methylation mean is ``(1 − w)·own class + w·a sibling class`` with ``w ~ U(ambiguous_mix)`` — the
    family is clear, the class is not (truth column ``ambiguous``; the label stays the own class).
    """
    man = synthetic_manifest(n_probes, seed=seed)
    layout = make_layout(classes, families, n_per_class)
    prof = build_profiles(man, layout, seed=seed, dmps_per_class=dmps_per_class,
                          dmps_per_family=dmps_per_family, delta=tuple(dmp_delta))
    frng = stream(seed, "ffpe-betas")
    n_cpg = prof.beta_normal.size
    k = max(1, round(ffpe_probe_fraction * n_cpg))
    ffpe_idx = np.sort(frng.choice(n_cpg, size=k, replace=False))
    ffpe_eff = frng.normal(ffpe_shift, abs(ffpe_shift) * 2 / 3, size=k)
    rng = stream(seed, "betas-samples")
    rows, values = [], []
    arng = stream(seed, "betas-ambiguous")
    for ci, (cls, fam, n) in enumerate(zip(layout.names, layout.families, layout.sizes)):
        p_ffpe = float(np.clip(ffpe_fraction + (ffpe_class_bias if ci % 2 == 0 else -ffpe_class_bias), 0, 1))
        mu = prof.class_mean(cls)
        siblings = [c for c, f in zip(layout.names, layout.families) if f == fam and c != cls]
        for _ in range(n):
            female = bool(rng.random() < 0.5)
            amb = bool(siblings) and bool(arng.random() < ambiguous_fraction)
            m = mu
            if amb:
                w = float(arng.uniform(*ambiguous_mix))
                m = (1 - w) * mu + w * prof.class_mean(siblings[int(arng.integers(len(siblings)))])
            bt = draw_sample_beta(prof, m, rng, female=female, heterogeneity=heterogeneity)
            bn = draw_sample_beta(prof, prof.beta_normal, rng, female=female)
            pur = float(rng.uniform(*purity))
            b = (pur * bt + (1 - pur) * bn).astype(float)
            ffpe = bool(rng.random() < p_ffpe)
            if ffpe:
                _logit_shift(b, ffpe_idx, ffpe_eff)
            rows.append({"class": cls, "family": fam, "ffpe": ffpe, "purity": round(pur, 4), "ambiguous": amb})
            values.append(b)
    ids = [f"S{i + 1:04d}" for i in range(len(rows))]
    X = pd.DataFrame(np.vstack(values).astype(np.float32), index=pd.Index(ids, name="sample"),
                     columns=[str(c) for c in prof.cpg_ids])
    truth = pd.DataFrame(rows, index=X.index)
    return BetaCohort(X=X, truth=truth, taxonomy=dict(zip(layout.names, layout.families)),
                      ffpe_probes=np.asarray(prof.cpg_ids)[ffpe_idx], dmps=prof.dmps)
