"""One class palette for every plot: a class keeps its colour across SHAP, panel, embedding and heatmap plots.

Colours are assigned to the *sorted* class names (so the same set of classes always gets the same colours,
whichever plot or sample order asks): matplotlib's ``tab10`` up to 10 classes, ``tab20`` up to 20, evenly
spaced ``hsv`` hues beyond. ``no_match`` and unknown/missing labels are grey.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex

__all__ = ["NO_MATCH_COLOR", "class_colors", "colors_for"]

NO_MATCH_COLOR = "#9e9e9e"
_SPECIAL = {"no_match", "nan", "", "none", "unknown"}


def class_colors(classes: Iterable[str]) -> dict[str, str]:
    """Class → hex colour, deterministic in the set of classes (``no_match`` / missing → grey)."""
    names = sorted({str(c) for c in classes})
    real = [c for c in names if c.lower() not in _SPECIAL]
    k = len(real)
    if k <= 10:
        cols = [colormaps["tab10"](i) for i in range(k)]
    elif k <= 20:
        cols = [colormaps["tab20"](i) for i in range(k)]
    else:
        cols = [colormaps["hsv"](x) for x in np.linspace(0, 1, k, endpoint=False)]
    out = {c: to_hex(col) for c, col in zip(real, cols)}
    out.update({c: NO_MATCH_COLOR for c in names if c.lower() in _SPECIAL})
    return out


def colors_for(labels: Iterable[str], palette: dict[str, str] | None = None) -> list[str]:
    """One colour per label (``palette`` defaults to :func:`class_colors` of the labels)."""
    labels = [str(v) for v in labels]
    pal = palette or class_colors(labels)
    return [pal.get(v, NO_MATCH_COLOR) for v in labels]
