"""Mixed-array cohorts: the same tumour classes measured on 450k-, EPIC-, EPICv2- and MSA-like arrays.

:func:`simulate_mixed_cohort` writes one cohort folder whose samples come from different array layouts. All
layouts derive from one synthetic *union* design (:func:`~.design.synthetic_manifest`), so a CpG has one
methylation profile (background, tumour-common, family and class DMPs) whatever array measures it, and the
copy-number signatures of a class are the same on every array. Per array (:func:`derive_array_manifests`):

* **CpG content** — a random split of the union's ``cg`` CpGs mimics Illumina's history: 10 % are new on
  EPIC (absent from the 450k), 4 % are 450k-only (dropped by EPIC), another 6 % were dropped again by EPICv2;
  the MSA-like layout keeps 40 % of the CpGs shared by all. SNP (``rs``) probes are on every array. The 450k
  therefore shares ≈ 89 % of its CpGs with the EPICv2 layout.
* **Probe ids** — EPICv2- and MSA-like probes carry Illumina's suffixes (``cg…_TC11`` / ``cg…_BC11``), and
  ``replicate_fraction`` of their CpGs get a second probe (``_TC21`` / ``_BC21``, Type II, own address), as
  on the real EPICv2; the manifest's ``cpg_id`` is the canonical id.
* **Bead addresses and controls** — drawn anew per array (IDATs of different arrays share no address plan).
* **Technical shift** — a per-array, per-probe shift of β on the logit scale (all probes N(0, 0.1), plus 10 %
  of probes N(0, 0.5); ``array_effect`` multiplies both, the 450k layout is the reference without shift),
  standing for the probe-chemistry differences between array generations.

Output folder (as :func:`~.cohort.simulate_cohort`, plus the array of every sample)::

    idat/…                            every sample's IDAT pair
    samplesheet.csv                   … plus ``Array`` (the layout's array name), ``Manifest`` and ``Controls``
                                      (its probe and control tables, relative to the folder): what
                                      ``methylclass preprocess`` needs to normalise each sample with its own
                                      manifest and controls
    truth/samples.tsv                 … plus ``array``
    truth/dmps.tsv, truth/cnv.tsv     as for one array (DMPs by canonical CpG id: ``probe_id`` = ``cpg_id``)
    manifest/<ARRAY>/probes.tsv.gz    each layout's manifest (suffixed probe ids for EPICv2/MSA), readable by
    manifest/<ARRAY>/controls.tsv     :func:`methylclass.io.manifest.load_sesame_tsv`
    simulation.json                   configuration, the arrays (name, kind, probes, CpGs, samples, files)
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from .._atomic import make_temp_dir, publish_dir
from ..errors import ConfigError
from ..io.manifest.types import Manifest
from .cohort import (
    SimulationConfig,
    _check_out_dir,
    _class_events,
    _draw_samples,
    _run_all,
    _validate,
    build_model,
)
from .design import synthetic_manifest, unique_addresses, write_manifest_tsv
from .profiles import ProfileModel
from .rng import stream
from .truth import write_truth

#: array kinds the mixed simulator lays out, their manifest array names and slide layouts
KINDS: dict[str, tuple[str, str]] = {
    "450k": ("SIM450K", "450k"),
    "EPIC": ("SIMEPIC", "epic"),
    "EPICv2": ("SIMEPICV2", "epic"),
    "MSA": ("SIMMSA", "msa"),
}
_ALIASES = {"450k": "450k", "hm450": "450k", "epic": "EPIC", "epicv1": "EPIC", "epicv2": "EPICv2", "msa": "MSA"}


def canonical_kind(name: str) -> str:
    """The array kind (``450k``, ``EPIC``, ``EPICv2``, ``MSA``) of a user's name for it."""
    kind = _ALIASES.get(str(name).lower().replace("-", "").replace("_", ""))
    if kind is None:
        raise ConfigError(f"unknown array kind '{name}' for a mixed cohort; choose from {', '.join(KINDS)}")
    return kind


