"""Single-machine CNV workflow behind ``methylclass cnv``: IDATs → reference panel → per-sample outputs.

Outputs in ``OUT`` (each file written under a temporary name and renamed):

* ``<sample>.cnv.png`` / ``.svg`` — the genome plot; ``<sample>.segments.tsv``, ``<sample>.arms.tsv``,
  ``<sample>.focal.tsv``, ``<sample>.bins.tsv``;
* ``cnv_features.tsv`` (samples × features), ``cnv_summary.tsv`` (noise, shift, FGA, …) and, for two or more
  queries, ``cnv_frequency.png`` / ``.svg``.

:func:`run_cnv_store` is the cohort path on a preprocessed store: total intensity = the stored ``meth`` +
``unmeth`` arrays, references = named normal samples of the same store, features written next to the betas
(``STORE/cnv_features.parquet``). Both paths call the same kernel, :func:`~methylclass.pp.cnv.cnv_sample`.

The reference panel built from a folder of normals is cached in ``cache_dir()/cnv_reference`` keyed by the
normals' paths, sizes and modification times and the bin set's probes; ``--reference`` may also name a panel
saved with :meth:`CNVReference.save` (``.npz``).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..._atomic import atomic_write
from ...errors import DataError, MethylclassError
from ...io.manifest_types import Manifest
from ...paths import cache_dir
from .bins import Bins, make_bins
from .calls import DEFAULT_THRESHOLDS, CallThresholds
from .features import cnv_feature_table, write_cnv_features
from .reference import RECOMMENDED_REFERENCES, CNVReference, reference_cache_key
from .sample import CNVResult, cnv_sample
from .segment import CBSParams


@dataclass
class CNVRun:
    """What :func:`run_cnv` produced."""

    results: list[CNVResult]
    bins: Bins
    reference: CNVReference
    out: Path
    files: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


def _write_text(path: Path, text: str) -> Path:
    atomic_write(path, lambda fh: fh.write(text))
    return path


def _write_tsv(df: pd.DataFrame, path: Path, index: bool = False) -> Path:
    buf = io.StringIO()
    df.to_csv(buf, sep="\t", index=index, float_format="%.5g")
    return _write_text(path, buf.getvalue())


def _file_name(sample: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in sample) or "sample"


def _with_build(man: Manifest, genome: str) -> Manifest:
    """``man`` with coordinates on ``genome``: the same array's manifest loaded for that build when the
    probe rows are identical (only the coordinates differ), else ``man`` unchanged (make_bins then names
    the mismatch)."""
    if not man.genome_build or man.genome_build == genome:
        return man
    from ...io.manifest import load_manifest

    try:
        other = load_manifest(man.array, genome_build=genome)
    except MethylclassError:
        return man
    same = other.n_probes == man.n_probes and np.array_equal(other.probes["probe_id"].to_numpy(),
                                                             man.probes["probe_id"].to_numpy())
    return other if same else man


def _read(source, manifest):
    from ...io.raw import read_raw

    return read_raw(source, manifest=manifest)


def load_reference(source: str | Path | Sequence[str | Path], manifest: Manifest, bins: Bins, *,
                   cache: bool = True, log: Callable[[str], None] = lambda m: None) -> CNVReference:
    """A reference panel from a saved ``.npz`` panel, or from normals' IDATs (folder / sheet / basenames),
    cached on disk. Raises DataError when fewer than 3 usable normals remain."""
    if isinstance(source, (str, Path)) and str(source).endswith(".npz"):
        ref = CNVReference.load(source)
        if ref.probe_key != bins.probe_key:
            raise DataError(f"CNV reference '{source}' was built for {ref.array}/{ref.build} probes that "
                            f"differ from this analysis ({bins.array}/{bins.build})")
        return ref
    from ...io.discover import find_samples

    found = find_samples(source)
    files = [p for ref in found.samples for p in (ref.grn, ref.red)]
    if len(found.samples) < 3:
        raise DataError(f"reference panel '{source}': {len(found.samples)} normal sample(s) found, need ≥ 3 "
                        "copy-neutral references (16 or more recommended)")
    key = reference_cache_key(files, bins)
    path = cache_dir() / "cnv_reference" / f"{bins.array}_{bins.build}_{key}.npz"
    if cache and path.exists():
        try:
            log(f"reference panel: cached {path.name}")
            return CNVReference.load(path)
        except DataError:
            pass
    raw = _read(source, manifest)
    intens = np.vstack([s.total_intensity() for s in raw.samples])
    ref = CNVReference.from_intensities(intens, bins, [s.sample for s in raw.samples],
                                        meta={"source": str(source)})
    log(f"reference panel: {ref.n_references} normals, {int(ref.probe_mask.sum()):,} probes")
    if cache:
        ref.save(path)
    return ref


def write_sample_outputs(result: CNVResult, bins: Bins, out: Path, *, formats: Sequence[str] = ("png", "svg"),
                         plot: bool = True) -> list[Path]:
    """Write one sample's plot and tables into ``out``; return the paths."""
    stem = out / _file_name(result.sample)
    files = [
        _write_tsv(result.segments, stem.with_name(stem.name + ".segments.tsv")),
        _write_tsv(result.arms, stem.with_name(stem.name + ".arms.tsv")),
        _write_tsv(result.focal, stem.with_name(stem.name + ".focal.tsv")),
        _write_tsv(result.bin_table(bins), stem.with_name(stem.name + ".bins.tsv")),
    ]
    if plot and formats:
        from ...pl._figure import save_figure
        from ...pl.cnv import plot_genome

        files += save_figure(plot_genome(result, bins), stem.with_name(stem.name + ".cnv"), formats)
    return files


