"""The jinja2 environment shared by every HTML report (one stylesheet: ``templates/_style.css``).

Autoescaping is on for every template, so sample names, class names and card texts from untrusted sources
are shown as text, never interpreted as HTML. Undefined variables are errors (a template typo fails loudly).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import jinja2


def _template(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The report environment: templates from ``methylclass/report/templates``, autoescaped, strict."""
    return jinja2.Environment(loader=jinja2.FunctionLoader(_template), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