# ------------------------------------------------------------------------------------------------ designs
def _membership(cpg_ids: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Which union CpGs each array kind holds (boolean masks; ``rs`` SNP probes are on every array)."""
    rng = stream(seed, "mixed-membership")
    u = rng.random(cpg_ids.size)
    v = rng.random(cpg_ids.size)
    snp = np.strings.startswith(cpg_ids.astype("U"), "rs")
    epic_only = (u < 0.10) & ~snp
    only_450k = (u >= 0.10) & (u < 0.14) & ~snp
    not_v2 = (u >= 0.14) & (u < 0.20) & ~snp
    everywhere = ~(epic_only | only_450k | not_v2)
    return {"450k": ~epic_only, "EPIC": ~only_450k, "EPICv2": epic_only | everywhere,
            "MSA": everywhere & ((v < 0.4) | snp)}


def _suffixed(ids: np.ndarray, bottom: np.ndarray, rep: int) -> np.ndarray:
    suffix = np.where(bottom, f"_BC{rep}1", f"_TC{rep}1")
    return np.strings.add(ids.astype("U"), suffix).astype(object)


def derive_array_manifests(base: Manifest, kinds, *, seed: int = 0,
                           replicate_fraction: float = 0.05) -> dict[str, Manifest]:
    """Per-kind manifests derived from the union design ``base`` (see the module docstring), keyed by kind."""
    mask = _membership(base.probes["cpg_id"].to_numpy().astype(str), seed)
    out: dict[str, Manifest] = {}
    taken = np.empty(0, dtype=np.int64)
    for kind in kinds:
        name, _ = KINDS[kind]
        rng = stream(seed, "mixed-design", list(KINDS).index(kind))
        p = base.probes.loc[mask[kind]].reset_index(drop=True)
        cpg = p["cpg_id"].to_numpy()
        if kind in ("EPICv2", "MSA"):
            bottom = rng.random(len(p)) < 0.3
            p["probe_id"] = _suffixed(cpg, bottom, 1)
            n_rep = round(replicate_fraction * len(p))
            pick = np.sort(rng.choice(np.flatnonzero(~np.strings.startswith(cpg.astype("U"), "rs")),
                                      size=n_rep, replace=False))
            rep = p.iloc[pick].copy()
            rep["probe_id"] = _suffixed(rep["cpg_id"].to_numpy(), bottom[pick], 2)
            rep["design"], rep["channel"] = "II", ""
            p = pd.concat([p, rep], ignore_index=True).sort_values(["chrom", "pos", "probe_id"], kind="stable")
            p = p.reset_index(drop=True)
        t1 = p["design"].to_numpy() == "I"
        ctl = base.controls.copy()
        addr = unique_addresses(rng, len(p) + int(t1.sum()) + len(ctl), exclude=taken)
        taken = np.concatenate([taken, addr])
        p["address_u"] = addr[:len(p)]
        m = np.full(len(p), -1, dtype=np.int64)
        m[t1] = addr[len(p):len(p) + int(t1.sum())]
        p["address_m"] = m
        ctl["address"] = addr[len(p) + int(t1.sum()):]
        out[kind] = Manifest(array=name, probes=p, controls=ctl, genome_build=base.genome_build,
                             extra={"synthetic": True, "design_seed": int(seed), "kind": kind})
    return out


def _profile_view(union: ProfileModel, manifest: Manifest) -> ProfileModel:
    """The union's CpG-level profiles seen through an array's probes (``probe_cpg`` remapped by CpG id)."""
    idx = pd.Index(union.cpg_ids).get_indexer(manifest.probes["cpg_id"].to_numpy().astype(str))
    if (idx < 0).any():  # pragma: no cover - derived manifests only hold union CpGs
        raise ConfigError("an array layout holds CpGs outside the union design")
    return dataclasses.replace(union, probe_cpg=idx.astype(np.int32))


def _array_shift(n: int, kind: str, seed: int, effect: float) -> np.ndarray | None:
    if kind == "450k" or effect <= 0:
        return None
    rng = stream(seed, "array-shift", list(KINDS).index(kind))
    shift = rng.normal(0.0, 0.1 * effect, size=n)
    big = rng.random(n) < 0.10
    shift[big] += rng.normal(0.0, 0.5 * effect, size=int(big.sum()))
    return shift.astype(np.float32)


# ------------------------------------------------------------------------------------------------ cohort
@dataclass
class MixedResult:
    """What :func:`simulate_mixed_cohort` wrote."""

    out_dir: Path
    samplesheet: Path
    samples: pd.DataFrame
    manifests: dict[str, Manifest] = field(repr=False)
    manifest_files: dict[str, tuple[Path, Path]]
    seconds: float = 0.0

    @property
    def truth_samples(self) -> Path:
        """The truth table of the samples (with their ``array``)."""
        return self.out_dir / "truth" / "samples.tsv"


def simulate_mixed_cohort(out_dir: str | Path, arrays: Mapping[str, int | list[int] | Mapping[str, int]], *,
                          n_normals: int | Mapping[str, int] = 4, array_effect: float = 1.0,
                          replicate_fraction: float = 0.05, progress=None, **kwargs) -> MixedResult:
    """Simulate one cohort whose samples come from several array layouts (see the module docstring).

    ``arrays`` maps an array kind (``"450k"``, ``"EPIC"``, ``"EPICv2"``, ``"MSA"``) to its tumours per class
    (an int, a list or a mapping, as ``n_per_class``); ``n_normals`` is per array (an int or a mapping by
    kind). ``array_effect`` scales the per-array technical shift (0: none). Other keywords are
    :class:`~.cohort.SimulationConfig` fields (``n_probes`` = size of the union design, ``classes``,
    ``families``, ``cnv``, ``seed``, …; the manifest is always synthetic). Deterministic given ``seed``.
    """
    t0 = time.perf_counter()
    if not arrays:
        raise ConfigError("a mixed cohort needs at least one array")
    kinds = [canonical_kind(k) for k in arrays]
    if len(set(kinds)) != len(kinds):
        raise ConfigError(f"an array kind is named twice: {', '.join(map(str, arrays))}")
    if not 0.0 <= replicate_fraction <= 0.5:
        raise ConfigError(f"replicate_fraction must lie in [0, 0.5] (got {replicate_fraction})")
    if not isinstance(array_effect, (int, float)) or not 0 <= array_effect <= 10:
        raise ConfigError(f"array_effect must be a number in [0, 10] (got {array_effect!r})")
    names = {f.name for f in fields(SimulationConfig)}
    bad = sorted(set(kwargs) - names) + sorted({"manifest", "n_per_class", "layout"} & set(kwargs))
    if bad:
        raise ConfigError(f"unknown or fixed simulation parameter(s) for a mixed cohort: {', '.join(bad)}")
    per_array = dict(zip(kinds, arrays.values()))
    normals = {canonical_kind(k): v for k, v in n_normals.items()} if isinstance(n_normals, Mapping) \
        else dict.fromkeys(kinds, n_normals)
    base_cfg = SimulationConfig(manifest="synthetic", **kwargs)
    _validate(base_cfg)
    out_dir = Path(out_dir).expanduser().resolve()
    _check_out_dir(out_dir, base_cfg.force)

    union = synthetic_manifest(base_cfg.n_probes, seed=base_cfg.seed, genome_build=base_cfg.genome_build)
    manifests = derive_array_manifests(union, kinds, seed=base_cfg.seed, replicate_fraction=replicate_fraction)
    # the union model: profiles per CpG, class CNV signatures; the first array's sizes fix the class layout
    first = kinds[0]
    union_cfg = dataclasses.replace(base_cfg, n_per_class=per_array[first], n_normals=normals.get(first, 0))
    union_model, layout, params = build_model(union_cfg, union)
    build = union.genome_build
    class_events = _class_events(union_cfg, layout, True, build)

    specs_all, models, array_of = [], {}, {}
    offset, slide_offset = 0, 0
    for k, kind in enumerate(kinds):
        man = manifests[kind]
        cfg_k = dataclasses.replace(base_cfg, n_per_class=per_array[kind], n_normals=int(normals.get(kind, 0)),
                                    layout=KINDS[kind][1])
        model_k, layout_k, _ = build_model(cfg_k, man, profiles=_profile_view(union_model.profiles, man))
        model_k.probe_shift = _array_shift(man.n_probes, kind, base_cfg.seed, array_effect)
        draw_cfg = dataclasses.replace(cfg_k, seed=int(stream(base_cfg.seed, "mixed-draw", k).integers(2**31)))
        specs = _draw_samples(draw_cfg, layout_k, params, KINDS[kind][1], class_events, True, build)
        for s in specs:
            s.index += offset
            s.slide += slide_offset
            s.sample = f"{KINDS[kind][0][3:]}_{s.sample}"
            array_of[s.index] = man.array
        offset += len(specs)
        slide_offset = max([s.slide + 1 for s in specs], default=slide_offset)
        models[kind] = (model_k, specs)
        specs_all += specs
    barcodes = [f"{s.barcode}_{s.position}" for s in specs_all]
    if len(set(barcodes)) != len(barcodes):  # pragma: no cover - 1e9 barcode space per array
        raise ConfigError("two arrays drew the same slide barcode; choose another seed")

    tmp = make_temp_dir(out_dir.parent, out_dir.name)
    try:
        idat_dir = tmp / "idat"
        idat_dir.mkdir()
        (tmp / "manifest").mkdir()
        failed: dict[int, int] = {}
        files: dict[str, tuple[Path, Path]] = {}
        done = [0]
        total = len(specs_all)

        def tick(i: int, _n: int, base: int) -> None:
            if progress:
                progress(base + i, total)

        for kind in kinds:
            model_k, specs = models[kind]
            base = done[0]
            res = _run_all(model_k, specs, tmp, idat_dir, base_cfg.n_jobs,
                           (lambda i, n, b=base: tick(i, n, b)) if progress else None, tag=f"-{kind}")
            failed.update({r["index"]: r["failed_probes"] for r in res})
            done[0] += len(specs)
            man = manifests[kind]
            folder = tmp / "manifest" / man.array
            folder.mkdir()
            write_manifest_tsv(man, folder / "probes.tsv.gz", folder / "controls.tsv")
            rel = Path("manifest") / man.array
            files[kind] = (rel / "probes.tsv.gz", rel / "controls.tsv")
        dmps = union_model.profiles.dmps
        samples = write_truth(tmp, specs_all, failed, dmps, compress=base_cfg.compress, array_of=array_of,
                              manifest_of={s.index: (str(files[kind][0]), str(files[kind][1])) for kind in kinds
                                           for s in models[kind][1]})
        meta = {
            "methylclass_version": __version__, "config": base_cfg.to_json(), "mixed": True,
            "arrays": [{"kind": kind, "array": manifests[kind].array, "n_probes": manifests[kind].n_probes,
                        "n_cpgs": int(manifests[kind].probes["cpg_id"].nunique()),
                        "n_samples": len(models[kind][1]), "probes": str(files[kind][0]),
                        "controls": str(files[kind][1])} for kind in kinds],
            "union_probes": union.n_probes, "array_effect": array_effect,
            "replicate_fraction": replicate_fraction, "genome_build": build,
            "intensity_params": asdict(params), "classes": layout.names, "families": layout.families,
            "n_samples": len(specs_all),
        }
        (tmp / "simulation.json").write_text(json.dumps(meta, indent=1, default=str) + "\n")
        publish_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return MixedResult(out_dir=out_dir, samplesheet=out_dir / "samplesheet.csv", samples=samples,
                       manifests=manifests,
                       manifest_files={k: (out_dir / a, out_dir / b) for k, (a, b) in files.items()},
                       seconds=time.perf_counter() - t0)
