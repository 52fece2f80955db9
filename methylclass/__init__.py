"""methylclass: tumour classification from Illumina DNA-methylation arrays.

The public API, re-exported lazily (importing :mod:`methylclass` does not import Spark, scikit-learn or
matplotlib; each name loads its module on first use)::

    import methylclass as mc
    raw = mc.read_raw("idats/")                                  # IDAT pairs → RawSet (manifest auto-detected)
    res = mc.ingest_cohort("idats/", "cohort.store", method="noob")   # Spark (embedded local master)
    X = mc.load_betas("cohort.store", probes=mc.top_variance_probes("cohort.store", 10_000))
    clf = mc.make_pipeline("rf", balance="downsample", calibrate="ridge").fit(X, y)

Sub-packages: :mod:`~methylclass.io`, :mod:`~methylclass.pp` (normalisation, QC, CNV), :mod:`~methylclass.spark`,
:mod:`~methylclass.simulate`, :mod:`~methylclass.models`, :mod:`~methylclass.tl`, :mod:`~methylclass.pl`,
:mod:`~methylclass.report`, :mod:`~methylclass.workflows`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from .errors import (
    ConfigError,
    DataError,
    IdatError,
    ManifestError,
    MethylclassError,
    SampleSheetError,
)

#: public name → module that defines it
_LAZY = {
    # io
    "Idat": "io.idat", "read_idat": "io.idat", "write_idat": "io.idat",
    "find_samples": "io.discover", "read_idat_pair": "io.discover", "SampleRef": "io.discover",
    "read_sample_sheet": "io.samplesheet",
    "Manifest": "io.manifest", "load_manifest": "io.manifest", "detect_array": "io.manifest",
    "collapse_replicates": "io.manifest",
    "RawSignals": "io.raw_types", "read_raw": "io.raw", "RawSet": "io.raw",
    "load_betas": "io.store", "load_sample_table": "io.store", "top_variance_probes": "io.store",
    "export_store": "io.export", "read_beta_table": "io.betas_table",
    "read_methylprep": "io.methylprep", "write_methylprep_manifest": "io.methylprep",
    # pp
    "normalize": "pp.normalize", "NormalizedSample": "pp.normalize", "probe_filter": "pp.masks",
    "heidelberg_filter": "pp.masks", "sample_qc": "pp.qc",
    "cnv_sample": "pp.cnv", "CNVReference": "pp.cnv", "make_bins": "pp.cnv",
    # spark
    "get_spark": "spark.session",
    # simulate
    "simulate_cohort": "simulate", "SimulationConfig": "simulate",
    # models and tools
    "make_pipeline": "models", "available_models": "models", "register_model": "models", "decide": "models",
    "load_bundle": "models", "save_bundle": "models", "decide_hierarchical": "models", "load_taxonomy": "models",
    "nested_cv": "tl.cv", "load_config": "config",
    # workflows (the only layer that composes steps)
    "ingest": "workflows.ingest", "ingest_cohort": "workflows.ingest", "preprocess_local": "workflows.ingest",
    "run_cnv": "workflows.cnv", "run_cnv_store": "workflows.cnv",
    "benchmark": "workflows.benchmark", "evaluate": "workflows.benchmark", "train": "workflows.train",
    "predict_table": "workflows.predict_outputs", "load_dataset": "workflows.data", "run_demo": "workflows.demo",
    "load_model": "workflows.predict", "Model": "workflows.predict", "explain": "tl.explain",
}

__all__ = ["__version__", "ConfigError", "DataError", "IdatError", "ManifestError",  # noqa: PLE0604
           "MethylclassError", "SampleSheetError", *_LAZY]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'methylclass' has no attribute '{name}'")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
