"""The Parquet store of a preprocessed cohort: layout, atomic writes, resume, reading back, probe statistics.

Layout of a store folder (every file is written under a temporary name and renamed into place)::

    STORE/_manifest.json        what the store holds: array, probe-table hash, method, n_probes, versions
    STORE/probes.parquet        the probe table, row i = element i of every per-sample array
    STORE/betas/<name>.parquet  ONE FILE PER SAMPLE, one row: sample, beta, detection_p, meth, unmeth
                                (list<float32> of n_probes each); the sample's record is in the footer
    STORE/samples.parquet       the sample table: one row per sample, status ok|failed, reason, QC, sheet
    STORE/_SUCCESS              written last: the store is complete

Why per-sample arrays in per-sample files: a wide frame with one column per probe (450k–935k columns) is
pathological for Parquet and Spark; a long (sample, probe, value) table costs a string per value. One row of
float arrays per sample reads back at ~8 ms per 450k sample (byte-stream-split + zstd, ~5 MB per sample), a
``samples=`` selection opens only the files it needs, ``probes=`` is a numpy take on the decoded array, and a
crashed run leaves whole sample files behind (resume = skip the files present).

A run (:class:`methylclass.io.store_writer.StoreWriter`) removes ``_SUCCESS`` when it starts and writes
``samples.parquet`` then ``_SUCCESS`` when it ends, so a store whose run was interrupted is refused by
:meth:`Store.open` (it is resumable, never silently partial).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .._atomic import atomic_write
from ..errors import ConfigError, DataError

FORMAT = "methylclass-store"
FORMAT_VERSION = 1
INFO_FILE, PROBES_FILE, SAMPLES_FILE, SUCCESS_FILE, LOCK_FILE = (
    "_manifest.json", "probes.parquet", "samples.parquet", "_SUCCESS", "_LOCK")
ARRAYS_DIR = "betas"
#: the per-sample arrays every sample file holds (float32, n_probes each)
ARRAY_FIELDS = ("beta", "detection_p", "meth", "unmeth")
#: probe-table columns written to probes.parquet (when the manifest has them)
PROBE_TABLE_COLUMNS = ("probe_id", "cpg_id", "chrom", "pos", "design", "channel")
#: sample-table columns that always come first
CORE_SAMPLE_COLUMNS = ("sample", "status", "reason", "array", "barcode", "position", "file")
#: probe joins of a mixed-array store (see :meth:`Store.join_mask`)
JOINS = ("outer", "inner")
_RECORD_KEY = b"methylclass.sample"


# -- atomic file writing (through the project's one implementation, methylclass._atomic) ------------------
def _tmp_name(path: Path) -> Path:
    """A hidden temporary name beside ``path`` (for writers that need a path, not a file object)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    return atomic_write(path, lambda fh: fh.write(data), binary=True)


def atomic_write_json(path: str | Path, obj: dict) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    return atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())


def atomic_write_table(path: str | Path, table: pa.Table, **kwargs) -> Path:
    """Write a pyarrow table as Parquet to ``path`` atomically (``kwargs`` go to ``pq.write_table``)."""
    return atomic_write(path, lambda fh: pq.write_table(table, fh, **kwargs), binary=True)


# -- per-sample files -------------------------------------------------------------------------------------
def sample_file_name(sample: str) -> str:
    """File name (inside ``betas/``) of a sample: a readable prefix plus a hash, so names never collide."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", sample).strip("._")[:80] or "sample"
    digest = hashlib.sha1(sample.encode("utf-8")).hexdigest()[:10]
    return f"{safe}-{digest}.parquet"


def _json_safe(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    return value


def write_sample_file(store: str | Path, sample: str, arrays: dict[str, np.ndarray], record: dict) -> str:
    """Write one sample's arrays (:data:`ARRAY_FIELDS`) to ``STORE/betas/`` atomically; return the relative
    file name. ``record`` (the sample-table row) is kept in the file footer, which makes a crashed run
    resumable without its sample table."""
    name = sample_file_name(sample)
    meta = json.dumps({k: _json_safe(v) for k, v in {**record, "file": f"{ARRAYS_DIR}/{name}"}.items()},
                      default=str)
    cols = {"sample": pa.array([sample], type=pa.string())}
    for field in ARRAY_FIELDS:
        values = np.ascontiguousarray(arrays[field], dtype=np.float32)
        cols[field] = pa.ListArray.from_arrays(pa.array([0, values.shape[0]], type=pa.int32()),
                                               pa.array(values, type=pa.float32()))
    table = pa.table(cols).replace_schema_metadata({_RECORD_KEY: meta.encode("utf-8")})
    atomic_write_table(Path(store) / ARRAYS_DIR / name, table, compression="zstd", compression_level=1,
                       use_dictionary=["sample"],
                       use_byte_stream_split=[f"{f}.list.element" for f in ARRAY_FIELDS])
    return f"{ARRAYS_DIR}/{name}"


def read_sample_record(path: str | Path) -> dict:
    """The sample-table record kept in a sample file's footer (raises DataError if unreadable)."""
    try:
        meta = pq.read_schema(path).metadata or {}
        return json.loads(meta[_RECORD_KEY].decode("utf-8"))
    except (OSError, KeyError, ValueError, pa.ArrowException) as exc:
        raise DataError(f"'{path}' is not a readable methylclass sample file: {exc}") from None


