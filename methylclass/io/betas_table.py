"""Read beta-value tables in the layouts users actually hand in: samples × CpGs or CpGs × samples
(CSV / TSV / Parquet, gzip ok), GEO series matrices, and methylprep outputs.

:func:`read_beta_table` returns ``(X, y)``: ``X`` a float32 DataFrame (samples × CpGs, index = sample ids)
and ``y`` a string Series of class labels aligned with ``X`` (or ``None`` when no label was asked for).
Every problem with the input raises :class:`~methylclass.errors.DataError` naming the file and the fix.

Why hand-written: no library reads all of these layouts (GEO ``!Sample_characteristics_ch1`` "key: value"
cells, methylprep per-sample ``*_processed.csv`` exports, orientation detection from CpG-like ids); parsing
itself is delegated to pandas / pyarrow.
"""

from __future__ import annotations

import gzip
import io
import logging
import pickle
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import DataError

log = logging.getLogger(__name__)

Orientation = Literal["auto", "samples_x_cpgs", "cpgs_x_samples"]
ORIENTATIONS = ("auto", "samples_x_cpgs", "cpgs_x_samples")

#: ids that look like Illumina probe ids: cg/ch/rs/nv probes, with an optional EPICv2 suffix (``_TC21``)
CPG_ID = re.compile(r"^(cg\d{6,}|ch\.[\w.]+|rs\d+|nv\.[\w.]+)(_[A-Z]{2}\d+)?$")
#: column names (lower-case) that hold sample ids when no ``sample_column`` is given
_ID_NAMES = {"", "unnamed: 0", "id_ref", "ilmnid", "probe_id", "sample", "sample_id", "sample_name",
             "samples", "gsm", "geo_accession", "id", "index"}
#: columns of GenomeStudio / GEO processed tables that are not betas (detection p-values and friends)
_NON_BETA = re.compile(r"(detection|det\.?p|pval|p[._ ]?value)", re.IGNORECASE)
_PARQUET = (".parquet", ".pq")
_PICKLE = (".pkl", ".pickle", ".pkl.gz")
_MAX_LISTED = 12


def is_cpg_id(values: pd.Index | pd.Series | np.ndarray) -> np.ndarray:
    """Boolean mask of ids that look like Illumina probe ids (``cg…``, ``ch.…``, ``rs…``, EPICv2 suffixes)."""
    s = pd.Series(np.asarray(values, dtype=object)).astype(str).str.strip()
    return s.str.match(CPG_ID.pattern).to_numpy(dtype=bool)


def _in_blocks(columns, prefixes: tuple[str, ...]) -> np.ndarray:
    """Mask of column names starting with one of the feature-block prefixes."""
    if not prefixes:
        return np.zeros(len(columns), dtype=bool)
    return np.asarray(pd.Index(columns).astype(str).str.startswith(prefixes), dtype=bool)


def _listing(items, limit: int = _MAX_LISTED) -> str:
    items = [str(i) for i in items]
    more = f", … ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _first_line(path: Path) -> str:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            return fh.readline()
    except (OSError, EOFError) as exc:
        raise DataError(f"'{path}' cannot be read: {exc}") from None


def _sniff_sep(line: str) -> str:
    counts = {sep: line.count(sep) for sep in ("\t", ",", ";")}
    sep = max(counts, key=counts.get)
    return sep if counts[sep] else ","


# ---------------------------------------------------------------------------------------------- loaders
def _read_delimited(path: Path) -> pd.DataFrame:
    sep = _sniff_sep(_first_line(path))
    try:
        return pd.read_csv(path, sep=sep, low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"'{path}' is empty: no header and no rows") from None
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"'{path}' cannot be parsed as a {'tab' if sep == chr(9) else repr(sep)}-separated "
                        f"table: {exc}") from None


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except (OSError, ValueError, ImportError) as exc:  # ArrowInvalid is a ValueError, ArrowIOError an OSError
        raise DataError(f"'{path}' cannot be read as Parquet: {exc}") from None
    return _index_to_column(df)


