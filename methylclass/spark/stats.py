"""Distributed per-probe statistics over a store: executors read the sample files, the driver gets O(n_probes).

Each task reads a few sample files (``betas/*.parquet``, by path: the store must be on a file system the
executors see) and folds them into :class:`~methylclass.io.store.ProbeMoments`; partial moments are merged
with ``treeReduce`` (exact pairwise update), so no step holds more than a few probe-length vectors and the
samples × probes matrix never exists anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pandas as pd

from ..io.store import ProbeMoments, Store, read_sample_array, restrict_moments, select_top_variance


class _MomentsTask:
    """Per partition: moments of the listed sample files (picklable for Spark)."""

    def __init__(self, field: str, n_probes: int):
        self.field, self.n_probes = field, n_probes

    def __call__(self, paths: Iterable[str]) -> Iterator[tuple]:
        acc = ProbeMoments.zeros(self.n_probes)
        for path in paths:
            acc = acc.merge(ProbeMoments.from_block(read_sample_array(path, self.field, self.n_probes)[None, :]))
        yield acc.count, acc.mean, acc.m2


def _merge(a: tuple, b: tuple) -> tuple:
    m = ProbeMoments(*a).merge(ProbeMoments(*b))
    return m.count, m.mean, m.m2


def probe_moments_spark(store: str | Path | Store, *, spark=None, samples: Sequence[str] | None = None,
                        field: str = "beta", files_per_task: int = 8) -> ProbeMoments:
    """Per-probe count/mean/M2 of ``field`` over ``samples`` (default all stored), computed on Spark."""
    st = store if isinstance(store, Store) else Store.open(store)
    _, files = st.files_of(samples)
    if not files:
        return ProbeMoments.zeros(st.n_probes)
    if spark is None:
        from .session import get_spark

        spark = get_spark()
    paths = [str(Path(f).resolve()) for f in files]
    n_tasks = max(1, math.ceil(len(paths) / max(1, files_per_task)))
    rdd = spark.sparkContext.parallelize(paths, n_tasks)
    count, mean, m2 = rdd.mapPartitions(_MomentsTask(field, st.n_probes)).treeReduce(_merge, depth=2)
    return ProbeMoments(count, mean, m2)


def top_variance_probes_spark(store: str | Path | Store, n: int, *, spark=None,
                              samples: Sequence[str] | None = None, field: str = "beta",
                              min_fraction: float = 0.5, join: str = "outer") -> pd.DataFrame:
    """The ``n`` most variable probes (see :func:`methylclass.io.store.select_top_variance`), on Spark;
    ``join="inner"`` picks among the CpGs every array of a mixed store holds."""
    st = store if isinstance(store, Store) else Store.open(store)
    mask = st.join_mask(join, samples)
    moments = restrict_moments(probe_moments_spark(st, spark=spark, samples=samples, field=field), mask)
    return select_top_variance(moments, n, st.probe_ids(), min_fraction=min_fraction)
