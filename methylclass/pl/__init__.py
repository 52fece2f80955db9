"""Plots (matplotlib, backend-free figures): confusion matrix, reliability diagram, class colours, and the
per-sample class-score and SHAP charts."""

from __future__ import annotations

from ._figure import figure_to_base64, new_figure, save_figure
from .colors import class_colors
from .confusion import plot_confusion
from .reliability import plot_reliability
from .scores import plot_class_scores, plot_top_features

__all__ = ["class_colors", "figure_to_base64", "new_figure", "plot_class_scores", "plot_confusion",
           "plot_reliability", "plot_top_features", "save_figure"]
