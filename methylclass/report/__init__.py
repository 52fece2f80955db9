"""HTML reports: the model benchmark (self-contained, images embedded)."""

from __future__ import annotations

from .benchmark import (
    METRIC_ROWS,
    ModelResult,
    check_criteria,
    format_seconds,
    render_benchmark_report,
    write_benchmark_report,
)

__all__ = ["METRIC_ROWS", "ModelResult", "check_criteria", "format_seconds", "render_benchmark_report",
           "write_benchmark_report"]
