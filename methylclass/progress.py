"""Progress of long steps: a rich bar (counts, elapsed time, ETA) on a terminal, plain lines otherwise.

One small helper for every long step (ingestion, CNV, simulation, cross-validation, benchmark, training)::

    with Progress(len(samples), "CNV", unit="samples") as bar:
        for s in samples:
            ...
            bar.advance()

On a terminal (stderr is a TTY) it draws a transient ``rich`` progress bar. Otherwise (logs, CI, pipes) it
stays silent for short steps and prints one plain line every ``every`` seconds for long ones
(``CNV: 40/68 samples (59 %), ~12 s left``) and a last line when it printed any. ``enabled=False`` turns it
off. It writes to stderr only, so the results a command prints on stdout are never mixed with it.

This is a base utility (it depends on rich and the standard library only), so any layer may report progress
through it; drawing plots or reports stays in :mod:`methylclass.workflows`.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any, Self


def _is_tty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    """Progress of ``total`` items.

    Parameters
    ----------
    total : int
        Number of items.
    desc : str
        What is being done (the line's prefix).
    unit : str
        Name of the items ("samples", "folds", "models").
    enabled : bool, optional
        None (default): a rich bar on a terminal, periodic plain lines otherwise; True: the same;
        False: nothing.
    every : float
        Seconds between plain lines (not a terminal).
    stream : file, optional
        Where to write (default ``sys.stderr``).
    """

    def __init__(self, total: int, desc: str, *, unit: str = "items", enabled: bool | None = None,
                 every: float = 10.0, stream: IO[str] | None = None) -> None:
        self.total, self.desc, self.unit, self.every = max(int(total), 0), desc, unit, every
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled is not False
        self.done = 0
        self._t0 = time.perf_counter()
        self._last = self._t0
        self._printed = False
        self._lock = threading.Lock()
        self._rich: Any = None
        self._task: Any = None

    # -- context ------------------------------------------------------------------------------------------
    def __enter__(self) -> Self:
        """Start the bar (on a terminal)."""
        if self.enabled and _is_tty(self.stream):
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._rich = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn(self.unit), TimeElapsedColumn(), TextColumn("ETA"),
                                      TimeRemainingColumn(), console=Console(file=self.stream), transient=True)
            self._rich.start()
            self._task = self._rich.add_task(self.desc, total=self.total or None)
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the bar; print the last plain line if earlier ones were printed."""
        self.close()

    def close(self) -> None:
        """Stop the bar (idempotent)."""
        if self._rich is not None:
            self._rich.stop()
            self._rich = None
        elif self._printed and self.enabled:
            self._line(final=True)
            self._printed = False

    # -- updates ------------------------------------------------------------------------------------------
    def advance(self, n: int = 1) -> None:
        """``n`` more items are done."""
        self.update(self.done + n)

    def update(self, done: int, total: int | None = None) -> None:
        """``done`` items are done in all (``total`` changes the total); usable as a ``(done, total)`` callback."""
        with self._lock:
            self.done = int(done)
            if total is not None:
                self.total = int(total)
            if not self.enabled:
                return
            if self._rich is not None:
                self._rich.update(self._task, completed=self.done, total=self.total or None)
                return
            now = time.perf_counter()
            if now - self._last >= self.every:
                self._last = now
                self._line()

    __call__ = update

    def _line(self, final: bool = False) -> None:
        elapsed = time.perf_counter() - self._t0
        if final:
            text = f"{self.desc}: {self.done}/{self.total} {self.unit} in {elapsed:.1f} s"
        else:
            pct = f" ({100 * self.done / self.total:.0f} %)" if self.total else ""
            rate = self.done / elapsed if elapsed > 0 else 0.0
            eta = f", ~{(self.total - self.done) / rate:.0f} s left" if rate > 0 and self.total else ""
            text = f"{self.desc}: {self.done}/{self.total} {self.unit}{pct}{eta}"
        print(text, file=self.stream, flush=True)
        self._printed = True