def _read_pickle(path: Path) -> pd.DataFrame:
    """methylprep's default ``beta_values.pkl`` (probes × samples). Pickles run code when loaded: only open
    files you produced yourself."""
    try:
        obj = pd.read_pickle(path)
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, AttributeError, ImportError, TypeError) as exc:
        raise DataError(f"'{path}' cannot be read as a pandas pickle: {exc}") from None
    if not isinstance(obj, pd.DataFrame):
        raise DataError(f"'{path}' holds a {type(obj).__name__}, not a beta-value DataFrame")
    return _index_to_column(obj)


def _index_to_column(df: pd.DataFrame) -> pd.DataFrame:
    if isinstance(df.index, pd.RangeIndex) and df.index.name is None:
        return df
    name = df.index.name or "id"
    return df.rename_axis(name).reset_index()


def _read_methylprep_dir(path: Path) -> pd.DataFrame:
    """A methylprep output folder: ``beta_values.{parquet,pkl,csv}`` or per-sample ``*_processed.csv``."""
    for name in ("beta_values.parquet", "beta_values.pkl", "beta_values.csv", "beta_values.csv.gz"):
        cand = path / name
        if cand.is_file():
            return _load_any(cand)
    processed = sorted(path.glob("*_processed.csv")) + sorted(path.glob("*_processed.csv.gz"))
    if not processed:
        raise DataError(f"'{path}' is a folder without a methylprep output (beta_values.parquet/.pkl or "
                        f"*_processed.csv); point --betas at a table file")
    cols: dict[str, pd.Series] = {}
    for f in processed:  # one file per sample
        sample = re.sub(r"_processed\.csv(\.gz)?$", "", f.name)
        try:
            df = pd.read_csv(f, usecols=lambda c: c in ("IlmnID", "beta_value"), index_col="IlmnID")
        except (ValueError, OSError) as exc:
            raise DataError(f"'{f}' is not a methylprep *_processed.csv export (needs columns IlmnID and "
                            f"beta_value): {exc}") from None
        if "beta_value" not in df.columns:
            raise DataError(f"'{f}' has no beta_value column")
        cols[sample] = df["beta_value"]
    return pd.DataFrame(cols).rename_axis("IlmnID").reset_index()


def _read_geo_series_matrix(path: Path, *, label_key: str | None, sample_key: str | None
                            ) -> tuple[pd.DataFrame, pd.Series | None]:
    """A GEO series matrix: ``!Sample_*`` header lines, then the ``ID_REF × GSM`` table.

    Returns the CpGs × samples table (first column ``ID_REF``) and, when ``label_key`` is given, the label of
    every sample, looked up in ``!Sample_characteristics_ch1`` cells (``"key: value"``, key matched without
    case) or in a ``!Sample_<field>`` line (``title``, ``source_name_ch1``, …).
    """
    opener = gzip.open if path.name.endswith(".gz") else open
    fields: dict[str, list[str]] = {}
    characteristics: list[list[str]] = []
    table_lines: list[str] = []
    in_table = False
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if in_table:
                if line.startswith("!series_matrix_table_end"):
                    break
                table_lines.append(line)
            elif line.startswith("!series_matrix_table_begin"):
                in_table = True
            elif line.startswith("!Sample_"):
                key, *cells = line.rstrip("\r\n").split("\t")
                cells = [c.strip().strip('"') for c in cells]
                key = key[len("!Sample_"):].lower()
                if key.startswith("characteristics"):
                    characteristics.append(cells)
                else:
                    fields.setdefault(key, cells)
    accessions = fields.get("geo_accession")
    if not accessions:
        raise DataError(f"'{path}' looks like a GEO series matrix but has no !Sample_geo_accession line")
    if len(table_lines) <= 1:
        raise DataError(f"'{path}' is a GEO series matrix without a beta table (only "
                        f"{max(len(table_lines) - 1, 0)} data rows); the betas of this series are probably in "
                        f"its supplementary files")
    table = pd.read_csv(io.StringIO("".join(table_lines)), sep="\t", low_memory=False)
    table = table.rename(columns={table.columns[0]: "ID_REF"})
    # per-sample characteristics "key: value" → {key: [value per sample]}
    chars: dict[str, list[str | None]] = {}
    for row in characteristics:
        for i, cell in enumerate(row[: len(accessions)]):
            if ":" not in cell:
                continue
            k, v = cell.split(":", 1)
            chars.setdefault(k.strip().lower(), [None] * len(accessions))[i] = v.strip()
    if sample_key is not None:
        ids = fields.get(_geo_key(sample_key))
        if ids is None:
            raise DataError(f"'{path}': no !Sample_{sample_key} line to take sample ids from; available: "
                            f"{_listing(sorted(fields))}")
        rename = dict(zip(accessions, ids))
        table = table.rename(columns=rename)
        accessions = ids
    labels = None
    if label_key is not None:
        k = _geo_key(label_key)
        if k in chars:
            values = chars[k]
        elif k in fields:
            values = fields[k]
        else:
            raise DataError(f"'{path}': label '{label_key}' is neither a !Sample_characteristics_ch1 key "
                            f"(found: {_listing(sorted(chars)) or 'none'}) nor a !Sample_ field "
                            f"(found: {_listing(sorted(fields))})")
        labels = pd.Series(values, index=pd.Index(accessions, name="sample"), name=label_key)
    return table, labels


