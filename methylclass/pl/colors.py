"""One colour per class, the same in every plot and report page of a model.

Colours are assigned by the position of a class in the model's class list (the bundle card's ``classes``),
so a class keeps its colour across the score chart, the SHAP chart, the index table and the model card.
The first eight come from the Okabe–Ito palette (distinguishable with the common colour-vision
deficiencies), then Paul Tol's "muted" palette, then matplotlib's tab20; a model with more classes than that
cycles the list with a lighter tint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from matplotlib.colors import to_rgb

#: Okabe & Ito (2008), without black; then Tol "muted"; then tab20
PALETTE: tuple[str, ...] = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#332288",
    "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499",
    "#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896",
    "#9467bd", "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#7f7f7f", "#c7c7c7",
    "#bcbd22", "#dbdb8d", "#17becf", "#9edae5",
)
#: colour of the ``no_match`` outcome and of failed samples
NO_MATCH_COLOR = "#8a8f98"
FAILED_COLOR = "#b42318"


def _tint(color: str, amount: float) -> str:
    r, g, b = to_rgb(color)
    r, g, b = (c + (1 - c) * amount for c in (r, g, b))
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def class_colors(classes: Iterable[str]) -> dict[str, str]:
    """``{class: "#rrggbb"}`` for the classes in model order (see the module docstring).

    ``no_match`` (if listed) always gets :data:`NO_MATCH_COLOR`.
    """
    out: dict[str, str] = {}
    k = 0
    for c in classes:
        c = str(c)
        if c in out:
            continue
        if c == "no_match":
            out[c] = NO_MATCH_COLOR
            continue
        base = PALETTE[k % len(PALETTE)]
        out[c] = base if k < len(PALETTE) else _tint(base, min(0.6, 0.25 * (k // len(PALETTE))))
        k += 1
    return out


def text_color(background: str) -> str:
    """``"#000000"`` or ``"#ffffff"``, whichever reads better on ``background`` (WCAG relative luminance)."""
    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in to_rgb(background))
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if (lum + 0.05) / 0.05 > 1.05 / (lum + 0.05) else "#ffffff"


def color_of(cls: str, colors: Mapping[str, str] | None, default: str = NO_MATCH_COLOR) -> str:
    """The colour of ``cls`` in ``colors`` (``default`` for unknown classes, ``no_match`` and failures)."""
    return (colors or {}).get(str(cls), default)
