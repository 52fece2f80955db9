"""Simulate a cohort: resolve the configuration, draw every sample's parameters, write IDATs in parallel.

:func:`simulate_cohort` is the entry point (the CLI's ``methylclass simulate`` calls it). The main process
draws the small per-sample table (class, sex, purity, slide, FFPE, quality, dye bias, copy-number events) and
the design-level model (address plan, methylation profiles), stores that model once with ``joblib.dump`` and
hands workers only sample rows. Each worker (:mod:`.worker`) memory-maps the model, simulates its samples one
at a time (random stream keyed by the sample's index: results never depend on ``n_jobs``), writes each IDAT
pair atomically and returns a few numbers. Everything is written into a temporary folder beside ``out_dir`` that
is renamed to ``out_dir`` only when complete, so an interrupted run never leaves a half-written cohort.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from .. import __version__
from .._atomic import ensure_writable_dir, make_temp_dir, publish_dir
from ..errors import ConfigError
from ..io.manifest.types import Manifest
from ._arrays import manifest_addresses
from .cnv import (
    CnvEvent,
    chrom_codes,
    parse_class_specs,
    random_class_events,
    random_sample_events,
)
from .design import LAYOUTS, default_layout, synthetic_manifest, unique_addresses, write_manifest_tsv
from .genome import genome_tables
from .intensities import (
    PRESETS,
    ChannelState,
    IntensityParams,
    build_address_plan,
    preset_for,
)
from .profiles import ClassLayout, ProfileModel, build_profiles, make_layout
from .rng import stream
from .truth import write_truth
from .worker import CohortModel, SampleSpec, run_chunk, write_sample

#: typical number of bead addresses in real IDATs (unused addresses are added up to it)
TYPICAL_ADDRESSES = {"HM450": 622_399, "HM27": 55_300, "MSA": 384_500}


@dataclass
class SimulationConfig:
    """Every parameter of a simulated cohort (keyword arguments of :func:`simulate_cohort`).

    Array: ``manifest`` — ``"synthetic"`` (a synthetic design of ``n_probes`` probes on ``genome_build``,
    array name ``array`` or ``"SYNTH"``), an array name the manifest loader knows (``"HM450"``, ``"HM27"``,
    ``"MSA"``, …), a path to a manifest file (Illumina CSV or sesame TSV; ``array`` names it), or a
    :class:`Manifest`.

    Cohort: ``classes`` (count or names), ``families`` (count, ``{class: family}``, or None: pairs of sibling
    classes), ``n_per_class`` (int, list, or ``{class: n}`` — e.g. ``[200, 150, 8, 5]`` for rare entities),
    ``n_normals`` copy-neutral normal references, ``purity`` range of tumour cell fractions in (0, 1],
    ``male_fraction``.

    Methylation: ``dmps_per_class`` / ``dmps_per_family`` (None: 1 % of the CpGs, 20–1,000), ``dmp_delta``
    (range of |Δβ| of planted DMPs).

    Copy number: ``cnv`` — ``"auto"`` (random signature events per class + sporadic ones), ``"none"``, or
    specs ``["F1_A=+7,-10,EGFR:amp", …]`` / ``{class: [spec, …]}`` (notation in :mod:`.cnv`);
    ``cn_gamma`` (intensity responds as factor**cn_gamma; 1 = the linear model ``purity·CN/2 + 1 − purity``,
    real 450k X dosage suggests ≈ 0.65), ``cnv_penetrance`` (fraction of a class carrying each class event),
    ``sample_cnv_rate`` (mean number of sporadic arm events per tumour).

    Quality: ``ffpe_fraction``, ``low_quality_fraction``, ``failed_probe_rate``, ``batch_effect`` and
    ``dye_bias`` (multipliers of the calibrated slide and dye-bias spreads; 0 disables), ``intensity``
    (preset name or :class:`IntensityParams`; None: calibrated preset for the array).

    Output: ``layout`` (``450k`` 12 per slide, ``epic`` 8, ``hm27``, ``msa``; None: the array's), ``compress``
    (``.idat.gz``), ``n_unused_addresses`` (None: up to the real array's address count), ``seed``, ``n_jobs``,
    ``force`` (replace an existing non-empty ``out_dir``).
    """

    manifest: str | Manifest = "synthetic"
    array: str | None = None
    n_probes: int = 20_000
    genome_build: str = "hg19"
    classes: int | Sequence[str] = 4
    families: int | Mapping[str, str] | Sequence[str] | None = None
    n_per_class: int | Sequence[int] | Mapping[str, int] = 10
    n_normals: int = 8
    purity: tuple[float, float] = (0.5, 0.95)
    male_fraction: float = 0.5
    dmps_per_class: int | None = None
    dmps_per_family: int | None = None
    dmp_delta: tuple[float, float] = (0.3, 0.6)
    cnv: str | Sequence[str] | Mapping[str, Sequence[str]] = "auto"
    cn_gamma: float = 1.0
    cnv_penetrance: float = 0.85
    sample_cnv_rate: float = 0.5
    ffpe_fraction: float = 0.3
    low_quality_fraction: float = 0.03
    failed_probe_rate: float = 0.002
    batch_effect: float = 1.0
    dye_bias: float = 1.0
    intensity: str | IntensityParams | None = None
    layout: str | None = None
    compress: bool = False
    n_unused_addresses: int | None = None
    seed: int = 0
    n_jobs: int = 1
    force: bool = False

    def to_json(self) -> dict:
        """A JSON-serialisable view (the manifest by name / source)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Manifest):
                v = {"array": v.array, "source": str(v.source) if v.source else None, "sha256": v.sha256}
            elif isinstance(v, IntensityParams):
                v = asdict(v)
            elif isinstance(v, Mapping):
                v = {str(k): (list(x) if isinstance(x, (list, tuple)) else x) for k, x in v.items()}
            elif isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, Path):
                v = str(v)
            out[f.name] = v
        return out


