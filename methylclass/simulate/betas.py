"""A labelled beta table straight from the simulator's methylation model (no IDATs): for tests and notebooks
that need planted truth quickly.

The same profile model as :func:`methylclass.simulate.simulate_cohort` (background, tumour-common changes,
family and class DMPs, Beta noise per sample; :mod:`methylclass.simulate.profiles`) on a synthetic design, with
the intensity / normalisation layers skipped — every CpG's β is drawn directly. Purity dilutes the tumour
profile as in the full simulator: ``μ = purity·class_mean + (1 − purity)·normal_mean``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .design import synthetic_manifest
from .profiles import build_profiles, draw_sample_beta, make_layout
from .rng import stream

__all__ = ["SimulatedBetas", "simulate_betas"]


@dataclass
class SimulatedBetas:
    """``X`` (samples × CpGs), ``y`` (class per sample) and ``dmps`` (the planted-DMP truth table: ``cpg_id,
    level, class, family, direction, delta, …``; ``level == "class"`` rows are the class DMPs)."""

    X: pd.DataFrame
    y: pd.Series
    dmps: pd.DataFrame

    def class_dmps(self) -> list[str]:
        """CpG ids of the planted class-level DMPs (family DMPs excluded)."""
        d = self.dmps[self.dmps["level"] == "class"]
        return sorted(set(d["cpg_id"].astype(str)) & set(self.X.columns))


def simulate_betas(n_cpgs: int = 5000, *, classes: int = 4, n_per_class: int | list[int] = 30,
                   dmps_per_class: int = 25, dmps_per_family: int = 0, delta: tuple[float, float] = (0.3, 0.5),
                   purity: tuple[float, float] = (0.6, 0.9), seed: int = 0) -> SimulatedBetas:
    """Simulate a labelled cohort of ``classes`` tumour classes on ``n_cpgs`` CpGs (synthetic design).

    Only CpG probes (``cg…``) are kept. ``delta``: range of the class-mean shift of a DMP; ``purity``: range of
    tumour purity per sample. Deterministic given ``seed``.
    """
    man = synthetic_manifest(int(n_cpgs * 1.05) + 50, seed=seed)
    layout = make_layout(int(classes), families=int(classes), n_per_class=n_per_class)
    model = build_profiles(man, layout, seed=seed, dmps_per_class=dmps_per_class, dmps_per_family=dmps_per_family,
                           delta=delta)
    rng = stream(seed, "simulate_betas")
    normal = model.beta_normal
    rows, labels, names = [], [], []
    for cls, size in zip(layout.names, layout.sizes):
        mean = model.class_mean(cls)
        for i in range(size):
            p = rng.uniform(*purity)
            beta = draw_sample_beta(model, p * mean + (1 - p) * normal, rng, female=bool(rng.integers(2)))
            rows.append(beta)
            labels.append(cls)
            names.append(f"{cls}_{i + 1:03d}")
    B = np.vstack(rows)
    ids = model.cpg_ids.astype(str)
    keep = np.flatnonzero(np.char.startswith(ids.astype("U"), "cg"))[:n_cpgs]
    X = pd.DataFrame(B[:, keep], index=pd.Index(names, name="sample"), columns=ids[keep])
    y = pd.Series(labels, index=X.index, name="class")
    return SimulatedBetas(X=X, y=y, dmps=model.dmps)
