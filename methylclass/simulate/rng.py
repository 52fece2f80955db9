"""Deterministic random streams: one independent generator per (seed, purpose, index).

Every random draw of the simulator comes from ``stream(seed, "purpose", index)``, so a sample's data depend
only on the seed and the sample's index — never on the number of worker processes or the order they run in.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, purpose: str, *index: int) -> np.random.Generator:
    """A PCG64 generator seeded by ``seed``, a stable hash of ``purpose`` and the integers ``index``."""
    key = [int(seed) & 0xFFFFFFFF, int(seed) >> 32, zlib.crc32(purpose.encode())]
    key += [int(i) & 0xFFFFFFFF for i in index]
    return np.random.default_rng(np.random.SeedSequence(key))
