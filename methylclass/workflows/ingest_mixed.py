"""Mixed-array cohorts: samples of several arrays (450k, EPIC, EPICv2, MSA, …) normalised into ONE store.

When is a cohort mixed? When the sample sheet names arrays per sample and they differ (an ``Array`` column,
and/or ``Manifest`` [+ ``Controls``] columns with manifest files, relative to the sheet), or when the user
asks for it (``mixed=True``, ``methylclass preprocess --mixed``) and the IDATs are of several arrays (detected
per sample from the address count and overlap, as for a single array). Without either, a sample of another
array than the cohort's stays a failed sample ("… an HM27 array; this cohort is HM450"): in a single-array
run, a stray array usually is a mistake.

How: the samples are grouped by array; each group is normalised with its own manifest and control probes by
the usual kernel (one Spark job per array, the manifest broadcast once); each sample's arrays (β, detection p,
M, U) are mapped onto one *canonical* CpG axis (:mod:`methylclass.io.canonical`) before they are written:
EPICv2/MSA replicate probes collapse to their CpG by the mean of their non-missing values, CpGs an array
lacks are NaN. The store's probe table holds the union of the arrays' CpGs (``probe_id`` = canonical CpG id)
with one ``on_<ARRAY>`` column per array, ``_manifest.json`` lists the arrays (``array = "MIXED"``) and
the sample table records each sample's array. ``load_betas(store, join="inner")`` then gives the CpGs every
array holds, ``join="outer"`` the union.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, ManifestError, MethylclassError
from ..io.canonical import CanonicalMap, canonical_probe_table
from ..io.manifest import resolve as _arrays
from ..io.manifest.types import Manifest

#: sample-sheet columns naming a sample's array, manifest file and control-probe table (first match wins)
ARRAY_COLUMNS = ("Array", "array", "Array_Type", "array_type", "Platform", "platform")
MANIFEST_COLUMNS = ("Manifest", "manifest", "Manifest_File")
CONTROLS_COLUMNS = ("Controls", "controls", "Control_File")
MIXED = "MIXED"


@dataclass
class ArrayGroup:
    """The samples of one array in a mixed cohort, with the array's manifest and canonical map."""

    manifest: Manifest
    refs: list[dict] = field(default_factory=list)
    canonical: CanonicalMap | None = None


def _meta_value(ref: dict, columns: tuple[str, ...]) -> str | None:
    meta = ref.get("meta") or {}
    for c in columns:
        v = meta.get(c)
        if v is not None and str(v).strip() and str(v).lower() != "nan":
            return str(v).strip()
    return None


def _path(value: str | None, base_dir: Path) -> Path | None:
    if value is None:
        return None
    p = Path(value).expanduser()
    return p if p.is_absolute() else base_dir / p


def _key(ref: dict, base_dir: Path) -> tuple | None:
    """A sample's array key: (array name, manifest path, controls path) from the sheet, else detected."""
    man = _path(_meta_value(ref, MANIFEST_COLUMNS), base_dir)
    name = _meta_value(ref, ARRAY_COLUMNS)
    if man is not None:
        return (name, str(man), str(_path(_meta_value(ref, CONTROLS_COLUMNS), base_dir) or ""))
    if name is not None:
        return (name, "", "")
    detected = ref.get("detected_array")
    return (detected, "", "") if detected else None


def sheet_names_arrays(refs: list[dict]) -> bool:
    """True when the sample sheet gives the samples' manifest files (a ``Manifest`` column), or names more
    than one array in an ``Array`` column whose values are known arrays (a column of that name holding
    something else, e.g. slide positions, leaves the cohort a single-array one)."""
    if any(_meta_value(r, MANIFEST_COLUMNS) for r in refs):
        return True
    named = {_meta_value(r, ARRAY_COLUMNS) for r in refs} - {None}
    if len(named) < 2:
        return False
    from ..io.manifest.registry import get_array

    known = 0
    for name in named:
        try:
            get_array(name)
            known += 1
        except ManifestError:
            continue
    return known >= 2


def group_by_array(refs: list[dict], base_dir: Path) -> list[ArrayGroup]:
    """Split ``refs`` by array (sheet columns first, else the array detected from the IDAT header) and load
    each array's manifest; a sample whose array cannot be told or loaded becomes a failing reference of the
    first group (reported, never silently dropped)."""
    _arrays.annotate_counts(refs)
    keyed: OrderedDict[tuple, list[dict]] = OrderedDict()
    orphans: list[dict] = []
    for ref in refs:
        key = None if ref.get("problem") else _key(ref, base_dir)
        if key is None:
            orphans.append(ref if ref.get("problem") else {
                **ref, "problem": f"sample '{ref['sample']}': cannot tell its array (IDAT with "
                                  f"{ref.get('n_addresses') or 'no readable'} addresses); name it in the sample "
                                  "sheet's Array or Manifest column"})
        else:
            keyed.setdefault(key, []).append(ref)
    from ..io.manifest.load import load_manifest

    groups: list[ArrayGroup] = []
    for (name, man_path, ctl_path), members in keyed.items():
        try:
            if man_path:
                if not Path(man_path).is_file():
                    raise ManifestError(f"'{man_path}' named in the sample sheet does not exist")
                man = load_manifest(name, path=Path(man_path), controls=Path(ctl_path) if ctl_path else None)
                if name and man.array != name:
                    import dataclasses

                    man = dataclasses.replace(man, array=name)
            else:
                man = load_manifest(name)
        except MethylclassError as exc:
            orphans += [{**r, "problem": f"sample '{r['sample']}': its array {name or man_path}: {exc}"}
                        for r in members]
            continue
        groups.append(ArrayGroup(manifest=man, refs=members))
    if not groups:
        raise ConfigError("no sample of this mixed cohort has a usable array: "
                          + "; ".join(str(r.get("problem")) for r in orphans[:3]))
    # two groups of the same array (e.g. detected and named): merge them
    merged: OrderedDict[str, ArrayGroup] = OrderedDict()
    for g in groups:
        if g.manifest.array in merged:
            merged[g.manifest.array].refs += g.refs
        else:
            merged[g.manifest.array] = g
    groups = list(merged.values())
    groups[0].refs += orphans
    union = canonical_probe_table([g.manifest for g in groups])
    for g in groups:
        g.canonical = CanonicalMap.build(g.manifest, union["probe_id"])
    return groups


def mixed_probe_table(groups: list[ArrayGroup]):
    """The canonical probe table of a mixed store (see :func:`methylclass.io.canonical.canonical_probe_table`)."""
    return canonical_probe_table([g.manifest for g in groups])