def read_sample_array(path: str | Path, field: str = "beta", n_probes: int | None = None) -> np.ndarray:
    """Decode one array (``beta``, ``detection_p``, ``meth``, ``unmeth``) of a sample file as float32."""
    if field not in ARRAY_FIELDS:
        raise ConfigError(f"unknown store field '{field}'; choose one of {', '.join(ARRAY_FIELDS)}")
    try:
        col = pq.ParquetFile(path).read(columns=[field]).column(field)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"'{path}' cannot be read: {exc}") from None
    values = col.combine_chunks().values.to_numpy(zero_copy_only=False)
    if n_probes is not None and values.shape[0] != n_probes:
        raise DataError(f"'{path}' holds {values.shape[0]:,} {field} values, the store has {n_probes:,} probes")
    return values


# -- the store ----------------------------------------------------------------------------------------------
def probe_table_hash(probes: pd.DataFrame) -> str:
    """sha256 of a probe table's ids and addresses: two stores with the same hash have aligned arrays."""
    h = hashlib.sha256()
    h.update("\n".join(probes["probe_id"].astype(str)).encode("utf-8"))
    for col in ("address_u", "address_m"):
        if col in probes:
            h.update(np.ascontiguousarray(probes[col].to_numpy(np.int64)).tobytes())
    return h.hexdigest()


