"""CNV of a stored cohort on Spark: one sample per task, the same kernel as the single-machine paths.

The driver opens the store and prepares everything once (:func:`~methylclass.pp.cnv.workflow.plan_store_cnv`,
shared with :func:`~methylclass.pp.cnv.workflow.run_cnv_store`): the bins, the reference panel (from the
stored normals' ``meth`` + ``unmeth``, or a saved ``.npz`` panel) with its Gram matrix, and the focal-gene
table, all inside one :class:`~methylclass.pp.cnv.task.CNVTask` that is broadcast. The (sample, file) pairs
are distributed one per task; an executor reads that sample's file only, runs :meth:`CNVTask.record` — the
same :func:`~methylclass.pp.cnv.cnv_sample` call the local path makes — writes the per-sample tables and plots
into OUT when asked (OUT, like the store, must be on a file system the executors see) and sends back a small
record: the feature row, the summary numbers and the call text. No probe-level array ever reaches the driver,
which holds the panel and a feature row per sample. It then writes ``STORE/cnv_features.parquet`` atomically
(:func:`~methylclass.pp.cnv.write_cnv_features`) and, with OUT, ``cnv_features.tsv`` / ``cnv_summary.tsv``.

A sample that cannot be analysed (a damaged file, too few probes, no intensities) comes back as a failed
record with its reason; the others go on. A task that dies repeatedly (a worker killed for memory, a native
crash) is isolated as in ingestion (:mod:`.jobs`): its sample is recorded as failed with Spark's reason and the
job re-runs on the others, at most ``max_task_crashes`` times.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import DataError
from ..pp.cnv.bins import Bins
from ..pp.cnv.calls import DEFAULT_THRESHOLDS, CallThresholds
from ..pp.cnv.features import write_cnv_features, write_cnv_panel
from ..pp.cnv.reference import CNVReference
from ..pp.cnv.segment import CBSParams
from ..pp.cnv.task import CNVTask, feature_frame, write_cohort_tables
from ..pp.cnv.workflow import plan_store_cnv
from .jobs import MAX_TASK_CRASHES, _Progress, _spark_error


@dataclass
class CNVCohortRun:
    """What :func:`run_cnv_store_spark` produced (failures as ``(sample, reason)``, in sample order)."""

    features: pd.DataFrame
    summary: pd.DataFrame
    calls: dict[str, str]
    failures: list[tuple[str, str]]
    bins: Bins
    reference: CNVReference
    store: Path
    features_file: Path | None = None
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0


class _CNVSparkTask:
    """What each Spark partition runs: the broadcast :class:`CNVTask` over its (sample, file) pairs; counts
    finished samples in ``done`` (an accumulator the driver polls for progress)."""

    def __init__(self, task_bc, done=None):
        self.task_bc, self.done = task_bc, done

    def __call__(self, items: Iterable[tuple[str, str]]) -> Iterator[dict]:
        task: CNVTask = self.task_bc.value  # deserialised once per Python worker
        for sample, path in items:
            rec = task.record(sample, path)
            if self.done is not None:
                self.done.add(1)
            yield rec


def _crash_record(sample: str, cause: str) -> dict:
    return {"sample": sample, "status": "failed", "features": None, "summary": None, "calls": "", "files": [],
            "reason": f"sample '{sample}': its Spark task failed repeatedly (worker crash or out of memory?): "
                      f"{cause}"}


def _collect(spark, items: list[tuple[str, str]], bc, say) -> list[dict]:
    sc = spark.sparkContext
    done = sc.accumulator(0)
    progress = _Progress(done, len(items), say) if say is not None else None
    try:
        if progress is not None:
            progress.start()
        return sc.parallelize(items, len(items)).mapPartitions(_CNVSparkTask(bc, done)).collect()
    finally:
        if progress is not None:
            progress.stop.set()


def run_records(spark, task: CNVTask, items: Sequence[tuple[str, str]], *, what: str = "the store",
                say: Callable[[str], None] | None = None, max_task_crashes: int = MAX_TASK_CRASHES) -> list[dict]:
    """Run ``task`` over ``items`` (sample, file path) on Spark, one per task; return the records.

    A task that fails for good marks its sample failed and the others are run again, up to
    ``max_task_crashes`` times; beyond that (or when the failure names no task) one :class:`DataError`.
    """
    bc = spark.sparkContext.broadcast(task)
    records: list[dict] = []
    pending = list(items)
    crashes = 0
    try:
        while pending:
            try:
                return records + _collect(spark, pending, bc, say)
            except Exception as exc:  # noqa: BLE001 - Py4J/Spark errors: isolate the sample or one clear line
                cause, index = _spark_error(exc)
                if index is None or index >= len(pending) or crashes >= max_task_crashes:
                    raise DataError(f"the Spark CNV job on {what} failed ({cause}); nothing was written") from None
                crashes += 1
                sample = pending.pop(index)[0]
                records.append(_crash_record(sample, cause))
                if say is not None:
                    say(f"  {sample}: Spark task failed repeatedly; recorded as failed, continuing")
        return records
    finally:
        bc.unpersist(blocking=False)


def run_cnv_store_spark(store: str | Path, normals, *, samples: Sequence[str] | None = None, spark=None,
                        master: str | None = None, method: str = "cbs", genome: str | None = None,
                        seg_params: CBSParams | None = None, cancer_genes: bool = False,
                        thresholds: CallThresholds = DEFAULT_THRESHOLDS, bin_summary: str | None = None,
                        out: str | Path | None = None, formats: Sequence[str] = ("png", "svg"), plot: bool = True,
                        write_features: bool = True, driver_memory: str = "2g",
                        max_task_crashes: int = MAX_TASK_CRASHES,
                        log: Callable[[str], None] | None = None) -> CNVCohortRun:
    """CNV of the samples of a store on Spark (see the module docstring); the full result.

    ``normals``: names of stored copy-neutral samples (≥ 3) or a saved reference panel (``.npz`` path or
    :class:`CNVReference`); ``samples``: default every stored sample that is not a normal. ``spark``: a
    session to use, else one is started on ``master`` (default embedded ``local[*]``). Other options as
    :func:`~methylclass.pp.cnv.workflow.run_cnv_store`. Raises :class:`DataError` when no sample could be
    analysed (with the first reason).
    """
    t0 = time.perf_counter()
    say = log or (lambda msg: None)
    plan = plan_store_cnv(store, normals, samples, genome=genome, log=say)
    out_dir = Path(out).resolve() if out is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    task = plan.task(method=method, seg_params=seg_params, cancer_genes=cancer_genes, thresholds=thresholds,
                     bin_summary=bin_summary, out=None if out_dir is None else str(out_dir),
                     formats=tuple(formats), plot=plot)
    task.reference.stats()  # the Gram matrix travels with the broadcast instead of being redone per worker
    items = [(name, str(Path(f).resolve())) for name, f in zip(plan.samples, plan.files)]
    say(f"{len(items)} samples ({plan.bins.array}, {plan.bins.n_bins:,} bins over {plan.bins.n_fit_probes:,} "
        f"probes) against {plan.reference.n_references} normals on Spark")
    if spark is None:
        from .session import get_spark

        spark = get_spark(master, driver_memory=driver_memory)
    records = run_records(spark, task, items, what=f"store '{plan.store.path}'", say=say if log else None,
                          max_task_crashes=max_task_crashes)
    order = {name: i for i, name in enumerate(plan.samples)}
    records.sort(key=lambda r: order.get(r["sample"], len(order)))
    ok = [r for r in records if r["status"] == "ok"]
    failures = [(r["sample"], r["reason"]) for r in records if r["status"] != "ok"]
    for sample, reason in failures:
        say(f"failed {sample}: {reason}")
    if not ok:
        raise DataError(failures[0][1] if failures else f"store '{plan.store.path}': no samples to analyse")
    feats = feature_frame([r["features"] for r in ok])
    summaries = [r["summary"] for r in ok]
    run = CNVCohortRun(features=feats, summary=pd.DataFrame(summaries), calls={r["sample"]: r["calls"] for r in ok},
                       failures=failures, bins=plan.bins, reference=plan.reference, store=Path(plan.store.path),
                       files=[Path(f) for r in ok for f in r["files"]])
    if write_features:
        run.features_file = write_cnv_features(feats, plan.store.path)
        write_cnv_panel(plan.store.path, plan.bins, plan.reference,
                        {"input": "store", "method": method, "cancer_genes": cancer_genes,
                         "bin_summary": bin_summary})
        run.files.append(run.features_file)
    if out_dir is not None:
        run.files += write_cohort_tables(feats, summaries, out_dir)
    run.seconds = time.perf_counter() - t0
    say(f"CNV of {len(ok)} samples ({len(failures)} failed) in {run.seconds:.1f} s")
    return run


def cnv_store_spark(store: str | Path, normals, *, samples: Sequence[str] | None = None, spark=None,
                    master: str | None = None, method: str = "cbs", genome: str | None = None,
                    **options) -> pd.DataFrame:
    """CNV features of the samples of a store computed on Spark (samples × ``cnv_*`` features, float32).

    Also writes ``STORE/cnv_features.parquet`` (unless ``write_features=False``). The failed samples and
    their reasons are in ``result.attrs["failures"]`` (``{sample: reason}``). ``options``: see
    :func:`run_cnv_store_spark`.
    """
    run = run_cnv_store_spark(store, normals, samples=samples, spark=spark, master=master, method=method,
                              genome=genome, **options)
    feats = run.features
    feats.attrs["failures"] = dict(run.failures)
    feats.attrs["features_file"] = str(run.features_file) if run.features_file else None
    return feats