@dataclass
class SimulationResult:
    """What :func:`simulate_cohort` wrote: paths, the sample truth table and the manifest used."""

    out_dir: Path
    samplesheet: Path
    truth_samples: Path
    truth_dmps: Path
    truth_cnv: Path
    config_json: Path
    manifest_files: tuple[Path, Path] | None
    samples: pd.DataFrame
    manifest: Manifest = field(repr=False)
    seconds: float = 0.0
    sample_cpu_seconds: float = 0.0  # CPU time spent simulating and writing the samples (all workers)

    @property
    def idat_dir(self) -> Path:
        """Folder holding the IDAT pairs."""
        return self.out_dir / "idat"


# ------------------------------------------------------------------------------------------- validation
def _check_fraction(name: str, v: float, *, open_low: bool = False) -> None:
    try:
        ok = (0.0 < v <= 1.0) if open_low else (0.0 <= v <= 1.0)
    except TypeError:
        ok = False
    if not ok:
        rng = "(0, 1]" if open_low else "[0, 1]"
        raise ConfigError(f"{name} must lie in {rng} (got {v!r})")


def _validate(cfg: SimulationConfig) -> None:
    if not isinstance(cfg.seed, (int, np.integer)) or cfg.seed < 0:
        raise ConfigError(f"seed must be a non-negative integer (got {cfg.seed!r})")
    if not isinstance(cfg.n_jobs, (int, np.integer)) or cfg.n_jobs == 0 or cfg.n_jobs < -1:
        raise ConfigError(f"n_jobs must be a positive integer or -1 for all cores (got {cfg.n_jobs!r})")
    if not isinstance(cfg.n_normals, (int, np.integer)) or cfg.n_normals < 0:
        raise ConfigError(f"n_normals must be a non-negative integer (got {cfg.n_normals!r})")
    try:
        lo, hi = (float(x) for x in cfg.purity)
    except (TypeError, ValueError):
        raise ConfigError(f"purity must be a (low, high) pair in (0, 1] (got {cfg.purity!r})") from None
    for v in (lo, hi):
        _check_fraction("purity", v, open_low=True)
    if lo > hi:
        raise ConfigError(f"purity range is reversed: low {lo} > high {hi}")
    try:
        dlo, dhi = (float(x) for x in cfg.dmp_delta)
    except (TypeError, ValueError):
        raise ConfigError(f"dmp_delta must be a (low, high) pair (got {cfg.dmp_delta!r})") from None
    if not 0.05 <= dlo <= dhi <= 0.95:
        raise ConfigError(f"dmp_delta must satisfy 0.05 <= low <= high <= 0.95 (got {cfg.dmp_delta!r})")
    for name in ("male_fraction", "ffpe_fraction", "low_quality_fraction", "failed_probe_rate",
                 "cnv_penetrance"):
        _check_fraction(name, getattr(cfg, name))
    if not isinstance(cfg.cn_gamma, (int, float)) or not 0.1 <= cfg.cn_gamma <= 1.5:
        raise ConfigError(f"cn_gamma must lie in [0.1, 1.5] (got {cfg.cn_gamma!r})")
    for name in ("batch_effect", "dye_bias", "sample_cnv_rate"):
        v = getattr(cfg, name)
        if not isinstance(v, (int, float)) or v < 0 or v > 10:
            raise ConfigError(f"{name} must be a number in [0, 10] (got {v!r})")
    for name in ("dmps_per_class", "dmps_per_family"):
        v = getattr(cfg, name)
        if v is not None and (not isinstance(v, (int, np.integer)) or v < 0):
            raise ConfigError(f"{name} must be a non-negative integer (got {v!r})")
    if cfg.dmps_per_class is not None and cfg.dmps_per_class < 1:
        raise ConfigError("dmps_per_class must be at least 1 so that classes differ")
    if cfg.layout is not None and cfg.layout not in LAYOUTS:
        raise ConfigError(f"unknown slide layout '{cfg.layout}'; choose one of {', '.join(LAYOUTS)}")
    if isinstance(cfg.intensity, str) and cfg.intensity not in PRESETS:
        raise ConfigError(f"unknown intensity preset '{cfg.intensity}'; choose one of {', '.join(PRESETS)}")
    if cfg.n_unused_addresses is not None and cfg.n_unused_addresses < 0:
        raise ConfigError(f"n_unused_addresses must be >= 0 (got {cfg.n_unused_addresses})")


