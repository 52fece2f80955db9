"""The per-sample CNV kernel: fit → bins → shift → segmentation → calls, as one picklable pure function.

:func:`cnv_sample` is what the single-sample path and the Spark cohort path both call (the Spark job
broadcasts the :class:`~methylclass.pp.cnv.bins.Bins` and :class:`~methylclass.pp.cnv.reference.CNVReference`
and maps this function over samples).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from .bins import Bins
from .calls import (
    DEFAULT_THRESHOLDS,
    CallThresholds,
    arm_value_per_bin,
    bin_values,
    call_arms,
    call_focal,
    fraction_altered,
    probe_noise,
    region_probe_ranges,
    segment_value_per_bin,
    shorth_shift,
)
from .genome import load_regions
from .reference import CNVReference
from .segment import CBSParams, segment


@dataclass
class CNVResult:
    """Copy-number profile of one sample (arrays aligned with the bins / fit probes they came from).

    ``bin_value`` are unshifted bin medians; ``shift`` is the baseline to subtract (``bin_value - shift``
    is what plots and calls use). ``segments`` has ``chrom, first, last, start, end, n_bins, mean, median,
    value`` (``value = mean − shift``). ``probe_ratio`` (unshifted, fit-probe order) is kept unless
    ``keep_probes=False``.
    """

    sample: str
    bins_key: str
    shift: float
    noise: float
    sigma: float
    bin_value: np.ndarray
    bin_var: np.ndarray
    segments: pd.DataFrame
    arms: pd.DataFrame
    focal: pd.DataFrame
    fga: dict
    references: list[str]
    coef: np.ndarray
    n_shared: int
    probe_ratio: np.ndarray | None = None
    params: dict = field(default_factory=dict)

    @property
    def bin_shifted(self) -> np.ndarray:
        """Bin values minus the baseline shift."""
        return self.bin_value - self.shift

    def seg_per_bin(self) -> np.ndarray:
        """Shifted segment value of every bin."""
        return segment_value_per_bin(self.segments, self.bin_value.shape[0])

    def bin_table(self, bins: Bins) -> pd.DataFrame:
        """Bins with this sample's values: bin table + ``value``, ``variance``, ``segment``."""
        t = bins.table()
        t["value"] = self.bin_shifted
        t["variance"] = self.bin_var
        t["segment"] = self.seg_per_bin()
        return t

    def summary(self) -> dict:
        """Scalar QC/summary numbers (noise, shift, sigma, FGA, counts)."""
        return {"sample": self.sample, "noise": self.noise, "shift": self.shift, "sigma": self.sigma,
                "n_segments": len(self.segments), "n_references": len(self.references),
                "n_shared_probes": self.n_shared, **self.fga}


@lru_cache(maxsize=8)
def _regions(kind: str, build: str) -> pd.DataFrame:
    return load_regions(kind, build)


_RANGE_CACHE: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}


def _focal_regions(detail, cancer_genes: bool, build: str) -> pd.DataFrame:
    if isinstance(detail, pd.DataFrame):
        regs = detail
    elif detail in (None, False):
        regs = pd.DataFrame(columns=["chrom", "start", "end", "name"])
    else:
        regs = _regions("detail", build)
    if cancer_genes:
        cg = _regions("cancer_genes", build)
        regs = pd.concat([regs, cg[~cg["name"].isin(regs["name"])]], ignore_index=True)
    return regs


def cnv_sample(total_intensity: np.ndarray, reference: CNVReference, bins: Bins, *, sample: str = "query",
               detail: pd.DataFrame | str | None = "default", cancer_genes: bool = False,
               method: str = "cbs", seg_params: CBSParams | None = None,
               thresholds: CallThresholds = DEFAULT_THRESHOLDS, keep_probes: bool = True) -> CNVResult:
    """Full CNV analysis of one sample.

    Parameters
    ----------
    total_intensity : ndarray
        ``meth + unmeth`` per probe, aligned with the manifest rows ``bins`` was built from (or already
        restricted to ``bins``' fit probes).
    reference : CNVReference
        The control samples the query is fitted against.
    bins : Bins
        The genomic bins (:func:`~methylclass.pp.cnv.bins.make_bins`).
    sample : str
        The sample's name.
    detail : DataFrame, str or None
        Focal regions: ``"default"`` (the 20 bundled focal genes), a region table or None.
    cancer_genes : bool
        Add the ~730 cancer genes to the focal regions.
    method : str
        Segmentation: ``"cbs"`` (default) or ``"binseg"`` (fast).
    seg_params : CBSParams, optional
        Segmentation parameters (default :class:`CBSParams` ()).
    thresholds : CallThresholds
        Gain / loss thresholds for arm and focal calls.
    keep_probes : bool
        Keep the per-probe log2 ratios in the result.

    Returns
    -------
    CNVResult
        Bin values, segments, arm and focal calls, fraction of genome altered, noise and the references used.

    Raises
    ------
    DataError
        Unusable input.
    """
    fit = reference.fit(total_intensity, bins, sample=sample)
    med, var = bin_values(fit.ratios, bins)
    shift = shorth_shift(med)
    with np.errstate(divide="ignore"):
        weights = 1.0 / var
    p = seg_params or CBSParams()
    seg = segment(med, bins.chrom, weights, method=method, params=p)
    seg["start"] = bins.start[seg["first"].to_numpy()]
    seg["end"] = bins.end[seg["last"].to_numpy()]
    seg["value"] = seg["mean"] - shift
    seg = seg[["chrom", "first", "last", "start", "end", "n_bins", "mean", "median", "value"]]
    spb = segment_value_per_bin(seg, bins.n_bins)
    arms = call_arms(spb, med - shift, bins, thresholds)
    sigma = probe_noise(fit.ratios, spb, bins, shift)
    regs = _focal_regions(detail, cancer_genes, bins.build)
    ck = (bins.key, id(regs)) if isinstance(detail, pd.DataFrame) else (bins.key, hash((str(detail),
                                                                                         cancer_genes)))
    ranges = _RANGE_CACHE.get(ck) if not isinstance(detail, pd.DataFrame) else None
    if ranges is None:
        ranges = region_probe_ranges(regs, bins)
        if not isinstance(detail, pd.DataFrame):
            _RANGE_CACHE[ck] = ranges
    focal = call_focal(fit.ratios, shift, regs, bins, spb, sigma, thresholds, ranges=ranges,
                       arm_values=arm_value_per_bin(arms, bins))
    fga = fraction_altered(spb, bins, thresholds)
    return CNVResult(sample=sample, bins_key=bins.key, shift=shift, noise=fit.noise, sigma=sigma,
                     bin_value=med.astype(np.float32), bin_var=var.astype(np.float32), segments=seg,
                     arms=arms, focal=focal, fga=fga,
                     references=[reference.names[i] for i in fit.used_refs], coef=fit.coef,
                     n_shared=fit.n_shared,
                     probe_ratio=fit.ratios.astype(np.float32) if keep_probes else None,
                     params={"method": method, "segmentation": p.__dict__, "thresholds": thresholds.as_dict()})
