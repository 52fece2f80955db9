"""Cohort ingestion: IDAT pairs → per-sample normalisation → a Parquet store, on Spark or in this process.

One kernel, :func:`process_sample` (read the pair, map addresses to probes, ``normalize``), serves both paths:

* :func:`ingest_cohort` with Spark (default): the small list of sample references (paths + sheet metadata) is
  distributed one sample per task; executors run the kernel with the manifest broadcast once, write the
  sample's arrays straight into the store (atomic rename) and return only a small record. The driver holds
  the manifest, the list of references and the records: memory is flat in the number of samples.
* :func:`ingest_cohort` with ``local=True``, and :func:`preprocess_local` (in memory, no store): the same
  kernel in a
  Python loop, for a single sample or a handful, with no Spark start-up.

Bad input never stops a cohort: a truncated IDAT, a sample without its Red/Grn partner or a sample of another
array type is recorded as ``status="failed"`` with its reason in the sample table; the rest is stored.
Re-running on the same store skips the samples stored already and retries the failed ones.
"""

from __future__ import annotations

import datetime as _dt
import math
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..errors import ConfigError, DataError, IdatError, MethylclassError
from ..io.discover import check_pair
from ..io.idat import read_idat
from ..io.manifest_types import Manifest
from ..io.raw_types import raw_signals_from_idats
from ..io.store import CORE_SAMPLE_COLUMNS, probe_table_hash, write_sample_file
from ..io.store_writer import StoreWriter
from ..pp.normalize import NormalizedSample, normalize
from . import arrays as _arrays

#: fraction of the manifest's probes whose bead addresses must be in a sample's IDATs
MIN_ADDRESS_FRACTION = 0.95
_RESERVED = set(CORE_SAMPLE_COLUMNS) | {"status", "reason", "grn", "red", "method", "chip_type", "n_probes",
                                        "address_fraction", "beta_missing"}


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


# -- the kernel ------------------------------------------------------------------------------------------
def _flatten_qc(qc: dict, prefix: str = "qc") -> dict:
    """Nested QC dict → flat ``qc_a_b`` scalar columns (lists joined with "; ")."""
    out: dict[str, Any] = {}
    for key, value in (qc or {}).items():
        if prefix == "qc" and key == "sample":
            continue
        name = f"{prefix}_{key}"
        if isinstance(value, dict):
            out.update(_flatten_qc(value, name))
        elif isinstance(value, (list, tuple)):
            out[name] = "; ".join(map(str, value))
        elif isinstance(value, np.generic):
            out[name] = value.item()
        elif value is None or isinstance(value, (str, int, float, bool)):
            out[name] = value
        else:
            out[name] = str(value)
    return out


def _meta_columns(ref: dict) -> dict:
    """Sample-sheet metadata as sample-table columns (``sheet_`` prefix where a name is taken)."""
    return {(f"sheet_{k}" if str(k) in _RESERVED else str(k)): v for k, v in (ref.get("meta") or {}).items()}


def _base_record(ref: dict, manifest: Manifest, method: str) -> dict:
    return {"sample": ref["sample"], "status": "failed", "reason": "", "array": manifest.array,
            "barcode": None, "position": None, "file": None, "grn": ref.get("grn"), "red": ref.get("red"),
            "method": method, **_meta_columns(ref)}


