"""Cohort processing on Spark: the session helper, ingestion into the Parquet store, distributed statistics.

Importing this package does not import pyspark; a session starts only when one is asked for.
"""

from __future__ import annotations

from .ingest import IngestResult, ingest_cohort, preprocess_local
from .session import get_spark, stop_spark
from .stats import probe_moments_spark, top_variance_probes_spark

__all__ = [
           "IngestResult",
           "get_spark",
           "ingest_cohort",
           "preprocess_local",
           "probe_moments_spark",
           "stop_spark",
           "top_variance_probes_spark",
]
