"""Cohort ingestion: IDAT pairs → per-sample normalisation → a Parquet store, on Spark or in this process.

One kernel, :func:`~methylclass.pp.kernel.process_sample` (read the pair, map addresses to probes,
``normalize``, write the sample file), serves every path:

* :func:`ingest_cohort` on Spark (default): the small list of sample references (paths + sheet metadata) is
  distributed a few samples per task (``ingest.samples_per_task`` of ``conf/base.yaml``; a crashed task's
  samples are re-run one per task, :mod:`methylclass.spark.jobs`); executors run the kernel with the manifest
  broadcast once, write the sample's arrays straight into the store (atomic rename) and return only a small record. The
  driver holds the manifest, the references and the records: its memory is flat in the number of samples.
  Executors must see INPUT and the store at the same paths (local disk for ``local[*]``, a shared file system
  for a cluster).
* :func:`ingest_cohort` with ``local=True``, and :func:`preprocess_local` (in memory, no store): the same
  kernel in a Python loop, for a single sample or a handful, with no Spark start-up.

Bad input never stops a cohort: a truncated IDAT, a sample without its Red/Grn partner or a sample of another
array type is recorded as ``status="failed"`` with its reason in the sample table; the rest is stored.
Re-running on the same store skips the samples stored already, retries the failed ones and refreshes the
sample-sheet columns of the stored ones.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..config import setting
from ..errors import ConfigError, DataError
from ..io.manifest import resolve as _arrays
from ..io.manifest.types import Manifest
from ..io.store import probe_table_hash
from ..io.store_writer import StoreWriter
from ..pp.kernel import MIN_ADDRESS_FRACTION, WRITE_FAILED, _meta_columns, process_sample, run_kernel
from ..pp.normalize import normalize
from ..progress import Progress
from ..records import SampleFailure
from ..spark.jobs import MAX_TASK_CRASHES, choose_samples_per_task, run_on_spark
from .ingest_mixed import MIXED, ArrayGroup, group_by_array, mixed_probe_table, sheet_names_arrays


# -- sample references ------------------------------------------------------------------------------------
def as_ref(obj: Any) -> dict:
    """A sample reference as a plain dict ``{sample, grn, red, meta, problem}`` (picklable, small).

    Accepts a :class:`methylclass.io.discover.SampleRef`-like object (``name``, ``grn``, ``red``, ``meta``) or a
    dict with ``sample``/``name``, ``grn``, ``red`` and optional ``meta``.
    """
    get = obj.get if isinstance(obj, dict) else (lambda k, d=None: getattr(obj, k, d))
    name = get("sample") or get("name")
    if not name:
        raise ConfigError(f"sample reference {obj!r} has no name")
    meta = dict(get("meta") or {})
    return {"sample": str(name), "grn": None if get("grn") is None else str(get("grn")),
            "red": None if get("red") is None else str(get("red")), "meta": meta,
            "problem": get("problem")}


def refs_from_discovery(discovery: Any) -> list[dict]:
    """References from a ``Discovery`` (``.samples`` + ``.problems``): problems become failing references."""
    refs = [as_ref(s) for s in discovery.samples]
    known = {r["sample"] for r in refs}
    for p in getattr(discovery, "problems", []) or []:
        name = str(getattr(p, "sample", "") or Path(str(getattr(p, "path", "?"))).name)
        if name in known:
            continue
        message, path = str(getattr(p, "message", p)), str(getattr(p, "path", "") or "")
        if path and path not in message:
            message = f"{message} ({path})"
        refs.append({"sample": name, "grn": None, "red": None, "meta": {}, "problem": message})
        known.add(name)
    return refs


def discover(source: str | Path, *, sheet: str | Path | None = None) -> list[dict]:
    """Find the samples of ``source`` (a folder of IDATs or a sample sheet) as references."""
    from ..io.discover import find_samples  # the project's one discovery implementation

    return refs_from_discovery(find_samples(source, sheet=sheet))


# -- orchestration ----------------------------------------------------------------------------------------
@dataclass
class IngestResult:
    """What :func:`ingest` did: the store (None for an in-memory run, whose samples × probes ``betas`` are
    kept instead), its full sample table and the counts of this run."""

    store: Path | None
    samples: pd.DataFrame
    array: str
    method: str
    n_processed: int
    n_skipped: int
    n_failed: int
    seconds: float
    betas: pd.DataFrame | None = None

    @property
    def n_ok(self) -> int:
        """Samples stored successfully (this run and earlier ones)."""
        return int((self.samples["status"] == "ok").sum())

    @property
    def failures(self) -> list[SampleFailure]:
        """The samples that could not be stored (this run and earlier ones), with their reasons."""
        bad = self.samples.loc[self.samples["status"] != "ok"]
        paths = bad["grn"] if "grn" in bad.columns else [None] * len(bad)
        return [SampleFailure(str(s), p if isinstance(p, str) and p else None, str(r), stage="ingest")
                for s, p, r in zip(bad["sample"], paths, bad["reason"])]


def _dedupe(refs: list[dict]) -> list[dict]:
    seen: dict[str, dict] = {}
    out = []
    for ref in refs:
        if ref["sample"] in seen:
            first = seen[ref["sample"]]
            out.append({**ref, "sample": f"{ref['sample']}#dup{len(out)}",
                        "problem": f"duplicate sample name '{ref['sample']}' (first: {first.get('grn')}, "
                                   f"again: {ref.get('grn')}); rename one in the sample sheet"})
            continue
        seen[ref["sample"]] = ref
        out.append(ref)
    return out


def check_method(method: str, options: dict | None) -> None:
    """Refuse an unknown normalisation method or option before any sample is touched (otherwise every
    sample would fail with the same message)."""
    import inspect

    from ..pp import normalize as _norm

    methods = getattr(_norm, "METHODS", None)
    if methods is not None and method not in methods:
        raise ConfigError(f"unknown normalisation method '{method}'; choose one of {', '.join(methods)}")
    params = inspect.signature(normalize).parameters
    unknown = sorted(set(options or {}) - {n for n, p in params.items() if p.kind == p.KEYWORD_ONLY} - {"method"})
    if unknown:
        raise ConfigError(f"unknown normalisation option(s) {', '.join(unknown)}; normalize() accepts "
                          f"{', '.join(n for n, p in params.items() if p.kind == p.KEYWORD_ONLY and n != 'method')}")


#: normalisation methods that read the manifest's control probes (NEGATIVE for noob's background, NORM_* for
#: the dye-bias / Illumina scaling); ``raw`` needs none
NEEDS_CONTROLS = ("noob", "illumina")


def check_controls(man: Manifest, method: str) -> None:
    """Refuse up front a manifest without control probes when ``method`` needs them (otherwise every sample
    would fail with the same reason and the store would hold none)."""
    if method in NEEDS_CONTROLS and len(man.controls) == 0:
        where = f"'{man.source}'" if man.source else f"the {man.array} manifest"
        raise ConfigError(f"{where} has no control probes, which --method {method} needs (background and "
                          "dye-bias correction); pass the array's control-probe table with --controls, or "
                          "use --method raw")


def _base_dir(source, sheet) -> Path:
    """Folder that relative paths of the sample sheet (manifest files) are resolved against."""
    p = Path(sheet) if sheet is not None else Path(source) if isinstance(source, (str, Path)) else Path.cwd()
    return p.parent if p.is_file() else p


def _prepare(source, sheet, manifest, array, controls=None, mixed: bool = False,
             method: str | None = None) -> tuple[list[dict], list[ArrayGroup]]:
    """References and their array groups: one group (the cohort's manifest; samples of other arrays flagged)
    or, for a mixed cohort (``mixed`` or a sheet naming several arrays), one group per array."""
    if isinstance(source, (str, Path)):
        refs = discover(source, sheet=sheet)
    else:
        refs = [as_ref(r) for r in source]
    refs = _dedupe(refs)
    if not refs:
        raise ConfigError(f"no IDAT samples found in '{source}'" if isinstance(source, (str, Path))
                          else "no samples given")
    if manifest is None and array is None and (mixed or sheet_names_arrays(refs)):
        groups = group_by_array(refs, _base_dir(source, sheet))
        if len(groups) > 1:
            if method is not None:
                for g in groups:
                    check_controls(g.manifest, method)
            return refs, groups
        man = groups[0].manifest
    else:
        man = _arrays.resolve_manifest(refs, manifest=manifest, array=array, controls=controls)
    if method is not None:
        check_controls(man, method)
    refs = _arrays.flag_other_arrays(refs, man)
    return refs, [ArrayGroup(manifest=man, refs=refs)]


def _store_info(groups: list[ArrayGroup], method: str, options: dict | None) -> tuple[dict, pd.DataFrame]:
    """``_manifest.json`` content and probe table of a store for ``groups`` (one array, or a mixed store)."""
    if len(groups) == 1:
        man = groups[0].manifest
        probes = man.probes
        info = {"array": man.array, "genome_build": man.genome_build, "manifest_sha256": man.sha256 or None,
                "manifest_source": str(man.source) if man.source else None}
    else:
        probes = mixed_probe_table(groups)
        info = {"array": MIXED, "arrays": [g.manifest.array for g in groups],
                "genome_build": groups[0].manifest.genome_build,
                "manifest_sha256": {g.manifest.array: g.manifest.sha256 or None for g in groups},
                "manifest_source": {g.manifest.array: str(g.manifest.source) if g.manifest.source else None
                                    for g in groups}}
    info.update({"probe_hash": probe_table_hash(probes), "n_probes": len(probes), "method": method,
                 "method_options": dict(options or {}), "methylclass_version": __version__,
                 "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")})
    return info, probes


def _refuse_write_failures(records: list[dict], store: Path) -> None:
    """Stop the run when sample files could not be written (disk full, permissions): that is the store's
    problem, not the samples'. The store is not marked complete; the samples written are kept, so re-running
    the same command resumes once space is freed."""
    bad = [r for r in records if str(r.get("reason") or "").startswith(WRITE_FAILED)]
    if bad:
        n_ok = sum(1 for r in records if r.get("status") == "ok")
        raise DataError(f"'{store}' cannot be written: {len(bad)} sample file(s) not stored "
                        f"({bad[0]['reason'][len(WRITE_FAILED):].strip()}); {n_ok} stored this run are kept "
                        "and the store is left incomplete — free space or fix the folder, then re-run the "
                        "same command to resume")


def ingest_cohort(source: str | Path | Sequence[Any], out: str | Path, *, method: str = "noob",
                  manifest: Manifest | str | Path | None = None, array: str | None = None,
                  sheet: str | Path | None = None, master: str | None = None, spark=None, local: bool = False,
                  overwrite: bool = False, options: dict | None = None,
                  min_address_fraction: float = MIN_ADDRESS_FRACTION, samples_per_task: int | str | None = None,
                  driver_memory: str = "2g", max_task_crashes: int = MAX_TASK_CRASHES,
                  controls: str | Path | None = None, progress: bool | None = None, log=None,
                  mixed: bool = False) -> IngestResult:
    """Preprocess a cohort into the Parquet store ``out`` (created, or resumed when it exists).

    A Spark task that dies repeatedly (worker crash) marks its sample failed and the rest goes on, up to
    ``max_task_crashes`` samples (see :mod:`methylclass.spark.jobs`).

    Parameters
    ----------
    source : str, Path or sequence
        A folder of IDATs or a sample sheet (found with :func:`methylclass.io.discover.find_samples`), or a
        list of sample references.
    out : str or Path
        The store folder.
    method : str
        Normalisation method, passed to :func:`methylclass.pp.normalize.normalize` untouched.
    manifest : Manifest, str or Path, optional
        A :class:`Manifest` or a manifest file; with neither ``manifest`` nor ``array`` the array is detected
        from the IDATs.
    array : str, optional
        A known array name.
    sheet : str or Path, optional
        A sample sheet for a folder ``source``.
    master : str, optional
        Spark master to start a session on (default embedded ``local[*]``).
    spark : SparkSession, optional
        A session to use instead of starting one.
    local : bool
        Run without Spark.
    overwrite : bool
        Replace a store written with other settings instead of refusing.
    options : dict, optional
        Further :func:`~methylclass.pp.normalize.normalize` options, passed untouched.
    min_address_fraction : float
        Minimum fraction of the manifest's addresses an IDAT must hold.
    samples_per_task : int or "auto", optional
        Samples per Spark task (default: ``ingest.samples_per_task`` of ``conf/base.yaml``; ``"auto"`` chooses
        from the cohort size and Spark's cores, :func:`methylclass.spark.jobs.choose_samples_per_task`).
    driver_memory : str
        Spark driver memory when a session is started.
    max_task_crashes : int
        How many crashing samples one run isolates (marks failed, the rest going on) before giving up.
    controls : str or Path, optional
        The manifest file's control-probe table, when the file has none.
    progress : bool, optional
        The progress display (:class:`~methylclass.progress.Progress`; None = a bar on a terminal, plain
        lines otherwise).
    log : callable, optional
        Receives one line per step.
    mixed : bool
        Store samples of several arrays together on canonical CpG ids (also implied by a sample sheet naming
        them per sample; see :mod:`methylclass.workflows.ingest_mixed`).

    Returns
    -------
    IngestResult
        The store, its full sample table and the counts of this run.
    """
    t0 = time.perf_counter()
    say = log or (lambda msg: None)
    check_method(method, options)
    if samples_per_task is None:
        samples_per_task = setting({}, "ingest.samples_per_task")
    choose_samples_per_task(1, 1, samples_per_task)  # refuse a bad value before any work
    refs, groups = _prepare(source, sheet, manifest, array, controls, mixed, method)
    info, probes = _store_info(groups, method, options)
    label = info["array"] if len(groups) == 1 else f"{MIXED}: {', '.join(info['arrays'])}"
    with StoreWriter(out, info, probes, overwrite=overwrite) as writer:
        todo = [r for r in refs if r["sample"] not in writer.stored]
        n_skipped = len(refs) - len(todo)
        say(f"{len(refs)} samples ({label}, {len(probes):,} probes): {n_skipped} already stored, "
            f"{len(todo)} to process with method={method}")
        records = []
        for g in groups:
            man = g.manifest
            mine = [r for r in g.refs if r["sample"] not in writer.stored]
            work = [r for r in mine if not r.get("problem")]
            records += [run_kernel(r, man, method)[0] for r in mine if r.get("problem")]
            if work and len(groups) > 1:
                say(f"  {man.array}: {len(work)} samples ({man.n_probes:,} probes)")
            if work and local:
                with Progress(len(work), f"ingest {man.array}", unit="samples", enabled=progress) as bar:
                    for r in work:
                        records.append(process_sample(r, man, method, writer.path, options=options,
                                                      min_address_fraction=min_address_fraction,
                                                      canonical=g.canonical))
                        bar.advance()
            elif work:
                if spark is None:
                    from ..spark.session import get_spark

                    spark = get_spark(master, driver_memory=driver_memory)
                with Progress(len(work), f"ingest {man.array} on Spark", unit="samples", enabled=progress) as bar:
                    records += run_on_spark(spark, work, man, method, writer.path, options=options,
                                            min_fraction=min_address_fraction, samples_per_task=samples_per_task,
                                            say=say, progress=bar.update, max_task_crashes=max_task_crashes,
                                            canonical=g.canonical)
        _refuse_write_failures(records, writer.path)
        order = {r["sample"]: i for i, r in enumerate(refs)}
        records.sort(key=lambda r: order.get(r["sample"], len(order)))
        refresh = [{"sample": r["sample"], **_meta_columns(r)} for r in refs if r["sample"] in writer.stored]
        table = writer.finish(records, refresh)
    n_failed = sum(1 for r in records if r["status"] != "ok")
    res = IngestResult(store=Path(out), samples=table, array=info["array"], method=method,
                       n_processed=len(todo), n_skipped=n_skipped, n_failed=n_failed,
                       seconds=time.perf_counter() - t0)
    say(f"stored {res.n_ok} samples in {out} ({n_failed} failed this run) in {res.seconds:.1f} s")
    return res


def preprocess_local(samples: str | Path | Sequence[Any], *, method: str = "noob",
                     manifest: Manifest | str | Path | None = None, array: str | None = None,
                     controls: str | Path | None = None, options: dict | None = None,
                     min_address_fraction: float = MIN_ADDRESS_FRACTION,
                     mixed: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise a handful of samples in this process (no Spark, no store) with the cohort kernel.

    With several arrays (``mixed`` or a sheet naming them) the columns are canonical CpG ids (union of the
    arrays, NaN where a sample's array lacks the CpG).

    Parameters
    ----------
    samples : str, Path or sequence
        Sample references (``SampleRef`` or dicts with sample/grn/red), or a folder / sample sheet.
    method : str
        Normalisation method (:func:`methylclass.pp.normalize.normalize`).
    manifest : Manifest, str or Path, optional
        A :class:`Manifest` or a manifest file (default: detected from the IDATs, or from ``array``).
    array : str, optional
        A known array name.
    controls : str or Path, optional
        The manifest file's control-probe table, when the file has none.
    options : dict, optional
        Further :func:`~methylclass.pp.normalize.normalize` options.
    min_address_fraction : float
        Minimum fraction of the manifest's addresses an IDAT must hold.
    mixed : bool
        Samples of several arrays, on canonical CpG ids.

    Returns
    -------
    betas : DataFrame
        Float32, samples × probes (columns = probe ids), of the samples that succeeded.
    sample_table : DataFrame
        One record per sample (status, reason, QC).
    """
    check_method(method, options)
    _, groups = _prepare(samples, None, manifest, array, controls, mixed, method)
    _, probes = _store_info(groups, method, options)
    records, rows, names = [], [], []
    for g in groups:
        for ref in g.refs:
            rec, ns = run_kernel(ref, g.manifest, method, options=options,
                                 min_address_fraction=min_address_fraction)
            records.append(rec)
            if ns is not None:
                beta = np.asarray(ns.beta, dtype=np.float32)
                rows.append(beta if g.canonical is None else g.canonical.apply(beta))
                names.append(rec["sample"])
    mat = np.vstack(rows) if rows else np.empty((0, len(probes)), np.float32)
    betas = pd.DataFrame(mat, index=pd.Index(names, name="sample"),
                         columns=pd.Index(probes["probe_id"].to_numpy(), name="probe_id"), copy=False)
    return betas, pd.DataFrame(records)


def ingest(source: str | Path | Sequence[Any], out: str | Path | None = None, *, backend: str = "spark",
           master: str | None = None, method: str = "noob", **options: Any) -> IngestResult:
    """IDAT pairs → normalised samples, in a Parquet store (``out``) or in memory (``out=None``).

    Parameters
    ----------
    source : str, Path or sequence
        A folder of IDATs, a sample sheet, or sample references (see :func:`as_ref`).
    out : str or Path, optional
        The store to create or resume; None keeps the betas in memory (``backend="local"`` only).
    backend : {"spark", "local"}
        Spark (embedded ``local[*]`` or ``master``) or a loop in this process; the result is the same.
    master : str, optional
        Spark master URL (``backend="spark"``).
    method : str
        Normalisation method (:func:`methylclass.pp.normalize.normalize`).
    **options
        Further keyword arguments of :func:`ingest_cohort` (``manifest``, ``array``, ``sheet``, ``controls``,
        ``options``, ``overwrite``, ``log``, …).

    Returns
    -------
    IngestResult
        The sample table (one record per sample, failures with their reason) and, in memory, ``betas``.
    """
    if backend not in ("local", "spark"):
        raise ConfigError(f"unknown backend '{backend}'; choose local or spark")
    if out is None:
        if backend != "local":
            raise ConfigError("an in-memory ingestion (no store) runs with backend='local'")
        t0 = time.perf_counter()
        keep = {k: options[k] for k in ("manifest", "array", "controls", "options", "min_address_fraction",
                                        "mixed") if k in options}
        betas, table = preprocess_local(source, method=method, **keep)
        failed = int((table["status"] != "ok").sum()) if len(table) else 0
        arrays = sorted(set(table["array"].astype(str))) if len(table) else []
        array = arrays[0] if len(arrays) == 1 else MIXED if arrays else ""
        return IngestResult(store=None, samples=table, array=array, method=method, n_processed=len(table),
                            n_skipped=0, n_failed=failed, seconds=time.perf_counter() - t0, betas=betas)
    return ingest_cohort(source, out, method=method, master=master, local=backend == "local", **options)
