"""CNV workflows behind ``methylclass cnv``: IDATs or a preprocessed store → reference panel → per-sample outputs.

Outputs in ``OUT`` (each file written under a temporary name and renamed):

* ``<sample>.cnv.png`` / ``.svg`` — the genome plot; ``<sample>.segments.tsv``, ``<sample>.arms.tsv``,
  ``<sample>.focal.tsv``, ``<sample>.bins.tsv``;
* ``cnv_features.tsv`` (samples × features), ``cnv_summary.tsv`` (noise, shift, FGA, …) and, for two or more
  IDAT queries, ``cnv_frequency.png`` / ``.svg``.

Three paths, one kernel (:func:`~methylclass.pp.cnv.cnv_sample`, wrapped by :class:`CNVTask`):

* :func:`run_cnv` — IDATs of queries and of normals (raw intensities);
* :func:`run_cnv_store` — the samples of a store: total intensity = the stored ``meth`` + ``unmeth`` arrays,
  references = named normal samples of the same store (or a saved panel), features written next to the
  betas (``STORE/cnv_features.parquet``); ``backend="local"`` (this process) or ``"spark"`` (one sample
  per task, :func:`run_cnv_store_spark`), from the same :func:`~methylclass.pp.cnv.store.plan_store_cnv`
  and :class:`CNVTask`.

Every path takes the analysis options as one :class:`~methylclass.pp.cnv.CNVOptions` (``options=``; single
fields may be given as keywords) and returns one :class:`CNVRun`, whatever the backend; a sample that cannot
be analysed is a :class:`~methylclass.records.SampleFailure` in :attr:`CNVRun.failures` and the others go on.

The reference panel and the store plan are :mod:`methylclass.pp.cnv.panel` and :mod:`methylclass.pp.cnv.store`;
the per-sample kernel is :class:`~methylclass.pp.cnv.task.CNVTask`; the Spark runner is
:func:`methylclass.spark.cnv.run_records`. This module composes them and writes the files and plots.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .._atomic import atomic_write, ensure_writable_parent
from ..errors import ConfigError, DataError, MethylclassError
from ..io.manifest.types import Manifest
from ..pp.cnv.bins import Bins, make_bins
from ..pp.cnv.features import write_cnv_features, write_cnv_panel
from ..pp.cnv.options import CNVOptions
from ..pp.cnv.panel import _note_panel_size, _read, _with_build, load_reference
from ..pp.cnv.reference import CNVReference
from ..pp.cnv.sample import CNVResult
from ..pp.cnv.store import StorePlan, plan_store_cnv
from ..pp.cnv.task import CNVTask, describe_calls, failure_reason, feature_frame, raw_total
from ..progress import Progress
from ..records import SampleFailure
from ..spark.cnv import run_records
from ..spark.jobs import MAX_TASK_CRASHES


def _write_text(path: Path, text: str) -> Path:
    atomic_write(path, lambda fh: fh.write(text))
    return path


def _write_tsv(df: pd.DataFrame, path: Path, index: bool = False) -> Path:
    buf = io.StringIO()
    df.to_csv(buf, sep="\t", index=index, float_format="%.5g")
    return _write_text(path, buf.getvalue())


def _file_name(sample: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in sample) or "sample"


# -- outputs ----------------------------------------------------------------------------------------------
def write_sample_outputs(result: CNVResult, bins: Bins, out: Path, *, formats: Sequence[str] = ("png", "svg"),
                         plot: bool = True) -> list[Path]:
    """Write one sample's plot and tables into ``out``; return the paths."""
    stem = Path(out) / _file_name(result.sample)
    files = [
        _write_tsv(result.segments, stem.with_name(stem.name + ".segments.tsv")),
        _write_tsv(result.arms, stem.with_name(stem.name + ".arms.tsv")),
        _write_tsv(result.focal, stem.with_name(stem.name + ".focal.tsv")),
        _write_tsv(result.bin_table(bins), stem.with_name(stem.name + ".bins.tsv")),
    ]
    if plot and formats:
        from ..pl._figure import save_figure
        from ..pl.cnv import plot_genome

        files += save_figure(plot_genome(result, bins), stem.with_name(stem.name + ".cnv"), formats)
    return files