def run_cnv(queries: str | Path | Iterable[str | Path], reference: str | Path | Sequence[str | Path],
            out: str | Path, *, manifest: Manifest | str | Path | None = None, genome: str = "hg19",
            method: str = "cbs", seg_params: CBSParams | None = None, cancer_genes: bool = False,
            thresholds: CallThresholds = DEFAULT_THRESHOLDS, formats: Sequence[str] = ("png", "svg"),
            plot: bool = True, store: str | Path | None = None,
            log: Callable[[str], None] = lambda m: None) -> CNVRun:
    """Run the CNV analysis of ``queries`` against ``reference`` and write the outputs to ``out``.

    A query that cannot be analysed (e.g. too few probes shared with the reference) is reported in
    :attr:`CNVRun.failures`; when every query fails, the first error is raised.
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
    if ref.n_references < RECOMMENDED_REFERENCES:
        log(f"note: the reference panel has {ref.n_references} normals; conumee recommends ≥ "
            f"{RECOMMENDED_REFERENCES} copy-neutral references")
    first_error: MethylclassError | None = None
    for s in raw.samples:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # the panel-size note is logged once above
                res = cnv_sample(s.total_intensity(), ref, bins, sample=s.sample, method=method,
                                 seg_params=seg_params, cancer_genes=cancer_genes, thresholds=thresholds,
                                 keep_probes=False)
        except MethylclassError as exc:
            first_error = first_error or exc
            run.failures.append((s.sample, str(exc)))
            log(f"failed {s.sample}: {exc}")
            continue
        run.results.append(res)
        run.files += write_sample_outputs(res, bins, out, formats=formats, plot=plot)
        log(f"{s.sample}: noise {res.noise:.3f}, {len(res.segments)} segments, FGA {res.fga['fga']:.1%}")
    if not run.results:
        assert first_error is not None
        raise first_error
    feats = cnv_feature_table(run.results)
    run.files.append(_write_tsv(feats, out / "cnv_features.tsv", index=True))
    run.files.append(_write_tsv(pd.DataFrame([r.summary() for r in run.results]), out / "cnv_summary.tsv"))
    if plot and formats and len(run.results) > 1:
        from ...pl._figure import save_figure
        from ...pl.cnv import plot_cohort_frequency

        run.files += save_figure(plot_cohort_frequency(run.results, bins, thresholds=thresholds),
                                 out / "cnv_frequency", formats)
    if store is not None:
        run.files.append(write_cnv_features(feats, store))
    return run


def store_manifest(store) -> Manifest:
    """A coordinates-only :class:`Manifest` from a store's probe table (row i = element i of its arrays)."""
    probes = store.probes()
    missing = [c for c in ("probe_id", "chrom", "pos") if c not in probes.columns]
    if missing:
        raise DataError(f"store '{store.path}' has no probe {'/'.join(missing)} columns; CNV needs probe "
                        "coordinates")
    p = pd.DataFrame({
        "probe_id": probes["probe_id"].astype(str),
        "cpg_id": probes["cpg_id"].astype(str) if "cpg_id" in probes else probes["probe_id"].astype(str),
        "address_u": -1, "address_m": -1,
        "design": probes["design"].astype(str) if "design" in probes else "",
        "channel": probes["channel"].astype(str) if "channel" in probes else "",
        "chrom": probes["chrom"].fillna("").astype(str),
        "pos": pd.to_numeric(probes["pos"], errors="coerce").fillna(-1).astype(np.int64)})
    info = store.info
    return Manifest(array=str(info.get("array", "STORE")), probes=p,
                    controls=pd.DataFrame(columns=["address", "type", "channel", "name"]),
                    genome_build=str(info.get("genome_build") or "hg19"), source=store.path,
                    sha256=str(info.get("probe_hash", "")))


