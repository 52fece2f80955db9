"""Class colours and the per-sample score / SHAP charts (drawn artists checked against the input numbers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from methylclass.errors import ConfigError
from methylclass.pl.colors import NO_MATCH_COLOR, class_colors, model_colors, text_color
from methylclass.pl.scores import AGAINST_COLOR, plot_class_scores, plot_top_features


def test_model_colours_follow_the_shared_palette():
    model = ["Group3", "Group4", "SHH", "WNT"]
    colors = model_colors(model, extra=["AAA_unknown", "no_match"])
    assert {c: colors[c] for c in model} == class_colors(model)  # the same colours as every other plot
    assert colors["AAA_unknown"] == NO_MATCH_COLOR and colors["no_match"] == NO_MATCH_COLOR
    assert len({colors[c] for c in model}) == 4
    assert text_color("#ffffff") == "#000000" and text_color("#000000") == "#ffffff"
    assert text_color("#1f77b4") == "#ffffff" and text_color("#F0E442") == "#000000"


def test_score_chart_top_five_sorted_with_threshold():
    scores = {"A": 0.02, "B": 0.7, "C": 0.1, "D": 0.05, "E": 0.08, "F": 0.05, "G": np.nan}
    colors = class_colors("ABCDEFG")
    fig = plot_class_scores(scores, threshold=0.9, colors=colors, called=None)
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == 5
    by_y = sorted(bars, key=lambda b: -b.get_y())
    assert [round(b.get_width(), 3) for b in by_y] == [0.7, 0.1, 0.08, 0.05, 0.05]
    assert [to_hex(b.get_facecolor()) for b in by_y][:2] == [colors["B"].lower(), colors["C"].lower()]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["B", "C", "E", "D", "F"]  # top to bottom
    assert any(np.allclose(line.get_xdata(), 0.9) for line in ax.lines)
    assert len(plot_class_scores(scores, threshold=None).axes[0].lines) == 0
    with pytest.raises(ConfigError):
        plot_class_scores({"A": np.nan})


def test_top_feature_chart_signs_and_order():
    top = pd.DataFrame({"feature": ["cg1", "cg2", "cg3", "cg4"], "shap": [0.1, -0.3, 0.05, np.nan],
                        "gene": ["TP53", None, "", "X"]})
    fig = plot_top_features(top, called="PA", color="#0072B2", n=3)
    ax = fig.axes[0]
    bars = sorted(ax.patches, key=lambda b: -b.get_y())
    assert [round(b.get_width(), 3) for b in bars] == [-0.3, 0.1, 0.05]
    assert [to_hex(b.get_facecolor()) for b in bars] == [AGAINST_COLOR.lower(), "#0072b2", "#0072b2"]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["cg2", "cg1  TP53", "cg3"]  # top to bottom
    assert "towards PA" in ax.get_xlabel()
    with pytest.raises(ConfigError):
        plot_top_features(pd.DataFrame({"feature": ["a"]}))
