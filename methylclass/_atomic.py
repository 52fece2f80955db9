"""Atomic file writes: write to a hidden temporary name in the target folder, then rename.

A reader (or a crash) never sees a half-written file; :class:`RunFolder` does the same for a whole run
directory (``<out>/<experiment>/<timestamp>/``, published by one rename). Files get the usual permissions
(``0666 & ~umask``), not the ``0600`` of :func:`tempfile.mkstemp`.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()
DIR_MODE = 0o777 & ~_umask()


def atomic_write(path: str | Path, write: Callable[[IO[Any]], None], *, binary: bool = False) -> Path:
    """Call ``write(fh)`` on a temporary file beside ``path`` and rename it to ``path`` when it succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda fh: fh.write(text))


def make_temp_dir(parent: str | Path, name: str) -> Path:
    """A fresh hidden folder ``.<name>.*.partial`` in ``parent`` with the usual permissions."""
    path = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=parent))
    os.chmod(path, DIR_MODE)
    return path


def publish_dir(tmp: str | Path, target: str | Path) -> Path:
    """Move the finished folder ``tmp`` to ``target``, replacing an existing ``target``: the old folder is
    renamed aside first and removed afterwards, so ``target`` is always a complete folder, old or new."""
    tmp, target = Path(tmp), Path(target)
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / target.name)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)
    return target


class RunFolder:
    """A run directory written under a temporary name and published by :meth:`commit` (atomic rename)."""

    def __init__(self, out_dir: str | Path, experiment: str):
        base = Path(out_dir) / experiment
        base.mkdir(parents=True, exist_ok=True)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        final, i = base / stamp, 1
        while final.exists():
            i += 1
            final = base / f"{stamp}-{i}"
        self.final = final
        self.path = make_temp_dir(base, final.name)
        self.run_id = final.name

    def commit(self) -> Path:
        """Rename the finished folder to its final name and point ``latest`` at it."""
        os.replace(self.path, self.final)
        link = self.final.parent / "latest"
        tmp = self.final.parent / f".latest.{os.getpid()}"
        try:
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(self.final.name)
            os.replace(tmp, link)
        except OSError:  # file systems without symlinks: the timestamped folder is what matters
            tmp.unlink(missing_ok=True)
        return self.final

    def abort(self) -> None:
        """Remove the unfinished folder."""
        shutil.rmtree(self.path, ignore_errors=True)
