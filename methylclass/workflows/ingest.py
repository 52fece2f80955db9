"""Cohort ingestion: IDAT pairs → per-sample normalisation → a Parquet store, on Spark or in this process.

One kernel, :func:`~methylclass.pp.kernel.process_sample` (read the pair, map addresses to probes,
``normalize``, write the sample file), serves every path:

* :func:`ingest_cohort` on Spark (default): the small list of sample references (paths + sheet metadata) is
  distributed one sample per task (:mod:`methylclass.spark.jobs`); executors run the kernel with the manifest
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
from ..errors import ConfigError
from ..io.manifest import resolve as _arrays
from ..io.manifest.types import Manifest
from ..io.store import probe_table_hash
from ..io.store_writer import StoreWriter
from ..pp.kernel import MIN_ADDRESS_FRACTION, _meta_columns, process_sample, run_kernel
from ..pp.normalize import normalize
from ..progress import Progress
from ..records import SampleFailure
from ..spark.jobs import MAX_TASK_CRASHES, run_on_spark


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


def _prepare(source, sheet, manifest, array, controls=None) -> tuple[list[dict], Manifest]:
    if isinstance(source, (str, Path)):
        refs = discover(source, sheet=sheet)
    else:
        refs = [as_ref(r) for r in source]
    refs = _dedupe(refs)
    if not refs:
        raise ConfigError(f"no IDAT samples found in '{source}'" if isinstance(source, (str, Path))
                          else "no samples given")
    man = _arrays.resolve_manifest(refs, manifest=manifest, array=array, controls=controls)
    refs = _arrays.flag_other_arrays(refs, man)
    return refs, man


def ingest_cohort(source: str | Path | Sequence[Any], out: str | Path, *, method: str = "noob",
                  manifest: Manifest | str | Path | None = None, array: str | None = None,
                  sheet: str | Path | None = None, master: str | None = None, spark=None, local: bool = False,
                  overwrite: bool = False, options: dict | None = None,
                  min_address_fraction: float = MIN_ADDRESS_FRACTION, samples_per_task: int = 1,
                  driver_memory: str = "2g", max_task_crashes: int = MAX_TASK_CRASHES,
                  controls: str | Path | None = None, progress: bool | None = None, log=None) -> IngestResult:
    """Preprocess a cohort into the Parquet store ``out`` (created, or resumed when it exists).

    ``source``: a folder of IDATs or a sample sheet (found with :func:`methylclass.io.discover.find_samples`),
    or a list of sample references. ``manifest``: a :class:`Manifest` or a manifest file (``controls``: its
    control-probe table, when the file has none); ``array``: a known array name; neither → detected from the
    IDATs. ``method``/``options`` go to
    :func:`methylclass.pp.normalize.normalize` untouched. ``spark``: a session to use; otherwise one is
    started on ``master`` (default embedded ``local[*]``); ``local=True`` runs without Spark.
    ``log``: a callable receiving one line per step; ``progress``: the progress display
    (:class:`~methylclass.progress.Progress`; None = a bar on a terminal, plain lines otherwise). A Spark task
    that dies repeatedly (worker crash) marks its sample failed and the rest goes on, up to
    ``max_task_crashes`` samples (see :mod:`methylclass.spark.jobs`).
    """
    t0 = time.perf_counter()
    say = log or (lambda msg: None)
    check_method(method, options)
    refs, man = _prepare(source, sheet, manifest, array, controls)
    info = {"array": man.array, "probe_hash": probe_table_hash(man.probes), "n_probes": man.n_probes,
            "genome_build": man.genome_build, "manifest_sha256": man.sha256 or None,
            "manifest_source": str(man.source) if man.source else None, "method": method,
            "method_options": dict(options or {}), "methylclass_version": __version__,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
    with StoreWriter(out, info, man.probes, overwrite=overwrite) as writer:
        todo = [r for r in refs if r["sample"] not in writer.stored]
        n_skipped = len(refs) - len(todo)
        say(f"{len(refs)} samples ({man.array}, {man.n_probes:,} probes): {n_skipped} already stored, "
            f"{len(todo)} to process with method={method}")
        work = [r for r in todo if not r.get("problem")]
        records = [run_kernel(r, man, method)[0] for r in todo if r.get("problem")]
        if work and local:
            with Progress(len(work), "ingest", unit="samples", enabled=progress) as bar:
                for r in work:
                    records.append(process_sample(r, man, method, writer.path, options=options,
                                                  min_address_fraction=min_address_fraction))
                    bar.advance()
        elif work:
            if spark is None:
                from ..spark.session import get_spark

                spark = get_spark(master, driver_memory=driver_memory)
            with Progress(len(work), "ingest on Spark", unit="samples", enabled=progress) as bar:
                records += run_on_spark(spark, work, man, method, writer.path, options=options,
                                        min_fraction=min_address_fraction, samples_per_task=samples_per_task,
                                        say=say, progress=bar.update, max_task_crashes=max_task_crashes)
        order = {r["sample"]: i for i, r in enumerate(refs)}
        records.sort(key=lambda r: order.get(r["sample"], len(order)))
        refresh = [{"sample": r["sample"], **_meta_columns(r)} for r in refs if r["sample"] in writer.stored]
        table = writer.finish(records, refresh)
    n_failed = sum(1 for r in records if r["status"] != "ok")
    res = IngestResult(store=Path(out), samples=table, array=man.array, method=method,
                       n_processed=len(todo), n_skipped=n_skipped, n_failed=n_failed,
                       seconds=time.perf_counter() - t0)
    say(f"stored {res.n_ok} samples in {out} ({n_failed} failed this run) in {res.seconds:.1f} s")
    return res


def preprocess_local(samples: str | Path | Sequence[Any], *, method: str = "noob",
                     manifest: Manifest | str | Path | None = None, array: str | None = None,
                     controls: str | Path | None = None, options: dict | None = None,
                     min_address_fraction: float = MIN_ADDRESS_FRACTION) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise a handful of samples in this process (no Spark, no store) with the cohort kernel.

    ``samples``: sample references (``SampleRef`` or dicts with sample/grn/red), or a folder / sample sheet.
    Returns ``(betas, sample_table)``: a float32 DataFrame samples × probes (columns = probe ids) of the
    samples that succeeded, and one record per sample (status, reason, QC).
    """
    check_method(method, options)
    refs, man = _prepare(samples, None, manifest, array, controls)
    records, rows, names = [], [], []
    for ref in refs:
        rec, ns = run_kernel(ref, man, method, options=options, min_address_fraction=min_address_fraction)
        records.append(rec)
        if ns is not None:
            rows.append(np.asarray(ns.beta, dtype=np.float32))
            names.append(rec["sample"])
    mat = np.vstack(rows) if rows else np.empty((0, man.n_probes), np.float32)
    betas = pd.DataFrame(mat, index=pd.Index(names, name="sample"),
                         columns=pd.Index(man.probes["probe_id"].to_numpy(), name="probe_id"), copy=False)
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
        keep = {k: options[k] for k in ("manifest", "array", "controls", "options", "min_address_fraction")
                if k in options}
        betas, table = preprocess_local(source, method=method, **keep)
        failed = int((table["status"] != "ok").sum()) if len(table) else 0
        array = str(table["array"].iloc[0]) if len(table) else ""
        return IngestResult(store=None, samples=table, array=array, method=method, n_processed=len(table),
                            n_skipped=0, n_failed=failed, seconds=time.perf_counter() - t0, betas=betas)
    return ingest_cohort(source, out, method=method, master=master, local=backend == "local", **options)
