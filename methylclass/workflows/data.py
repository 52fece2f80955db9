"""The labelled data of a run: read a beta table or a preprocessing store (+ labels, groups, feature blocks)
into a :class:`Dataset` with its summary (counts, missing share, source checksum) for reports."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ..io.betas_table import read_beta_table


@dataclass
class Dataset:
    """A labelled beta table ready for cross-validation, with its summary for reports."""

    X: pd.DataFrame
    y: pd.Series
    groups: pd.Series | None
    summary: dict[str, Any] = field(default_factory=dict)


def file_sha256(path: str | Path, *, chunk: int = 1 << 20) -> str | None:
    """SHA-256 of a file (None for folders)."""
    path = Path(path)
    if not path.is_file():
        return None
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def data_summary(X: pd.DataFrame, y: pd.Series | None, source: str | Path) -> dict[str, Any]:
    """Sample/feature counts, class counts, missing-value share, source path and its SHA-256."""
    values = X.to_numpy()
    return {"source": str(source), "sha256": file_sha256(source), "n_samples": int(X.shape[0]),
            "n_features": int(X.shape[1]),
            "missing_fraction": float(np.isnan(values).mean()) if values.size else 0.0,
            "class_counts": {} if y is None else {str(k): int(v) for k, v in y.value_counts().items()}}


def _read_groups(data: Mapping[str, Any], index: pd.Index) -> pd.Series | None:
    col = data.get("groups_column")
    if not col:
        return None
    src = Path(data.get("labels") or data["betas"])
    scol = data.get("sample_column")
    try:
        if src.name.lower().endswith((".parquet", ".pq")):
            df = pd.read_parquet(src)
            df = df.reset_index() if df.index.name else df
        else:
            df = pd.read_csv(src, sep=None, engine="python", usecols=lambda c: c in (col, scol) or c == 0)
    except (OSError, ValueError) as exc:
        raise DataError(f"'{src}': cannot read group column '{col}': {exc}") from None
    if col not in df.columns:
        raise DataError(f"'{src}' has no group column '{col}' (data.groups_column)")
    sid = scol if scol in df.columns else df.columns[0]
    groups = pd.Series(df[col].to_numpy(), index=df[sid].astype(str).str.strip()).reindex(index)
    if groups.isna().any():
        raise DataError(f"'{src}': {int(groups.isna().sum())} samples have no value in group column '{col}'")
    return groups.astype(str)


def _read_store(data: Mapping[str, Any], blocks: tuple[str, ...]) -> tuple[pd.DataFrame, pd.Series | None]:
    """Betas of a preprocessing store (+ its CNV feature table) and labels from a file or the sample table."""
    from ..io.betas_table import read_labels
    from ..io.store import Store, load_betas

    store = Store.open(data["store"])
    X = load_betas(store)
    for prefix in blocks:
        if prefix != "cnv_":
            raise ConfigError(f"data.feature_blocks: a store provides the 'cnv_' block only, not '{prefix}'")
        from ..pp.cnv.features import read_cnv_features

        cnv = read_cnv_features(store.path)
        X = X.join(cnv.reindex(X.index).astype(np.float32))
    label_column = data.get("label_column")
    if data.get("labels"):
        y = read_labels(data["labels"], data.get("sample_column"), label_column).reindex(X.index)
    elif label_column:
        table = store.samples.set_index("sample")
        if label_column not in table.columns:
            raise DataError(f"store '{data['store']}': no sample-table column '{label_column}'; columns: "
                            f"{', '.join(map(str, table.columns))}")
        y = table[label_column].reindex(X.index).rename(label_column)
    else:
        y = None
    if y is not None and y.isna().any():
        missing = list(y.index[y.isna()])
        raise DataError(f"store '{data['store']}': {len(missing)} stored samples have no label: "
                        f"{', '.join(map(str, missing[:10]))}")
    return X, None if y is None else y.astype(str)


def is_store(path: str | Path) -> bool:
    """True for a preprocessing store folder (``methylclass preprocess`` output)."""
    return (Path(path) / "_manifest.json").is_file() and (Path(path) / "betas").is_dir()


def load_dataset(data: Mapping[str, Any]) -> Dataset:
    """Read the labelled data described by a config's ``data`` block (labels required).

    ``data.betas`` names a beta table (:func:`~methylclass.io.betas_table.read_beta_table`); ``data.store`` a
    preprocessing store (betas of every stored sample; labels from ``labels`` or a sample-table column such
    as the sheet's ``Sample_Group``). ``feature_blocks: [cnv_]`` adds the copy-number features (the table's
    ``cnv_*`` columns, or the store's ``cnv_features.parquet``). ``exclude_classes`` leaves samples of those
    labels out (e.g. the normal references of a cohort).
    """
    if not data.get("betas") and not data.get("store"):
        raise ConfigError("no input configured: give data.betas (--betas TABLE) or data.store")
    if not data.get("label_column") and not data.get("labels"):
        raise ConfigError("no labels configured: give data.label_column (--label-column) or data.labels "
                          "(--labels FILE)")
    blocks = tuple(data.get("feature_blocks") or ())
    if data.get("betas") and not data.get("store") and is_store(data["betas"]):
        data = {**data, "store": data["betas"], "betas": None}  # --betas STORE: a preprocessing store
    path = Path(data.get("store") or data["betas"])
    if not path.exists():
        hint = f"; produce it with: {data['producer']}" if data.get("producer") else ""
        raise DataError(f"{'store' if data.get('store') else 'beta table'} '{path}' does not exist{hint}")
    if data.get("store"):
        X, y = _read_store(data, blocks)
    else:
        X, y = read_beta_table(path, label_column=data.get("label_column"),
                               sample_column=data.get("sample_column"), labels=data.get("labels"),
                               orientation=data.get("orientation", "auto"), feature_blocks=blocks)
    assert y is not None
    excluded = [str(c) for c in (data.get("exclude_classes") or [])]
    if excluded:
        keep = ~y.isin(excluded)
        X, y = X.loc[keep], y.loc[keep]
    groups = _read_groups(data, X.index)
    summary = data_summary(X, y, path)
    if data.get("store"):
        summary["store"] = str(data["store"])
    summary.update(feature_blocks=list(blocks), excluded_classes=excluded,
                   n_block_features=int(sum(str(c).startswith(blocks) for c in X.columns)) if blocks else 0)
    return Dataset(X=X, y=y, groups=groups, summary=summary)


def cli_data_block(*, betas: str | Path, label_column: str | None = None, sample_column: str | None = None,
                   labels: str | Path | None = None, orientation: str = "auto",
                   groups_column: str | None = None) -> dict[str, Any]:
    """A ``data`` config block from command-line options (replaces the configured data wholesale)."""
    return {"name": Path(betas).name, "betas": str(betas), "label_column": label_column,
            "sample_column": sample_column, "labels": None if labels is None else str(labels),
            "orientation": orientation, "groups_column": groups_column}