def write_cohort_tables(features: pd.DataFrame, summaries: Sequence[dict], out: str | Path) -> list[Path]:
    """``OUT/cnv_features.tsv`` and ``OUT/cnv_summary.tsv``."""
    out = Path(out)
    return [_write_tsv(features, out / "cnv_features.tsv", index=True),
            _write_tsv(pd.DataFrame(list(summaries)), out / "cnv_summary.tsv")]


@dataclass(frozen=True)
class SampleWriter:
    """The per-sample outputs of a CNV run as a picklable callable (:attr:`CNVTask.writer`): tables, and the
    genome plot unless ``plot`` is False, written into ``out`` (also on Spark executors)."""

    out: str
    formats: tuple[str, ...] = ("png", "svg")
    plot: bool = True

    def __call__(self, result: CNVResult, bins: Bins) -> list[Path]:
        """Write ``result``'s files; return their paths."""
        return write_sample_outputs(result, bins, Path(self.out), formats=self.formats, plot=self.plot)


def _writer(out, formats: Sequence[str], plot: bool) -> SampleWriter | None:
    return None if out is None else SampleWriter(str(out), tuple(formats), plot)


@dataclass
class CNVRun:
    """What a CNV workflow produced, the same for every path and backend.

    ``features`` (samples × ``cnv_*``), ``summary`` (one row per sample: noise, shift, FGA, …) and ``calls``
    (sample → called events, e.g. ``+7p, -10q``) cover the analysed samples, in input order; ``failures``
    the others. ``results`` holds the full per-sample results (probe and bin level) of in-process runs only
    (empty on Spark, whose executors send back small records).
    """

    features: pd.DataFrame
    summary: pd.DataFrame
    calls: dict[str, str]
    failures: list[SampleFailure]
    bins: Bins
    reference: CNVReference
    out: Path | None = None
    store: Path | None = None
    files: list[Path] = field(default_factory=list)
    features_file: Path | None = None
    seconds: float = 0.0
    backend: str = "local"
    results: list[CNVResult] = field(default_factory=list)


#: the result of :func:`run_cnv_store_spark` in earlier versions (now one type for every path)
CNVCohortRun = CNVRun


def _failure(sample: str, reason: str, path: Any = None) -> SampleFailure:
    return SampleFailure(sample, path, reason, stage="cnv")


def panel_params(source: str, opts: CNVOptions) -> dict:
    """The CNV options saved with a store's panel: ``input`` (``idat_raw``: raw IDAT intensities; ``store``:
    the stored normalised meth + unmeth) and every :class:`CNVOptions` field as plain values."""
    import dataclasses

    return {"input": source, "method": opts.method, "cancer_genes": bool(opts.cancer_genes),
            "bin_summary": opts.bin_summary,
            "seg_params": None if opts.seg_params is None else dataclasses.asdict(opts.seg_params),
            "thresholds": dataclasses.asdict(opts.thresholds)}


