"""Model fitting on Spark: the outer-fold fits of a nested CV as Spark tasks.

:func:`spark_map` returns a ``map_fn`` for :func:`methylclass.tl.cv.nested_cv`. The fold fit (the estimator
template and the data, one :class:`~methylclass.tl.cv.FoldFit`) is broadcast **once**; the fold specs
(repeat, fold, train and test indices) are the only per-task payload; each task returns the fold's small
result (out-of-fold probabilities, sets, OOD scores, timings). Seeds are fixed by the fold spec and each
task runs single-threaded (one Spark core per task, BLAS/OpenMP pools limited to one thread, as the local
joblib backend's workers on this machine), so the results equal the local backend's bit for bit.

Why not the ``joblibspark`` backend: it pickles every delayed call with its arguments, i.e. the whole data
set once per fold, through the driver; a broadcast ships it once per executor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any


class _Apply:
    """What each Spark task runs: the broadcast fit on one fold spec (one thread for BLAS/OpenMP)."""

    def __init__(self, fit_bc):
        self.fit_bc = fit_bc

    def __call__(self, task: Any) -> dict:
        from threadpoolctl import threadpool_limits

        fit = self.fit_bc.value  # deserialised once per Python worker process
        with threadpool_limits(limits=1):
            return fit(task)


def spark_map(spark) -> Callable[[Callable[[Any], dict], Sequence[Any]], Iterable[dict]]:
    """A ``map_fn`` running every fold spec as one Spark task of ``spark`` (a SparkSession).

    The ``fit`` callable (with its data) is broadcast once per call and released afterwards.
    """

    def run(fit: Callable[[Any], dict], tasks: Sequence[Any]) -> Iterable[dict]:
        tasks = list(tasks)
        if not tasks:
            return []
        sc = spark.sparkContext
        fit_bc = sc.broadcast(fit)
        try:
            return sc.parallelize(tasks, numSlices=len(tasks)).map(_Apply(fit_bc)).collect()
        finally:
            fit_bc.destroy()

    return run
