"""Registry of Infinium methylation array types: what an IDAT of each array looks like and where its manifest is.

Built-in arrays (``HM27``, ``HM450``, ``EPIC``, ``EPICv2``, ``MSA``) know

* the number of bead addresses their IDATs hold — the ranges of
  :data:`methylclass.io.discover.ARRAY_ADDRESS_COUNTS` (the one table of these counts; real files here: HM27
  55,300, HM450 622,399), used by :func:`methylclass.io.manifest.detect_array`;
* their default local manifest files under ``<data_dir>/manifests`` (nothing is ever downloaded). HM450, HM27
  and MSA are complete there; EPIC and EPICv2 ship only control probes and probe lists without bead
  addresses, so their manifest must be supplied by the user (Illumina's CSV, ``--manifest PATH``);
* the genome builds their coordinates are available in (the first one is the default).

Users add arrays with :func:`register_array` (e.g. a custom or newer chip whose manifest they hold).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...errors import ManifestError
from ...paths import data_dir
from ..discover import ARRAY_ADDRESS_COUNTS


@dataclass(frozen=True)
class ArraySpec:
    """One array type.

    ``idat_addresses``: inclusive ``(low, high)`` ranges of the number of addresses an IDAT of this array
    holds. ``probes`` / ``controls`` / ``coords``: default manifest files, relative to
    ``<data_dir>/manifests`` or absolute; ``probes=None`` means no usable default manifest exists.
    ``coords_alignment`` says how the row-wise ``coords`` table lines up with the probe table: ``"rows"``
    (same row order) or ``"sorted_probe_id"`` (rows follow the probe ids sorted, controls at the end).
    ``probe_list``: a probe-id list without addresses (EPIC/EPICv2), for documentation and tests.
    ``n_probes``: the probe count of the default manifest (after loading), when one ships.
    """

    name: str
    idat_addresses: tuple[tuple[int, int], ...]
    builds: tuple[str, ...] = ("hg19",)
    probes: str | None = None
    controls: str | None = None
    coords: str | None = None
    coords_alignment: str = "rows"
    probe_list: str | None = None
    aliases: tuple[str, ...] = ()
    n_probes: int | None = None
    description: str = ""
    builtin: bool = field(default=False, compare=False)

    @property
    def genome_build(self) -> str:
        """The default genome build of this array's coordinates."""
        return self.builds[0]

    def matches_count(self, n_addresses: int) -> bool:
        """True when an IDAT with ``n_addresses`` bead addresses can be of this array."""
        return any(lo <= n_addresses <= hi for lo, hi in self.idat_addresses)

    def resolve(self, rel: str | None) -> Path | None:
        """Absolute path of a default file (``None`` stays ``None``)."""
        if rel is None:
            return None
        p = Path(rel)
        return p if p.is_absolute() else data_dir() / "manifests" / p


def _ranges(name: str) -> tuple[tuple[int, int], ...]:
    return tuple((lo, hi) for array, _typical, lo, hi in ARRAY_ADDRESS_COUNTS if array == name)