def store_totals(store, samples: Sequence[str], *, batch_size: int = 16):
    """Yield ``(sample, meth + unmeth)`` of ``samples`` from a store, batch by batch."""
    meth = store.iter_arrays(samples, field="meth", batch_size=batch_size)
    unmeth = store.iter_arrays(samples, field="unmeth", batch_size=batch_size)
    for (names, m), (_, u) in zip(meth, unmeth):
        total = m.astype(np.float64) + u
        yield from zip(names, total)


def run_cnv_store(store: str | Path, normals: Sequence[str], samples: Sequence[str] | None = None, *,
                  genome: str | None = None, method: str = "cbs", seg_params: CBSParams | None = None,
                  cancer_genes: bool = False, thresholds: CallThresholds = DEFAULT_THRESHOLDS,
                  out: str | Path | None = None, formats: Sequence[str] = ("png", "svg"), plot: bool = True,
                  write_features: bool = True, log: Callable[[str], None] = lambda m: None) -> CNVRun:
    """CNV of the samples of a store against ``normals`` (sample names of the same store).

    ``samples`` defaults to every stored sample that is not a normal. The feature table is written to
    ``STORE/cnv_features.parquet`` (``write_features``); per-sample plots/tables go to ``out`` when given.
    """
    from ...io.store import Store

    st = Store.open(store)
    man = store_manifest(st)
    bins = make_bins(man, genome or man.genome_build)
    normals = list(normals)
    if len(normals) < 3:
        raise DataError(f"reference panel: {len(normals)} normal sample(s) named, need ≥ 3 copy-neutral "
                        "references (16 or more recommended)")
    names, totals = zip(*store_totals(st, normals))
    ref = CNVReference.from_intensities(np.vstack(totals), bins, list(names),
                                        meta={"store": str(st.path)})
    log(f"reference panel: {ref.n_references} normals from {st.path}")
    if samples is None:
        samples = [s for s in st.files_of()[0] if s not in set(normals)]
    run = CNVRun(results=[], bins=bins, reference=ref, out=Path(out) if out else st.path)
    first_error: MethylclassError | None = None
    for name, total in store_totals(st, list(samples)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                res = cnv_sample(total, ref, bins, sample=name, method=method, seg_params=seg_params,
                                 cancer_genes=cancer_genes, thresholds=thresholds, keep_probes=False)
        except MethylclassError as exc:
            first_error = first_error or exc
            run.failures.append((name, str(exc)))
            continue
        run.results.append(res)
        if out is not None:
            run.files += write_sample_outputs(res, bins, Path(out), formats=formats, plot=plot)
    if not run.results:
        if first_error is not None:
            raise first_error
        raise DataError(f"store '{st.path}': no samples to analyse besides the normals")
    if write_features:
        run.files.append(write_cnv_features(cnv_feature_table(run.results), st.path))
    return run
