"""Plots (matplotlib, backend-free figures): confusion matrix and reliability diagram."""

from __future__ import annotations

from ._figure import figure_to_base64, new_figure, save_figure
from .confusion import plot_confusion
from .reliability import plot_reliability

__all__ = ["figure_to_base64", "new_figure", "plot_confusion", "plot_reliability", "save_figure"]
