"""The per-sample CNV task shared by every path (IDATs, a store in this process, a store on Spark).

:class:`CNVTask` wraps the kernel :func:`~methylclass.pp.cnv.cnv_sample` with everything it needs besides the
sample (bins, reference panel, options; picklable, so Spark broadcasts it once), reads a stored sample's
``meth`` + ``unmeth`` (only that sample's file) and hands the result to a ``writer`` (the workflow's
per-sample tables and plots, so this layer never plots). :func:`cnv_total` defines
the copy-number signal and which probes count as not measured (see :mod:`methylclass.pp.cnv.panel`).
:func:`feature_frame` is the one assembly of the feature table, so every path produces the same table.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataError, MethylclassError
from .bins import Bins
from .features import cnv_features
from .options import DEFAULT_OPTIONS, CNVOptions
from .reference import CNVReference
from .sample import CNVResult, cnv_sample


# -- intensities ------------------------------------------------------------------------------------------
def cnv_total(meth: np.ndarray, unmeth: np.ndarray, *, raw: bool = False, beads_meth: np.ndarray | None = None,
              beads_unmeth: np.ndarray | None = None) -> np.ndarray:
    """Total intensity ``meth + unmeth`` (float64) with NaN for probes that were not measured.

    Not measured: an address with 0 beads (when bead counts are given) or, for ``raw`` intensities, a signal
    of 0 in either channel (see the module docstring). Normalised signals (noob, illumina) are used as they
    are: after background subtraction a 0 can be a real, very low signal (a homozygous deletion).
    """
    m = np.asarray(meth)
    u = np.asarray(unmeth)
    total = m.astype(np.float64) + u
    missing = np.zeros(total.shape, dtype=bool)
    if raw:
        with np.errstate(invalid="ignore"):
            missing |= (m <= 0) | (u <= 0)
    for beads in (beads_meth, beads_unmeth):
        if beads is not None:
            missing |= np.asarray(beads) == 0
    total[missing] = np.nan
    return total


def raw_total(sample) -> np.ndarray:
    """:func:`cnv_total` of one sample's :class:`~methylclass.io.raw_types.RawSignals` (IDAT intensities)."""
    return cnv_total(sample.meth, sample.unmeth, raw=True, beads_meth=sample.beads_meth,
                     beads_unmeth=sample.beads_unmeth)


def describe_calls(result: CNVResult) -> str:
    """Called arm and focal events of a result, e.g. ``+7p, +7q, -10q, EGFR:amp`` (``balanced`` if none)."""
    arms = result.arms[result.arms["call"].isin(["gain", "loss"])]
    focal = result.focal[result.focal["call"].isin(["amplification", "deletion"])]
    return ", ".join([f"{'+' if c == 'gain' else '-'}{a}" for a, c in zip(arms["arm"], arms["call"])]
                     + [f"{g}:{'amp' if c == 'amplification' else 'del'}"
                        for g, c in zip(focal["gene"], focal["call"])]) or "balanced"


def feature_frame(rows: Sequence[pd.Series]) -> pd.DataFrame:
    """Samples × CNV features (float32, index ``sample``) from per-sample feature Series (the one assembly
    every path uses, so their tables are identical)."""
    if not rows:
        return pd.DataFrame(index=pd.Index([], name="sample"))
    df = pd.DataFrame(list(rows)).astype(np.float32)
    df.index.name = "sample"
    return df


# -- the per-sample task ----------------------------------------------------------------------------------
def failure_reason(exc: BaseException) -> str:
    """The reason recorded for a sample whose analysis raised ``exc``."""
    if isinstance(exc, MethylclassError):
        return str(exc)
    return f"unexpected error while analysing: {type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class CNVTask:
    """The per-sample CNV kernel with everything it needs besides the sample (picklable: Spark broadcasts it).

    :meth:`analyse` runs :func:`cnv_sample` on a total intensity; :meth:`process` reads a stored sample file
    (only that file) first and passes the result to ``writer`` when set; :meth:`record` is
    :meth:`process` for executors: it never raises for a bad sample and returns a small dict (feature row,
    summary, call text — no probe-level data). ``regions``: the focal-gene table (default + cancer genes when
    asked) resolved on the driver, so executors need no data folder; None = the bundled ``"default"`` set
    loaded where the task runs, plus the cancer genes when ``cancer_genes``.
    """

    bins: Bins
    reference: CNVReference
    options: CNVOptions = DEFAULT_OPTIONS
    regions: pd.DataFrame | None = None
    raw: bool = False
    n_probes: int | None = None
    writer: Callable[[CNVResult, Bins], list[str | Path]] | None = None

    def analyse(self, sample: str, total: np.ndarray) -> CNVResult:
        """CNV of one sample from its total intensities (manifest-row aligned); raises for unusable input."""
        if not np.isfinite(total).any():
            raise DataError(f"sample '{sample}': no methylated/unmethylated intensities (all missing); CNV "
                            "needs the meth and unmeth signals")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the panel-size note is logged once by the caller
            opt = self.options
            if self.regions is not None:  # focal regions resolved once on the driver (cancer genes included)
                detail, cancer_genes = self.regions, False
            else:
                detail, cancer_genes = "default", opt.cancer_genes
            return cnv_sample(total, self.reference, self.bins, sample=sample, detail=detail,
                              cancer_genes=cancer_genes, method=opt.method, seg_params=opt.seg_params,
                              thresholds=opt.thresholds, keep_probes=False)

    def read_total(self, sample: str, path: str | Path) -> np.ndarray:
        """:func:`cnv_total` of a stored sample file's ``meth`` and ``unmeth`` arrays."""
        from ...io.store import read_sample_array

        meth = read_sample_array(path, "meth", self.n_probes)
        unmeth = read_sample_array(path, "unmeth", self.n_probes)
        return cnv_total(meth, unmeth, raw=self.raw)

    def features(self, result: CNVResult) -> pd.Series:
        """The sample's feature row."""
        summary = self.options.bin_summary
        return cnv_features(result, bins=self.bins if summary else None, bin_summary=summary)

    def outputs(self, result: CNVResult) -> list[Path]:
        """Per-sample files written by ``writer`` (picklable; the workflow's tables and plots); none without."""
        if self.writer is None:
            return []
        return [Path(f) for f in self.writer(result, self.bins)]

    def process(self, sample: str, path: str | Path) -> tuple[CNVResult, list[Path]]:
        """Read, analyse and write one stored sample; raises for a bad sample."""
        res = self.analyse(sample, self.read_total(sample, path))
        return res, self.outputs(res)

    def record(self, sample: str, path: str | Path) -> dict:
        """:meth:`process` as a small record: ``sample``, ``status`` (ok|failed), ``reason``, ``features``
        (Series), ``summary`` (dict), ``calls`` (text), ``files``. Never raises for bad input."""
        rec: dict = {"sample": sample, "status": "failed", "reason": "", "features": None, "summary": None,
                     "calls": "", "files": []}
        try:
            res, files = self.process(sample, path)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - one odd sample must not sink the cohort
            rec["reason"] = failure_reason(exc)
            return rec
        rec.update(status="ok", features=self.features(res), summary=res.summary(), calls=describe_calls(res),
                   files=[str(f) for f in files])
        return rec
