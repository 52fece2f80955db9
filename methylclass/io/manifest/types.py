"""The in-memory manifest: which bead addresses make up which probe, and where each probe lies.

This module only defines the container; :mod:`methylclass.io.manifest` loads it from files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: columns every ``Manifest.probes`` table has, in this order
PROBE_COLUMNS = ("probe_id", "cpg_id", "address_u", "address_m", "design", "channel", "chrom", "pos")
#: columns every ``Manifest.controls`` table has
CONTROL_COLUMNS = ("address", "type", "channel", "name")


@dataclass(frozen=True)
class Manifest:
    """A probe manifest for one array type.

    ``probes`` has one row per probe with the columns :data:`PROBE_COLUMNS`:

    * ``probe_id`` (str): the manifest's probe name (``cg00000029``, EPICv2 ``cg00000029_TC21``);
    * ``cpg_id`` (str): the canonical CpG id (EPICv2 replicate suffixes stripped; otherwise ``probe_id``);
    * ``address_u`` (int64): the Type II address, or the Type I *unmethylated* bead address (AddressA);
    * ``address_m`` (int64): the Type I *methylated* bead address (AddressB), ``-1`` for Type II;
    * ``design`` (str): ``"I"`` or ``"II"``;
    * ``channel`` (str): ``"Red"`` or ``"Grn"`` for Type I, ``""`` for Type II;
    * ``chrom`` (str): ``"chr1"`` … ``"chrX"``, ``"chrY"``, ``""`` when unknown; ``pos`` (int64), ``-1`` unknown.

    ``controls`` has :data:`CONTROL_COLUMNS`: ``address`` (int64), ``type`` (e.g. ``NEGATIVE``, ``NORM_A``),
    ``channel`` (as the source gives it), ``name``.
    """

    array: str
    probes: pd.DataFrame
    controls: pd.DataFrame
    genome_build: str = "hg19"
    source: Path | None = None
    sha256: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def n_probes(self) -> int:
        """Number of probes (rows of ``probes``)."""
        return len(self.probes)

    @property
    def addresses(self) -> np.ndarray:
        """Sorted unique bead addresses the probes and controls use."""
        a = np.concatenate([
            self.probes["address_u"].to_numpy(np.int64),
            self.probes["address_m"].to_numpy(np.int64),
            self.controls["address"].to_numpy(np.int64),
        ])
        a = np.sort(a[a >= 0])  # not np.unique: numpy 2.4 made it ~50x slower on 10⁶ ints (hash path)
        return a[np.concatenate(([True], a[1:] != a[:-1]))] if len(a) > 1 else a

    @property
    def has_coordinates(self) -> bool:
        """True when at least half of the probes have a chromosome and position."""
        return bool((self.probes["pos"].to_numpy() >= 0).mean() >= 0.5)