def _finish(records: list[dict], *, bins: Bins, reference: CNVReference, out: Path | None, store: Path | None,
            backend: str, write_store: bool, t0: float, say: Callable[[str], None],
            results: list[CNVResult] | None = None, first_error: BaseException | None = None,
            panel: dict | None = None) -> CNVRun:
    """The one assembly of a :class:`CNVRun` from per-sample records (``CNVTask.record`` shape)."""
    ok = [r for r in records if r["status"] == "ok"]
    failures = [_failure(r["sample"], r["reason"], r.get("path")) for r in records if r["status"] != "ok"]
    for f in failures:
        say(f"failed {f.sample}: {f.reason}")
    if not ok:
        if first_error is not None:
            raise first_error
        raise DataError(failures[0].reason if failures else "no samples to analyse")
    feats = feature_frame([r["features"] for r in ok])
    summaries = [r["summary"] for r in ok]
    run = CNVRun(features=feats, summary=pd.DataFrame(summaries), calls={r["sample"]: r["calls"] for r in ok},
                 failures=failures, bins=bins, reference=reference, out=out, store=store, backend=backend,
                 files=[Path(f) for r in ok for f in r["files"]], results=list(results or []))
    if write_store and store is not None:
        run.features_file = write_cnv_features(feats, store)
        run.files.append(run.features_file)
        if panel is not None:  # what a model trained on these features needs to recompute them
            run.files += write_cnv_panel(store, bins, reference, panel)
    if out is not None:
        run.files += write_cohort_tables(feats, summaries, out)
    run.seconds = time.perf_counter() - t0
    return run


def _record(task: CNVTask, res: CNVResult, files: list[Path]) -> dict:
    return {"sample": res.sample, "status": "ok", "reason": "", "features": task.features(res),
            "summary": res.summary(), "calls": describe_calls(res), "files": [str(f) for f in files]}


