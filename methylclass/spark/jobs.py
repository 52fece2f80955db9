"""Running the kernel over a cohort on Spark: samples in batches per task, progress, and crash isolation.

The driver cuts the sample references into chunks (:func:`choose_samples_per_task`: a few samples per task
amortise Spark's per-task cost; one task per sample costs ~0.04 CPU-s of scheduling and worker hand-over
each, a third of a 450k sample's kernel) and broadcasts the manifest once; each task runs
:func:`~methylclass.pp.kernel.process_sample` on its chunk, which writes every sample's file into the store,
and returns the small records. Bad input is a failed record, not a failed task. A task can still die (a
Python worker killed for memory, a native crash): Spark retries it, and when it fails again the job aborts.
Then, with the samples already stored skipped:

* a task of several samples: its samples are run again one per task (the others still in chunks), so the
  poisonous sample is found without losing its neighbours;
* a task of one sample: that sample is recorded as failed with Spark's reason and the job is re-run on the
  samples not yet stored (at most ``max_task_crashes`` such samples), so one poisonous sample cannot block
  a cohort.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..errors import ConfigError, DataError
from ..io.manifest.types import Manifest
from ..io.store import scan_sample_files
from ..pp.kernel import _base_record, process_sample

#: how many crashing samples one run isolates before giving up
MAX_TASK_CRASHES = 3
#: ``samples_per_task="auto"``: at most this many samples per task (a 450k task then lasts ~1–2 s, so the
#: progress display moves and a crashed task loses little work) ...
MAX_SAMPLES_PER_TASK = 16
#: ... and at least this many tasks per Spark core, so the cores finish together (the last task of a core
#: overruns the others by at most one chunk)
TASKS_PER_CORE = 8
_TASK_RE = re.compile(r"Task (\d+) in stage [\d.]+ failed (\d+) times")


def choose_samples_per_task(n_samples: int, cores: int, setting: int | str | None = "auto") -> int:
    """Samples per Spark task: ``setting`` when it is a number, else chosen from the cohort size and cores.

    ``"auto"`` (or None): ``ceil(n / (cores * TASKS_PER_CORE))`` clipped to ``[1, MAX_SAMPLES_PER_TASK]`` —
    one sample per task for a small cohort (all cores busy), 16 for 1,000 samples on 2 cores (63 tasks).

    Parameters
    ----------
    n_samples : int
        Samples to process.
    cores : int
        Spark's default parallelism (the cores of ``local[*]``, the executor cores of a cluster).
    setting : int, str or None
        ``conf/base.yaml``'s ``ingest.samples_per_task``: a positive number or ``"auto"``.

    Returns
    -------
    int
        At least 1.
    """
    if setting is None or setting == "auto":
        per = math.ceil(max(1, n_samples) / (max(1, cores) * TASKS_PER_CORE))
        return max(1, min(MAX_SAMPLES_PER_TASK, per))
    try:
        value = int(setting)
    except (TypeError, ValueError):
        value = 0
    if value < 1 or str(setting).strip() != str(value):
        raise ConfigError(f"samples per task must be a positive whole number or 'auto', got {setting!r}")
    return value


class _SparkTask:
    """What each Spark partition runs: the kernel over the samples of its chunks (a partition holds one chunk,
    a list of references), with the broadcast manifest; counts finished samples in ``done`` (a Spark
    accumulator the driver polls for progress)."""

    def __init__(self, manifest_bc, method: str, store_dir: str, options: dict, min_fraction: float, done=None):
        self.manifest_bc, self.method, self.store_dir = manifest_bc, method, store_dir
        self.options, self.min_fraction, self.done = options, min_fraction, done

    def __call__(self, chunks: Iterable[list[dict]]) -> Iterator[dict]:
        value = self.manifest_bc.value  # deserialised once per Python worker process
        manifest, canonical = value if isinstance(value, tuple) else (value, None)  # (manifest, CanonicalMap)
        for chunk in chunks:
            for ref in chunk:
                rec = process_sample(ref, manifest, self.method, self.store_dir, options=self.options,
                                     min_address_fraction=self.min_fraction, canonical=canonical)
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


def make_chunks(refs: list[dict], per_task: int, alone: set[str] = frozenset()) -> list[list[dict]]:
    """``refs`` cut into chunks of ``per_task`` (in order); the samples named in ``alone`` get a chunk each
    (first), so a crash among them is attributed to one sample."""
    single = [[r] for r in refs if r["sample"] in alone]
    rest = [r for r in refs if r["sample"] not in alone]
    per_task = max(1, per_task)
    return single + [rest[i:i + per_task] for i in range(0, len(rest), per_task)]


def _run_job(spark, chunks: list[list[dict]], bc, method: str, store_dir: str, options: dict,
             min_fraction: float, progress_cb=None, offset: int = 0) -> list[dict]:
    """One Spark job, one task per chunk (task ``i`` runs ``chunks[i]``: one element per partition); returns
    the collected records (raises what Spark raises)."""
    sc = spark.sparkContext
    done = sc.accumulator(0)
    progress = _Progress(done, progress_cb, offset) if progress_cb is not None else None
    task = _SparkTask(bc, method, store_dir, options, min_fraction, done)
    try:
        if progress is not None:
            progress.start()
        return sc.parallelize(chunks, len(chunks)).mapPartitions(task).collect()
    finally:
        if progress is not None:
            progress.stop.set()


def run_on_spark(spark, refs: list[dict], manifest: Manifest, method: str, store_dir: str | Path, *,
                 options: dict | None = None, min_fraction: float, samples_per_task: int | str | None = "auto",
                 say=None, progress: Callable[[int], None] | None = None,
                 max_task_crashes: int = MAX_TASK_CRASHES, canonical=None) -> list[dict]:
    """Process ``refs`` on Spark into the store ``store_dir``; return the records of this run.

    ``samples_per_task``: a number, or ``"auto"``/None for :func:`choose_samples_per_task` on Spark's
    default parallelism. ``canonical`` (a :class:`methylclass.io.canonical.CanonicalMap`, broadcast with the
    manifest) maps each sample's arrays onto a mixed-array store's canonical CpG axis.

    A task that fails for good (see the module docstring) has its samples re-run one per task; a
    one-sample task that fails for good marks its sample failed and the remaining samples are run again,
    up to ``max_task_crashes`` times; then (or when the failing task cannot be attributed) a
    :class:`DataError` says the store is kept and resumable. ``say`` receives a line per isolated crash,
    ``progress`` the number of samples finished so far.
    """
    sc = spark.sparkContext
    per_task = choose_samples_per_task(len(refs), sc.defaultParallelism, samples_per_task)
    bc = sc.broadcast((manifest, canonical))
    records: list[dict] = []
    crashes = 0
    pending = list(refs)
    alone: set[str] = set()  # samples of a crashed multi-sample task: one per task from now on
    try:
        while True:
            chunks = make_chunks(pending, per_task, alone)
            try:
                return records + _run_job(spark, chunks, bc, method, str(store_dir), options or {},
                                          min_fraction, progress, len(refs) - len(pending))
            except Exception as exc:  # noqa: BLE001 - Py4J/Spark errors: isolate the sample or one clear line
                cause, task = _spark_error(exc)
                if task is None or task >= len(chunks) or crashes >= max_task_crashes:
                    raise DataError(f"the Spark job writing '{store_dir}' failed ({cause}); the samples stored "
                                    "so far are kept: re-run the same command to resume") from None
                bad = chunks[task]
                stored = scan_sample_files(store_dir)
                if len(bad) > 1:
                    alone.update(r["sample"] for r in bad)
                    if say is not None:
                        say(f"  a Spark task of {len(bad)} samples failed repeatedly; running them one per task "
                            "to find the sample")
                else:
                    rec = _base_record(bad[0], manifest, method)
                    crashes += 1
                    rec["reason"] = (f"sample '{bad[0]['sample']}': its Spark task failed repeatedly "
                                     f"(worker crash or out of memory?): {cause}")
                    records.append(rec)
                    if say is not None:
                        say(f"  {bad[0]['sample']}: Spark task failed repeatedly; recorded as failed, continuing")
                if len(bad) == 1:
                    pending = [r for r in pending if r is not bad[0]]
                pending = [r for r in pending if r["sample"] not in stored]
                if not pending:
                    return records
    finally:
        bc.unpersist(blocking=False)
