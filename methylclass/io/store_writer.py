"""Writing a store: one run creates it, or checks and resumes it, then finishes it.

The layout is described in :mod:`methylclass.io.store`. A run (:class:`StoreWriter`) locks the store, checks
that it was written with the same array, probe table and normalisation (else refuses to mix), removes
``_SUCCESS`` and stale temporary files, and reports the samples stored already (resume = skip them). Workers
write sample files (:func:`~methylclass.io.store.write_sample_file`); :meth:`StoreWriter.finish` merges the
previous sample table, the files found on disk and this run's records, writes ``samples.parquet`` and then
``_SUCCESS``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from .._atomic import ensure_writable_dir
from ..errors import ConfigError, DataError
from .canonical import ON_PREFIX
from .store import (
    ARRAYS_DIR,
    CORE_SAMPLE_COLUMNS,
    FORMAT,
    FORMAT_VERSION,
    INFO_FILE,
    LOCK_FILE,
    PROBE_TABLE_COLUMNS,
    PROBES_FILE,
    SAMPLES_FILE,
    SUCCESS_FILE,
    _json_safe,
    atomic_write_json,
    atomic_write_table,
    scan_sample_files,
)

#: _manifest.json keys that must agree between a store and a run that adds to it
COMPAT_KEYS = ("format_version", "array", "probe_hash", "n_probes", "method", "method_options")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _arrow_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns → strings (None kept) so mixed sheet metadata always converts to Arrow."""
    df = df.copy()
    for col in df.columns:
        if df[col].dtype == object:
            df[col] = [None if (v is None or (isinstance(v, float) and np.isnan(v))) else
                       (v if isinstance(v, str) else json.dumps(_json_safe(v), default=str)
                        if isinstance(v, (list, dict)) else str(v)) for v in df[col]]
    return df


