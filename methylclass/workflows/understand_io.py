"""Shared pieces of the explain / panel / embed workflows: reading a table or store, the output folder,
CpG annotation."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from .._atomic import atomic_write, make_temp_dir, publish_dir
from ..errors import ConfigError, DataError

Echo = Callable[[str], None]


def _silent(_: str) -> None:
    return None


def read_input(betas: str | Path, *, label_column: str | None = None, sample_column: str | None = None,
               labels: str | Path | None = None, orientation: str = "auto", blocks: tuple[str, ...] = ()
               ) -> tuple[pd.DataFrame, pd.Series | None]:
    """Samples × features and labels (or None) from a beta table or a preprocessing store."""
    from ..io.betas_table import read_beta_table
    from .data import _read_store, is_store

    path = Path(betas)
    if not path.exists():
        raise DataError(f"'{path}' does not exist")
    if is_store(path):
        X, y = _read_store({"store": str(path), "labels": labels, "label_column": label_column,
                            "sample_column": sample_column}, blocks)
        if label_column is None and labels is None:
            y = None
    else:
        X, y = read_beta_table(path, label_column=label_column, sample_column=sample_column, labels=labels,
                               orientation=orientation, feature_blocks=blocks)
    return X, y


@contextlib.contextmanager
def output_folder(out: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """A temporary sibling folder published as ``out`` when the block finishes (removed on error), so ``out``
    is never half-written."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"'{out}' exists and is not a folder")
    if out.exists() and not overwrite:
        raise ConfigError(f"'{out}' already exists")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(out.parent, out.name)
    try:
        yield tmp
        publish_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_csv(df: pd.DataFrame, path: Path, **kw) -> Path:
    """Atomic CSV."""
    return atomic_write(path, lambda fh: df.to_csv(fh, **kw))


def annotation_table(features, array: str | None, manifest: str | Path | None) -> pd.DataFrame | None:
    """``chrom, pos, gene[, island]`` of ``features`` from a named array's manifest (``450k``…) or a manifest
    file; genes from the cancer-gene region table when the manifest has no gene column. None when neither is
    given."""
    if array is None and manifest is None:
        return None
    from ..io.annotate import annotate_cpgs
    from ..io.manifest import load_manifest

    man = load_manifest(array, path=manifest)
    genes = None
    try:
        from ..pp.cnv.genome import load_regions

        genes = load_regions("cancer_genes", getattr(man, "genome_build", "hg19") or "hg19")
    except (DataError, OSError, ValueError):
        genes = None
    return annotate_cpgs(list(features), man, genes=genes)


def extra_columns(betas: str | Path, columns, index: pd.Index, *, sample_column: str | None = None,
                  X: pd.DataFrame | None = None) -> pd.DataFrame:
    """Columns to colour by (batch, material, a prediction…): from ``X`` when numeric features (``cnv_*``),
    else read from the table file (samples × columns layout) or the store's sample table, aligned on ``index``.
    """
    from .data import is_store

    out = {}
    want = [c for c in columns if X is None or c not in X.columns]
    for c in columns:
        if X is not None and c in X.columns:
            out[c] = X[c]
    if want:
        path = Path(betas)
        if is_store(path):
            from ..io.store import Store

            table = Store.open(path).samples.set_index("sample")
        elif path.name.lower().endswith((".parquet", ".pq")):
            table = pd.read_parquet(path)
            table = table.reset_index() if table.index.name else table
        else:
            head = pd.read_csv(path, sep=None, engine="python", nrows=0)
            sid = sample_column if sample_column in head.columns else head.columns[0]
            table = pd.read_csv(path, sep=None, engine="python", usecols=lambda k: k in (*want, sid))
            table = table.set_index(table[sid].astype(str).str.strip())
        for c in want:
            if c not in table.columns:
                raise DataError(f"'{betas}': no column {c!r} to colour by")
            out[c] = table[c]
    frame = pd.DataFrame({c: pd.Series(v).reindex(index) for c, v in out.items()}, index=index)
    return frame[list(columns)]
