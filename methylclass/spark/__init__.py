"""Spark: start a session and run a picklable per-sample task over many items, with progress and crash
isolation (:mod:`.jobs` for ingestion, :mod:`.cnv` for CNV), plus distributed probe statistics (:mod:`.stats`).

What the tasks compute lives in the pure layers (:func:`methylclass.pp.kernel.process_sample`,
:class:`methylclass.pp.cnv.task.CNVTask`); which backend runs them is chosen in :mod:`methylclass.workflows`.
Importing this package does not import pyspark; a session starts only when one is asked for.
"""

from __future__ import annotations

from .session import get_spark, stop_spark
from .stats import probe_moments_spark, top_variance_probes_spark

__all__ = [
    "get_spark",
    "probe_moments_spark",
    "stop_spark",
    "top_variance_probes_spark",
]
