"""HTML reports (self-contained, images embedded, one stylesheet): the model benchmark, the per-sample
diagnosis pages with their index, and the readable model card."""

from __future__ import annotations

from .benchmark import (
    METRIC_ROWS,
    ModelResult,
    check_criteria,
    format_seconds,
    render_benchmark_report,
    write_benchmark_report,
)
from .card import render_card_html, write_card_html
from .diagnosis import SampleReport, safe_file_names, write_prediction_report

__all__ = ["METRIC_ROWS", "ModelResult", "SampleReport", "check_criteria", "format_seconds",
           "render_benchmark_report", "render_card_html", "safe_file_names", "write_benchmark_report",
           "write_card_html", "write_prediction_report"]
