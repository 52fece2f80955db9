"""Where methylclass finds the shared reference data and its caches."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DataError

#: environment variable that overrides the location of the shared data folder
DATA_ENV = "METHYLCLASS_DATA"
#: environment variable that overrides the cache folder (parsed manifests, CNV bins)
CACHE_ENV = "METHYLCLASS_CACHE"

_REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir(required: bool = True) -> Path | None:
    """Return the shared data folder: ``$METHYLCLASS_DATA`` or ``../shared/data`` beside the repository.

    Raises :class:`DataError` naming both places looked at when ``required`` and the folder is absent.
    """
    override = os.environ.get(DATA_ENV)
    candidates = [Path(override)] if override else []
    candidates.append(_REPO_ROOT.parent / "shared" / "data")
    candidates.append(Path.cwd().parent / "shared" / "data")
    for cand in candidates:
        if cand.is_dir():
            return cand.resolve()
    if required:
        looked = ", ".join(str(c) for c in candidates)
        raise DataError(
            f"shared data folder not found (looked in: {looked}); set {DATA_ENV}=/path/to/shared/data"
        )
    return None


def cache_dir() -> Path:
    """Return (creating it) the cache folder: ``$METHYLCLASS_CACHE`` or ``~/.cache/methylclass``."""
    base = os.environ.get(CACHE_ENV)
    path = Path(base) if base else Path.home() / ".cache" / "methylclass"
    path.mkdir(parents=True, exist_ok=True)
    return path
