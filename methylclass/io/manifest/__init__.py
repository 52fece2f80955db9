"""Probe manifests: one package for everything that turns an array name or a manifest file into a
:class:`Manifest` (the probe and control tables an IDAT's bead addresses are mapped with).

Modules, in the order data flows through them:

* :mod:`.registry` — the known arrays (names, aliases, address counts, shipped files);
* :mod:`.tables` / :mod:`.illumina` — parsers of sesame-style TSVs and Illumina's CSV;
* :mod:`.cache` — the checksum-keyed Parquet cache of parsed manifests;
* :mod:`.load` — :func:`load_manifest`, :func:`detect_array`, :func:`collapse_replicates`;
* :mod:`.resolve` — the cohort's manifest from user options or the IDAT headers (:func:`resolve_manifest`);
* :mod:`.types` — the :class:`Manifest` dataclass itself.
"""

from __future__ import annotations

from .load import (
    MIN_OVERLAP,
    address_overlap,
    clear_loaded_manifests,
    collapse_replicates,
    detect_array,
    load_manifest,
    load_sesame_tsv,
)
from .types import Manifest

__all__ = [
    "MIN_OVERLAP",
    "Manifest",
    "address_overlap",
    "clear_loaded_manifests",
    "collapse_replicates",
    "detect_array",
    "load_manifest",
    "load_sesame_tsv",
]