class StoreWriter:
    """One run writing into a store. Use as a context manager::

        with StoreWriter(path, info, probes) as w:   # creates, or checks and resumes, the store
            done = w.stored                          # {sample: record} already stored OK: skip them
            ...                                      # sample files are written by the workers
            w.finish(records)                        # sample table, then _SUCCESS

    Opening takes ``_LOCK`` (a second concurrent writer is refused), deletes stale temporary files and
    ``_SUCCESS`` (from now on the store reads as incomplete until :meth:`finish`).
    """

    def __init__(self, path: str | Path, info: dict, probes: pd.DataFrame, *, overwrite: bool = False):
        self.path = Path(path)
        self.info = {"format": FORMAT, "format_version": FORMAT_VERSION, **info}
        self.probes = probes
        self.overwrite = overwrite
        self.stored: dict[str, dict] = {}
        self.previous = pd.DataFrame()
        self._locked = False

    # context management
    def __enter__(self) -> StoreWriter:  # noqa: PYI034 - a final class
        self._begin()
        return self

    def __exit__(self, *exc) -> None:
        self._release()

    def _check_target(self) -> dict | None:
        p = self.path
        if p.exists() and not p.is_dir():
            raise ConfigError(f"--out '{p}' exists and is a file, not a store folder")
        info_path = p / INFO_FILE
        if p.is_dir() and not info_path.is_file() and any(p.iterdir()):
            raise ConfigError(f"--out '{p}' is a non-empty folder that is not a methylclass store; "
                              "choose a new or empty folder")
        if not info_path.is_file():
            return None
        try:
            return json.loads(info_path.read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"'{info_path}' cannot be read: {exc}; remove the store or use --overwrite") from None

    def _lock(self) -> None:
        lock = self.path / LOCK_FILE
        me = {"pid": os.getpid(), "host": os.uname().nodename}
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    other = json.loads(lock.read_text())
                except (OSError, ValueError):
                    other = {}
                if other.get("host") == me["host"] and _pid_alive(int(other.get("pid", -1))):
                    raise ConfigError(f"store '{self.path}' is being written by process {other['pid']}; "
                                      "wait for it or remove its _LOCK if that process is gone") from None
                lock.unlink(missing_ok=True)  # stale lock of a crashed run
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump(me, fh)
            self._locked = True
            return
        raise ConfigError(f"cannot lock store '{self.path}'")

    def _release(self) -> None:
        if self._locked:
            (self.path / LOCK_FILE).unlink(missing_ok=True)
            self._locked = False

    def _write_error(self, exc: OSError, what: str | Path) -> DataError:
        """A store file could not be written (disk full, permissions): one line, the store left incomplete."""
        return DataError(f"'{what}' cannot be written: {exc.strerror or exc}; the store '{self.path}' is "
                         "left incomplete (not marked complete) — free space or fix the folder, then "
                         "re-run the same command to resume")

    def _begin(self) -> None:
        old = self._check_target()
        ensure_writable_dir(self.path)
        try:
            self._lock()
        except OSError as exc:
            raise self._write_error(exc, self.path / LOCK_FILE) from None
        try:
            if old is not None and self.overwrite:
                self._wipe()
                old = None
            if old is not None:
                for key in COMPAT_KEYS:
                    if old.get(key) != self.info.get(key):
                        raise ConfigError(
                            f"store '{self.path}' was written with {key}={old.get(key)!r}, this run has "
                            f"{key}={self.info.get(key)!r}; use another --out, or --overwrite to replace it")
                self.info["created"] = old.get("created", self.info.get("created"))
            (self.path / SUCCESS_FILE).unlink(missing_ok=True)
            arrays = self.path / ARRAYS_DIR
            arrays.mkdir(exist_ok=True)
            for stale in list(arrays.glob(".*.tmp")) + list(self.path.glob(".*.tmp")):
                stale.unlink(missing_ok=True)
            atomic_write_json(self.path / INFO_FILE, self.info)
            if old is None or not (self.path / PROBES_FILE).is_file():
                cols = [c for c in PROBE_TABLE_COLUMNS if c in self.probes.columns]
                cols += [c for c in self.probes.columns if str(c).startswith(ON_PREFIX)]  # mixed-array stores
                table = pa.Table.from_pandas(self.probes[cols].reset_index(drop=True), preserve_index=False)
                atomic_write_table(self.path / PROBES_FILE, table, compression="zstd")
            self.stored = scan_sample_files(self.path)
            if (self.path / SAMPLES_FILE).is_file():
                self.previous = pd.read_parquet(self.path / SAMPLES_FILE)
        except OSError as exc:
            self._release()
            raise self._write_error(exc, exc.filename or self.path) from None
        except BaseException:
            self._release()
            raise

    def _wipe(self) -> None:
        """Remove the files a store consists of (and nothing else)."""
        arrays = self.path / ARRAYS_DIR
        if arrays.is_dir():
            for f in list(arrays.glob("*.parquet")) + list(arrays.glob(".*.tmp")):
                f.unlink()
        for name in (SUCCESS_FILE, SAMPLES_FILE, PROBES_FILE, INFO_FILE):
            (self.path / name).unlink(missing_ok=True)

    @property
    def sample_dir(self) -> Path:
        """Folder the workers write sample files into."""
        return self.path / ARRAYS_DIR

    def finish(self, records: Sequence[dict], refresh: Sequence[dict] = ()) -> pd.DataFrame:
        """Write the sample table (previous rows, updated by ``records`` and by sample files found on disk)
        and then ``_SUCCESS``; return the sample table. ``refresh``: partial rows (``sample`` + columns, e.g.
        sample-sheet metadata edited since) merged into the rows of samples that were skipped."""
        rows: dict[str, dict] = {}
        if len(self.previous):
            for rec in self.previous.to_dict("records"):
                rows[str(rec["sample"])] = rec
        on_disk = scan_sample_files(self.path)
        for name, rec in on_disk.items():  # stored by an earlier (possibly interrupted) run
            if rows.get(name, {}).get("status") != "ok":
                rows[name] = rec
        for rec in records:
            name = str(rec["sample"])
            if rec.get("status") == "ok" and name not in on_disk:
                raise DataError(f"sample '{name}' is reported stored but its file is missing from "
                                f"'{self.sample_dir}'")
            if rec.get("status") != "ok" and name in on_disk:
                continue  # a failed retry never hides a sample stored earlier
            rows[name] = rec
        for upd in refresh:
            name = str(upd["sample"])
            if name in rows:
                rows[name] = {**rows[name], **upd}
        for name, rec in rows.items():  # an ok row whose file vanished is not ok
            if rec.get("status") == "ok" and name not in on_disk:
                rows[name] = {**rec, "status": "failed", "file": None,
                              "reason": "sample file missing from the store; re-run to recompute"}
        table = pd.DataFrame(list(rows.values()))
        if table.empty:
            table = pd.DataFrame(columns=list(CORE_SAMPLE_COLUMNS))
        first = [c for c in CORE_SAMPLE_COLUMNS if c in table.columns]
        table = table[first + [c for c in table.columns if c not in first]]
        n_ok = int((table["status"] == "ok").sum())
        target = self.path / SAMPLES_FILE
        try:
            atomic_write_table(target, pa.Table.from_pandas(_arrow_safe(table), preserve_index=False),
                               compression="zstd")
            target = self.path / SUCCESS_FILE
            atomic_write_json(target, {"n_ok": n_ok, "n_failed": int(len(table) - n_ok)})
        except OSError as exc:
            raise self._write_error(exc, target) from None
        return table
