"""Plots (matplotlib, backend-free figures): confusion matrix, reliability diagram, SHAP summaries, panel curves,
embeddings, the per-sample class-score and top-feature charts; one class palette (:func:`class_colors`) shared by
all of them and by the HTML reports."""

from __future__ import annotations

from ._figure import figure_to_base64, new_figure, save_figure
from .confusion import plot_confusion
from .embed import plot_clustered_heatmap, plot_embedding, plot_scree
from .palette import class_colors, colors_for
from .panel import plot_panel_curve
from .reliability import plot_reliability
from .scores import plot_class_scores, plot_top_features
from .shap import plot_shap_bar, plot_shap_beeswarm, plot_waterfall

__all__ = ["class_colors", "colors_for", "figure_to_base64", "new_figure", "plot_class_scores",
           "plot_clustered_heatmap", "plot_confusion", "plot_embedding", "plot_panel_curve", "plot_reliability",
           "plot_scree", "plot_shap_bar", "plot_shap_beeswarm", "plot_top_features", "plot_waterfall",
           "save_figure"]
