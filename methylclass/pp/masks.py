"""Probe masks and filters: which probes of a manifest to drop before analysis, with the reason for each.

Filters (names for :func:`probe_filter`'s ``drop``):

* ``xy`` — probes on chrX or chrY (sex confounds methylation);
* ``non_cg`` — probes that do not target a CpG: ``ch.`` (CpH) and ``rs`` (SNP genotyping) probes, i.e. every
  probe id not starting with ``cg``;
* ``no_position`` — probes without a genomic position in the manifest;
* ``sesame_mask`` — sesame's recommended mask (Zhou et al. 2017, *Nucleic Acids Res* 45:e22: non-unique
  mapping, SNPs under the probe, channel-switching Type I probes…), ``manifests/hm450/hm450_sesame_mask_hg19``
  for 450k (89,512 probes);
* ``methylprep_mask`` — methylprep's ``qualityMask`` lists (``manifests/masks/methylprep_qualityMask*.txt.gz``;
  450k 64,144, EPIC, EPIC+), derived from the same Zhou et al. annotation;
* ``not_on_epic`` — 450k probes absent from the EPIC array; needs the EPIC probe names (``epic_probes=``).

**Heidelberg-style 450k set** (:data:`HEIDELBERG_450K`). The MNP brain-tumour classifier (Capper et al. 2018,
*Nature* 555:469) removed from the 485,577 probes those on X/Y (11,551), those with a common SNP within 5 bp of
the CpG (7,998), those not mapping uniquely to hg19 (3,965) and the 450k probes missing from EPIC (32,260),
keeping 428,799; the ``rs``/``ch`` probes go as well. The shared data carry neither those exact SNP/mapping
lists nor EPIC (v1) probe names, so the default set is ``xy + non_cg + methylprep_mask`` (the methylprep/Zhou
quality mask standing in for the SNP and cross-reactive lists): it keeps **408,966** 450k probes (the test
reports the number); passing ``epic_probes`` adds ``not_on_epic``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..io.manifest.types import Manifest
from ..paths import data_dir

FILTERS = ("xy", "non_cg", "no_position", "sesame_mask", "methylprep_mask", "not_on_epic")
HEIDELBERG_450K = ("xy", "non_cg", "methylprep_mask")

_METHYLPREP_MASKS = {"HM450": "methylprep_qualityMask450.txt.gz", "EPIC": "methylprep_qualityMaskEPIC.txt.gz",
                     "EPIC+": "methylprep_qualityMaskEPICPLUS.txt.gz"}
_SESAME_MASKS = {"HM450": "hm450/hm450_sesame_mask_hg19.tsv.gz"}


@lru_cache(maxsize=16)
def _read_id_list(path: Path, column: str | None) -> frozenset[str]:
    try:
        df = pd.read_csv(path, sep=None, engine="python") if column is None else \
            pd.read_csv(path, sep="\t", usecols=[column])
    except FileNotFoundError:
        raise DataError(f"mask file '{path}' does not exist") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"mask file '{path}' cannot be read: {exc}") from None
    ids = df[column] if column is not None else df.iloc[:, 0]
    return frozenset(ids.dropna().astype(str).str.strip())


def load_methylprep_mask(array: str = "HM450", path: str | Path | None = None) -> frozenset[str]:
    """Probe ids of methylprep's quality mask for ``array`` (HM450, EPIC, EPIC+) or of the list at ``path``
    (one probe id per line under a header, methylprep's ``qualityMask*.txt.gz`` format)."""
    if path is None:
        if array not in _METHYLPREP_MASKS:
            raise DataError(f"no methylprep quality mask for array '{array}' (have: "
                            f"{', '.join(_METHYLPREP_MASKS)}); pass path=")
        path = data_dir() / "manifests" / "masks" / _METHYLPREP_MASKS[array]
    return _read_id_list(Path(path), None)


def load_sesame_mask(array: str = "HM450", path: str | Path | None = None) -> frozenset[str]:
    """Probe ids of sesame's recommended mask (a TSV with a ``Probe_ID`` column) for ``array`` or at ``path``."""
    if path is None:
        if array not in _SESAME_MASKS:
            raise DataError(f"no sesame mask for array '{array}' (have: {', '.join(_SESAME_MASKS)}); pass path=")
        path = data_dir() / "manifests" / _SESAME_MASKS[array]
    return _read_id_list(Path(path), "Probe_ID")


@dataclass
class ProbeFilter:
    """Result of :func:`probe_filter`: ``keep`` (bool, aligned to ``manifest.probes``) and, per probe, the
    comma-joined names of the filters that dropped it (``""`` when kept)."""

    probe_ids: np.ndarray
    keep: np.ndarray
    reasons: np.ndarray
    filters: tuple[str, ...]
    hits: dict[str, int] = field(default_factory=dict)

    @property
    def n_kept(self) -> int:
        """Number of probes kept."""
        return int(self.keep.sum())

    @property
    def n_dropped(self) -> int:
        """Number of probes dropped."""
        return int((~self.keep).sum())

    def counts(self) -> dict[str, int]:
        """Probes dropped by each filter (a probe can count under several)."""
        return dict(self.hits)

    def dropped(self) -> pd.DataFrame:
        """Table of the dropped probes: ``probe_id``, ``reason``."""
        sel = ~self.keep
        return pd.DataFrame({"probe_id": self.probe_ids[sel], "reason": self.reasons[sel]})

    def kept_ids(self) -> np.ndarray:
        """Probe ids that pass the filter, in manifest order."""
        return self.probe_ids[self.keep]


def probe_filter(manifest: Manifest, *, drop: Iterable[str] = ("xy", "non_cg", "sesame_mask"),
                 epic_probes: Iterable[str] | None = None,
                 extra_masks: dict[str, Iterable[str]] | None = None) -> ProbeFilter:
    """Decide which probes of ``manifest`` to keep.

    Matching uses both ``probe_id`` and ``cpg_id`` so EPICv2 replicate ids match masks given as plain ``cg``
    ids. Vectorised (``isin`` over the whole manifest).

    Parameters
    ----------
    manifest : Manifest
        The array's manifest.
    drop : iterable of str
        Names of filters of :data:`FILTERS`.
    epic_probes : iterable of str, optional
        The EPIC probe names; needed by ``not_on_epic``.
    extra_masks : dict of str to iterable of str, optional
        Named probe-id lists of your own to drop (their names become reasons).

    Returns
    -------
    ProbeFilter
        Per probe: kept or not and the reasons, plus the count each filter removes.

    Raises
    ------
    ConfigError
        An unknown filter, or ``not_on_epic`` without ``epic_probes``.
    """
    drop = tuple(drop)
    unknown = [f for f in drop if f not in FILTERS]
    if unknown:
        raise ConfigError(f"unknown probe filter(s) {', '.join(unknown)}; choose from {', '.join(FILTERS)}")
    p = manifest.probes
    ids = p["probe_id"].astype(str)
    cpg = p["cpg_id"].astype(str)
    masks: dict[str, np.ndarray] = {}

    def in_list(values: Iterable[str]) -> np.ndarray:
        s = values if isinstance(values, (set, frozenset)) else set(map(str, values))
        return (ids.isin(s) | cpg.isin(s)).to_numpy()

    for f in drop:
        if f == "xy":
            chrom = p["chrom"].astype(str).str.replace("^chr", "", regex=True).str.upper()
            masks[f] = chrom.isin(["X", "Y"]).to_numpy()
        elif f == "non_cg":
            masks[f] = ~ids.str.lower().str.startswith("cg").to_numpy()
        elif f == "no_position":
            masks[f] = ((p["chrom"].astype(str) == "") | (p["pos"].to_numpy() < 0)).to_numpy()
        elif f == "sesame_mask":
            masks[f] = in_list(load_sesame_mask(manifest.array))
        elif f == "methylprep_mask":
            masks[f] = in_list(load_methylprep_mask(manifest.array))
        elif f == "not_on_epic":
            if epic_probes is None:
                raise ConfigError("filter 'not_on_epic' needs the EPIC probe names (epic_probes=)")
            masks[f] = ~in_list(epic_probes)
    for name, values in (extra_masks or {}).items():
        masks[name] = in_list(values)
    names = tuple(masks)
    n = len(p)
    if not names:
        return ProbeFilter(ids.to_numpy(), np.ones(n, dtype=bool), np.full(n, "", dtype=object), names)
    stack = np.vstack([masks[k] for k in names])
    keep = ~stack.any(axis=0)
    reasons = np.full(n, "", dtype=object)
    for k, row in zip(names, stack):
        hit = np.flatnonzero(row)
        reasons[hit] = np.where(reasons[hit] == "", k, reasons[hit] + "," + k)
    return ProbeFilter(ids.to_numpy(), keep, reasons, names, {k: int(m.sum()) for k, m in masks.items()})


def heidelberg_filter(manifest: Manifest, *, epic_probes: Iterable[str] | None = None) -> ProbeFilter:
    """The Heidelberg-style 450k probe set (see the module docstring).

    Parameters
    ----------
    manifest : Manifest
        The array's manifest.
    epic_probes : iterable of str, optional
        The EPIC probe names; when given, ``not_on_epic`` is added to the filters.

    Returns
    -------
    ProbeFilter
        As :func:`probe_filter` with the Heidelberg filters.
    """
    drop = HEIDELBERG_450K + (("not_on_epic",) if epic_probes is not None else ())
    return probe_filter(manifest, drop=drop, epic_probes=epic_probes)
