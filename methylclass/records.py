"""The one record of a per-sample problem, shared by discovery, reading, ingestion and CNV.

A cohort step never stops for one bad sample: it returns a :class:`SampleFailure` for it (which sample, which
file, at what stage, why) and carries on with the others. :func:`failures_frame` turns a list of them into a
table (one row per failure) for printing or saving.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

#: columns of :func:`failures_frame`
FAILURE_COLUMNS = ("sample", "path", "stage", "reason")


@dataclass(frozen=True)
class SampleFailure:
    """A sample (or file) that could not be used, and why.

    Parameters
    ----------
    sample : str or None
        The sample name (None when a file could not be attributed to a sample).
    path : str, Path or None
        The offending file or folder, when there is one.
    reason : str
        One line naming the file or sample and the problem (what the command line prints).
    stage : str
        The step that refused it: ``"discover"``, ``"read"``, ``"ingest"``, ``"cnv"``, …
    """

    sample: str | None
    path: str | Path | None
    reason: str
    stage: str = ""

    @property
    def message(self) -> str:
        """The reason (the name used by discovery's problem records)."""
        return self.reason

    def __str__(self) -> str:
        return self.reason

    def to_dict(self) -> dict[str, str | None]:
        """The record as plain strings (``path`` as text), e.g. for JSON output."""
        d = asdict(self)
        d["path"] = None if self.path is None else str(self.path)
        return d


def failures_frame(failures: Iterable[SampleFailure]) -> pd.DataFrame:
    """A table of failures, one row each, with the columns ``sample, path, stage, reason``.

    Parameters
    ----------
    failures : iterable of SampleFailure
        The records.

    Returns
    -------
    pandas.DataFrame
        One row per record (an empty table keeps the columns).
    """
    rows = [f.to_dict() for f in failures]
    return pd.DataFrame(rows, columns=list(FAILURE_COLUMNS))
