"""CNV workflows behind ``methylclass cnv``: IDATs or a preprocessed store → reference panel → per-sample outputs.

Outputs in ``OUT`` (each file written under a temporary name and renamed):

* ``<sample>.cnv.png`` / ``.svg`` — the genome plot; ``<sample>.segments.tsv``, ``<sample>.arms.tsv``,
  ``<sample>.focal.tsv``, ``<sample>.bins.tsv``;
* ``cnv_features.tsv`` (samples × features), ``cnv_summary.tsv`` (noise, shift, FGA, …) and, for two or more
  IDAT queries, ``cnv_frequency.png`` / ``.svg``.

Three paths, one kernel (:func:`~methylclass.pp.cnv.cnv_sample`, wrapped by :class:`CNVTask`):

* :func:`run_cnv` — IDATs of queries and of normals (raw intensities);
* :func:`run_cnv_store` — the samples of a store analysed in this process: total intensity = the stored
  ``meth`` + ``unmeth`` arrays, references = named normal samples of the same store (or a saved panel),
  features written next to the betas (``STORE/cnv_features.parquet``);
* :func:`run_cnv_store_spark` / :func:`cnv_store_spark` — the same on Spark, one sample per task, from the same
  :func:`~methylclass.pp.cnv.store.plan_store_cnv` and :class:`CNVTask`.

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

import pandas as pd

from .._atomic import atomic_write
from ..errors import DataError, MethylclassError
from ..io.manifest.types import Manifest
from ..pp.cnv.bins import Bins, make_bins
from ..pp.cnv.calls import DEFAULT_THRESHOLDS, CallThresholds
from ..pp.cnv.features import write_cnv_features
from ..pp.cnv.panel import _note_panel_size, _read, _with_build, load_reference
from ..pp.cnv.reference import CNVReference
from ..pp.cnv.sample import CNVResult
from ..pp.cnv.segment import CBSParams
from ..pp.cnv.store import plan_store_cnv
from ..pp.cnv.task import CNVTask, failure_reason, feature_frame, raw_total
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
    """What :func:`run_cnv` / :func:`run_cnv_store` produced."""

    results: list[CNVResult]
    bins: Bins
    reference: CNVReference
    out: Path
    files: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    features: pd.DataFrame | None = None




def run_cnv(queries: str | Path | Iterable[str | Path], reference: str | Path | Sequence[str | Path],
            out: str | Path, *, manifest: Manifest | str | Path | None = None, genome: str = "hg19",
            method: str = "cbs", seg_params: CBSParams | None = None, cancer_genes: bool = False,
            thresholds: CallThresholds = DEFAULT_THRESHOLDS, formats: Sequence[str] = ("png", "svg"),
            plot: bool = True, store: str | Path | None = None,
            log: Callable[[str], None] = lambda m: None) -> CNVRun:
    """Run the CNV analysis of ``queries`` against ``reference`` and write the outputs to ``out``.

    A query that cannot be analysed (e.g. too few probes shared with the reference) is reported in
    :attr:`CNVRun.failures`; when every query fails, the first error is raised. ``store``: also write the
    feature table to ``STORE/cnv_features.parquet``.
    """
    out = Path(out)
    q = [queries] if isinstance(queries, (str, Path)) else list(queries)
    raw = _read(q[0] if len(q) == 1 else q, manifest)
    man = _with_build(raw.manifest, genome)
    bins = make_bins(man, genome)
    log(f"{len(raw.samples)} queries ({man.array}); {bins.n_bins:,} bins over {bins.n_fit_probes:,} probes")
    ref = load_reference(reference, man, bins, log=log)
    out.mkdir(parents=True, exist_ok=True)
    run = CNVRun(results=[], bins=bins, reference=ref, out=out)
    _note_panel_size(ref, log)
    task = CNVTask(bins=bins, reference=ref, method=method, seg_params=seg_params, cancer_genes=cancer_genes,
                   thresholds=thresholds, writer=_writer(out, formats, plot))
    first_error: MethylclassError | None = None
    for s in raw.samples:
        try:
            res = task.analyse(s.sample, raw_total(s))
        except MethylclassError as exc:
            first_error = first_error or exc
            run.failures.append((s.sample, str(exc)))
            log(f"failed {s.sample}: {exc}")
            continue
        run.results.append(res)
        run.files += task.outputs(res)
        log(f"{s.sample}: noise {res.noise:.3f}, {len(res.segments)} segments, FGA {res.fga['fga']:.1%}")
    if not run.results:
        assert first_error is not None
        raise first_error
    feats = run.features = feature_frame([task.features(r) for r in run.results])
    run.files += write_cohort_tables(feats, [r.summary() for r in run.results], out)
    if plot and formats and len(run.results) > 1:
        from ..pl._figure import save_figure
        from ..pl.cnv import plot_cohort_frequency

        run.files += save_figure(plot_cohort_frequency(run.results, bins, thresholds=thresholds),
                                 out / "cnv_frequency", formats)
    if store is not None:
        run.files.append(write_cnv_features(feats, store))
    return run



def run_cnv_store(store: str | Path, normals, samples: Sequence[str] | None = None, *,
                  genome: str | None = None, method: str = "cbs", seg_params: CBSParams | None = None,
                  cancer_genes: bool = False, thresholds: CallThresholds = DEFAULT_THRESHOLDS,
                  out: str | Path | None = None, formats: Sequence[str] = ("png", "svg"), plot: bool = True,
                  write_features: bool = True, bin_summary: str | None = None,
                  log: Callable[[str], None] = lambda m: None) -> CNVRun:
    """CNV of the samples of a store in this process (for Spark: :func:`cnv_store_spark`).

    ``normals``: names of stored copy-neutral samples (≥ 3), or a saved panel (``.npz``). ``samples``
    defaults to every stored sample that is not a normal. The feature table is written to
    ``STORE/cnv_features.parquet`` (``write_features``); per-sample plots/tables, ``cnv_features.tsv`` and
    ``cnv_summary.tsv`` go to ``out`` when given. A sample that cannot be analysed is listed in
    :attr:`CNVRun.failures` and the others go on; when every sample fails the first error is raised.
    """
    plan = plan_store_cnv(store, normals, samples, genome=genome, log=log)
    task = plan.task(method=method, seg_params=seg_params, cancer_genes=cancer_genes, thresholds=thresholds,
                     bin_summary=bin_summary, writer=_writer(out, formats, plot))
    run = CNVRun(results=[], bins=plan.bins, reference=plan.reference,
                 out=Path(out) if out else plan.store.path)
    first_error: BaseException | None = None
    for name, path in zip(plan.samples, plan.files):
        try:
            res, files = task.process(name, path)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - same contract as the Spark path: report, go on
            first_error = first_error or exc
            run.failures.append((name, failure_reason(exc)))
            log(f"failed {name}: {failure_reason(exc)}")
            continue
        run.results.append(res)
        run.files += files
    if not run.results:
        assert first_error is not None
        raise first_error
    feats = run.features = feature_frame([task.features(r) for r in run.results])
    if write_features:
        run.files.append(write_cnv_features(feats, plan.store.path))
    if out is not None:
        run.files += write_cohort_tables(feats, [r.summary() for r in run.results], out)
    return run


@dataclass
class CNVCohortRun:
    """What :func:`run_cnv_store_spark` produced (failures as ``(sample, reason)``, in sample order)."""

    features: pd.DataFrame
    summary: pd.DataFrame
    calls: dict[str, str]
    failures: list[tuple[str, str]]
    bins: Bins
    reference: CNVReference
    store: Path
    features_file: Path | None = None
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0



def run_cnv_store_spark(store: str | Path, normals, *, samples: Sequence[str] | None = None, spark=None,
                        master: str | None = None, method: str = "cbs", genome: str | None = None,
                        seg_params: CBSParams | None = None, cancer_genes: bool = False,
                        thresholds: CallThresholds = DEFAULT_THRESHOLDS, bin_summary: str | None = None,
                        out: str | Path | None = None, formats: Sequence[str] = ("png", "svg"), plot: bool = True,
                        write_features: bool = True, driver_memory: str = "2g",
                        max_task_crashes: int = MAX_TASK_CRASHES,
                        log: Callable[[str], None] | None = None) -> CNVCohortRun:
    """CNV of the samples of a store on Spark (see the module docstring); the full result.

    ``normals``: names of stored copy-neutral samples (≥ 3) or a saved reference panel (``.npz`` path or
    :class:`CNVReference`); ``samples``: default every stored sample that is not a normal. ``spark``: a
    session to use, else one is started on ``master`` (default embedded ``local[*]``). Other options as
    :func:`run_cnv_store`. Raises :class:`DataError` when no sample could be
    analysed (with the first reason).
    """
    t0 = time.perf_counter()
    say = log or (lambda msg: None)
    plan = plan_store_cnv(store, normals, samples, genome=genome, log=say)
    out_dir = Path(out).resolve() if out is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    task = plan.task(method=method, seg_params=seg_params, cancer_genes=cancer_genes, thresholds=thresholds,
                     bin_summary=bin_summary, writer=_writer(out_dir, formats, plot))
    task.reference.stats()  # the Gram matrix travels with the broadcast instead of being redone per worker
    items = [(name, str(Path(f).resolve())) for name, f in zip(plan.samples, plan.files)]
    say(f"{len(items)} samples ({plan.bins.array}, {plan.bins.n_bins:,} bins over {plan.bins.n_fit_probes:,} "
        f"probes) against {plan.reference.n_references} normals on Spark")
    if spark is None:
        from ..spark.session import get_spark

        spark = get_spark(master, driver_memory=driver_memory)
    records = run_records(spark, task, items, what=f"store '{plan.store.path}'", say=say if log else None,
                          max_task_crashes=max_task_crashes)
    order = {name: i for i, name in enumerate(plan.samples)}
    records.sort(key=lambda r: order.get(r["sample"], len(order)))
    ok = [r for r in records if r["status"] == "ok"]
    failures = [(r["sample"], r["reason"]) for r in records if r["status"] != "ok"]
    for sample, reason in failures:
        say(f"failed {sample}: {reason}")
    if not ok:
        raise DataError(failures[0][1] if failures else f"store '{plan.store.path}': no samples to analyse")
    feats = feature_frame([r["features"] for r in ok])
    summaries = [r["summary"] for r in ok]
    run = CNVCohortRun(features=feats, summary=pd.DataFrame(summaries), calls={r["sample"]: r["calls"] for r in ok},
                       failures=failures, bins=plan.bins, reference=plan.reference, store=Path(plan.store.path),
                       files=[Path(f) for r in ok for f in r["files"]])
    if write_features:
        run.features_file = write_cnv_features(feats, plan.store.path)
        run.files.append(run.features_file)
    if out_dir is not None:
        run.files += write_cohort_tables(feats, summaries, out_dir)
    run.seconds = time.perf_counter() - t0
    say(f"CNV of {len(ok)} samples ({len(failures)} failed) in {run.seconds:.1f} s")
    return run


def cnv_store_spark(store: str | Path, normals, *, samples: Sequence[str] | None = None, spark=None,
                    master: str | None = None, method: str = "cbs", genome: str | None = None,
                    **options) -> pd.DataFrame:
    """CNV features of the samples of a store computed on Spark (samples × ``cnv_*`` features, float32).

    Also writes ``STORE/cnv_features.parquet`` (unless ``write_features=False``). The failed samples and
    their reasons are in ``result.attrs["failures"]`` (``{sample: reason}``). ``options``: see
    :func:`run_cnv_store_spark`.
    """
    run = run_cnv_store_spark(store, normals, samples=samples, spark=spark, master=master, method=method,
                              genome=genome, **options)
    feats = run.features
    feats.attrs["failures"] = dict(run.failures)
    feats.attrs["features_file"] = str(run.features_file) if run.features_file else None
    return feats