def _geo_key(key: str) -> str:
    """``"!Sample_title"``, ``"Sample_title"`` and ``"title"`` all name the ``title`` field."""
    return key.strip().lower().removeprefix("!").removeprefix("sample_")


def _is_geo(path: Path) -> bool:
    return _first_line(path).startswith(("!", "^"))


def _load_any(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    if name.endswith(_PARQUET):
        return _read_parquet(path)
    if name.endswith(_PICKLE):
        return _read_pickle(path)
    return _read_delimited(path)


# ---------------------------------------------------------------------------------------------- shaping
def _id_column(df: pd.DataFrame, sample_column: str | None, path: Path, has_label_file: bool) -> str | None:
    if sample_column is not None and not (has_label_file and sample_column not in df.columns):
        if sample_column not in df.columns:
            raise DataError(f"'{path}' has no sample-id column '{sample_column}'; columns include: "
                            f"{_listing(df.columns)}")
        return sample_column
    first = df.columns[0]
    if str(first).strip().lower() in _ID_NAMES or not pd.api.types.is_numeric_dtype(df[first]):
        return first
    return None


def _orient(df: pd.DataFrame, id_col: str | None, orientation: str, label_column: str | None,
            path: Path) -> str:
    if orientation != "auto":
        return orientation
    others = [c for c in df.columns if c != id_col]
    frac_cols = float(is_cpg_id(pd.Index(others)).mean()) if others else 0.0
    frac_rows = float(is_cpg_id(df[id_col]).mean()) if id_col is not None and len(df) else 0.0
    if frac_cols >= 0.5 and frac_cols >= frac_rows:
        return "samples_x_cpgs"
    if frac_rows >= 0.5:
        return "cpgs_x_samples"
    if label_column is not None and label_column in df.columns:
        return "samples_x_cpgs"
    raise DataError(f"'{path}': cannot tell whether rows or columns are CpGs (neither holds probe ids such as "
                    f"cg00000029); pass orientation='samples_x_cpgs' or 'cpgs_x_samples' "
                    f"(--orientation on the command line)")


def _to_float(df: pd.DataFrame, path: Path, what_rows: str) -> pd.DataFrame:
    """Cast to float32; non-numeric cells raise a DataError naming the first offending cells."""
    bad_cols = [c for c, t in df.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
    if bad_cols:
        sub = df[bad_cols].apply(pd.to_numeric, errors="coerce")
        bad = sub.isna() & df[bad_cols].notna()
        if bad.to_numpy().any():
            r, c = np.argwhere(bad.to_numpy())[0]
            n_bad = int(bad.to_numpy().sum())
            raise DataError(f"'{path}': {n_bad} non-numeric beta value(s), e.g. {df[bad_cols[c]].iloc[r]!r} "
                            f"at {what_rows} '{df.index[r]}', column '{bad_cols[c]}'")
        df = df.copy()
        df[bad_cols] = sub
    try:
        return df.astype(np.float32)
    except (TypeError, ValueError) as exc:
        raise DataError(f"'{path}': beta values cannot be converted to numbers: {exc}") from None


def refuse_infinite(X: pd.DataFrame, where: str) -> None:
    """Refuse ``inf``/``-inf`` cells of a samples × features table (NaN is a missing value; an infinity is a
    broken export).

    Parameters
    ----------
    X : DataFrame
        Numeric samples × features table.
    where : str
        What the table is, first in the message (e.g. ``"'betas.csv'"`` or ``"predict"``).

    Raises
    ------
    DataError
        One line naming the first infinite cell's column and sample, and how many there are.
    """
    values = X.to_numpy()
    bad = np.isinf(values)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DataError(f"{where}: column '{X.columns[c]}' holds a non-finite value ({values[r, c]}) for "
                        f"'{X.index[r]}' ({int(bad.sum())} infinite cell(s) in all)")


def _check_mangled_duplicates(columns: pd.Index, path: Path) -> None:
    """pandas renames a repeated CSV header ``cg1`` to ``cg1.1``: refuse it instead of dropping it."""
    names = set(map(str, columns))
    for c in map(str, columns):
        base, dot, num = c.rpartition(".")
        if dot and num.isdigit() and base in names:
            raise DataError(f"'{path}': column '{base}' appears more than once in the header")


def _check_range(X: pd.DataFrame, path: Path) -> None:
    refuse_infinite(X, f"'{path}'")
    values = X.to_numpy()
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise DataError(f"'{path}': the table holds no finite beta value")
    lo, hi = float(finite.min()), float(finite.max())
    if lo >= -1e-6 and hi <= 1 + 1e-6:
        return
    if lo < 0:
        hint = (" — these look like M-values; convert with beta = 2**M / (1 + 2**M) "
                "(methylclass needs beta values in [0, 1])")
    elif hi <= 100:
        hint = " — these look like percentages; divide by 100"
    else:
        hint = " — these look like raw intensities, not beta values"
    raise DataError(f"'{path}': beta values must lie in [0, 1] but range from {lo:.4g} to {hi:.4g}{hint}")


def _check_unique(index: pd.Index, path: Path, what: str) -> None:
    dup = index[index.duplicated()].unique()
    if len(dup):
        raise DataError(f"'{path}': {len(dup)} duplicate {what} id(s): {_listing(dup)}")


def read_labels(labels: str | Path, sample_column: str | None = None, label_column: str | None = None
                ) -> pd.Series:
    """Labels from a label file (CSV/TSV/Parquet): Series indexed by sample id (``sample_column`` or the
    first column), values from ``label_column`` (or the second of two columns)."""
    lpath = Path(labels)
    if not lpath.is_file():
        raise DataError(f"label file '{lpath}' does not exist")
    df = _load_any(lpath)
    if df.empty:
        raise DataError(f"label file '{lpath}' is empty")
    scol = sample_column if sample_column in df.columns else df.columns[0]
    if label_column is not None:
        if label_column not in df.columns:
            raise DataError(f"label file '{lpath}' has no label column '{label_column}'; columns: "
                            f"{_listing(df.columns)}")
        lcol = label_column
    elif df.shape[1] == 2:
        lcol = df.columns[1]
    else:
        raise DataError(f"label file '{lpath}' has {df.shape[1]} columns; name the label column "
                        f"(label_column=…, --label-column): {_listing(df.columns)}")
    s = pd.Series(df[lcol].to_numpy(), index=pd.Index(df[scol].astype(str).str.strip(), name="sample"),
                  name=str(lcol))
    _check_unique(s.index, lpath, "sample")
    return s


def _finish_labels(y: pd.Series, X: pd.DataFrame, path: Path, source: str) -> pd.Series:
    y = y.reindex(X.index)
    missing = y.isna() | (y.astype(str).str.strip() == "")
    if missing.any():
        raise DataError(f"'{path}': {int(missing.sum())} of {len(y)} samples have no label in {source}: "
                        f"{_listing(y.index[missing])}")
    return y.astype(str).str.strip().rename(y.name)


# ---------------------------------------------------------------------------------------------- public API
def read_beta_table(path: str | Path, *, label_column: str | None = None, sample_column: str | None = None,
                    labels: str | Path | None = None, orientation: Orientation = "auto",
                    feature_blocks: Sequence[str] = ()) -> tuple[pd.DataFrame, pd.Series | None]:
    """Read a beta-value table into ``(X, y)``.

    Parameters
    ----------
    path
        CSV / TSV / Parquet (``.gz`` ok), a GEO series matrix (``*_series_matrix.txt.gz``), a methylprep
        ``beta_values.pkl`` / ``.parquet``, or a methylprep output folder (``*_processed.csv`` per sample).
    label_column
        Column holding the class label (samples × CpGs tables and label files); for GEO series matrices the
        ``!Sample_characteristics_ch1`` key (e.g. ``"subgroup"``) or a ``!Sample_`` field (``"title"``);
        for CpGs × samples tables a row with that id. ``None`` → ``y`` is ``None`` (prediction).
    sample_column
        Column holding sample ids (default: the first column when it is not numeric). With a label file it
        names the label file's id column (and the table's, if the table has it). For a GEO series matrix,
        the ``!Sample_`` field to use as ids (default ``geo_accession``).
    labels
        A separate label file (CSV / TSV / Parquet) with a sample-id column (``sample_column`` or its first
        column) and a label column (``label_column``, or the second of two columns).
    orientation
        ``"auto"`` (CpG-like ids such as ``cg00000029``/``ch.1.…``/``rs…`` decide), ``"samples_x_cpgs"`` or
        ``"cpgs_x_samples"``.
    feature_blocks
        Prefixes of non-beta feature columns to keep (e.g. ``("cnv_",)`` for copy-number features); they are
        numeric but exempt from the [0, 1] check. Other non-CpG columns are set aside in ``"auto"`` mode.

    Returns
    -------
    X : DataFrame, samples × CpGs, float32 (NaN kept for missing values), index named ``sample``;
        ``X.attrs`` records ``source`` and ``dropped_columns`` (metadata / detection-p columns left out).
    y : Series of str labels aligned with ``X.index`` or ``None``.

    Raises
    ------
    DataError
        Missing file, empty table, missing label column (the columns present are listed), non-numeric betas,
        betas outside [0, 1] (M-values / percentages are recognised and named), duplicate sample or CpG ids,
        samples without a label.
    """
    path = Path(path)
    prefixes = tuple(feature_blocks or ())
    if orientation not in ORIENTATIONS:
        raise DataError(f"orientation must be one of {', '.join(ORIENTATIONS)}, not {orientation!r}")
    if not path.exists():
        raise DataError(f"beta table '{path}' does not exist")
    geo_labels: pd.Series | None = None
    if path.is_dir():
        raw = _read_methylprep_dir(path)
        is_geo = False
    elif not path.name.lower().endswith(_PARQUET + _PICKLE) and _is_geo(path):
        is_geo = True
        raw, geo_labels = _read_geo_series_matrix(
            path, label_key=label_column if labels is None else None, sample_key=sample_column)
        orientation = "cpgs_x_samples"
    else:
        is_geo = False
        raw = _load_any(path)
    if raw.shape[0] == 0 or raw.shape[1] == 0:
        raise DataError(f"'{path}' is empty: {raw.shape[0]} rows × {raw.shape[1]} columns")
    raw.columns = [str(c).strip() for c in raw.columns]

    id_col = "ID_REF" if is_geo else _id_column(raw, sample_column, path, labels is not None)
    orient = _orient(raw, id_col, orientation, label_column, path)
    dropped: list[str] = []
    y: pd.Series | None = None

    if orient == "samples_x_cpgs":
        if id_col is None:
            raise DataError(f"'{path}' has no sample-id column (its first column is numeric); name it with "
                            f"sample_column=… (--sample-column)")
        ids = raw[id_col].astype(str).str.strip()
        body = raw.drop(columns=[id_col])
        if label_column is not None and labels is None:
            if label_column not in body.columns:
                non_cpg = [c for c in body.columns if not CPG_ID.match(c)]
                raise DataError(f"'{path}' has no label column '{label_column}'; non-CpG columns present: "
                                f"{_listing(non_cpg) or 'none'} ({body.shape[1]} columns in all)")
            y = pd.Series(body[label_column].to_numpy(), index=pd.Index(ids, name="sample"), name=label_column)
            body = body.drop(columns=[label_column])
        _check_mangled_duplicates(pd.Index(body.columns), path)
        if orientation == "auto":  # keep probe columns; metadata columns (age, sex, batch…) are set aside
            keep = is_cpg_id(pd.Index(body.columns)) | _in_blocks(body.columns, prefixes)
            dropped = [str(c) for c in body.columns[~keep]]
            body = body.loc[:, keep]
        body.index = pd.Index(ids, name="sample")
        X = _to_float(body, path, "sample")
    else:
        if id_col is None:
            raise DataError(f"'{path}' has no probe-id column (its first column is numeric)")
        body = raw.set_index(id_col)
        body.index = body.index.astype(str).str.strip()
        if label_column is not None and labels is None and not is_geo:
            if label_column not in body.index:
                raise DataError(f"'{path}' is CpGs × samples and has no row '{label_column}'; give the labels "
                                f"in a separate file (labels=…, --labels FILE)")
            y = body.loc[label_column].rename(label_column)
            body = body.drop(index=label_column)
        non_beta = [c for c in body.columns if _NON_BETA.search(c)]
        if non_beta:
            dropped = non_beta
            body = body.drop(columns=non_beta)
        _check_unique(body.index, path, "CpG")
        X = _to_float(body, path, "CpG").T
        X.index = pd.Index(X.index.astype(str), name="sample")
        if is_geo:
            y = geo_labels
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"'{path}' holds no beta values ({X.shape[0]} samples × {X.shape[1]} CpGs)")
    X.columns = pd.Index(X.columns.astype(str), name="cpg")
    _check_unique(X.index, path, "sample")
    _check_unique(X.columns, path, "CpG")
    block = _in_blocks(X.columns, prefixes)
    if block.all():
        raise DataError(f"'{path}' holds only {'/'.join(prefixes)} feature columns and no beta values")
    refuse_infinite(X, f"'{path}'")
    betas = X.loc[:, ~block] if block.any() else X
    _check_range(betas, path)
    if block.any():
        X.loc[:, ~block] = betas.clip(0.0, 1.0)
    else:
        X = X.clip(0.0, 1.0)  # float round-off (1.0000001) only: the range was checked above

    if labels is not None:
        y = _finish_labels(read_labels(labels, sample_column, label_column), X, path,
                           f"label file '{labels}'")
    elif y is not None:
        y = _finish_labels(y, X, path, f"column '{label_column}'")
    if dropped:
        log.info("%s: left out %d non-beta column(s): %s", path, len(dropped), _listing(dropped))
    X.attrs["source"] = str(path)
    X.attrs["dropped_columns"] = dropped
    return X, y
