"""Per-sample normalisation kernels: pure functions of one sample's :class:`RawSignals`, vectorised over probes.

INITIAL VERSION (contract): only ``method="raw"``. To be extended with illumina, noob, dye bias, pOOBAH.
The same function serves the single-sample path and the Spark cohort path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from ..io.raw_types import RawSignals

METHODS = ("raw",)


@dataclass
class NormalizedSample:
    """One sample after normalisation; arrays aligned to ``manifest.probes`` rows (float32)."""

    sample: str
    beta: np.ndarray
    meth: np.ndarray
    unmeth: np.ndarray
    detection_p: np.ndarray
    qc: dict = field(default_factory=dict)

    def m_values(self, alpha: float = 1.0) -> np.ndarray:
        """M-values ``log2((meth + alpha) / (unmeth + alpha))``."""
        return np.log2((np.maximum(self.meth, 0) + alpha) / (np.maximum(self.unmeth, 0) + alpha)).astype(
            np.float32)


def normalize(raw: RawSignals, *, method: str = "noob", offset: float = 100.0) -> NormalizedSample:
    """Normalise one sample with ``method``; returns betas, signals, detection p-values and QC."""
    if method not in METHODS:
        raise ConfigError(f"unknown normalisation method '{method}'; choose one of {', '.join(METHODS)}")
    meth, unmeth = raw.meth, raw.unmeth
    beta = raw.betas(offset=offset)
    detp = np.full(meth.shape, np.nan, dtype=np.float32)
    return NormalizedSample(sample=raw.sample, beta=beta, meth=meth, unmeth=unmeth, detection_p=detp)
