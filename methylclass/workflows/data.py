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
    taxonomy: Any = None  # methylclass.models.Taxonomy (class → family) or None
    covariates: list[str] = field(default_factory=list)  # names of the ``cov_*`` columns of X
    #: covariates every model adjusts for, whatever its ``pipeline.adjust`` (the array of a mixed store)
    auto_covariates: list[str] = field(default_factory=list)


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
    return _read_sample_column(data, index, col, "groups_column")


def _read_sample_column(data: Mapping[str, Any], index: pd.Index, col: str, option: str) -> pd.Series:
    """One per-sample column (group id, family, covariate) from the labels file or the beta table."""
    src = Path(data.get("labels") or data.get("betas") or "")
    if data.get("store") and not data.get("labels"):
        from ..io.store import Store

        table = Store.open(data["store"]).samples.set_index("sample")
        if col not in table.columns:
            raise DataError(f"store '{data['store']}': no sample-table column '{col}' (data.{option})")
        values = table[col].reindex(index)
        if values.isna().any():
            raise DataError(f"store '{data['store']}': {int(values.isna().sum())} samples have no '{col}'")
        return values.astype(str)
    scol = data.get("sample_column")
    try:
        if src.name.lower().endswith((".parquet", ".pq")):
            df = pd.read_parquet(src)
            df = df.reset_index() if df.index.name else df
        else:
            df = pd.read_csv(src, sep=None, engine="python", usecols=lambda c: c in (col, scol) or c == 0)
    except (OSError, ValueError) as exc:
        raise DataError(f"'{src}': cannot read column '{col}' (data.{option}): {exc}") from None
    if col not in df.columns:
        raise DataError(f"'{src}' has no column '{col}' (data.{option})")
    sid = scol if scol in df.columns else df.columns[0]
    groups = pd.Series(df[col].to_numpy(), index=df[sid].astype(str).str.strip()).reindex(index)
    if groups.isna().any():
        raise DataError(f"'{src}': {int(groups.isna().sum())} samples have no value in column '{col}'")
    return groups.astype(str)


def _store_betas(store, data: Mapping[str, Any]) -> pd.DataFrame:
    """Betas of a store; for a store mixing arrays, the CpGs every array present holds (``data.join``:
    ``inner``, the default there, or ``outer``), optionally restricted to the CpGs shared by the arrays
    named in ``data.common_probes`` (e.g. ``[HM450, EPICv2]``: a model that will meet both)."""
    from ..io.canonical import common_cpgs
    from ..io.store import load_betas

    join = data.get("join") or ("inner" if len(store.arrays) > 1 else "outer")
    X = load_betas(store, join=join)
    X = drop_sex_chromosomes(store, X, data)
    common = data.get("common_probes")
    if common:
        names = [a.strip() for a in common.split(",")] if isinstance(common, str) else [str(a) for a in common]
        keep = common_cpgs(names, store)
        X = X.loc[:, X.columns.isin(keep)]
        if X.shape[1] == 0:
            raise DataError(f"no CpG of store '{store.path}' is shared by the arrays {', '.join(names)}")
    return X


def drop_sex_chromosomes(store, X: pd.DataFrame, data: Mapping[str, Any]) -> pd.DataFrame:
    """``X`` without the CpGs on chrX/chrY of the store's probe table (``data.sex_chromosomes``, default
    ``conf/base.yaml`` ``store.sex_chromosomes`` = ``drop``; ``keep`` leaves them). Their methylation follows the
    sample's sex (X inactivation, chrY absent in women), not its tumour type: in a 450k cohort they outrank the
    class DMPs in variance (half of a 2,000-CpG variance selection), so a model or an out-of-distribution
    profile built on them sorts samples by sex."""
    from ..config import setting

    mode = data.get("sex_chromosomes") or setting({}, "store.sex_chromosomes")
    if mode != "drop":
        return X
    probes = store.probes([c for c in ("probe_id", "cpg_id", "chrom") if c in _probe_columns(store)])
    if "chrom" not in probes:
        return X
    sex = probes["chrom"].astype(str).str.removeprefix("chr").str.upper().isin(["X", "Y"]).to_numpy()
    ids = set()
    for col in ("probe_id", "cpg_id"):
        if col in probes:
            ids.update(probes.loc[sex, col].astype(str))
    keep = ~X.columns.astype(str).isin(list(ids))
    return X if keep.all() else X.loc[:, keep]


