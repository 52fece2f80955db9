"""Colour helpers of the HTML reports on top of the one class palette (:mod:`methylclass.pl.palette`).

Class colours come only from :func:`methylclass.pl.palette.class_colors`, so a class has the same colour in the
SHAP summaries, embeddings, the per-sample score chart, the index table and the model card. This module adds
what the pages need around it: the colour of failed samples, a readable text colour on a coloured badge, and a
model palette that stays fixed when predictions name classes the model does not know.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from matplotlib.colors import to_rgb

from .palette import NO_MATCH_COLOR, class_colors

__all__ = ["FAILED_COLOR", "NO_MATCH_COLOR", "class_colors", "color_of", "model_colors", "text_color"]

#: colour of failed samples (the ``no_match`` outcome is the palette's grey)
FAILED_COLOR = "#b42318"


def model_colors(classes: Iterable[str], extra: Iterable[str] = ()) -> dict[str, str]:
    """The palette of the model's ``classes``; ``extra`` names (not in the model) are grey and do not shift the
    model's colours."""
    classes = [str(c) for c in classes]
    out = class_colors(classes) if classes else {}
    for c in extra:
        out.setdefault(str(c), NO_MATCH_COLOR)
    return out


def text_color(background: str) -> str:
    """``"#000000"`` or ``"#ffffff"``, whichever contrasts more with ``background`` (WCAG relative luminance)."""
    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in to_rgb(background))
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if (lum + 0.05) / 0.05 > 1.05 / (lum + 0.05) else "#ffffff"


def color_of(cls: str, colors: Mapping[str, str] | None, default: str = NO_MATCH_COLOR) -> str:
    """The colour of ``cls`` in ``colors`` (``default`` for unknown classes, ``no_match`` and failures)."""
    return (colors or {}).get(str(cls), default)
