"""Figure helpers shared by the plot modules: backend-free figures and atomic saving.

Figures are built with :class:`matplotlib.figure.Figure` directly (no ``pyplot``), so plotting never
touches the global backend state and works headless (Agg canvas) in workers, CI and the CLI.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .._atomic import atomic_write
from ..errors import ConfigError

FORMATS = ("png", "svg", "pdf")


def new_figure(width: float, height: float, *, dpi: int = 110) -> Figure:
    """An Agg-backed figure of ``width × height`` inches, detached from pyplot."""
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, stem: str | Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write ``fig`` as ``<stem>.<fmt>`` for each format (temp file + rename: never half-written)."""
    stem = Path(stem)
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ConfigError(f"unknown figure format(s) {bad}; choose from {', '.join(FORMATS)}")
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in formats:
        target = stem.with_name(f"{stem.name}.{fmt}")
        atomic_write(target, lambda fh, fmt=fmt: fig.savefig(fh, format=fmt), binary=True)
        out.append(target)
    return out


def figure_to_base64(fig: Figure, fmt: str = "png") -> str:
    """``data:`` URI of the figure (for self-contained HTML reports)."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    mime = "image/svg+xml" if fmt == "svg" else f"image/{fmt}"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"
