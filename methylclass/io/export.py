"""Export a store (or a selection of it) as CSV, wide Parquet or AnnData ``.h5ad``.

* ``csv``: samples × probes (``orient="samples"``, one row per sample, the layout of GEO-derived training
  tables) or probes × samples (``orient="probes"``, the GEO series-matrix layout). Written in chunks: a batch
  of samples, or a block of probes for every sample, at a time, so memory stays bounded whatever the cohort.
  Values are the shortest text that reads back to the same float32 (Arrow's float formatting); NaN is an
  empty field.
* ``parquet``: a wide table (samples × probes or probes × samples), for selections (at most
  :data:`MAX_WIDE_COLUMNS` columns: wide Parquet files are slow for every reader beyond that).
* ``h5ad``: an AnnData file (X = values, obs = sample table, var = probe table), when the optional ``anndata``
  package is installed.

Every file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._atomic import atomic_write
from ..errors import ConfigError, DataError
from .store import (
    ARRAY_FIELDS,
    Store,
    _joined,
    _tmp_name,
    atomic_write_table,
    load_betas,
    top_variance_probes,
)

FORMATS = ("csv", "parquet", "h5ad")
ORIENTS = ("samples", "probes")
#: the widest Parquet table :func:`export_store` writes
MAX_WIDE_COLUMNS = 50_000
#: bytes of float32 values one probe block of a probes × samples CSV may hold
PROBE_BLOCK_BYTES = 64 << 20


def infer_format(path: str | Path) -> str:
    """Export format from a file name (``.csv``/``.csv.gz``/``.tsv`` → csv, ``.parquet`` → parquet,
    ``.h5ad`` → h5ad)."""
    name = Path(path).name.lower()
    for suffix, fmt in ((".csv", "csv"), (".csv.gz", "csv"), (".tsv", "csv"), (".tsv.gz", "csv"),
                        (".parquet", "parquet"), (".pq", "parquet"), (".h5ad", "h5ad")):
        if name.endswith(suffix):
            return fmt
    raise ConfigError(f"cannot tell the export format of '{path}'; use --format {'|'.join(FORMATS)}")


def _quote(name: object, sep: str) -> str:
    """A CSV field for a name (RFC 4180): quoted when it holds the separator, a quote or a line break."""
    text = str(name)
    if sep in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _format_block(block: np.ndarray, sep: str, first: Sequence[str]) -> memoryview:
    """UTF-8 text of a float32 block, one line per row: ``first[i]`` then the row's values, ``sep``-separated.

    Hand-assembled from Arrow compute kernels (cast to text, list join) because pandas/numpy CSV writers
    format wide rows value by value in Python (~10× slower here)."""
    k, n = block.shape
    if k == 0:
        return memoryview(b"")
    flat = pa.array(np.ascontiguousarray(block, dtype=np.float32).ravel())
    text = pc.if_else(pc.is_nan(flat), pa.scalar("", pa.large_string()), pc.cast(flat, pa.large_string()))
    heads = pa.array([_quote(x, sep) for x in first], type=pa.large_string())
    take = np.empty((k, n + 1), dtype=np.int64)  # row i = [first[i], v_i0, …, v_i(n-1)]
    take[:, 0] = k * n + np.arange(k)
    take[:, 1:] = np.arange(k * n).reshape(k, n)
    cells = pa.concat_arrays([text, heads]).take(pa.array(take.ravel()))
    rows = pc.binary_join(pa.LargeListArray.from_arrays(
        pa.array(np.arange(0, k * (n + 1) + 1, n + 1, dtype=np.int64)), cells), pa.scalar(sep, pa.large_string()))
    whole = pc.binary_join(pa.LargeListArray.from_arrays(pa.array([0, k], type=pa.int64()), rows),
                           pa.scalar("\n", pa.large_string()))
    start, end = np.frombuffer(whole.buffers()[1], dtype=np.int64)[whole.offset:whole.offset + 2]
    return memoryview(whole.buffers()[2])[start:end]


def _write_csv(st: Store, out: Path, names: list[str], idx: np.ndarray | None, field: str, orient: str,
               sep: str) -> None:
    ids = st.probe_ids() if idx is None else st.probe_ids()[idx]

    def rows(fh) -> None:
        if orient == "samples":
            fh.write((sep.join(_quote(x, sep) for x in ["sample", *ids]) + "\n").encode("utf-8"))
            for batch, block in st.iter_arrays(names, field=field, probes=idx, batch_size=16):
                fh.write(_format_block(block, sep, batch))
                fh.write(b"\n")
            return
        fh.write((sep.join(_quote(x, sep) for x in ["probe_id", *names]) + "\n").encode("utf-8"))
        n_sel = ids.shape[0]
        step = max(1, min(n_sel, PROBE_BLOCK_BYTES // (4 * max(1, len(names)))))
        base = np.arange(st.n_probes) if idx is None else idx
        for start in range(0, n_sel, step):  # one pass over the sample files per block of probes
            part = base[start:start + step]
            block = np.empty((len(names), part.shape[0]), dtype=np.float32)
            row = 0
            for _, b in st.iter_arrays(names, field=field, probes=part):
                block[row:row + b.shape[0]] = b
                row += b.shape[0]
            fh.write(_format_block(block.T, sep, ids[start:start + step]))
            fh.write(b"\n")

    def write(fh) -> None:
        if out.name.lower().endswith(".gz"):
            with gzip.GzipFile(filename=out.name[:-3], mode="wb", fileobj=fh, compresslevel=3) as gz:
                rows(gz)
        else:
            rows(fh)

    atomic_write(out, write, binary=True)


def _write_parquet(st: Store, out: Path, names: list[str], idx: np.ndarray | None, field: str,
                   orient: str) -> None:
    n_probes = st.n_probes if idx is None else idx.shape[0]
    width = n_probes if orient == "samples" else len(names)
    if width > MAX_WIDE_COLUMNS:
        what = "probes" if orient == "samples" else "samples"
        raise ConfigError(f"a wide Parquet export with {width:,} {what} as columns is too wide (limit "
                          f"{MAX_WIDE_COLUMNS:,}); select probes (--probes, --top-variance N) or export csv")
    df = load_betas(st, names, idx, field=field)
    if orient == "probes":
        df = df.T
        df.index.name, df.columns.name = "probe_id", None
    atomic_write_table(out, pa.Table.from_pandas(df.reset_index(), preserve_index=False), compression="zstd")


def _write_h5ad(st: Store, out: Path, names: list[str], idx: np.ndarray | None, field: str) -> None:
    try:
        import anndata
    except ImportError:
        raise ConfigError("h5ad export needs the optional package 'anndata' (pip install anndata); "
                          "csv and parquet need nothing extra") from None
    x = load_betas(st, names, idx, field=field)
    obs = st.samples.set_index(st.samples["sample"].astype(str)).loc[names]
    obs = obs.drop(columns=["sample"])
    for col in obs.columns[obs.dtypes == object]:  # text (sheet, reasons) as categories, missing kept
        obs[col] = obs[col].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                                else str(v)).astype("category")
    probes = st.probes()
    var = (probes if idx is None else probes.iloc[idx]).set_index("probe_id")
    adata = anndata.AnnData(X=x.to_numpy(), obs=obs, var=var,
                            uns={"methylclass": {k: str(v) for k, v in st.info.items()}, "field": field})
    tmp = _tmp_name(out).with_suffix(".h5ad")
    try:
        adata.write_h5ad(tmp)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


def export_store(store: str | Path | Store, out: str | Path, *, format: str | None = None,
                 field: str = "beta", samples: Sequence[str] | None = None, probes=None,
                 top_variance: int | None = None, orient: str = "samples",
                 variance: Callable[..., pd.DataFrame] | None = None, join: str = "outer") -> Path:
    """Write ``field`` of ``samples`` × ``probes`` of a store to ``out`` (see the module docstring).

    Parameters
    ----------
    store : str, Path or Store
        The store (or its path) to export from.
    out : str or Path
        Destination file; its folder must exist.
    format : str, optional
        ``"csv"``, ``"parquet"`` or ``"h5ad"`` (default from the file name; ``.tsv`` writes tab-separated CSV).
    field : str
        The store field to export (one of the store's array fields, e.g. ``"beta"``).
    samples : sequence of str, optional
        Samples to export (default: every successfully processed sample).
    probes
        Probe ids, indices or mask (default: all).
    top_variance : int, optional
        Keep the N probes most variable across the selected samples, in decreasing order of variance.
    orient : str
        ``"samples"`` (rows = samples) or ``"probes"``.
    variance : callable, optional
        ``variance(store, n, samples, field=..., join=...)`` computing the top-variance probes in O(n_probes)
        memory; default :func:`~methylclass.io.store.top_variance_probes`
        (:func:`methylclass.workflows.export.export` passes the Spark version).
    join : str
        For a store mixing arrays, ``"outer"`` (every CpG, NaN where an array lacks it) or ``"inner"`` (the
        CpGs every array of the selected samples holds).

    Returns
    -------
    Path
        The written path.

    Raises
    ------
    ConfigError
        An unknown format, orientation or field, or a missing destination folder.
    DataError
        The store holds no successfully processed sample to export.
    """
    st = store if isinstance(store, Store) else Store.open(store)
    out = Path(out)
    fmt = (format or infer_format(out)).lower()
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format '{format}'; choose one of {', '.join(FORMATS)}")
    if orient not in ORIENTS:
        raise ConfigError(f"unknown orientation '{orient}'; choose one of {', '.join(ORIENTS)}")
    if field not in ARRAY_FIELDS:
        raise ConfigError(f"unknown store field '{field}'; choose one of {', '.join(ARRAY_FIELDS)}")
    names, _ = st.files_of(samples)
    if not names:
        raise DataError(f"store '{st.path}' holds no successfully processed sample to export")
    idx = _joined(st, st.resolve_probes(probes), join, names)
    if top_variance is not None:
        top = (variance or top_variance_probes)(st, top_variance, names, field=field, join=join)
        chosen = top["index"].to_numpy(np.int64)
        idx = chosen if idx is None else chosen[np.isin(chosen, idx)]
    if not out.parent.is_dir():
        raise ConfigError(f"folder '{out.parent}' of the export file does not exist")
    if fmt == "csv":
        sep = "\t" if ".tsv" in out.name.lower() else ","
        _write_csv(st, out, names, idx, field, orient, sep)
    elif fmt == "parquet":
        _write_parquet(st, out, names, idx, field, orient)
    else:
        _write_h5ad(st, out, names, idx, field)
    return out