def _probe_columns(store) -> list[str]:
    """Column names of a store's probe table (without reading it)."""
    import pyarrow.parquet as pq

    from ..io.store import PROBES_FILE

    return list(pq.read_schema(store.path / PROBES_FILE).names)


def _read_taxonomy(data: Mapping[str, Any], y: pd.Series):
    """The class taxonomy of ``data.taxonomy`` (file or mapping) or ``data.family_column`` (None without)."""
    from ..models.taxonomy import Taxonomy, load_taxonomy

    if data.get("taxonomy"):
        return load_taxonomy(data["taxonomy"])
    col = data.get("family_column")
    if not col:
        return None
    fam = _read_sample_column(data, y.index, col, "family_column")
    pairs = pd.DataFrame({"c": y.astype(str), "f": fam}).drop_duplicates()
    twice = pairs["c"][pairs["c"].duplicated()].tolist()
    if twice:
        raise DataError(f"data.family_column '{col}': classes {twice[:5]} appear in more than one family")
    return Taxonomy(dict(zip(pairs["c"], pairs["f"])))


def _read_store(data: Mapping[str, Any], blocks: tuple[str, ...]) -> tuple[pd.DataFrame, pd.Series | None]:
    """Betas of a preprocessing store (+ its CNV feature table) and labels from a file or the sample table."""
    from ..io.betas_table import read_labels
    from ..io.store import Store

    store = Store.open(data.get("store") or data["betas"])
    X = _store_betas(store, data)
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


def _sample_arrays(path: Path, samples: pd.Index) -> tuple[pd.Series, Any]:
    """``(array per sample, store)``: the store sample table's ``array`` column (the store's one array when
    the table has none)."""
    from ..io.store import Store

    st = Store.open(path)
    table = st.samples.set_index(st.samples["sample"].astype(str))
    arrays = table["array"].reindex(samples.astype(str)).astype(str) if "array" in table else \
        pd.Series(st.arrays[0], index=samples)
    return arrays.set_axis(samples), st


def _array_summary(path: Path, samples: pd.Index, data: Mapping[str, Any]) -> dict[str, Any]:
    """The arrays of the training samples (recorded in the data summary, hence in a bundle's card)."""
    arrays, st = _sample_arrays(path, samples)
    return {"arrays": {str(k): int(v) for k, v in arrays.value_counts().sort_index().items()},
            "join": data.get("join") or ("inner" if len(st.arrays) > 1 else "outer"),
            "common_probes": data.get("common_probes")}


