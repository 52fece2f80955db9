"""Canonical CpG ids across arrays: one probe axis for cohorts (and models) that mix 450k, EPIC, EPICv2, MSA.

Arrays name the same CpG differently (EPICv2 and MSA add Illumina suffixes, ``cg00000029_TC21``) and carry
replicate probes for some CpGs. A mixed-array store and a cross-array prediction therefore work on the
*canonical* CpG id (the manifest's ``cpg_id``; without a manifest, the probe id without its suffix).

* :func:`canonical_probe_table` — the union of several manifests' CpGs (first manifest's order, then the CpGs
  new in each following one) with chromosome, position and one ``on_<ARRAY>`` boolean column per array: the
  probe table of a mixed store (``join="inner"`` keeps the CpGs every array present holds).
* :class:`CanonicalMap` — maps one array's per-probe values onto that union: replicates collapse by the mean
  of their non-missing values (the rule of :func:`methylclass.io.manifest.collapse_replicates`, sesame's
  ``betasCollapseToPfx``), CpGs the array lacks are NaN. Vectorised (``np.bincount``): ~10 ms per EPICv2
  sample.
* :func:`collapse_replicate_columns` — the same rule on a samples × probes table (the prediction path).
* :func:`feature_coverage` — per sample, the fraction of a model's features that carry a value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError
from .manifest.tables import strip_replicate_suffix
from .manifest.types import Manifest

#: prefix of the per-array membership columns of a mixed store's probe table
ON_PREFIX = "on_"


def on_column(array: str) -> str:
    """Name of the membership column of ``array`` in a canonical probe table (``on_EPICV2``)."""
    return ON_PREFIX + re.sub(r"[^A-Za-z0-9]+", "_", str(array)).upper()


def canonical_probe_table(manifests: Sequence[Manifest]) -> pd.DataFrame:
    """The union of the manifests' canonical CpGs: ``probe_id`` (= ``cpg_id``), ``cpg_id``, ``chrom``, ``pos``
    (from the first manifest that holds the CpG) and ``on_<ARRAY>`` per manifest (see the module docstring)."""
    if not manifests:
        raise DataError("a canonical probe table needs at least one manifest")
    parts = []
    for man in manifests:
        p = man.probes
        cols = [c for c in ("cpg_id", "chrom", "pos") if c in p]
        parts.append(p[cols].drop_duplicates("cpg_id"))
    union = pd.concat(parts, ignore_index=True).drop_duplicates("cpg_id").reset_index(drop=True)
    union.insert(0, "probe_id", union["cpg_id"].astype(str))
    for man in manifests:
        union[on_column(man.array)] = union["cpg_id"].isin(set(man.probes["cpg_id"]))
    return union


@dataclass(frozen=True)
class CanonicalMap:
    """How one array's per-probe arrays land on a canonical probe axis (build with :meth:`build`)."""

    target: np.ndarray   # per probe of the array: index on the canonical axis (-1: CpG not on the axis)
    n_out: int           # length of the canonical axis

    @classmethod
    def build(cls, manifest: Manifest, canonical_ids: Sequence[str] | np.ndarray) -> CanonicalMap:
        """Map ``manifest``'s probes (through their ``cpg_id``) onto ``canonical_ids``."""
        ids = pd.Index(np.asarray(canonical_ids).astype(str))
        target = ids.get_indexer(manifest.probes["cpg_id"].to_numpy().astype(str)).astype(np.int64)
        return cls(target=target, n_out=len(ids))

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Per-probe ``values`` (float, NaN = missing) → float32 values on the canonical axis: replicates
        averaged over their non-missing values, absent CpGs NaN."""
        v = np.asarray(values, dtype=np.float64)
        if v.shape != self.target.shape:
            raise DataError(f"{v.shape[0]:,} values for an array of {self.target.shape[0]:,} probes")
        ok = (self.target >= 0) & ~np.isnan(v)
        t = self.target[ok]
        total = np.bincount(t, weights=v[ok], minlength=self.n_out)
        count = np.bincount(t, minlength=self.n_out)
        out = np.full(self.n_out, np.nan, dtype=np.float32)
        has = count > 0
        out[has] = (total[has] / count[has]).astype(np.float32)
        return out


def collapse_replicate_columns(X: pd.DataFrame, manifest: Manifest | None = None) -> pd.DataFrame:
    """A samples × probes table with one column per canonical CpG: replicate probe columns (``cg…_TC21``,
    ``cg…_BC11``) averaged over their non-missing values per sample (NaN only when every replicate is).

    The CpG of a column comes from ``manifest`` (``probe_id`` → ``cpg_id``) when given, else from the column
    name without its Illumina suffix. Columns keep their first-occurrence order. A table without suffixed
    columns comes back unchanged (same object)."""
    cols = pd.Series(X.columns.astype(str), index=X.columns)
    cpg = strip_replicate_suffix(cols).to_numpy(dtype=object)
    if manifest is not None:
        mapping = pd.Series(manifest.probes["cpg_id"].to_numpy(), index=manifest.probes["probe_id"].to_numpy())
        looked = mapping.reindex(cols.to_numpy()).to_numpy(dtype=object)
        cpg = np.where(pd.notna(looked), looked, cpg)
    if (cpg == cols.to_numpy(dtype=object)).all():
        return X
    codes, uniq = pd.factorize(cpg)
    values = X.to_numpy(dtype=np.float64)
    ok = ~np.isnan(values)
    total = np.zeros((values.shape[0], len(uniq)))
    count = np.zeros((values.shape[0], len(uniq)))
    np.add.at(total.T, codes, np.where(ok, values, 0.0).T)
    np.add.at(count.T, codes, ok.T.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    dtype = X.dtypes.iloc[0] if X.shape[1] and all(np.issubdtype(t, np.floating) for t in X.dtypes) else np.float64
    return pd.DataFrame(out.astype(dtype), index=X.index, columns=pd.Index(np.asarray(uniq, dtype=object),
                                                                          name="cpg_id"))


def common_cpgs(arrays: Sequence[str], store=None) -> set[str]:
    """Canonical CpG ids held by every array in ``arrays``: from a mixed store's ``on_<ARRAY>`` columns when
    the store has the array, else from the array's manifest (:func:`methylclass.io.manifest.load_manifest`;
    ManifestError when it cannot be loaded)."""
    from .manifest.load import load_manifest

    have = set(store.probes().columns) if store is not None else set()
    out: set[str] | None = None
    for name in arrays:
        col = on_column(name)
        if col in have:
            table = store.probes(["probe_id", col])
            ids = set(table.loc[table[col].to_numpy(bool), "probe_id"].astype(str))
        elif store is not None and len(store.arrays) == 1 and str(store.arrays[0]).upper() == str(name).upper():
            ids = set(strip_replicate_suffix(pd.Series(store.probe_ids())).astype(str))
        else:
            ids = set(load_manifest(name).probes["cpg_id"].astype(str))
        out = ids if out is None else out & ids
    return out or set()


def feature_coverage(X: pd.DataFrame, features: Sequence[str]) -> pd.Series:
    """Per sample (row of ``X``), the fraction of ``features`` present as a column with a non-missing value."""
    features = pd.Index(np.asarray(features).astype(str))
    if len(features) == 0:
        return pd.Series(1.0, index=X.index, name="coverage")
    present = features.intersection(X.columns.astype(str))
    cols = X.set_axis(X.columns.astype(str), axis=1)[present] if len(present) else X.iloc[:, :0]
    have = cols.notna().sum(axis=1).to_numpy(dtype=np.float64)
    return pd.Series(have / len(features), index=X.index, name="coverage")