@dataclass
class Store:
    """A preprocessed cohort on disk (see the module docstring for the layout). Open with :meth:`open`."""

    path: Path
    info: dict
    samples: pd.DataFrame
    complete: bool = True

    @classmethod
    def open(cls, path: str | Path, *, allow_incomplete: bool = False) -> Store:
        """Open a store; an incomplete one (interrupted run) raises DataError unless ``allow_incomplete``,
        in which case the sample table is rebuilt from the sample files' footers."""
        path = Path(path)
        info_path = path / INFO_FILE
        if not info_path.is_file():
            raise DataError(f"'{path}' is not a methylclass store (no {INFO_FILE}); create one with "
                            "`methylclass preprocess INPUT --out STORE`")
        try:
            info = json.loads(info_path.read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"'{info_path}' cannot be read: {exc}") from None
        if info.get("format") != FORMAT or int(info.get("format_version", -1)) > FORMAT_VERSION:
            raise DataError(f"'{path}' is a store of format {info.get('format')} v{info.get('format_version')}; "
                            f"this methylclass reads {FORMAT} v{FORMAT_VERSION}")
        complete = (path / SUCCESS_FILE).is_file() and (path / SAMPLES_FILE).is_file()
        if complete:
            samples = pd.read_parquet(path / SAMPLES_FILE)
        elif allow_incomplete:
            records = list(scan_sample_files(path).values())
            samples = pd.DataFrame(records) if records else pd.DataFrame(columns=list(CORE_SAMPLE_COLUMNS))
        else:
            n_files = len(list((path / ARRAYS_DIR).glob("*.parquet"))) if (path / ARRAYS_DIR).is_dir() else 0
            raise DataError(f"store '{path}' is incomplete: the run writing it was interrupted ({n_files} sample "
                            f"files, no {SUCCESS_FILE}); re-run `methylclass preprocess` with the same --out to "
                            "resume it")
        return cls(path=path, info=info, samples=samples, complete=complete)

    @property
    def n_probes(self) -> int:
        """Length of every per-sample array."""
        return int(self.info["n_probes"])

    @property
    def ok_samples(self) -> list[str]:
        """Names of the samples stored successfully, in sample-table order."""
        s = self.samples
        return s.loc[s["status"] == "ok", "sample"].astype(str).tolist()

    @property
    def arrays(self) -> list[str]:
        """The arrays whose samples the store holds (one for a single-array store)."""
        arrays = self.info.get("arrays")
        return [str(a) for a in arrays] if arrays else [str(self.info.get("array"))]

    def join_mask(self, join: str = "outer", samples: Sequence[str] | None = None) -> np.ndarray | None:
        """Probes of a ``join``: ``"outer"`` → None (every probe; CpGs an array lacks are NaN in its samples),
        ``"inner"`` → boolean mask of the CpGs held by every array among ``samples`` (default: all stored
        samples). A single-array store gives None for both."""
        if join not in JOINS:
            raise ConfigError(f"unknown join '{join}'; choose one of {', '.join(JOINS)}")
        if join == "outer" or len(self.arrays) < 2:
            return None
        from .canonical import on_column

        names, _ = self.files_of(samples)
        s = self.samples.set_index(self.samples["sample"].astype(str))
        present = sorted(set(s.loc[names, "array"].astype(str))) if "array" in s else self.arrays
        cols = [on_column(a) for a in present]
        table = self.probes(cols)
        return np.logical_and.reduce([table[c].to_numpy(bool) for c in cols]) if cols else None

    def probes(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The probe table (row i ↔ element i of every array)."""
        return pd.read_parquet(self.path / PROBES_FILE, columns=list(columns) if columns else None)

    def probe_ids(self) -> np.ndarray:
        """Probe ids in array order."""
        return self.probes(["probe_id"])["probe_id"].to_numpy()

    def files_of(self, samples: Sequence[str] | None = None) -> tuple[list[str], list[Path]]:
        """Names and file paths of ``samples`` (default: every stored sample); DataError names any sample
        that is absent or failed (with its reason)."""
        s = self.samples
        ok = s[s["status"] == "ok"]
        by_name = dict(zip(ok["sample"].astype(str), ok["file"].astype(str)))
        if samples is None:
            names = ok["sample"].astype(str).tolist()
        else:
            names = [str(x) for x in ([samples] if isinstance(samples, str) else samples)]
            missing = [n for n in names if n not in by_name]
            if missing:
                failed = dict(zip(s["sample"].astype(str), s["reason"].astype(str)))
                parts = [f"{n} (failed: {failed[n]})" if n in failed else n for n in missing[:5]]
                more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
                raise DataError(f"store '{self.path}' has no beta values for {', '.join(parts)}{more}")
        return names, [self.path / by_name[n] for n in names]

    def resolve_probes(self, probes=None) -> np.ndarray | None:
        """Probe selection → integer indices into the arrays (None = all). Accepts probe ids, integer
        indices or a boolean mask of length n_probes."""
        if probes is None:
            return None
        if isinstance(probes, str):
            probes = [probes]
        arr = np.asarray(probes)
        n = self.n_probes
        if arr.dtype == bool:
            if arr.shape != (n,):
                raise DataError(f"probe mask has {arr.shape[0]:,} entries, store '{self.path}' has {n:,} probes")
            return np.flatnonzero(arr)
        if np.issubdtype(arr.dtype, np.integer):
            if arr.size and (arr.min() < 0 or arr.max() >= n):
                raise DataError(f"probe index out of range 0..{n - 1} for store '{self.path}'")
            return arr.astype(np.int64)
        ids = pd.Index(self.probe_ids())
        idx = ids.get_indexer(arr.astype(str))
        if (idx < 0).any():
            bad = arr[idx < 0]
            raise DataError(f"{bad.size:,} probe(s) not in store '{self.path}' (array "
                            f"{self.info.get('array')}): {', '.join(map(str, bad[:5]))}")
        return idx.astype(np.int64)

    def iter_arrays(self, samples: Sequence[str] | None = None, *, field: str = "beta", probes=None,
                    batch_size: int = 32, threads: int = 4) -> Iterator[tuple[list[str], np.ndarray]]:
        """Yield ``(names, matrix)`` batches (``batch_size`` samples × selected probes, float32), reading
        ``threads`` files at a time; memory is O(batch_size × n_probes) whatever the cohort size."""
        names, files = self.files_of(samples)
        idx = self.resolve_probes(probes)
        n = self.n_probes

        def load(path: Path) -> np.ndarray:
            values = read_sample_array(path, field, n)
            return values if idx is None else values[idx]

        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            for start in range(0, len(files), batch_size):
                rows = list(pool.map(load, files[start:start + batch_size]))
                width = n if idx is None else idx.shape[0]
                yield names[start:start + batch_size], (np.vstack(rows) if rows
                                                         else np.empty((0, width), np.float32))


def scan_sample_files(path: str | Path) -> dict[str, dict]:
    """Records of every complete sample file under ``STORE/betas`` (footer metadata), keyed by sample."""
    folder = Path(path) / ARRAYS_DIR
    out: dict[str, dict] = {}
    if not folder.is_dir():
        return out
    for f in sorted(folder.glob("*.parquet")):
        try:
            rec = read_sample_record(f)
        except DataError:
            continue  # an unreadable file is not a stored sample: it will be recomputed
        if rec.get("sample") and f"{ARRAYS_DIR}/{f.name}" == rec.get("file"):
            out[str(rec["sample"])] = rec
    return out


def _joined(st: Store, idx: np.ndarray | None, join: str, samples) -> np.ndarray | None:
    """Probe indices ``idx`` (None = all) restricted to the probes of ``join`` (order of ``idx`` kept)."""
    mask = st.join_mask(join, samples)
    if mask is None:
        return idx
    return np.flatnonzero(mask) if idx is None else idx[mask[idx]]


def load_betas(store: str | Path | Store, samples: Sequence[str] | None = None, probes=None, *,
               field: str = "beta", join: str = "outer") -> pd.DataFrame:
    """Read ``field`` (default betas) of ``samples`` × ``probes`` from a store into a float32 DataFrame.

    Only the files of the selected samples are opened.

    Parameters
    ----------
    store : str, Path or Store
        The store (or its path).
    samples : sequence of str, optional
        Sample names (default every stored sample, in sample-table order).
    probes
        Probe ids, integer indices or a boolean mask (default all, in array order).
    field : str
        The store field to read.
    join : str
        For a store mixing arrays (columns are canonical CpG ids): ``"outer"`` the union (NaN where a sample's
        array lacks the CpG), ``"inner"`` only the CpGs every array among the selected samples holds.

    Returns
    -------
    DataFrame
        Samples × probes, float32; rows named by sample (index ``sample``), columns by probe id (``probe_id``).
    """
    st = store if isinstance(store, Store) else Store.open(store)
    names, _ = st.files_of(samples)
    idx = _joined(st, st.resolve_probes(probes), join, names)
    ids = st.probe_ids()
    cols = ids if idx is None else ids[idx]
    out = np.empty((len(names), cols.shape[0]), dtype=np.float32)
    row = 0
    for _, block in st.iter_arrays(names, field=field, probes=idx):
        out[row:row + block.shape[0]] = block
        row += block.shape[0]
    return pd.DataFrame(out, index=pd.Index(names, name="sample"), columns=pd.Index(cols, name="probe_id"),
                        copy=False)


def load_sample_table(store: str | Path | Store) -> pd.DataFrame:
    """The sample table of a store (every sample, ok and failed, with reasons, QC and sheet columns).

    Parameters
    ----------
    store : str, Path or Store
        The store (or its path).

    Returns
    -------
    DataFrame
        A copy of the store's sample table.
    """
    st = store if isinstance(store, Store) else Store.open(store)
    return st.samples.copy()


# -- per-probe moments and top-variance selection (O(n_probes) memory) ---------------------------------------
@dataclass
class ProbeMoments:
    """Per-probe count, mean and sum of squared deviations (M2) of non-NaN values; mergeable (Chan et al.
    1979 pairwise update), so partial results from batches or Spark partitions combine exactly."""

    count: np.ndarray
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def zeros(cls, n: int) -> ProbeMoments:
        """Moments of no data."""
        return cls(np.zeros(n, np.int64), np.zeros(n, np.float64), np.zeros(n, np.float64))

    @classmethod
    def from_block(cls, block: np.ndarray) -> ProbeMoments:
        """Moments of a (samples × probes) block; NaN entries are skipped."""
        x = np.array(block, dtype=np.float64, copy=True, ndmin=2)  # one working copy, updated in place
        nan = np.isnan(x)
        if nan.any():
            count = (x.shape[0] - nan.sum(axis=0)).astype(np.int64)
            x[nan] = 0.0
            mean = x.sum(axis=0) / np.maximum(count, 1)
            x -= mean
            x[nan] = 0.0
        else:
            count = np.full(x.shape[1], x.shape[0], dtype=np.int64)
            mean = x.mean(axis=0)
            x -= mean
        return cls(count, mean, np.einsum("ij,ij->j", x, x))

    def merge(self, other: ProbeMoments) -> ProbeMoments:
        """Moments of the union of the two data sets."""
        na, nb = self.count.astype(np.float64), other.count.astype(np.float64)
        n = na + nb
        safe = np.maximum(n, 1)
        delta = other.mean - self.mean
        mean = self.mean + delta * nb / safe
        m2 = self.m2 + other.m2 + delta * delta * na * nb / safe
        return ProbeMoments(self.count + other.count, mean, m2)

    def variance(self, ddof: int = 1) -> np.ndarray:
        """Per-probe variance (NaN where fewer than ``ddof + 1`` values)."""
        out = np.full(self.m2.shape, np.nan)
        ok = self.count > ddof
        out[ok] = self.m2[ok] / (self.count[ok] - ddof)
        return out


def probe_moments(store: str | Path | Store, samples: Sequence[str] | None = None, *, field: str = "beta",
                  batch_size: int = 16) -> ProbeMoments:
    """Per-probe moments of ``field`` over ``samples``, streamed batch by batch on this machine."""
    st = store if isinstance(store, Store) else Store.open(store)
    acc = ProbeMoments.zeros(st.n_probes)
    for _, block in st.iter_arrays(samples, field=field, batch_size=batch_size):
        acc = acc.merge(ProbeMoments.from_block(block))
    return acc


def select_top_variance(moments: ProbeMoments, n: int, probe_ids: np.ndarray, *,
                        min_fraction: float = 0.5) -> pd.DataFrame:
    """The ``n`` probes of largest variance among those present (non-NaN) in at least ``min_fraction`` of
    the samples; columns probe_id, index, mean, variance, count; ordered by variance (ties: array order)."""
    if n <= 0:
        raise ConfigError(f"number of top-variance probes must be positive, got {n}")
    var = moments.variance()
    n_samples = int(moments.count.max()) if moments.count.size else 0
    eligible = (moments.count >= max(2, int(np.ceil(min_fraction * n_samples)))) & ~np.isnan(var)
    idx = np.flatnonzero(eligible)
    if idx.size == 0:
        raise DataError("no probe has a variance: the store needs at least 2 samples with values")
    order = np.lexsort((idx, -var[idx]))[: min(n, idx.size)]
    top = idx[order]
    return pd.DataFrame({"probe_id": np.asarray(probe_ids)[top], "index": top, "mean": moments.mean[top],
                         "variance": var[top], "count": moments.count[top]})


def restrict_moments(moments: ProbeMoments, mask: np.ndarray | None) -> ProbeMoments:
    """``moments`` with the probes outside ``mask`` (None: keep all) emptied (count 0), so that a top-variance
    selection never picks them."""
    if mask is None:
        return moments
    keep = np.asarray(mask, bool)
    return ProbeMoments(np.where(keep, moments.count, 0), moments.mean, np.where(keep, moments.m2, 0.0))


def top_variance_probes(store: str | Path | Store, n: int, samples: Sequence[str] | None = None, *,
                        field: str = "beta", min_fraction: float = 0.5, join: str = "outer") -> pd.DataFrame:
    """The ``n`` most variable probes of a store, computed locally in O(n_probes) memory.

    For the same on Spark executors see :func:`methylclass.spark.stats.top_variance_probes_spark`.

    Parameters
    ----------
    store : str, Path or Store
        The store (or its path).
    n : int
        Number of probes to keep (positive).
    samples : sequence of str, optional
        Samples the variance is computed over (default all stored samples).
    field : str
        The store field to use.
    min_fraction : float
        A probe needs values (non-NaN) in at least this fraction of the samples (and in at least 2).
    join : str
        ``"inner"`` picks among the CpGs every array of the selected samples holds (mixed-array stores);
        ``"outer"`` among all.

    Returns
    -------
    DataFrame
        Columns ``probe_id``, ``index``, ``mean``, ``variance``, ``count``; ordered by decreasing variance
        (ties: array order).

    Raises
    ------
    ConfigError
        ``n`` is not positive.
    DataError
        No probe has a variance (fewer than 2 samples with values).
    """
    st = store if isinstance(store, Store) else Store.open(store)
    mask = st.join_mask(join, samples)
    moments = restrict_moments(probe_moments(st, samples, field=field), mask)
    return select_top_variance(moments, n, st.probe_ids(), min_fraction=min_fraction)
