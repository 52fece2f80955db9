"""CNV workflows behind ``methylclass cnv``: IDATs or a preprocessed store → reference panel → per-sample outputs.

Outputs in ``OUT`` (each file written under a temporary name and renamed):

* ``<sample>.cnv.png`` / ``.svg`` — the genome plot; ``<sample>.segments.tsv``, ``<sample>.arms.tsv``,
  ``<sample>.focal.tsv``, ``<sample>.bins.tsv``;
* ``cnv_features.tsv`` (samples × features), ``cnv_summary.tsv`` (noise, shift, FGA, …) and, for two or more
  IDAT queries, ``cnv_frequency.png`` / ``.svg``.

Three paths, one kernel (:func:`~methylclass.pp.cnv.cnv_sample`, wrapped by :class:`CNVTask`):

* :func:`run_cnv` — IDATs of queries and of normals (raw intensities);
* :func:`run_cnv_store` — the samples of a store analysed in this process: total intensity = the stored
  ``meth`` + ``unmeth`` arrays, references = named normal samples of the same store (or a saved panel),
  features written next to the betas (``STORE/cnv_features.parquet``);
* :func:`methylclass.spark.cnv.cnv_store_spark` — the same on Spark, one sample per task, from the same
  :func:`plan_store_cnv` and :class:`CNVTask`.

Missing probes: a probe whose raw signal was not measured — an address with no beads, or for raw
intensities a mean of 0 (what an IDAT holds for an address without beads: in the real 450k Green file of
the shared data, 7 of its 8 zero means have 0 beads and the 8th has 1) — is NaN, not conumee's floor of 1.
The floor makes it a log2 ratio of about −13 in a query, or shifts the prediction of that probe for every
query when it happens in a normal, and the noise metric (root mean square of successive ratio differences)
is dominated by a few such probes. Missing probes are skipped by the fit; a probe missing in any normal
leaves the panel. A store normalised with noob or illumina has no bead counts and keeps the normaliser's
value for a zero signal (noob: its floor, ~70), which cannot be told from a measurement: there, only probes
the normalisation stored as NaN are missing.

The reference panel built from a folder of normals is cached in ``cache_dir()/cnv_reference`` keyed by the
normals' paths, sizes and modification times and the bin set's probes; ``--reference`` may also name a panel
saved with :meth:`CNVReference.save` (``.npz``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import ConfigError, DataError, MethylclassError
from ...io.manifest_types import Manifest
from ...paths import cache_dir
from .bins import Bins, make_bins
from .calls import DEFAULT_THRESHOLDS, CallThresholds
from .features import write_cnv_features, write_cnv_panel
from .reference import MIN_REFERENCES, RECOMMENDED_REFERENCES, CNVReference, reference_cache_key
from .sample import CNVResult
from .segment import CBSParams
from .task import (  # noqa: F401 - re-exported: the workflow API of earlier versions
    CNVTask,
    cnv_total,
    describe_calls,
    failure_reason,
    feature_frame,
    raw_total,
    write_cohort_tables,
    write_sample_outputs,
)

#: part of the cache key of panels built from IDATs (bump when the intensities fed to the panel change)
_PANEL_INPUT_VERSION = "missing-probes-nan-v2"
#: sample-table columns searched for a normals group given without ``COLUMN=``
GROUP_COLUMNS = ("Sample_Group", "sample_group", "group")


@dataclass
class CNVRun:
    """What :func:`run_cnv` / :func:`run_cnv_store` produced."""

    results: list[CNVResult]
    bins: Bins
    reference: CNVReference
    out: Path
    files: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    features: pd.DataFrame | None = None


# -- IDAT path --------------------------------------------------------------------------------------------
def _with_build(man: Manifest, genome: str) -> Manifest:
    """``man`` with coordinates on ``genome``: the same array's manifest loaded for that build when the
    probe rows are identical (only the coordinates differ), else ``man`` unchanged (make_bins then names
    the mismatch)."""
    if not man.genome_build or man.genome_build == genome:
        return man
    from ...io.manifest import load_manifest

    try:
        other = load_manifest(man.array, genome_build=genome)
    except MethylclassError:
        return man
    same = other.n_probes == man.n_probes and np.array_equal(other.probes["probe_id"].to_numpy(),
                                                             man.probes["probe_id"].to_numpy())
    return other if same else man


def _read(source, manifest):
    from ...io.raw import read_raw

    return read_raw(source, manifest=manifest)


def load_reference(source: str | Path | Sequence[str | Path], manifest: Manifest, bins: Bins, *,
                   cache: bool = True, log: Callable[[str], None] = lambda m: None) -> CNVReference:
    """A reference panel from a saved ``.npz`` panel, or from normals' IDATs (folder / sheet / basenames),
    cached on disk. Raises DataError when fewer than 3 usable normals remain."""
    if isinstance(source, (str, Path)) and str(source).endswith(".npz"):
        return _load_panel(source, bins)
    from ...io.discover import find_samples

    found = find_samples(source)
    files = [p for ref in found.samples for p in (ref.grn, ref.red)]
    if len(found.samples) < MIN_REFERENCES:
        raise DataError(f"reference panel '{source}': {len(found.samples)} normal sample(s) found, need ≥ 3 "
                        "copy-neutral references (16 or more recommended)")
    key = reference_cache_key(files, bins, extra=_PANEL_INPUT_VERSION)
    path = cache_dir() / "cnv_reference" / f"{bins.array}_{bins.build}_{key}.npz"
    if cache and path.exists():
        try:
            log(f"reference panel: cached {path.name}")
            return CNVReference.load(path)
        except DataError:
            pass
    raw = _read(source, manifest)
    intens = np.vstack([raw_total(s) for s in raw.samples])
    ref = as_saved(CNVReference.from_intensities(intens, bins, [s.sample for s in raw.samples],
                                                 meta={"source": str(source)}))
    log(f"reference panel: {ref.n_references} normals, {int(ref.probe_mask.sum()):,} probes")
    if cache:
        ref.save(path)
    return ref


def as_saved(ref: CNVReference) -> CNVReference:
    """``ref`` with its log2 intensities rounded to float32, as :meth:`CNVReference.save` stores them, so a
    freshly built panel, the same panel from the cache and a saved ``.npz`` give identical results (the
    rounding, < 1e-6 in log2, is far below any copy-number signal)."""
    return dataclasses.replace(ref, log2=ref.log2.astype(np.float32).astype(np.float64), _gram=None, _sums=None)


def _load_panel(source: str | Path, bins: Bins) -> CNVReference:
    ref = CNVReference.load(source)
    if ref.probe_key != bins.probe_key:
        raise DataError(f"CNV reference '{source}' was built for {ref.array}/{ref.build} probes that "
                        f"differ from this analysis ({bins.array}/{bins.build})")
    return ref


def run_cnv(queries: str | Path | Iterable[str | Path], reference: str | Path | Sequence[str | Path],
            out: str | Path, *, manifest: Manifest | str | Path | None = None, genome: str = "hg19",
            method: str = "cbs", seg_params: CBSParams | None = None, cancer_genes: bool = False,
            thresholds: CallThresholds = DEFAULT_THRESHOLDS, formats: Sequence[str] = ("png", "svg"),
            plot: bool = True, store: str | Path | None = None,
            log: Callable[[str], None] = lambda m: None) -> CNVRun:
    """Run the CNV analysis of ``queries`` against ``reference`` and write the outputs to ``out``.

    A query that cannot be analysed (e.g. too few probes shared with the reference) is reported in
    :attr:`CNVRun.failures`; when every query fails, the first error is raised. ``store``: also write the
    feature table to ``STORE/cnv_features.parquet``.
    """
    out = Path(out)
    q = [queries] if isinstance(queries, (str, Path)) else list(queries)
    raw = _read(q[0] if len(q) == 1 else q, manifest)
    man = _with_build(raw.manifest, genome)
    bins = make_bins(man, genome)
    log(f"{len(raw.samples)} queries ({man.array}); {bins.n_bins:,} bins over {bins.n_fit_probes:,} probes")
    ref = load_reference(reference, man, bins, log=log)
    out.mkdir(parents=True, exist_ok=True)
    run = CNVRun(results=[], bins=bins, reference=ref, out=out)
    _note_panel_size(ref, log)
    task = CNVTask(bins=bins, reference=ref, method=method, seg_params=seg_params, cancer_genes=cancer_genes,
                   thresholds=thresholds, out=str(out), formats=tuple(formats), plot=plot)
    first_error: MethylclassError | None = None
    for s in raw.samples:
        try:
            res = task.analyse(s.sample, raw_total(s))
        except MethylclassError as exc:
            first_error = first_error or exc
            run.failures.append((s.sample, str(exc)))
            log(f"failed {s.sample}: {exc}")
            continue
        run.results.append(res)
        run.files += task.outputs(res)
        log(f"{s.sample}: noise {res.noise:.3f}, {len(res.segments)} segments, FGA {res.fga['fga']:.1%}")
    if not run.results:
        assert first_error is not None
        raise first_error
    feats = run.features = feature_frame([task.features(r) for r in run.results])
    run.files += write_cohort_tables(feats, [r.summary() for r in run.results], out)
    if plot and formats and len(run.results) > 1:
        from ...pl._figure import save_figure
        from ...pl.cnv import plot_cohort_frequency

        run.files += save_figure(plot_cohort_frequency(run.results, bins, thresholds=thresholds),
                                 out / "cnv_frequency", formats)
    if store is not None:
        run.files.append(write_cnv_features(feats, store))
        run.files += write_cnv_panel(store, bins, ref, {"input": "idat_raw", "method": method,
                                                         "cancer_genes": cancer_genes, "bin_summary": None})
    return run


def _note_panel_size(ref: CNVReference, log: Callable[[str], None]) -> None:
    if ref.n_references < RECOMMENDED_REFERENCES:
        log(f"note: the reference panel has {ref.n_references} normals; conumee recommends ≥ "
            f"{RECOMMENDED_REFERENCES} copy-neutral references")


# -- store paths ------------------------------------------------------------------------------------------
def store_manifest(store) -> Manifest:
    """A coordinates-only :class:`Manifest` from a store's probe table (row i = element i of its arrays).

    It carries the store's ``manifest_sha256`` (the manifest file it was preprocessed with), so bins and
    saved reference panels are shared with the IDAT path on the same manifest.
    """
    probes = store.probes()
    missing = [c for c in ("probe_id", "chrom", "pos") if c not in probes.columns]
    if missing:
        raise DataError(f"store '{store.path}' has no probe {'/'.join(missing)} columns; CNV needs probe "
                        "coordinates")
    p = pd.DataFrame({
        "probe_id": probes["probe_id"].astype(str),
        "cpg_id": probes["cpg_id"].astype(str) if "cpg_id" in probes else probes["probe_id"].astype(str),
        "address_u": -1, "address_m": -1,
        "design": probes["design"].astype(str) if "design" in probes else "",
        "channel": probes["channel"].astype(str) if "channel" in probes else "",
        "chrom": probes["chrom"].fillna("").astype(str),
        "pos": pd.to_numeric(probes["pos"], errors="coerce").fillna(-1).astype(np.int64)})
    info = store.info
    return Manifest(array=str(info.get("array", "STORE")), probes=p,
                    controls=pd.DataFrame(columns=["address", "type", "channel", "name"]),
                    genome_build=str(info.get("genome_build") or "hg19"), source=store.path,
                    sha256=str(info.get("manifest_sha256") or info.get("probe_hash") or ""))


def store_is_raw(store) -> bool:
    """Whether a store holds raw (unnormalised) intensities, in which a 0 means an unmeasured address."""
    return str(store.info.get("method", "")) == "raw"


def store_totals(store, samples: Sequence[str], *, batch_size: int = 16, raw: bool | None = None):
    """Yield ``(sample, total intensity)`` of ``samples`` from a store, batch by batch (:func:`cnv_total`;
    ``raw`` defaults to the store's normalisation being ``raw``)."""
    raw = store_is_raw(store) if raw is None else raw
    meth = store.iter_arrays(samples, field="meth", batch_size=batch_size)
    unmeth = store.iter_arrays(samples, field="unmeth", batch_size=batch_size)
    for (names, m), (_, u) in zip(meth, unmeth):
        yield from zip(names, (cnv_total(a, b, raw=raw) for a, b in zip(m, u)))


def store_group_samples(store, spec: str) -> list[str]:
    """Stored samples (status ok) whose sample-table column equals a value: ``spec`` = ``COLUMN=VALUE``, or
    ``VALUE`` for the first of :data:`GROUP_COLUMNS` the sample table has (``Sample_Group`` of a sheet)."""
    from ...io.store import Store

    st = store if isinstance(store, Store) else Store.open(store)
    table = st.samples
    column, sep, value = str(spec).partition("=")
    if not sep:
        value = column
        column = next((c for c in GROUP_COLUMNS if c in table.columns), "")
        if not column:
            cols = [c for c in table.columns if not str(c).startswith("qc_")]
            raise ConfigError(f"store '{st.path}' has no {'/'.join(GROUP_COLUMNS)} column to find the normals "
                              f"group '{value}' in; use COLUMN=VALUE with one of: {', '.join(map(str, cols))}")
    elif column not in table.columns:
        raise ConfigError(f"store '{st.path}' has no sample-table column '{column}'")
    ok = table[table["status"] == "ok"]
    names = ok.loc[ok[column].astype(str) == value, "sample"].astype(str).tolist()
    if not names:
        seen = sorted(ok[column].dropna().astype(str).unique().tolist())[:10]
        raise DataError(f"store '{st.path}': no stored sample has {column} = '{value}' (values: "
                        f"{', '.join(seen) or 'none'})")
    return names


@dataclass
class StorePlan:
    """Driver-side preparation of a store CNV run: bins, reference panel and the samples to analyse."""

    store: object
    bins: Bins
    reference: CNVReference
    samples: list[str]
    files: list[Path]
    raw: bool

    def task(self, *, cancer_genes: bool = False, **options) -> CNVTask:
        """The :class:`CNVTask` for this store (``options``: method, seg_params, thresholds, out, …); the focal
        regions (with the ~730 cancer genes when ``cancer_genes``) are resolved here, once."""
        from .sample import _focal_regions

        regions = _focal_regions("default", cancer_genes, self.bins.build).reset_index(drop=True)
        return CNVTask(bins=self.bins, reference=self.reference, raw=self.raw, n_probes=self.store.n_probes,
                       cancer_genes=cancer_genes, regions=regions, **options)


def _check_signals(st) -> None:
    """Refuse a store whose sample files hold no meth/unmeth arrays (e.g. betas imported from a table)."""
    import pyarrow.parquet as pq

    _, files = st.files_of(st.ok_samples[:1])
    if not files:
        raise DataError(f"store '{st.path}' has no stored samples")
    try:
        names = set(pq.read_schema(files[0]).names)
    except Exception as exc:  # noqa: BLE001 - unreadable first file: one clear line
        raise DataError(f"'{files[0]}' cannot be read: {exc}") from None
    if not {"meth", "unmeth"} <= names:
        raise DataError(f"store '{st.path}' holds no meth/unmeth arrays (its sample files have "
                        f"{', '.join(sorted(names))}); CNV needs the methylated and unmethylated intensities "
                        "written by `methylclass preprocess`")


def store_reference(st, normals, bins: Bins, *, raw: bool,
                    log: Callable[[str], None] = lambda m: None) -> tuple[CNVReference, list[str]]:
    """The reference panel of a store CNV run and the normals' names (empty for a saved panel).

    ``normals``: names of stored samples (≥ 3), a saved panel (``.npz`` path) or a :class:`CNVReference`.
    """
    if isinstance(normals, CNVReference):
        if normals.probe_key != bins.probe_key:
            raise DataError(f"the CNV reference panel was built for {normals.array}/{normals.build} probes that "
                            f"differ from store '{st.path}' ({bins.array}/{bins.build})")
        return normals, []
    if isinstance(normals, (str, Path)):
        if str(normals).endswith(".npz"):
            return _load_panel(normals, bins), []
        raise ConfigError(f"normals '{normals}': give ≥ 3 names of stored samples or a saved reference panel "
                          "(.npz)")
    names = list(dict.fromkeys(str(n) for n in normals))
    if len(names) < MIN_REFERENCES:
        raise DataError(f"reference panel: {len(names)} normal sample(s) named, need ≥ 3 copy-neutral "
                        "references (16 or more recommended)")
    got, totals = zip(*store_totals(st, names, raw=raw))
    intens = np.vstack(totals)
    if not np.isfinite(intens).any():
        raise DataError(f"store '{st.path}' holds no methylated/unmethylated intensities for the normals "
                        f"({', '.join(names[:5])}); CNV needs the meth and unmeth signals of "
                        "`methylclass preprocess`")
    ref = as_saved(CNVReference.from_intensities(intens, bins, list(got), meta={"store": str(st.path)}))
    log(f"reference panel: {ref.n_references} normals from {st.path}, {int(ref.probe_mask.sum()):,} probes")
    return ref, names


def plan_store_cnv(store, normals, samples: Sequence[str] | None = None, *, genome: str | None = None,
                   log: Callable[[str], None] = lambda m: None) -> StorePlan:
    """Open the store, build its bins (on ``genome``, default the store's build) and the reference panel, and
    list the samples to analyse (default: every stored sample that is not a normal)."""
    from ...io.store import Store

    st = store if isinstance(store, Store) else Store.open(store)
    man = store_manifest(st)
    build = genome or man.genome_build
    bins = make_bins(_with_build(man, build), build)
    _check_signals(st)
    raw = store_is_raw(st)
    ref, normal_names = store_reference(st, normals, bins, raw=raw, log=log)
    _note_panel_size(ref, log)
    if samples is None:
        skip = set(normal_names) | set(ref.names)
        samples = [s for s in st.ok_samples if s not in skip]
        if not samples:
            raise DataError(f"store '{st.path}': no samples to analyse besides the normals")
    else:
        samples = [samples] if isinstance(samples, str) else list(samples)
        if not samples:
            raise ConfigError("the list of samples to analyse is empty")
    names, files = st.files_of(samples)
    return StorePlan(store=st, bins=bins, reference=ref, samples=names, files=files, raw=raw)


def run_cnv_store(store: str | Path, normals, samples: Sequence[str] | None = None, *,
                  genome: str | None = None, method: str = "cbs", seg_params: CBSParams | None = None,
                  cancer_genes: bool = False, thresholds: CallThresholds = DEFAULT_THRESHOLDS,
                  out: str | Path | None = None, formats: Sequence[str] = ("png", "svg"), plot: bool = True,
                  write_features: bool = True, bin_summary: str | None = None,
                  log: Callable[[str], None] = lambda m: None) -> CNVRun:
    """CNV of the samples of a store in this process (for Spark: :func:`methylclass.spark.cnv.cnv_store_spark`).

    ``normals``: names of stored copy-neutral samples (≥ 3), or a saved panel (``.npz``). ``samples``
    defaults to every stored sample that is not a normal. The feature table is written to
    ``STORE/cnv_features.parquet`` (``write_features``); per-sample plots/tables, ``cnv_features.tsv`` and
    ``cnv_summary.tsv`` go to ``out`` when given. A sample that cannot be analysed is listed in
    :attr:`CNVRun.failures` and the others go on; when every sample fails the first error is raised.
    """
    plan = plan_store_cnv(store, normals, samples, genome=genome, log=log)
    task = plan.task(method=method, seg_params=seg_params, cancer_genes=cancer_genes, thresholds=thresholds,
                     bin_summary=bin_summary, out=None if out is None else str(out), formats=tuple(formats),
                     plot=plot)
    run = CNVRun(results=[], bins=plan.bins, reference=plan.reference,
                 out=Path(out) if out else plan.store.path)
    first_error: BaseException | None = None
    for name, path in zip(plan.samples, plan.files):
        try:
            res, files = task.process(name, path)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - same contract as the Spark path: report, go on
            first_error = first_error or exc
            run.failures.append((name, failure_reason(exc)))
            log(f"failed {name}: {failure_reason(exc)}")
            continue
        run.results.append(res)
        run.files += files
    if not run.results:
        assert first_error is not None
        raise first_error
    feats = run.features = feature_frame([task.features(r) for r in run.results])
    if write_features:
        run.files.append(write_cnv_features(feats, plan.store.path))
        run.files += write_cnv_panel(plan.store.path, plan.bins, plan.reference,
                                     {"input": "store", "method": method, "cancer_genes": cancer_genes,
                                      "bin_summary": bin_summary})
    if out is not None:
        run.files += write_cohort_tables(feats, [r.summary() for r in run.results], out)
    return run
