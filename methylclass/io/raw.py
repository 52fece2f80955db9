"""Read raw signals of many samples: IDAT pairs → manifest-aligned methylated / unmethylated intensities.

:func:`read_raw` is the front door: a folder, a sample sheet or a list of IDAT basenames
(:func:`methylclass.io.discover.find_samples` finds the pairs), the manifest auto-detected from the first IDAT
(:func:`methylclass.io.manifest.detect_array`) unless given, and every pair mapped with
:func:`methylclass.io.raw_types.raw_signals_from_idats` (minfi ``preprocessRaw`` channel rules, proven
against minfi's output in the tests).

A wrong manifest is caught instead of producing all-NaN output: each sample's IDAT must contain at least
``min_address_coverage`` of the manifest's probe bead addresses. Samples that cannot be used (unreadable
file, other array) are skipped and listed in :attr:`RawSet.problems`; if no sample is usable the first error
is raised. Samples that are usable with a caveat (a few addresses missing) are listed in
:attr:`RawSet.warnings`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import IdatError, ManifestError, MethylclassError
from ..records import SampleFailure
from .discover import find_samples, read_idat_pair
from .idat import Idat
from .manifest.registry import arrays_for_count
from .manifest.resolve import resolve_manifest
from .manifest.types import Manifest
from .raw_types import RawSignals, layout_address_coverage, raw_signals_from_idats

#: THE sample-acceptance rule of every reading path (read_raw, cohort ingestion, CNV from IDATs): a sample
#: whose IDATs hold less than this fraction of the manifest's probe bead addresses is refused as another
#: array type or a damaged scan (a real scan of the right array has all of them; see address_coverage)
MIN_ADDRESS_COVERAGE = 0.95
#: below this fraction (but above the minimum) the sample is kept with a warning
WARN_ADDRESS_COVERAGE = 0.99


@dataclass
class RawSet:
    """Raw signals of several samples aligned to one manifest.

    ``samples``: one :class:`RawSignals` per usable sample, in discovery order. ``sample_table``: one row per
    sample (index = sample name): IDAT paths, barcode, position, address count, address coverage, plus the
    sample-sheet columns. ``problems``: samples skipped (:class:`~methylclass.records.SampleFailure`, reason
    names the file). ``warnings``: notes on samples that were kept. :func:`read_raw` builds ``sample_table`` on
    first access (:meth:`from_rows`).
    """

    samples: list[RawSignals]
    manifest: Manifest
    sample_table: pd.DataFrame
    problems: list[SampleFailure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_rows(cls, samples: list[RawSignals], manifest: Manifest, rows: list[dict],
                  problems: list[SampleFailure], warnings: list[str]) -> RawSet:
        """A set whose ``sample_table`` is built from the per-sample ``rows`` (dicts with a ``sample`` key) when
        first read: a single-sample read that only wants ``.samples[0]`` never pays for a DataFrame."""
        obj = cls.__new__(cls)
        obj.__dict__.update(samples=samples, manifest=manifest, problems=problems, warnings=warnings,
                            _table_rows=rows)
        return obj

    def __getattr__(self, name: str):
        # reached only for an attribute not set on the instance: the table of a set made by from_rows
        rows = self.__dict__.get("_table_rows")
        if name == "sample_table" and rows is not None:
            table = self.__dict__["sample_table"] = _sample_table(rows)
            return table
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[RawSignals]:
        return iter(self.samples)

    def __getitem__(self, key: int | str) -> RawSignals:
        if isinstance(key, str):
            for s in self.samples:
                if s.sample == key:
                    return s
            raise KeyError(key)
        return self.samples[key]

    @property
    def names(self) -> list[str]:
        """Sample names, in order."""
        return [s.sample for s in self.samples]

    def _frame(self, attr: str) -> pd.DataFrame:
        data = np.vstack([getattr(s, attr) for s in self.samples]) if self.samples else \
            np.zeros((0, self.manifest.n_probes), dtype=np.float32)
        columns = pd.Index(self.manifest.probes["probe_id"].to_numpy(), name="probe_id")
        return pd.DataFrame(data, index=pd.Index(self.names, name="sample"), columns=columns, copy=False)

    @cached_property
    def meth(self) -> pd.DataFrame:
        """Methylated signal, samples × probes (float32, columns ``probe_id``, NaN where an address is absent)."""
        return self._frame("meth")

    @cached_property
    def unmeth(self) -> pd.DataFrame:
        """Unmethylated signal, samples × probes (float32, columns ``probe_id``)."""
        return self._frame("unmeth")

    def betas(self, offset: float = 100.0) -> pd.DataFrame:
        """Raw betas ``M / (M + U + offset)`` (negative signals clipped to 0), samples × probes, float32.

        ``offset=100`` is Illumina's/the Heidelberg classifier's choice; minfi's ``getBeta`` default is 0.
        """
        m = np.maximum(self.meth.to_numpy(), 0)
        u = np.maximum(self.unmeth.to_numpy(), 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            b = (m / (m + u + np.float32(offset))).astype(np.float32)
        return pd.DataFrame(b, index=self.meth.index, columns=self.meth.columns, copy=False)


def address_coverage(raw: RawSignals) -> float:
    """Fraction of the manifest's probe bead addresses found in the sample's IDATs.

    Derived from the mapped signals (an intensity is NaN exactly when its address is absent): Type II
    probes have one address, Type I probes two. For signals straight from integer IDATs it is a property of
    the address layout, computed once per layout (:func:`~methylclass.io.raw_types.layout_address_coverage`).
    """
    levels = raw.idat_levels()
    if levels is not None:
        return layout_address_coverage(levels.index, raw.manifest)
    t1 = raw.is_type1
    found = np.isfinite(raw.meth).sum() + np.isfinite(raw.unmeth[t1]).sum()
    total = len(raw.meth) + int(t1.sum())
    return float(found / total) if total else 0.0


def _pct(x: float) -> str:
    return f"{x:.1%}" if x == 0 or x >= 0.001 else f"{x:.3%}"


def _mismatch_message(sample: str, grn: Idat, manifest: Manifest, coverage: float) -> str:
    looks = [s.name for s in arrays_for_count(grn.n_probes) if s.name != manifest.array]
    hint = f"; its {grn.n_probes:,} addresses look like {' / '.join(looks)}" if looks else \
        f" ({grn.n_probes:,} addresses)"
    return (f"sample '{sample}': only {_pct(coverage)} of the {manifest.array} manifest's probe addresses are "
            f"in '{grn.path}'{hint} — the IDATs and the manifest are from different arrays; pass the right "
            "manifest with --manifest PATH / manifest=… or leave it out to detect the array")


_TABLE_COLUMNS = ("sample", "grn", "red", "barcode", "position", "chip_type", "n_addresses", "address_coverage")


def _map_pair(name: str, grn: Idat, red: Idat, manifest: Manifest, min_address_coverage: float
              ) -> tuple[RawSignals, dict, list[str]]:
    """One pair mapped onto ``manifest``: the raw signals, the sample-table row and the warnings (see
    :func:`rawset_from_idats`); :class:`ManifestError` below ``min_address_coverage``."""
    raw = raw_signals_from_idats(grn, red, manifest, name)
    cov = address_coverage(raw)
    if cov < min_address_coverage:
        raise ManifestError(_mismatch_message(name, grn, manifest, cov))
    warns = []
    if cov < WARN_ADDRESS_COVERAGE and min_address_coverage > 0:
        warns.append(f"sample '{name}': {1 - cov:.2%} of the {manifest.array} manifest's probe addresses "
                     f"are missing from '{grn.path}'; those signals are NaN")
    meta = raw.meta
    row = {"sample": name, "grn": str(grn.path or ""), "red": str(red.path or ""), "barcode": meta["barcode"],
           "position": meta["position"], "chip_type": meta["chip_type"], "n_addresses": grn.n_probes,
           "address_coverage": cov}
    return raw, row, warns


def rawset_from_idats(pairs: Iterable[tuple[str, Idat, Idat]], manifest: Manifest, *,
                      sample_table: pd.DataFrame | None = None,
                      min_address_coverage: float = MIN_ADDRESS_COVERAGE) -> RawSet:
    """Build a :class:`RawSet` from in-memory ``(name, green, red)`` IDAT pairs (simulator, tests).

    Each pair goes through :func:`raw_signals_from_idats`; a pair covering less than
    ``min_address_coverage`` of the manifest's addresses raises :class:`ManifestError`
    (``min_address_coverage=0`` accepts partial IDATs such as test subsets).
    """
    samples, rows, warns = [], [], []
    for name, grn, red in pairs:
        raw, row, warning = _map_pair(name, grn, red, manifest, min_address_coverage)
        samples.append(raw)
        rows.append(row)
        warns.extend(warning)
    table = pd.DataFrame(rows, columns=list(_TABLE_COLUMNS)).set_index("sample")
    if sample_table is not None and len(sample_table):
        extra = sample_table.drop(columns=[c for c in sample_table.columns if c in table.columns],
                                  errors="ignore")
        table = table.join(extra, how="left")
    return RawSet(samples=samples, manifest=manifest, sample_table=table, warnings=warns)


def read_raw(source: str | Path | Iterable[str | Path], *, manifest: Manifest | str | Path | None = None,
             sheet: str | Path | None = None,
             min_address_coverage: float = MIN_ADDRESS_COVERAGE) -> RawSet:
    """Read the raw signals of every sample in ``source`` (a folder, a sample sheet, IDAT basenames).

    Unusable samples are skipped into :attr:`RawSet.problems`.

    Parameters
    ----------
    source : str, Path or iterable of str or Path
        A folder, a sample sheet, or IDAT basenames / paths (see :func:`~methylclass.io.discover.find_samples`).
    manifest : Manifest, str or Path, optional
        A :class:`Manifest`, an array name (``"HM450"``), a manifest file path, or None to detect the array from
        the first IDAT.
    sheet : str or Path, optional
        A sample sheet for a folder ``source`` (its columns end up in :attr:`RawSet.sample_table`).
    min_address_coverage : float
        Minimum fraction of the manifest's addresses an IDAT must hold.

    Returns
    -------
    RawSet
        The samples read, the manifest, the sample table, the per-sample problems and warnings.

    Raises
    ------
    IdatError
        No usable IDAT pair found, or (as the first error met) no sample could be read.
    ManifestError
        The manifest cannot be loaded or detected, or (as the first error met) it does not fit any sample,
        naming the IDAT.
    SampleSheetError
        From :func:`~methylclass.io.discover.find_samples` (a missing source, a folder without IDATs …).
    """
    found = find_samples(source, sheet=sheet)
    problems: list[SampleFailure] = list(found.problems)
    if not found.samples:
        detail = "; ".join(str(p) for p in problems[:3]) or "nothing found"
        raise IdatError(f"no usable IDAT pair in '{found.source or source}': {detail}")
    man: Manifest | None = manifest if isinstance(manifest, Manifest) else None
    samples: list[RawSignals] = []
    rows: list[dict] = []
    warns: list[str] = []
    first_error: MethylclassError | None = None
    for ref in found.samples:
        try:
            grn, red = read_idat_pair(ref)
            if man is None:
                man = resolve_manifest(manifest=manifest, first_idat=grn)
            raw, row, warning = _map_pair(ref.name, grn, red, man, min_address_coverage)
        except (IdatError, ManifestError) as exc:
            if isinstance(exc, ManifestError) and man is None:
                raise  # the manifest itself could not be loaded or detected: nothing can be read
            first_error = first_error or exc
            problems.append(SampleFailure(ref.name, ref.grn, str(exc) if ref.name in str(exc)
                                          else f"sample '{ref.name}': {exc}", stage="read"))
            continue
        samples.append(raw)
        warns.extend(warning)
        row.update({f"sheet_{k}" if k in row else k: v for k, v in ref.meta.items() if k != "sample"})
        rows.append(row)
    if not samples:
        assert first_error is not None
        n = len(found.samples)
        if n > 1:
            raise type(first_error)(f"{first_error} (and the other {n - 1} sample(s) failed too)")
        raise first_error
    assert man is not None
    return RawSet.from_rows(samples, man, rows, problems, warns)


def _sample_table(rows: list[dict]) -> pd.DataFrame:
    """``pd.DataFrame(rows).set_index("sample")`` (columns in order of first appearance, NaN where a row lacks
    one), built column by column: a third of the time for the one-row tables of single-sample reads."""
    columns = [c for c in dict.fromkeys(k for r in rows for k in r) if c != "sample"]
    index = pd.Index([r["sample"] for r in rows], name="sample")
    return pd.DataFrame({c: [r.get(c, np.nan) for r in rows] for c in columns}, index=index, columns=columns)