def _check_out_dir(out_dir: Path, force: bool) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ConfigError(f"output '{out_dir}' exists and is not a folder")
        if any(out_dir.iterdir()) and not force:
            raise ConfigError(f"output folder '{out_dir}' exists and is not empty; pass --force (force=True) "
                              "to replace it")
    parent = out_dir.parent
    if parent.exists() and not parent.is_dir():
        raise ConfigError(f"cannot write '{out_dir}': '{parent}' is a file, not a folder")
    if not parent.exists():
        raise ConfigError(f"cannot write '{out_dir}': its parent folder '{parent}' does not exist")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"cannot write '{out_dir}': no write permission in '{parent}'")
    try:
        ensure_writable_dir(parent)  # also for root, whom permission bits do not stop (read-only mounts)
    except ConfigError as exc:
        raise ConfigError(f"cannot write '{out_dir}': {exc}") from None


def resolve_manifest(cfg: SimulationConfig) -> Manifest:
    """The :class:`Manifest` a configuration asks for (synthetic, named, or from a file)."""
    spec = cfg.manifest
    if isinstance(spec, Manifest):
        return spec
    text = str(spec)
    if text.lower() in ("synthetic", "synth"):
        return synthetic_manifest(cfg.n_probes, seed=cfg.seed, genome_build=cfg.genome_build,
                                  array=cfg.array or "SYNTH")
    from ..io import manifest as manifest_io  # local: the loader module is heavy

    path = Path(text).expanduser()
    if path.exists():
        return _load_manifest_file(manifest_io, path, cfg.array)
    return manifest_io.load_manifest(text)


def _load_manifest_file(manifest_io, path: Path, array: str | None) -> Manifest:
    """A manifest file: through the registry-aware loader (``load_manifest(array, path=…)``) when it exists,
    retried without the array name for a name the registry does not know; the result carries ``array``."""
    import dataclasses

    from ..errors import ManifestError

    try:
        try:
            man = manifest_io.load_manifest(array, path=path)
        except ManifestError:
            if array is None:
                raise
            man = manifest_io.load_manifest(None, path=path)
    except TypeError:  # a loader without path=: sesame-style tables only
        man = manifest_io.load_sesame_tsv(path, array=array or "CUSTOM")
    if array and man.array != array:
        man = dataclasses.replace(man, array=array)
    return man


# -------------------------------------------------------------------------------------- sample table
def _default_dmps(n_cpg: int) -> int:
    return int(min(1000, max(20, round(0.01 * n_cpg))))


