"""Confusion-matrix and reliability plots (methylclass.pl): what is drawn equals the metric tables."""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ConfigError
from methylclass.pl import figure_to_base64, plot_confusion, plot_reliability, save_figure
from methylclass.tl.metrics import confusion_table, reliability_curve

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def cm():
    y = ["A"] * 10 + ["B"] * 5 + ["C"] * 3
    pred = ["A"] * 8 + ["B"] * 2 + ["B"] * 4 + ["C"] + ["C"] * 3
    return confusion_table(y, pred, ["A", "B", "C"])


def test_confusion_plot_shows_the_table(cm, tmp_path):
    """Reference: the confusion table itself — the count panel annotates every non-zero count, the
    row-normalised panel the recall of each row (8/10, 2/10, 4/5, 1/5, 3/3); PNG and SVG are written."""
    fig = plot_confusion(cm, title="toy")
    counts_ax, rows_ax = fig.axes[0], fig.axes[1]
    assert sorted(t.get_text() for t in counts_ax.texts) == sorted(["8", "2", "4", "1", "3"])
    assert sorted(t.get_text() for t in rows_ax.texts) == sorted(["0.80", "0.20", "0.80", "0.20", "1.00"])
    assert [t.get_text() for t in counts_ax.get_xticklabels()] == ["A", "B", "C"]
    paths = save_figure(fig, tmp_path / "plots" / "cm")
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert paths[0].read_bytes()[:8] == PNG_MAGIC
    assert paths[1].read_text().lstrip().startswith("<?xml") and "<svg" in paths[1].read_text()
    assert not list((tmp_path / "plots").glob(".*"))  # no temporary files left


def test_confusion_single_panel_and_bad_option(cm):
    """normalize='counts' draws one matrix panel (plus the colour bar); an unknown option is refused."""
    fig = plot_confusion(cm, normalize="counts")
    assert len([a for a in fig.axes if a.get_title() == "counts"]) == 1
    with pytest.raises(ValueError, match="normalize"):
        plot_confusion(cm, normalize="columns")


def test_reliability_plot_bars_are_bin_accuracies(tmp_path):
    """Reference: reliability_curve — the accuracy bars have the per-bin accuracies as heights and start at
    the bin edges; the histogram shows the bin counts; the ECE appears in the legend."""
    rng = np.random.default_rng(0)
    P = rng.dirichlet([1, 1, 1], size=300)
    y = np.array([rng.choice(["a", "b", "c"], p=p) for p in P])
    curve = reliability_curve(y, P, ["a", "b", "c"])
    fig = plot_reliability(curve, ece=0.0123, threshold=0.9)
    ax, axh = fig.axes[0], fig.axes[1]
    used = curve[curve["count"] > 0]
    bars = ax.containers[0]
    np.testing.assert_allclose([b.get_height() for b in bars], used["accuracy"])
    np.testing.assert_allclose([b.get_x() for b in bars], used["bin_lower"])
    np.testing.assert_allclose([b.get_height() for b in axh.containers[0]], used["count"])
    assert any("ECE 0.012" in t.get_text() for t in ax.get_legend().get_texts())
    uri = figure_to_base64(fig)
    assert base64.b64decode(uri.split(",", 1)[1])[:8] == PNG_MAGIC


def test_save_figure_rejects_unknown_format(cm, tmp_path):
    """An unknown image format is a ConfigError, and nothing is written."""
    with pytest.raises(ConfigError, match="unknown figure format"):
        save_figure(plot_confusion(cm), tmp_path / "x", formats=("png", "gif"))
    assert list(tmp_path.iterdir()) == []


def test_large_confusion_is_readable():
    """60 classes: the figure is capped in size and cells are not annotated (no unreadable text wall)."""
    labels = [f"class_{i}" for i in range(60)]
    cm = pd.DataFrame(np.eye(60, dtype=int) * 5, index=labels, columns=labels)
    fig = plot_confusion(cm)
    assert fig.get_size_inches()[1] <= 14.0
    assert not fig.axes[0].texts
