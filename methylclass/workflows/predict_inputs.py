"""What a prediction input is: a DataFrame, a store, a beta table, IDATs (folder, sheet, files, basenames).

:func:`classify_inputs` sorts the inputs of ``load_model(path).predict(inputs)`` / ``methylclass predict`` into
the pieces :class:`methylclass.workflows.predict.Model` reads one way each.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError
from .data import is_store

__all__ = ["classify_inputs"]

_SHEET_WORDS = ("[header]", "[data]", "sentrix_id", "sentrix_position", "basename", "slide", "array")


def _looks_like_sheet(path: Path) -> bool:
    """A sample sheet (Illumina sections or Sentrix/Basename columns) rather than a beta table."""
    if path.suffix.lower() in (".parquet", ".pq") or path.name.lower().endswith((".gz", ".txt.gz")):
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(4096).lower()
    except OSError:
        return False
    first = head.splitlines()[0] if head else ""
    return "[header]" in head or "[data]" in head or any(w in first for w in _SHEET_WORDS[2:])


def _basename_exists(p: Path) -> bool:
    """True when ``p`` is an IDAT basename: ``<p>_Grn.idat`` or ``<p>_Red.idat`` (optionally ``.gz``) exists."""
    return any(p.with_name(f"{p.name}_{ch}.idat{gz}").exists() for ch in ("Grn", "Red") for gz in ("", ".gz"))


def classify_inputs(inputs: Any) -> list[tuple[str, Any]]:
    """Group ``inputs`` into ``(kind, source)`` pieces: ``frame`` (DataFrame), ``store``, ``table``, ``idats``
    (a folder / sample sheet path, or a list of IDAT paths and basenames) and ``missing`` (a path that is
    neither a file, a folder nor an IDAT basename)."""
    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    out: list[tuple[str, Any]] = []
    loose: list[str] = []
    for item in items:
        if isinstance(item, pd.DataFrame):
            out.append(("frame", item))
            continue
        if not isinstance(item, (str, os.PathLike)):
            raise DataError(f"predict: cannot use {type(item).__name__} as input (give paths or a DataFrame)")
        p = Path(item)
        name = p.name.lower()
        if p.is_dir():
            out.append(("store" if is_store(p) else "idats", p))
        elif not p.exists() and not _basename_exists(p):
            out.append(("missing", p))
        elif ".idat" in name or not p.exists():
            loose.append(str(p))  # an IDAT, or a basename whose _Grn/_Red files find_samples locates
        elif _looks_like_sheet(p):
            out.append(("idats", p))
        else:
            out.append(("table", p))
    if loose:
        out.append(("idats", loose))
    return out