_BUILTIN = (
    ArraySpec("HM27", _ranges("HM27"), builds=("hg38",),
              probes="hm27/hm27_ordering.tsv.gz", controls="hm27/hm27_controls.tsv",
              coords="hm27/hm27_hg38_coord.tsv.gz", coords_alignment="sorted_probe_id",
              aliases=("27K", "HM27K", "ILLUMINAHUMANMETHYLATION27K", "HUMANMETHYLATION27"),
              n_probes=27_578, description="Infinium HumanMethylation27 (2008), Type I probes only",
              builtin=True),
    ArraySpec("HM450", _ranges("HM450"), builds=("hg19", "hg38"),
              probes="hm450/hm450_manifest.tsv.gz", controls="hm450/hm450_controls.tsv",
              aliases=("450K", "HM450K", "ILLUMINAHUMANMETHYLATION450K", "HUMANMETHYLATION450"),
              n_probes=485_577, description="Infinium HumanMethylation450 BeadChip (2011)", builtin=True),
    ArraySpec("EPIC", _ranges("EPIC"), builds=("hg19", "hg38"),
              controls="epic/epic_controls.tsv", probe_list="epic/epic_hg19_probe2chr.tsv.gz",
              aliases=("EPICV1", "850K", "EPIC+", "EPICPLUS", "ILLUMINAHUMANMETHYLATIONEPIC",
                       "METHYLATIONEPIC"),
              description="Infinium MethylationEPIC v1.0 BeadChip (2016)", builtin=True),
    ArraySpec("EPICv2", _ranges("EPICv2"), builds=("hg38",),
              controls="epicv2/epicv2_controls.csv.gz", probe_list="epicv2/epicv2_probes_peters2024.parquet",
              aliases=("EPIC2", "EPIC_V2", "EPICV2.0", "ILLUMINAHUMANMETHYLATIONEPICV2"),
              description="Infinium MethylationEPIC v2.0 BeadChip (2023); replicate "
              "probes carry _TC21-style suffixes", builtin=True),
    ArraySpec("MSA", _ranges("MSA"), builds=("hg38",),
              probes="msa/msa_ordering.tsv.gz", controls="msa/msa_controls.csv.gz",
              coords="msa/msa_hg38_coord.tsv.gz", coords_alignment="rows",
              aliases=("MSA48", "METHYLATIONSCREENINGARRAY"),
              n_probes=281_797, description="Infinium Methylation Screening Array (2024)", builtin=True),
)

_REGISTRY: dict[str, ArraySpec] = {s.name: s for s in _BUILTIN}


def _key(name: str) -> str:
    return "".join(ch for ch in str(name).upper() if ch.isalnum() or ch in "+.")


def list_arrays() -> list[ArraySpec]:
    """All registered array types, built-ins first."""
    return list(_REGISTRY.values())


def get_array(name: str) -> ArraySpec:
    """The :class:`ArraySpec` called ``name`` (case-insensitive, aliases such as ``450k`` or ``EPIC+``).

    Raises :class:`ManifestError` listing the known arrays when ``name`` is unknown.
    """
    k = _key(name)
    for spec in _REGISTRY.values():
        if _key(spec.name) == k or k in {_key(a) for a in spec.aliases}:
            return spec
    known = ", ".join(_REGISTRY)
    raise ManifestError(f"unknown array type '{name}'; known arrays: {known} "
                        "(register others with methylclass.io.manifest.registry.register_array)")


def register_array(spec: ArraySpec, *, replace: bool = False) -> ArraySpec:
    """Add a user array type (or, with ``replace=True``, override one with the same name)."""
    if not spec.idat_addresses or any(lo > hi for lo, hi in spec.idat_addresses):
        raise ManifestError(f"array '{spec.name}': idat_addresses must be non-empty (low, high) ranges")
    taken = {_key(s.name): s.name for s in _REGISTRY.values()}
    for s in _REGISTRY.values():
        taken.update({_key(a): s.name for a in s.aliases})
    clash = [taken[_key(n)] for n in (spec.name, *spec.aliases) if _key(n) in taken]
    if clash and not (replace and set(clash) == {spec.name}):
        raise ManifestError(f"array name '{spec.name}' (or an alias) is already registered as '{clash[0]}'; "
                            "pass replace=True to override it")
    _REGISTRY[spec.name] = spec
    return spec


def unregister_array(name: str) -> None:
    """Remove a user-registered array type (built-ins cannot be removed)."""
    spec = get_array(name)
    if spec.builtin:
        raise ManifestError(f"array '{spec.name}' is built in and cannot be unregistered")
    del _REGISTRY[spec.name]


def arrays_for_count(n_addresses: int) -> list[ArraySpec]:
    """Registered arrays whose IDAT address-count range contains ``n_addresses``."""
    return [s for s in _REGISTRY.values() if s.matches_count(int(n_addresses))]
