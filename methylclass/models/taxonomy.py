"""Class families: an optional taxonomy class → family → superfamily (as the Heidelberg classifier's
"methylation class families").

Read from a TSV/CSV (columns ``class``, ``family`` and optionally ``superfamily``), a YAML file (either
``{class: family}``, ``{families: {family: [classes]}}`` or a list of ``{class, family, superfamily}`` rows), a
simulated cohort's ``truth/samples.tsv`` (its ``class`` / ``family`` columns), or a plain mapping. Classes
missing from the taxonomy are their own single-member family. :meth:`Taxonomy.to_dict` /
:meth:`Taxonomy.from_dict` are the JSON form stored in a model bundle's card (plain strings: nothing to execute).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError

__all__ = ["Taxonomy", "load_taxonomy"]


@dataclass
class Taxonomy:
    """``family`` maps class → family; ``superfamily`` maps family → superfamily (optional)."""

    family: dict[str, str]
    superfamily: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.family = {str(k): str(v) for k, v in self.family.items()}
        self.superfamily = {str(k): str(v) for k, v in (self.superfamily or {}).items()}
        clash = sorted(set(self.family) & (set(self.family.values()) - set(self.family)))
        if clash:
            raise ConfigError(f"taxonomy: {clash} are both classes and families of other classes")

    def family_of(self, classes: Iterable) -> np.ndarray:
        """Family of each class (a class not in the taxonomy is its own family)."""
        return np.asarray([self.family.get(str(c), str(c)) for c in classes], dtype=object)

    def families(self, classes: Iterable) -> list[str]:
        """Distinct families of ``classes``, in order of first appearance."""
        return list(dict.fromkeys(self.family_of(classes)))

    def members(self, classes: Iterable) -> dict[str, list[str]]:
        """Family → its member classes among ``classes``."""
        out: dict[str, list[str]] = {}
        for c, f in zip(classes, self.family_of(classes)):
            out.setdefault(str(f), []).append(str(c))
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``{"family": {...}, "superfamily": {...}}``)."""
        return {"family": dict(self.family), "superfamily": dict(self.superfamily)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Taxonomy | None:
        """Inverse of :meth:`to_dict` (None stays None)."""
        if not data:
            return None
        if "family" in data and isinstance(data["family"], Mapping):
            return cls(dict(data["family"]), dict(data.get("superfamily") or {}))
        return cls({str(k): str(v) for k, v in data.items()})


def _from_rows(rows: list[Mapping[str, Any]], where: str) -> Taxonomy:
    fam, sup = {}, {}
    for r in rows:
        if "class" not in r or "family" not in r:
            raise DataError(f"'{where}': taxonomy rows need 'class' and 'family' (got {sorted(r)})")
        c, f = str(r["class"]), str(r["family"])
        if fam.get(c, f) != f:
            raise DataError(f"'{where}': class '{c}' is in two families ('{fam[c]}' and '{f}')")
        fam[c] = f
        s = r.get("superfamily")
        if s is not None and str(s) not in ("", "nan"):
            sup[f] = str(s)
    return Taxonomy(fam, sup)


def load_taxonomy(source: str | Path | Mapping[str, Any] | Taxonomy | None, *,
                  exclude: Iterable[str] = ("normal",)) -> Taxonomy | None:
    """Read a class taxonomy.

    Parameters
    ----------
    source : path, mapping, Taxonomy or None
        A TSV/CSV (``class``, ``family``, optional ``superfamily``), a YAML file, a mapping (``{class: family}``
        or ``{families: {family: [classes]}}``), a :class:`Taxonomy` (returned as is) or None.
    exclude : iterable of str
        Classes to drop (the normal references of a simulated cohort).

    Returns
    -------
    Taxonomy or None
        The taxonomy (None for ``source=None``).
    """
    import pandas as pd

    if source is None or isinstance(source, Taxonomy):
        return source
    drop = set(map(str, exclude))
    if isinstance(source, Mapping):
        if "families" in source:
            fam = {str(c): str(f) for f, cs in source["families"].items() for c in cs}
            tax = Taxonomy(fam, dict(source.get("superfamily") or {}))
        else:
            tax = Taxonomy.from_dict(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise DataError(f"'{path}' taxonomy file does not exist")
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            try:
                data = yaml.safe_load(path.read_text())
            except yaml.YAMLError as exc:
                raise DataError(f"'{path}' is not valid YAML: {exc}") from None
            if isinstance(data, list):
                tax = _from_rows(data, str(path))
            elif isinstance(data, Mapping):
                tax = load_taxonomy(data, exclude=())
            else:
                raise DataError(f"'{path}' taxonomy must be a mapping or a list of rows")
        else:
            try:
                df = pd.read_csv(path, sep=None, engine="python", dtype=str)
            except (OSError, ValueError) as exc:
                raise DataError(f"'{path}' cannot be read as a taxonomy table: {exc}") from None
            tax = _from_rows(df.to_dict(orient="records"), str(path))
    assert tax is not None
    tax.family = {c: f for c, f in tax.family.items() if c not in drop}
    return tax
