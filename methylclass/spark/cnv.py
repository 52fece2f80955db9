"""CNV of a stored cohort on Spark: one sample per task, the same kernel as the single-machine paths.

The driver opens the store and prepares everything once (:func:`~methylclass.pp.cnv.store.plan_store_cnv`,
shared with :func:`~methylclass.workflows.cnv.run_cnv_store`): the bins, the reference panel (from the
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

from collections.abc import Callable, Iterable, Iterator, Sequence

from ..errors import DataError
from .jobs import MAX_TASK_CRASHES, _Progress, _spark_error


class _CNVSparkTask:
    """What each Spark partition runs: the broadcast :class:`CNVTask` over its (sample, file) pairs; counts
    finished samples in ``done`` (an accumulator the driver polls for progress)."""

    def __init__(self, task_bc, done=None):
        self.task_bc, self.done = task_bc, done

    def __call__(self, items: Iterable[tuple[str, str]]) -> Iterator[dict]:
        task = self.task_bc.value  # deserialised once per Python worker
        for sample, path in items:
            rec = task.record(sample, path)
            if self.done is not None:
                self.done.add(1)
            yield rec


def _crash_record(sample: str, cause: str) -> dict:
    return {"sample": sample, "status": "failed", "features": None, "summary": None, "calls": "", "files": [],
            "reason": f"sample '{sample}': its Spark task failed repeatedly (worker crash or out of memory?): "
                      f"{cause}"}


def _collect(spark, items: list[tuple[str, str]], bc, progress_cb, offset: int) -> list[dict]:
    sc = spark.sparkContext
    done = sc.accumulator(0)
    progress = _Progress(done, progress_cb, offset) if progress_cb is not None else None
    try:
        if progress is not None:
            progress.start()
        return sc.parallelize(items, len(items)).mapPartitions(_CNVSparkTask(bc, done)).collect()
    finally:
        if progress is not None:
            progress.stop.set()


def run_records(spark, task, items: Sequence[tuple[str, str]], *, what: str = "the store",
                say: Callable[[str], None] | None = None, progress: Callable[[int], None] | None = None,
                max_task_crashes: int = MAX_TASK_CRASHES) -> list[dict]:
    """Run ``task`` (any picklable object with ``record(sample, path) -> dict``) over ``items`` (sample, file
    path) on Spark, one per task; return the records.

    A task that fails for good marks its sample failed and the others are run again, up to
    ``max_task_crashes`` times; beyond that (or when the failure names no task) one :class:`DataError`.
    ``say`` receives a line per isolated crash, ``progress`` the number of samples finished so far.
    """
    bc = spark.sparkContext.broadcast(task)
    records: list[dict] = []
    pending = list(items)
    crashes = 0
    try:
        while pending:
            try:
                return records + _collect(spark, pending, bc, progress, len(items) - len(pending))
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
