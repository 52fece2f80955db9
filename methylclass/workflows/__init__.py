"""Workflows: the only layer that composes steps, picks a backend (local or Spark) and writes reports/plots.

Each workflow is a function of a resolved config (:mod:`methylclass.config`) or of explicit options; the
command line (:mod:`methylclass.commands`) only parses arguments and calls one of them.

* :mod:`.data` — :func:`load_dataset` (beta table or store → :class:`Dataset`), hashing, summaries;
* :mod:`.ingest` — :func:`ingest` (IDATs → store or in-memory betas; ``backend="local" | "spark"``);
* :mod:`.cnv` — :func:`run_cnv` (IDATs), :func:`run_cnv_store` / :func:`run_cnv_store_spark` (a store);
* :mod:`.benchmark` — :func:`benchmark` / :func:`evaluate` (nested CV → run folder with report);
* :mod:`.train` — :func:`train` (model bundle); :mod:`.predict` — :func:`predict_table`;
* :mod:`.export` — :func:`export` (store → CSV / Parquet / h5ad); :mod:`.demo` — :func:`run_demo`;
* :mod:`.runs` — run-folder helpers and the estimator factory.
* :mod:`.explain` — SHAP of a bundle (``methylclass explain``) and out-of-fold SHAP; :mod:`.panel` — CpG
  panels evaluated in nested CV (``methylclass panel``); :mod:`.embed` — PCA / clustering / t-SNE / UMAP and
  their agreement with the labels (``methylclass embed``); :mod:`.understand_io` — their shared input/output.

Note: ``methylclass.workflows.benchmark`` / ``.train`` / ``.ingest`` are the *functions* (re-exported here);
reach the modules with :func:`importlib.import_module` when you need them (e.g. to monkeypatch).
"""

from __future__ import annotations

from .benchmark import BenchmarkRun, benchmark, evaluate, scalar_table
from .data import Dataset, cli_data_block, data_summary, file_sha256, is_store, load_dataset
from .ingest import IngestResult, ingest, ingest_cohort, preprocess_local
from .predict_outputs import predict_table
from .runs import estimator_factory, pipeline_kwargs
from .train import TrainedModel, train

__all__ = [
    "BenchmarkRun",
    "Dataset",
    "IngestResult",
    "TrainedModel",
    "benchmark",
    "cli_data_block",
    "data_summary",
    "estimator_factory",
    "evaluate",
    "file_sha256",
    "ingest",
    "ingest_cohort",
    "is_store",
    "load_dataset",
    "pipeline_kwargs",
    "predict_table",
    "preprocess_local",
    "scalar_table",
    "train",
]