def _draw_samples(cfg: SimulationConfig, layout: ClassLayout, params: IntensityParams, slide_layout: str,
                  class_events: dict[str, list[CnvEvent]], has_coords: bool, build: str) -> list[SampleSpec]:
    rng = stream(cfg.seed, "samples")
    members: list[tuple[str, str, bool]] = []
    for cls, fam, n in zip(layout.names, layout.families, layout.sizes):
        members += [(cls, fam, False)] * n
    members += [("normal", "normal", True)] * cfg.n_normals
    n = len(members)
    order = rng.permutation(n)  # slide positions are randomised, as in a well-run lab
    lay = LAYOUTS[slide_layout]
    per_slide = len(lay.positions)
    n_slides = math.ceil(n / per_slide)
    first = int(rng.integers(200_000_000_000, 209_000_000_000))
    barcodes = [str(first + 7 * k) for k in range(n_slides)]
    slide_g = np.exp(rng.normal(0, params.slide_sd * cfg.batch_effect, size=n_slides))
    slide_r = np.exp(rng.normal(0, params.slide_sd * cfg.batch_effect, size=n_slides))
    width = max(4, len(str(n)))
    genome = genome_tables(build) if has_coords else None
    specs = []
    for slot, idx in enumerate(order):
        cls, fam, is_normal = members[idx]
        slide, pos_i = divmod(slot, per_slide)
        male = bool(rng.random() < cfg.male_fraction)
        purity = 0.0 if is_normal else float(rng.uniform(*cfg.purity))
        ffpe = bool(rng.random() < cfg.ffpe_fraction)
        lowq = bool((not is_normal) and rng.random() < cfg.low_quality_fraction)
        dye = float(params.dye_ratio * np.exp(rng.normal(0, params.dye_sd * cfg.dye_bias)))
        scale = float(np.exp(rng.normal(0, params.sample_scale_sd)))
        bg_scale = float(np.exp(rng.normal(0, params.bg_scale_sd)))
        conv = float(rng.uniform(0.975, 0.998))
        tech = params.tech_sd
        failed = cfg.failed_probe_rate
        if ffpe:
            scale *= float(rng.uniform(0.4, 0.75))
            tech *= 1.4
            failed = min(1.0, failed * 3)
        if lowq:
            scale *= float(rng.uniform(0.04, 0.2))
            conv = float(rng.uniform(0.8, 0.9))
            tech *= 2.0
            failed = min(1.0, max(failed * 20, 0.03))
        state = ChannelState(dna_scale=scale, scanner_grn=float(slide_g[slide]),
                             scanner_red=float(slide_r[slide]) * dye, bg_scale=bg_scale, conversion=conv,
                             tech_sd=tech, failed_rate=failed)
        events: list[tuple[str, CnvEvent]] = []
        if not is_normal and genome is not None:
            for ev in class_events.get(cls, []):
                if rng.random() < cfg.cnv_penetrance:
                    events.append(("class", ev))
            if isinstance(cfg.cnv, str) and cfg.cnv.lower() == "auto":
                events += [("sample", ev) for ev in random_sample_events(genome, rng, cfg.sample_cnv_rate)]
        specs.append(SampleSpec(
            index=int(idx), sample=f"S{slot + 1:0{width}d}", cls=cls, family=fam, is_normal=is_normal, male=male,
            purity=purity, ffpe=ffpe, low_quality=lowq, slide=slide, barcode=barcodes[slide],
            position=lay.positions[pos_i], chip_type=lay.chip_type, state=state,
            dye_bias=state.scanner_red / state.scanner_grn,
            heterogeneity=1.0 if is_normal else 1.6, events=events))
    return specs


# ------------------------------------------------------------------------------------------ orchestration
def _addresses(manifest: Manifest) -> np.ndarray:
    p = manifest.probes
    return manifest_addresses(p["address_u"].to_numpy(), p["address_m"].to_numpy(),
                              manifest.controls["address"].to_numpy())


def _unused_count(cfg: SimulationConfig, manifest: Manifest, n_used: int) -> int:
    if cfg.n_unused_addresses is not None:
        return int(cfg.n_unused_addresses)
    typical = TYPICAL_ADDRESSES.get(manifest.array.upper())
    if typical is not None and 0 <= typical - n_used <= 0.1 * n_used:
        return typical - n_used
    return round(0.001 * n_used)