def run_kernel(ref: dict, manifest: Manifest, method: str, *, options: dict | None = None,
               min_address_fraction: float = MIN_ADDRESS_FRACTION) -> tuple[dict, NormalizedSample | None]:
    """Read, map and normalise one sample; return its sample-table record and the normalised sample (None
    when it failed, with the reason in ``record["reason"]``). Never raises for bad input."""
    rec = _base_record(ref, manifest, method)
    if ref.get("problem"):
        rec["reason"] = str(ref["problem"])
        return rec, None
    try:
        if not ref.get("grn") or not ref.get("red"):
            missing = "Grn" if not ref.get("grn") else "Red"
            raise IdatError(f"sample '{ref['sample']}': the {missing} IDAT of the pair is missing "
                            f"(have {ref.get('grn') or ref.get('red')})")
        grn = read_idat(ref["grn"])
        red = check_pair(grn, read_idat(ref["red"]))
        rec.update(barcode=grn.barcode or None, position=grn.position or None, chip_type=grn.chip_type)
        raw = raw_signals_from_idats(grn, red, manifest, ref["sample"])
        present = float(np.mean(~np.isnan(raw.meth) & ~np.isnan(raw.unmeth))) if manifest.n_probes else 0.0
        rec["address_fraction"] = round(present, 6)
        if present < min_address_fraction:
            raise IdatError(
                f"sample '{ref['sample']}': only {present:.1%} of the {manifest.array} probes have their bead "
                f"addresses in '{ref['grn']}' ({grn.n_probes:,} addresses, chip '{grn.chip_type}'); it is "
                "another array type or a damaged scan")
        ns = normalize(raw, method=method, **(options or {}))
        for name in ("beta", "detection_p", "meth", "unmeth"):
            if np.shape(getattr(ns, name)) != (manifest.n_probes,):
                raise MethylclassError(f"sample '{ref['sample']}': normalize(method={method!r}) returned "
                                       f"{name} of shape {np.shape(getattr(ns, name))}")
        rec.update(_flatten_qc(ns.qc))
        rec.update(status="ok", n_probes=manifest.n_probes,
                   beta_missing=int(np.count_nonzero(np.isnan(ns.beta))))
        return rec, ns
    except MethylclassError as exc:
        rec["reason"] = str(exc)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - a kernel bug on one odd sample must not sink the cohort
        rec["reason"] = f"unexpected error while processing: {type(exc).__name__}: {exc}"
    return rec, None


def process_sample(ref: dict, manifest: Manifest, method: str, store: str | Path, *,
                   options: dict | None = None, min_address_fraction: float = MIN_ADDRESS_FRACTION) -> dict:
    """:func:`run_kernel` and, when it succeeds, write the sample file into the store; return the record."""
    rec, ns = run_kernel(ref, manifest, method, options=options, min_address_fraction=min_address_fraction)
    if ns is None:
        return rec
    arrays = {"beta": ns.beta, "detection_p": ns.detection_p, "meth": ns.meth, "unmeth": ns.unmeth}
    try:
        rec["file"] = write_sample_file(store, rec["sample"], arrays, rec)
    except Exception as exc:  # noqa: BLE001 - disk full, permissions: recorded, retried next run
        rec.update(status="failed", file=None, reason=f"cannot write the sample file: {exc}")
    return rec


class _SparkTask:
    """What each Spark partition runs: the kernel over its samples, with the broadcast manifest; counts
    finished samples in ``done`` (a Spark accumulator the driver polls for progress)."""

    def __init__(self, manifest_bc, method: str, store_dir: str, options: dict, min_fraction: float, done=None):
        self.manifest_bc, self.method, self.store_dir = manifest_bc, method, store_dir
        self.options, self.min_fraction, self.done = options, min_fraction, done

    def __call__(self, refs: Iterable[dict]) -> Iterator[dict]:
        manifest = self.manifest_bc.value  # deserialised once per Python worker process
        for ref in refs:
            rec = process_sample(ref, manifest, self.method, self.store_dir, options=self.options,
                                 min_address_fraction=self.min_fraction)
            if self.done is not None:
                self.done.add(1)
            yield rec


class _Progress(threading.Thread):
    """Reports ``done/total`` every ``every`` seconds while a Spark job runs (accumulators are merged on
    the driver as tasks finish)."""

    def __init__(self, acc, total: int, say, every: float = 10.0):
        super().__init__(daemon=True)
        self.acc, self.total, self.say, self.every = acc, total, say, every
        self.stop = threading.Event()
        self.t0 = time.perf_counter()

    def run(self) -> None:
        last = -1
        while not self.stop.wait(self.every):
            done = int(self.acc.value)
            if done != last:
                rate = done / max(time.perf_counter() - self.t0, 1e-9)
                eta = f", ~{(self.total - done) / rate:.0f} s left" if done else ""
                self.say(f"  {done}/{self.total} samples processed{eta}")
                last = done


# -- orchestration ----------------------------------------------------------------------------------------
@dataclass
class IngestResult:
    """What :func:`ingest_cohort` did: the store, its full sample table and the counts of this run."""

    store: Path
    samples: pd.DataFrame
    array: str
    method: str
    n_processed: int
    n_skipped: int
    n_failed: int
    seconds: float

    @property
    def n_ok(self) -> int:
        """Samples stored successfully (this run and earlier ones)."""
        return int((self.samples["status"] == "ok").sum())

    @property
    def failures(self) -> pd.DataFrame:
        """The failed samples with their reasons."""
        return self.samples.loc[self.samples["status"] != "ok", ["sample", "reason"]]


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