def resolved_data_block(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """``cfg["data"]`` with the store settings of the run config filled in (``store.sex_chromosomes``,
    ``store.array_covariate``; a value in the data block itself wins), for :func:`load_dataset`."""
    from ..config import setting

    data = dict(cfg.get("data") or {})
    for key in ("sex_chromosomes", "array_covariate"):
        if data.get(key) is None:
            data[key] = setting(cfg, f"store.{key}")
    return data


def _encode_covariate(values: pd.Series) -> tuple[dict[str, float], dict[str, int]]:
    """Numeric codes of a covariate's levels (sorted levels → 0, 1, …; keeps X a float matrix) and counts."""
    levels = {str(v): float(i) for i, v in enumerate(sorted(values.unique()))}
    return levels, {str(k): int(v) for k, v in values.value_counts().items()}


def is_store(path: str | Path) -> bool:
    """True for a preprocessing store folder (``methylclass preprocess`` output)."""
    return (Path(path) / "_manifest.json").is_file() and (Path(path) / "betas").is_dir()


def load_dataset(data: Mapping[str, Any]) -> Dataset:
    """Read the labelled data described by a config's ``data`` block (labels required).

    ``data.betas`` names a beta table (:func:`~methylclass.io.betas_table.read_beta_table`); ``data.store`` a
    preprocessing store (betas of every stored sample; labels from ``labels`` or a sample-table column such
    as the sheet's ``Sample_Group``). ``feature_blocks: [cnv_]`` adds the copy-number features (the table's
    ``cnv_*`` columns, or the store's ``cnv_features.parquet``). ``exclude_classes`` leaves samples of those
    labels out (e.g. the normal references of a cohort). ``covariates: {name: column}`` adds ``cov_<name>``
    columns (numeric codes of the sorted levels; the level map goes to ``summary["covariates"]``). A store whose
    training samples come from more than one array adds ``cov_array`` (the sample table's ``array``) as well,
    listed in ``Dataset.auto_covariates`` — every model then adjusts for it in-fold — unless
    ``data.array_covariate`` (else ``conf/base.yaml`` ``store.array_covariate``) is false.

    Parameters
    ----------
    data : mapping
        A config's ``data`` block (``betas`` or ``store``, ``label_column`` or ``labels``, and the optional
        keys above).

    Returns
    -------
    Dataset
        The samples × features table, the labels, the groups, covariates and a summary for reports.

    Raises
    ------
    ConfigError
        No input or no labels configured.
    DataError
        A missing input (naming its producer when the block gives one) or unreadable data.
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
    if data.get("store") or is_store(path):
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
    if data.get("store") or is_store(path):
        summary.update(_array_summary(path, X.index, data))
    if data.get("store"):
        summary["store"] = str(data["store"])
    summary.update(feature_blocks=list(blocks), excluded_classes=excluded,
                   n_block_features=int(sum(str(c).startswith(blocks) for c in X.columns)) if blocks else 0)
    taxonomy = _read_taxonomy(data, y)
    covariates, info = [], {}
    for name, col in (data.get("covariates") or {}).items():  # e.g. {material: Material}: cov_material
        # numeric codes keep X a float matrix; the level map goes to the summary / card (prediction maps the
        # level names of new samples through it: models.covariates)
        cov = f"cov_{name}"
        values = _read_sample_column(data, X.index, str(col), f"covariates.{name}")
        levels, counts = _encode_covariate(values)
        X = X.assign(**{cov: values.map(levels).to_numpy(dtype=float)})
        covariates.append(cov)
        info[cov] = {"levels": levels, "counts": counts, "column": str(col), "source": "sample column"}
    auto = []
    if (data.get("store") or is_store(path)) and "cov_array" not in covariates and _array_covariate_on(data):
        # a store mixing arrays: each array's probes have their own affinities (and scanner), a technical shift
        # of every CpG that the models would otherwise learn as signal (mixed-cohort nested CV 0.69 vs 0.92
        # with the adjustment, README "Mixed-array cohorts"); the array becomes the in-fold adjusted covariate
        arrays, _ = _sample_arrays(path, X.index)
        if arrays.nunique() > 1:
            levels, counts = _encode_covariate(arrays)
            X = X.assign(cov_array=arrays.map(levels).to_numpy(dtype=float))
            covariates.append("cov_array")
            auto.append("cov_array")
            info["cov_array"] = {"levels": levels, "counts": counts, "column": "array", "source": "array"}
    if taxonomy is not None:
        summary["taxonomy"] = taxonomy.to_dict()
    if covariates:
        summary["covariates"] = info
    return Dataset(X=X, y=y, groups=groups, summary=summary, taxonomy=taxonomy, covariates=covariates,
                   auto_covariates=auto)


def _array_covariate_on(data: Mapping[str, Any]) -> bool:
    """``data.array_covariate``, else ``conf/base.yaml`` ``store.array_covariate``."""
    from ..config import setting

    value = data.get("array_covariate")
    return bool(setting({}, "store.array_covariate") if value is None else value)


def cli_data_block(*, betas: str | Path, label_column: str | None = None, sample_column: str | None = None,
                   labels: str | Path | None = None, orientation: str = "auto",
                   groups_column: str | None = None, common_probes: str | None = None) -> dict[str, Any]:
    """A ``data`` config block from command-line options (replaces the configured data wholesale)."""
    block = {"name": Path(betas).name, "betas": str(betas), "label_column": label_column,
             "sample_column": sample_column, "labels": None if labels is None else str(labels),
             "orientation": orientation, "groups_column": groups_column}
    if common_probes:
        block["common_probes"] = [a.strip() for a in str(common_probes).split(",") if a.strip()]
    return block

