"""Self-contained HTML pages of the explain / panel / embed workflows (figures embedded as base64).

One small jinja2 template (``templates/understand.html.j2``, autoescaped) renders a title, a lead paragraph and
sections of text, tables and figures. No network access is needed to view a page.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import jinja2
import pandas as pd

from .._atomic import atomic_text

__all__ = ["Section", "render_page", "write_page"]


@dataclass
class Section:
    """A page section: ``title``, paragraphs of ``text``, ``tables`` (caption, DataFrame), ``figures``
    (caption, data URI)."""

    title: str
    text: Sequence[str] = ()
    tables: Sequence[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: Sequence[tuple[str, str]] = field(default_factory=list)


def _table_html(df: pd.DataFrame) -> str:
    return df.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0, classes="tbl", na_rep="")


def render_page(title: str, sections: Sequence[Section], *, lead: str = "") -> str:
    """HTML of one page."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    tpl = env.from_string(resources.files("methylclass.report").joinpath("templates/understand.html.j2")
                          .read_text(encoding="utf-8"))
    secs = [{"title": s.title, "text": list(s.text),
             "tables": [(cap, jinja2.utils.markupsafe.Markup(_table_html(df))) for cap, df in s.tables],
             "figures": list(s.figures)} for s in sections]
    return tpl.render(title=title, lead=lead, sections=secs,
                      created=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))


def write_page(path: str | Path, title: str, sections: Sequence[Section], *, lead: str = "") -> Path:
    """Write :func:`render_page` atomically to ``path``."""
    return atomic_text(path, render_page(title, sections, lead=lead))
