"""Export a store's arrays to CSV / Parquet / h5ad, choosing where the top-variance probes are computed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigError
from ..io.export import export_store


def export(store, out: str | Path, *, format: str | None = None, field: str = "beta",
           samples: Sequence[str] | None = None, probes=None, top_variance: int | None = None,
           orient: str = "samples", backend: str = "local", master: str | None = None, spark=None) -> Path:
    """Write ``field`` of a store to ``out`` (:func:`methylclass.io.export.export_store`).

    Parameters
    ----------
    store, out, format, field, samples, probes, top_variance, orient
        As :func:`~methylclass.io.export.export_store`.
    backend : {"local", "spark"}
        Where ``top_variance`` is computed: this process, or Spark executors (``spark``: a session to use,
        else one is started on ``master``, default embedded ``local[*]``).
    master : str, optional
        Spark master URL for ``backend="spark"``.
    spark : SparkSession, optional
        An existing session (implies ``backend="spark"``).

    Returns
    -------
    Path
        The written file.
    """
    variance = None
    if spark is not None or backend == "spark":
        if top_variance is None:
            raise ConfigError("--spark is used for --top-variance only")
        from ..spark.stats import top_variance_probes_spark

        if spark is None:
            from ..spark.session import get_spark

            spark = get_spark(master)

        def variance(st, n, names, *, field):
            return top_variance_probes_spark(st, n, spark=spark, samples=names, field=field)
    elif backend != "local":
        raise ConfigError(f"unknown backend '{backend}'; choose local or spark")
    return export_store(store, out, format=format, field=field, samples=samples, probes=probes,
                        top_variance=top_variance, orient=orient, variance=variance)


