"""numpydoc docstrings for the public API: every name ``methylclass`` exports has a docstring, and each
exported function documents every parameter in a ``Parameters`` section and its result in ``Returns``.

Names still written in the older prose style are listed in ``PENDING``; the list may only shrink (a name
that complies must leave it), so the check ratchets towards the whole API.
"""

from __future__ import annotations

import inspect
import re

import pytest

import methylclass

#: exported functions whose docstrings are still prose (parameters named inline): convert, then remove here
PENDING: set[str] = set()


def _section(doc: str, name: str) -> str | None:
    m = re.search(rf"^{name}\n-{{{len(name)}}}\n(.*?)(?=^\w[\w ]*\n-{{3,}}\n|\Z)", doc, re.DOTALL | re.MULTILINE)
    return m.group(1) if m else None


def _documented(section: str) -> set[str]:
    names: set[str] = set()
    for line in section.splitlines():
        if line and not line[0].isspace():
            head = line.split(" : ")[0]
            names.update(n.strip().lstrip("*") for n in head.split(","))
    return names


def numpydoc_problems(obj) -> list[str]:
    """What keeps ``obj``'s docstring from the numpydoc layout this project checks."""
    doc = inspect.getdoc(obj) or ""
    if not doc.strip():
        return ["no docstring"]
    if inspect.isclass(obj) or not callable(obj):
        return []
    params = [p for p in inspect.signature(obj).parameters.values() if p.name not in ("self", "cls")]
    problems = []
    if params:
        section = _section(doc, "Parameters")
        if section is None:
            return ["no Parameters section"]
        missing = [p.name for p in params if p.name not in _documented(section)]
        if missing:
            problems.append(f"parameters not documented: {', '.join(missing)}")
    if inspect.signature(obj).return_annotation not in ("None", None, inspect.Signature.empty) \
            and _section(doc, "Returns") is None:
        problems.append("no Returns section")
    return problems


EXPORTED = sorted(methylclass._LAZY)


@pytest.mark.parametrize("name", EXPORTED)
def test_exported_name_has_numpydoc(name):
    obj = getattr(methylclass, name)
    problems = numpydoc_problems(obj)
    if name in PENDING:
        assert problems, f"{name} now follows numpydoc: remove it from PENDING"
        assert "no docstring" not in problems
    else:
        assert not problems, f"{name}: {'; '.join(problems)}"


def test_checker_catches_a_missing_parameter():
    def documented(a: int, b: int) -> int:
        """Add.

        Parameters
        ----------
        a, b : int
            Numbers.

        Returns
        -------
        int
            The sum.
        """
        return a + b

    def half(a: int, c: int) -> int:
        """Add.

        Parameters
        ----------
        a : int
            A number.
        """
        return a + c

    assert numpydoc_problems(documented) == []
    assert numpydoc_problems(half) == ["parameters not documented: c", "no Returns section"]
