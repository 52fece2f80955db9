"""Running the kernel over a cohort on Spark: one task per sample, progress, and crash isolation.

The driver distributes the sample references (one per task) and broadcasts the manifest once; each task runs
:func:`~methylclass.pp.kernel.process_sample`, which writes the sample's file into the store, and returns
its small record. Bad input is a failed record, not a failed task. A task can still die (a Python worker
killed for memory, a native crash): Spark retries it, and when it fails again the job aborts. The sample of
that task is then recorded as failed with Spark's reason and the job is re-run on the samples not yet stored
(at most ``max_task_crashes`` times), so one poisonous sample cannot block a cohort.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..errors import DataError
from ..io.manifest.types import Manifest
from ..io.store import scan_sample_files
from ..pp.kernel import _base_record, process_sample

#: how many crashing samples one run isolates before giving up
MAX_TASK_CRASHES = 3
_TASK_RE = re.compile(r"Task (\d+) in stage [\d.]+ failed (\d+) times")


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
    """Polls the ``done`` accumulator while a Spark job runs and passes the count to ``progress(done)``
    (accumulators are merged on the driver as tasks finish); ``offset`` counts samples finished by earlier
    attempts of the same run."""

    def __init__(self, acc, progress: Callable[[int], None], offset: int = 0, every: float = 1.0):
        super().__init__(daemon=True)
        self.acc, self.progress, self.offset, self.every = acc, progress, offset, every
        self.stop = threading.Event()

    def run(self) -> None:
        last = -1
        while not self.stop.wait(self.every):
            done = int(self.acc.value)
            if done != last:
                self.progress(self.offset + done)
                last = done


def _spark_error(exc: BaseException) -> tuple[str, int | None]:
    """The first meaningful line of a Spark/Py4J error, and the index of the task that failed (if any)."""
    text = str(exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    cause = next((ln for ln in lines if "Error" in ln and not ln.startswith("at ")), lines[0] if lines else "")
    m = _TASK_RE.search(text)
    return f"{type(exc).__name__}: {cause[:300]}", (int(m.group(1)) if m else None)


def _run_job(spark, refs: list[dict], bc, method: str, store_dir: str, options: dict, min_fraction: float,
             samples_per_task: int, progress_cb=None, offset: int = 0) -> list[dict]:
    """One Spark job over ``refs``; returns the collected records (raises what Spark raises)."""
    sc = spark.sparkContext
    done = sc.accumulator(0)
    progress = _Progress(done, progress_cb, offset) if progress_cb is not None else None
    n_tasks = max(1, math.ceil(len(refs) / max(1, samples_per_task)))
    task = _SparkTask(bc, method, store_dir, options, min_fraction, done)
    try:
        if progress is not None:
            progress.start()
        return sc.parallelize(refs, n_tasks).mapPartitions(task).collect()
    finally:
        if progress is not None:
            progress.stop.set()


def run_on_spark(spark, refs: list[dict], manifest: Manifest, method: str, store_dir: str | Path, *,
                 options: dict | None = None, min_fraction: float, samples_per_task: int = 1, say=None,
                 progress: Callable[[int], None] | None = None,
                 max_task_crashes: int = MAX_TASK_CRASHES) -> list[dict]:
    """Process ``refs`` on Spark into the store ``store_dir``; return the records of this run.

    A task that fails for good (see the module docstring) marks its sample failed and the remaining samples
    are run again, up to ``max_task_crashes`` times; then (or when the failing task cannot be attributed to
    one sample) a :class:`DataError` says the store is kept and resumable. ``say`` receives a line per isolated
    crash, ``progress`` the number of samples finished so far.
    """
    sc = spark.sparkContext
    bc = sc.broadcast(manifest)
    records: list[dict] = []
    crashes = 0
    pending = list(refs)
    try:
        while True:
            try:
                return records + _run_job(spark, pending, bc, method, str(store_dir), options or {},
                                          min_fraction, samples_per_task, progress, len(refs) - len(pending))
            except Exception as exc:  # noqa: BLE001 - Py4J/Spark errors: isolate the sample or one clear line
                cause, task = _spark_error(exc)
                if task is None or samples_per_task != 1 or task >= len(pending) or crashes >= max_task_crashes:
                    raise DataError(f"the Spark job writing '{store_dir}' failed ({cause}); the samples stored "
                                    "so far are kept: re-run the same command to resume") from None
                bad = pending[task]
                rec = _base_record(bad, manifest, method)
                crashes += 1
                rec["reason"] = (f"sample '{bad['sample']}': its Spark task failed repeatedly "
                                 f"(worker crash or out of memory?): {cause}")
                records.append(rec)
                if say is not None:
                    say(f"  {bad['sample']}: Spark task failed repeatedly; recorded as failed, continuing")
                stored = scan_sample_files(store_dir)
                pending = [r for r in pending if r is not bad and r["sample"] not in stored]
                if not pending:
                    return records
    finally:
        bc.unpersist(blocking=False)