def build_model(cfg: SimulationConfig, manifest: Manifest, *,
                profiles: ProfileModel | None = None) -> tuple[CohortModel, ClassLayout, IntensityParams]:
    """Design-level model of a configuration (address plan, profiles, chromosome codes); ``profiles`` given
    (a mixed cohort's union profiles seen through this array's probes) are used instead of drawing new ones."""
    layout = make_layout(cfg.classes, cfg.families, cfg.n_per_class)
    params = cfg.intensity if isinstance(cfg.intensity, IntensityParams) else \
        PRESETS[cfg.intensity or preset_for(manifest.array)]
    n_cpg = int(manifest.probes["cpg_id"].nunique())
    per_class = cfg.dmps_per_class if cfg.dmps_per_class is not None else _default_dmps(n_cpg)
    per_family = cfg.dmps_per_family if cfg.dmps_per_family is not None else per_class
    if profiles is None:
        profiles = build_profiles(manifest, layout, seed=cfg.seed, dmps_per_class=per_class,
                                  dmps_per_family=per_family, delta=tuple(cfg.dmp_delta))
    drng = stream(cfg.seed, "addresses")
    used = _addresses(manifest)
    n_unused = _unused_count(cfg, manifest, used.size)
    unused = unique_addresses(drng, n_unused, exclude=used) if n_unused else None
    plan = build_address_plan(manifest, params, seed_rng=drng, unused_addresses=unused)
    n = manifest.n_probes
    frng = stream(cfg.seed, "ffpe")
    k = max(1, n // 100)
    ffpe_idx = np.sort(frng.choice(n, size=k, replace=False))
    ffpe_shift = frng.normal(0.3, 0.2, size=k)
    model = CohortModel(plan=plan, profiles=profiles, chrom_code=chrom_codes(manifest.probes["chrom"].to_numpy()),
                        pos=manifest.probes["pos"].to_numpy(np.int64), ffpe_idx=ffpe_idx, ffpe_shift=ffpe_shift,
                        seed=int(cfg.seed), batch_effect=float(cfg.batch_effect), compress=bool(cfg.compress),
                        cn_gamma=float(cfg.cn_gamma))
    return model, layout, params


def _class_events(cfg: SimulationConfig, layout: ClassLayout, has_coords: bool,
                  build: str) -> dict[str, list[CnvEvent]]:
    spec = cfg.cnv
    if isinstance(spec, str) and spec.lower() in ("none", "off", ""):
        return {}
    if not has_coords:
        if isinstance(spec, str) and spec.lower() == "auto":
            return {}
        raise ConfigError("copy-number events need probe coordinates, but this manifest has none; "
                          "use cnv='none' or a manifest with chromosome positions")
    genome = genome_tables(build)
    rng = stream(cfg.seed, "cnv")
    if isinstance(spec, str) and spec.lower() == "auto":
        return {c: random_class_events(genome, rng) for c in layout.names}
    return parse_class_specs(spec, layout.names, genome, rng)


def simulate_cohort(out_dir: str | Path, config: SimulationConfig | None = None, *, progress=None,
                    **kwargs) -> SimulationResult:
    """Simulate a cohort and write it to ``out_dir`` (IDAT pairs, sample sheet, truth tables).

    See :mod:`methylclass.simulate` for the output layout.

    Parameters
    ----------
    out_dir : str or Path
        The output folder.
    config : SimulationConfig, optional
        Defines the cohort (default :class:`SimulationConfig` ()).
    progress : callable, optional
        ``progress(done, total)``, called as samples finish.
    **kwargs
        :class:`SimulationConfig` field names; they override ``config``.

    Returns
    -------
    SimulationResult
        The paths written, the sample truth table and the manifest used.

    Raises
    ------
    ConfigError
        Bad parameters (unknown names, invalid values), raised before anything is written.
    """
    t0 = time.perf_counter()
    cfg = SimulationConfig() if config is None else config
    if kwargs:
        names = {f.name for f in fields(SimulationConfig)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise ConfigError(f"unknown simulation parameter(s): {', '.join(unknown)}")
        cfg = SimulationConfig(**{**{f.name: getattr(cfg, f.name) for f in fields(cfg)}, **kwargs})
    _validate(cfg)
    out_dir = Path(out_dir).expanduser().resolve()
    _check_out_dir(out_dir, cfg.force)
    manifest = resolve_manifest(cfg)
    has_coords = bool(manifest.has_coordinates)
    build = manifest.genome_build if manifest.genome_build in ("hg19", "hg38") else "hg19"
    layout = make_layout(cfg.classes, cfg.families, cfg.n_per_class)
    class_events = _class_events(cfg, layout, has_coords, build)  # bad specs fail before the heavy work
    model, layout, params = build_model(cfg, manifest)
    slide_layout = cfg.layout or default_layout(manifest.array, manifest.n_probes)
    specs = _draw_samples(cfg, layout, params, slide_layout, class_events, has_coords, build)

    tmp = make_temp_dir(out_dir.parent, out_dir.name)
    try:
        idat_dir = tmp / "idat"
        idat_dir.mkdir()
        results = _run_all(model, specs, tmp, idat_dir, cfg.n_jobs, progress)
        failed = {r["index"]: r["failed_probes"] for r in results}
        sample_cpu = float(sum(r["cpu"] for r in results))
        manifest_files = None
        if manifest.extra.get("synthetic"):
            (tmp / "manifest").mkdir()
            manifest_files = (tmp / "manifest" / "probes.tsv.gz", tmp / "manifest" / "controls.tsv")
            write_manifest_tsv(manifest, *manifest_files)
        samples = write_truth(tmp, specs, failed, model.profiles.dmps, compress=cfg.compress)
        meta = {
            "methylclass_version": __version__, "config": cfg.to_json(), "array": manifest.array,
            "genome_build": manifest.genome_build, "n_probes": manifest.n_probes,
            "n_addresses": model.plan.n_addresses, "manifest_sha256": manifest.sha256,
            "manifest_source": str(manifest.source) if manifest.source else None,
            "manifest_files": ["manifest/probes.tsv.gz", "manifest/controls.tsv"] if manifest_files else None,
            "slide_layout": slide_layout, "intensity_params": asdict(params),
            "classes": layout.names, "families": layout.families, "class_sizes": layout.sizes,
            "n_samples": len(specs),
        }
        (tmp / "simulation.json").write_text(json.dumps(meta, indent=1, default=str) + "\n")
        publish_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    mf = (out_dir / "manifest" / "probes.tsv.gz", out_dir / "manifest" / "controls.tsv") if manifest_files else None
    return SimulationResult(
        out_dir=out_dir, samplesheet=out_dir / "samplesheet.csv", truth_samples=out_dir / "truth" / "samples.tsv",
        truth_dmps=out_dir / "truth" / "dmps.tsv", truth_cnv=out_dir / "truth" / "cnv.tsv",
        config_json=out_dir / "simulation.json", manifest_files=mf, samples=samples, manifest=manifest,
        seconds=time.perf_counter() - t0, sample_cpu_seconds=sample_cpu)


def demo_cohort(out_dir: str | Path, *, seed: int = 0, n_jobs: int = 1, force: bool = False,
                progress=None) -> SimulationResult:
    """The small self-contained cohort ``make demo`` uses when no data is named: a 20,000-probe synthetic
    design (hg19), 4 classes in 2 families (15, 12, 10 and 6 tumours: one rare entity), 8 normals, random
    class copy-number signatures, 30 % FFPE. Needs no manifest; ~50 IDAT pairs in a few seconds."""
    return simulate_cohort(out_dir, manifest="synthetic", n_probes=20_000, classes=4,
                           n_per_class=[15, 12, 10, 6], n_normals=8, seed=seed, n_jobs=n_jobs, force=force,
                           progress=progress)


def _run_all(model: CohortModel, specs: list[SampleSpec], tmp: Path, idat_dir: Path, n_jobs: int,
             progress, tag: str = "") -> list[dict]:
    """Simulate and write ``specs``; ``tag`` names the stored model file (workers cache models by path, so
    several models written in one run — a mixed-array cohort — need distinct names)."""
    total = len(specs)
    if n_jobs == 1 or total <= 1:
        out = []
        for i, s in enumerate(specs, 1):
            out.append(write_sample(model, s, idat_dir))
            if progress:
                progress(i, total)
        return out
    model_path = tmp / f".model{tag}.joblib"
    joblib.dump(model, model_path)
    n_workers = joblib.cpu_count() if n_jobs == -1 else n_jobs
    n_chunks = min(total, n_workers * 4)
    chunks = [specs[i::n_chunks] for i in range(n_chunks)]
    out: list[dict] = []
    try:
        par = joblib.Parallel(n_jobs=n_workers, backend="loky", return_as="generator")
        for res in par(joblib.delayed(run_chunk)(str(model_path), c, str(idat_dir)) for c in chunks):
            out += res
            if progress:
                progress(len(out), total)
    finally:
        model_path.unlink(missing_ok=True)
    return out
