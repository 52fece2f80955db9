"""In-test generator of total intensities with planted copy-number events (planted truth for the CNV tests).

Model (log2 scale, per probe p and sample s): ``log2 I = a_p + o_s + g_s·(a_p − ā) + c·log2(CN/2) + ε``
with probe affinities ``a_p`` shared by normals and queries, a sample offset/gain, a copy-number effect
compressed by ``c`` (arrays show ≈ half the theoretical log2 ratio), and probe-specific Gaussian noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from methylclass.pp.cnv.bins import Bins
from methylclass.pp.cnv.genome import Genome


@dataclass
class Planted:
    """Truth of one simulated query: arm copy numbers and focal events."""

    arms: dict = field(default_factory=dict)     # "7p" -> copy number
    focal: dict = field(default_factory=dict)    # gene -> copy number


class CNVSimulator:
    """Simulate normals and tumours on the fit probes of ``bins`` (arrays aligned to ``bins.probe_index``)."""

    def __init__(self, bins: Bins, genome: Genome, seed: int = 0, compression: float = 0.6,
                 noise: tuple[float, float] = (0.12, 0.30)):
        self.bins = bins
        self.genome = genome
        self.rng = np.random.default_rng(seed)
        n = bins.n_fit_probes
        self.affinity = self.rng.normal(12.0, 1.0, n)
        self.sd = self.rng.uniform(*noise, n)
        self.compression = compression
        pq = dict(zip(genome.chroms, genome.pq))
        self.arm = np.array([c.replace("chr", "") for c in bins.probe_chrom], dtype=object) + np.where(
            bins.probe_pos <= np.array([pq[c] for c in bins.probe_chrom]), "p", "q").astype(object)

    def _sample(self, log2_cn: np.ndarray) -> np.ndarray:
        off = self.rng.normal(0, 0.3)
        gain = self.rng.normal(0, 0.05)
        a = self.affinity
        y = a + off + gain * (a - a.mean()) + self.compression * log2_cn + self.rng.normal(0, self.sd)
        return np.exp2(y)

    def normal(self) -> np.ndarray:
        """Total intensities of one copy-neutral normal."""
        return self._sample(np.zeros(self.bins.n_fit_probes))

    def tumour(self, planted: Planted, regions=None) -> np.ndarray:
        """Total intensities of a tumour with ``planted`` arm and focal copy numbers."""
        cn = np.full(self.bins.n_fit_probes, 2.0)
        for arm, c in planted.arms.items():
            cn[self.arm == arm] = c
        if planted.focal:
            for _, r in regions[regions["name"].isin(list(planted.focal))].iterrows():
                sel = (self.bins.probe_chrom == r["chrom"]) & (self.bins.probe_pos >= r["start"] - 150_000) & (
                    self.bins.probe_pos <= r["end"] + 150_000)
                cn[sel] = planted.focal[r["name"]]
        return self._sample(np.log2(np.maximum(cn, 0.05) / 2))