def _check_outputs(out: Path, store: str | Path | None) -> None:
    """Refuse an unusable --out or --store before any sample is read (not after the analysis)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"'{out}' exists and is a file, not a folder")
    ensure_writable_parent(out)
    if store is not None:
        from ..io.store import Store

        Store.open(store)  # raises DataError naming the store when it is not one


def run_cnv(queries: str | Path | Iterable[str | Path], reference: str | Path | Sequence[str | Path],
            out: str | Path, *, options: CNVOptions | None = None, manifest: Manifest | str | Path | None = None,
            genome: str = "hg19", formats: Sequence[str] = ("png", "svg"), plot: bool = True,
            store: str | Path | None = None, progress: bool | None = None,
            log: Callable[[str], None] = lambda m: None, **option_fields: Any) -> CNVRun:
    """CNV of IDAT ``queries`` against the normals ``reference``; outputs written to ``out``.

    Parameters
    ----------
    queries : str, Path or iterable
        A folder of IDATs, a sample sheet or basenames.
    reference : str, Path or sequence
        The normals' IDATs (folder / sheet / basenames) or a saved panel (``.npz``).
    out : str or Path
        Output folder (per-sample tables and plots, ``cnv_features.tsv``, ``cnv_summary.tsv``, and for two or
        more queries ``cnv_frequency``).
    options : CNVOptions, optional
        Analysis options (default: conumee2's).
    manifest : Manifest, str or Path, optional
        Manifest of the queries (default: detected).
    genome : str
        Genome build of the bins.
    formats, plot
        Plot formats, and whether to plot at all.
    store : str or Path, optional
        Also write the feature table to ``STORE/cnv_features.parquet``.
    progress : bool, optional
        Progress display (:class:`~methylclass.progress.Progress`).
    log : callable
        Receives one line per step and per sample.
    **option_fields
        Single :class:`CNVOptions` fields (``method=``, ``thresholds=``, …) overriding ``options``.

    Returns
    -------
    CNVRun
        Features, summaries, calls and failures; when every query fails the first error is raised.
    """
    opts = CNVOptions.of(options, **option_fields)
    t0 = time.perf_counter()
    out = Path(out)
    _check_outputs(out, store)
    q = [queries] if isinstance(queries, (str, Path)) else list(queries)
    raw = _read(q[0] if len(q) == 1 else q, manifest)
    man = _with_build(raw.manifest, genome)
    bins = make_bins(man, genome)
    log(f"{len(raw.samples)} queries ({man.array}); {bins.n_bins:,} bins over {bins.n_fit_probes:,} probes")
    ref = load_reference(reference, man, bins, log=log)
    out.mkdir(parents=True, exist_ok=True)
    _note_panel_size(ref, log)
    task = CNVTask(bins=bins, reference=ref, options=opts, writer=_writer(out, formats, plot))
    first_error: MethylclassError | None = None
    records: list[dict] = []
    results: list[CNVResult] = []
    grn = raw.sample_table["grn"].to_dict() if "grn" in raw.sample_table.columns else {}
    with Progress(len(raw.samples), "CNV", unit="samples", enabled=progress) as bar:
        for s in raw.samples:
            try:
                res = task.analyse(s.sample, raw_total(s))
            except MethylclassError as exc:
                first_error = first_error or exc
                records.append({"sample": s.sample, "status": "failed", "reason": str(exc),
                                "path": grn.get(s.sample) or None})
                bar.advance()
                continue
            results.append(res)
            records.append(_record(task, res, task.outputs(res)))
            log(f"{s.sample}: noise {res.noise:.3f}, {len(res.segments)} segments, FGA {res.fga['fga']:.1%}")
            bar.advance()
    run = _finish(records, bins=bins, reference=ref, out=out, store=None if store is None else Path(store),
                  backend="local", write_store=store is not None, t0=t0, say=log, results=results,
                  first_error=first_error, panel=panel_params("idat_raw", opts))
    if plot and formats and len(results) > 1:
        from ..pl._figure import save_figure
        from ..pl.cnv import plot_cohort_frequency

        run.files += save_figure(plot_cohort_frequency(results, bins, thresholds=opts.thresholds),
                                 out / "cnv_frequency", formats)
    return run


def run_cnv_store(store: str | Path, normals, samples: Sequence[str] | None = None, *,
                  options: CNVOptions | None = None, backend: str = "local", master: str | None = None,
                  spark=None, genome: str | None = None, out: str | Path | None = None,
                  formats: Sequence[str] = ("png", "svg"), plot: bool = True, write_features: bool = True,
                  driver_memory: str = "2g", max_task_crashes: int = MAX_TASK_CRASHES, progress: bool | None = None,
                  log: Callable[[str], None] | None = None, **option_fields: Any) -> CNVRun:
    """CNV of the samples of a preprocessing store, in this process or on Spark.

    Parameters
    ----------
    store : str or Path
        The store (``methylclass preprocess`` output, with ``meth``/``unmeth`` arrays).
    normals : sequence of str, str, Path or CNVReference
        Names of stored copy-neutral samples (≥ 3), a saved panel (``.npz``) or a panel.
    samples : sequence of str, optional
        Samples to analyse (default: every stored sample that is not a normal).
    options : CNVOptions, optional
        Analysis options (default: conumee2's).
    backend : {"local", "spark"}
        This process, or Spark (``spark``: a session to use, else one on ``master``, default embedded
        ``local[*]``; ``out`` and the store must be on a file system the executors see).
    master, spark, driver_memory, max_task_crashes
        Spark settings (``backend="spark"``).
    genome : str, optional
        Build of the bins (default: the store's).
    out : str or Path, optional
        Folder for per-sample tables/plots, ``cnv_features.tsv`` and ``cnv_summary.tsv``.
    formats, plot
        Plot formats, and whether to plot at all.
    write_features : bool
        Write the feature table to ``STORE/cnv_features.parquet``.
    progress : bool, optional
        Progress display (:class:`~methylclass.progress.Progress`).
    log : callable, optional
        Receives one line per step and per failed sample.
    **option_fields
        Single :class:`CNVOptions` fields (``method=``, ``thresholds=``, …) overriding ``options``.

    Returns
    -------
    CNVRun
        The same type for both backends; when no sample could be analysed the first error is raised.
    """
    if backend not in ("local", "spark"):
        raise ConfigError(f"unknown backend '{backend}'; choose local or spark")
    opts = CNVOptions.of(options, **option_fields)
    t0 = time.perf_counter()
    say = log or (lambda msg: None)
    plan = plan_store_cnv(store, normals, samples, genome=genome, log=say)
    out_dir = None if out is None else Path(out).resolve() if backend == "spark" else Path(out)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    task = plan.task(opts, writer=_writer(out_dir, formats, plot))
    if backend == "spark":
        records = _spark_records(plan, task, spark=spark, master=master, driver_memory=driver_memory,
                                 max_task_crashes=max_task_crashes, progress=progress, say=say)
        return _finish(records, bins=plan.bins, reference=plan.reference, out=out_dir,
                       store=Path(plan.store.path), backend="spark", write_store=write_features, t0=t0, say=say,
                       panel=panel_params("store", opts))
    records, results = [], []
    first_error: BaseException | None = None
    with Progress(len(plan.samples), "CNV", unit="samples", enabled=progress) as bar:
        for name, path in zip(plan.samples, plan.files):
            try:
                res, files = task.process(name, path)
            except MemoryError:
                raise
            except Exception as exc:  # noqa: BLE001 - same contract as the Spark path: report, go on
                first_error = first_error or exc
                records.append({"sample": name, "status": "failed", "reason": failure_reason(exc), "path": path})
            else:
                results.append(res)
                records.append(_record(task, res, files))
            bar.advance()
    return _finish(records, bins=plan.bins, reference=plan.reference, out=out_dir, store=Path(plan.store.path),
                   backend="local", write_store=write_features, t0=t0, say=say, results=results,
                   first_error=first_error, panel=panel_params("store", opts))


def _spark_records(plan: StorePlan, task: CNVTask, *, spark, master, driver_memory, max_task_crashes, progress,
                   say) -> list[dict]:
    task.reference.stats()  # the Gram matrix travels with the broadcast instead of being redone per worker
    items = [(name, str(Path(f).resolve())) for name, f in zip(plan.samples, plan.files)]
    say(f"{len(items)} samples ({plan.bins.array}, {plan.bins.n_bins:,} bins over {plan.bins.n_fit_probes:,} "
        f"probes) against {plan.reference.n_references} normals on Spark")
    if spark is None:
        from ..spark.session import get_spark

        spark = get_spark(master, driver_memory=driver_memory)
    with Progress(len(items), "CNV on Spark", unit="samples", enabled=progress) as bar:
        records = run_records(spark, task, items, what=f"store '{plan.store.path}'", say=say, progress=bar.update,
                              max_task_crashes=max_task_crashes)
    order = {name: i for i, name in enumerate(plan.samples)}
    files = dict(zip(plan.samples, plan.files))
    records.sort(key=lambda r: order.get(r["sample"], len(order)))
    for r in records:
        r.setdefault("path", files.get(r["sample"]))
    return records


def run_cnv_store_spark(store: str | Path, normals, *, samples: Sequence[str] | None = None,
                        **kwargs: Any) -> CNVRun:
    """:func:`run_cnv_store` with ``backend="spark"`` (same parameters, same result type).

    Parameters
    ----------
    store, normals, samples
        As :func:`run_cnv_store`.
    **kwargs
        Further keywords of :func:`run_cnv_store` (``spark``, ``master``, ``options``, ``out``, …).

    Returns
    -------
    CNVRun
        As :func:`run_cnv_store`.
    """
    return run_cnv_store(store, normals, samples, backend="spark", **kwargs)


def cnv_store_spark(store: str | Path, normals, *, samples: Sequence[str] | None = None,
                    **kwargs: Any) -> pd.DataFrame:
    """CNV features of the samples of a store computed on Spark (samples × ``cnv_*`` features, float32).

    Parameters
    ----------
    store, normals, samples
        As :func:`run_cnv_store`.
    **kwargs
        Further keywords of :func:`run_cnv_store` (``write_features=False`` leaves the store unchanged).

    Returns
    -------
    pandas.DataFrame
        The features; ``attrs["failures"]`` lists the failed samples (:class:`SampleFailure`) and
        ``attrs["features_file"]`` the written Parquet file.
    """
    run = run_cnv_store_spark(store, normals, samples=samples, **kwargs)
    feats = run.features
    feats.attrs["failures"] = list(run.failures)
    feats.attrs["features_file"] = str(run.features_file) if run.features_file else None
    return feats