def _prepare(source, sheet, manifest, array) -> tuple[list[dict], Manifest]:
    if isinstance(source, (str, Path)):
        refs = discover(source, sheet=sheet)
    else:
        refs = [as_ref(r) for r in source]
    refs = _dedupe(refs)
    if not refs:
        raise ConfigError(f"no IDAT samples found in '{source}'" if isinstance(source, (str, Path))
                          else "no samples given")
    man = _arrays.resolve_manifest(refs, manifest=manifest, array=array)
    refs = _arrays.flag_other_arrays(refs, man)
    return refs, man


def ingest_cohort(source: str | Path | Sequence[Any], out: str | Path, *, method: str = "noob",
           manifest: Manifest | str | Path | None = None, array: str | None = None,
           sheet: str | Path | None = None, master: str | None = None, spark=None, local: bool = False,
           overwrite: bool = False, options: dict | None = None,
           min_address_fraction: float = MIN_ADDRESS_FRACTION, samples_per_task: int = 1,
           driver_memory: str = "2g", log=None) -> IngestResult:
    """Preprocess a cohort into the Parquet store ``out`` (created, or resumed when it exists).

    ``source``: a folder of IDATs or a sample sheet (found with :func:`methylclass.io.discover.find_samples`),
    or a list of sample references. ``manifest``: a :class:`Manifest` or a manifest file; ``array``: a known
    array name; neither → detected from the IDATs. ``method``/``options`` go to
    :func:`methylclass.pp.normalize.normalize` untouched. ``spark``: a session to use; otherwise one is
    started on ``master`` (default embedded ``local[*]``); ``local=True`` runs without Spark.
    ``log``: a callable receiving progress lines.
    """
    t0 = time.perf_counter()
    say = log or (lambda msg: None)
    check_method(method, options)
    refs, man = _prepare(source, sheet, manifest, array)
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
            records += [process_sample(r, man, method, writer.path, options=options,
                                       min_address_fraction=min_address_fraction) for r in work]
        elif work:
            if spark is None:
                from .session import get_spark

                spark = get_spark(master, driver_memory=driver_memory)
            records += _run_spark(spark, work, man, method, str(writer.path), options or {},
                                  min_address_fraction, samples_per_task, say if log else None)
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


def _run_spark(spark, refs: list[dict], manifest: Manifest, method: str, store_dir: str, options: dict,
               min_fraction: float, samples_per_task: int, say=None) -> list[dict]:
    """Map the kernel over ``refs`` on Spark, one task per ``samples_per_task`` samples; collect records."""
    sc = spark.sparkContext
    bc = sc.broadcast(manifest)
    done = sc.accumulator(0)
    progress = _Progress(done, len(refs), say) if say is not None else None
    try:
        n_tasks = max(1, math.ceil(len(refs) / max(1, samples_per_task)))
        task = _SparkTask(bc, method, store_dir, options, min_fraction, done)
        if progress is not None:
            progress.start()
        return sc.parallelize(refs, n_tasks).mapPartitions(task).collect()
    except Exception as exc:  # noqa: BLE001 - Py4J/Spark errors: one line, the store stays resumable
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        cause = next((ln for ln in lines if "Error" in ln and not ln.startswith("at ")), lines[0] if lines else "")
        raise DataError(f"the Spark job writing '{Path(store_dir)}' failed ({type(exc).__name__}: {cause[:300]}); "
                        "the samples stored so far are kept: re-run the same command to resume") from None
    finally:
        if progress is not None:
            progress.stop.set()
        bc.unpersist(blocking=False)


def preprocess_local(samples: str | Path | Sequence[Any], *, method: str = "noob",
                     manifest: Manifest | str | Path | None = None, array: str | None = None,
                     options: dict | None = None,
                     min_address_fraction: float = MIN_ADDRESS_FRACTION) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise a handful of samples in this process (no Spark, no store) with the cohort kernel.

    ``samples``: sample references (``SampleRef`` or dicts with sample/grn/red), or a folder / sample sheet.
    Returns ``(betas, sample_table)``: a float32 DataFrame samples × probes (columns = probe ids) of the
    samples that succeeded, and one record per sample (status, reason, QC).
    """
    check_method(method, options)
    refs, man = _prepare(samples, None, manifest, array)
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
