"""The worker side of a simulated cohort: one sample's methylation, copy number and IDAT pair.

:func:`sample_signals` turns a :class:`SampleSpec` (the small per-sample table row drawn by
:mod:`.cohort`) and the shared :class:`CohortModel` into per-probe β, copy-number factor and channel arrays;
:func:`write_sample` writes the pair. Worker processes memory-map the model once (:func:`run_chunk`) and
return only a few numbers per sample, so memory stays bounded whatever the cohort size.
"""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np

from ..io.idat import Idat, idat_to_bytes, write_idat
from .cnv import CnvEvent, base_copy_number, probe_copy_number
from .intensities import AddressPlan, ChannelState, render_channels
from .profiles import ProfileModel, draw_sample_beta
from .rng import stream

TYPICAL_CONVERSION = 0.99
_Y_RESIDUAL = 0.01  # chrY signal of females relative to a male (cross-hybridisation; minfi oracle: ~1 %)


@dataclass
class SampleSpec:
    """Everything the worker needs to simulate one sample (small, picklable)."""

    index: int
    sample: str
    cls: str
    family: str
    is_normal: bool
    male: bool
    purity: float
    ffpe: bool
    low_quality: bool
    slide: int
    barcode: str
    position: str
    chip_type: str
    state: ChannelState
    dye_bias: float
    heterogeneity: float
    events: list[tuple[str, CnvEvent]]  # (origin, event)


@dataclass
class CohortModel:
    """The design-level model shared by all workers (stored once with joblib, memory-mapped by workers)."""

    plan: AddressPlan
    profiles: ProfileModel
    chrom_code: np.ndarray
    pos: np.ndarray
    ffpe_idx: np.ndarray
    ffpe_shift: np.ndarray
    seed: int
    batch_effect: float
    compress: bool
    cn_gamma: float = 1.0
    probe_shift: np.ndarray | None = None  # per-probe logit shift of β (array generation; mixed cohorts)


_MODEL_CACHE: dict[str, CohortModel] = {}


def _load_model(path: str) -> CohortModel:
    model = _MODEL_CACHE.get(path)
    if model is None:
        _MODEL_CACHE.clear()
        model = joblib.load(path, mmap_mode="r")
        _MODEL_CACHE[path] = model
    return model


def _logit_shift(beta: np.ndarray, idx: np.ndarray, shift: np.ndarray) -> None:
    b = np.clip(beta[idx], 1e-4, 1 - 1e-4)
    beta[idx] = 1.0 / (1.0 + np.exp(-(np.log(b / (1 - b)) + shift)))


def sample_signals(model: CohortModel, spec: SampleSpec):
    """Per-probe observed β (before intensity noise), copy-number factor and the channel arrays of a sample."""
    rng = stream(model.seed, "sample", spec.index)
    prof = model.profiles
    female = not spec.male
    bn = draw_sample_beta(prof, prof.beta_normal, rng, female=female)[prof.probe_cpg]
    c_n = base_copy_number(model.chrom_code, male=spec.male)
    if spec.is_normal:
        beta, weight = bn, c_n
    else:
        mu = prof.class_mean(spec.cls)
        bt = draw_sample_beta(prof, mu, rng, female=female, heterogeneity=spec.heterogeneity)[prof.probe_cpg]
        c_t = probe_copy_number([ev for _, ev in spec.events], model.chrom_code, model.pos, c_n)
        wt = np.float32(spec.purity) * c_t
        wn = np.float32(1.0 - spec.purity) * c_n
        weight = wt + wn
        with np.errstate(invalid="ignore", divide="ignore"):
            beta = np.where(weight > 0, (wt * bt + wn * bn) / weight, bn).astype(np.float32)
    factor = (weight / 2.0).astype(np.float32)
    if model.cn_gamma != 1.0:
        factor = factor ** np.float32(model.cn_gamma)
    factor[weight <= 0] = _Y_RESIDUAL  # female chrY: cross-hybridisation only
    # technical effects on β: slide-specific probes, FFPE-sensitive probes, incomplete conversion
    if model.batch_effect > 0:
        srng = stream(model.seed, "slide", spec.slide)
        k = max(1, beta.size // 50)
        idx = srng.choice(beta.size, size=k, replace=False)
        _logit_shift(beta, idx, srng.normal(0, 0.25 * model.batch_effect, size=k))
    if model.probe_shift is not None:
        beta = np.asarray(beta, dtype=np.float32).copy()
        _logit_shift(beta, np.arange(beta.size), np.asarray(model.probe_shift))
    if spec.ffpe and model.ffpe_idx.size:
        _logit_shift(beta, np.asarray(model.ffpe_idx), np.asarray(model.ffpe_shift))
    # incomplete bisulfite conversion: unconverted C read as methylated (the background profile already
    # carries the typical ~99 % conversion of good samples, so only the shortfall below it adds)
    short = max(0.0, TYPICAL_CONVERSION - spec.state.conversion) / TYPICAL_CONVERSION
    if short > 0:
        beta = beta + np.float32(short) * (1.0 - beta)
    arrays = render_channels(model.plan, beta.astype(np.float32), factor, spec.state, rng)
    return beta, factor, arrays


def write_sample(model: CohortModel, spec: SampleSpec, idat_dir: Path) -> dict:
    cpu0 = time.process_time()
    _, _, arr = sample_signals(model, spec)
    ids = np.asarray(model.plan.addresses)
    suffix = ".idat.gz" if model.compress else ".idat"
    stem = f"{spec.barcode}_{spec.position}"
    for chan, mean, sd in (("Grn", arr.grn_mean, arr.grn_sd), ("Red", arr.red_mean, arr.red_sd)):
        idat = Idat.from_arrays(ids, mean, sd=sd, n_beads=arr.n_beads, barcode=spec.barcode,
                                position=spec.position, chip_type=spec.chip_type)
        path = idat_dir / f"{stem}_{chan}{suffix}"
        if model.compress:  # gzip header without time stamp / file name: byte-identical reruns
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(gzip.compress(idat_to_bytes(idat), compresslevel=1, mtime=0))
            tmp.replace(path)
        else:
            write_idat(path, idat)
    return {"index": spec.index, "failed_probes": arr.n_failed, "cpu": time.process_time() - cpu0}


def run_chunk(model_path: str, specs: list[SampleSpec], idat_dir: str) -> list[dict]:
    model = _load_model(model_path)
    return [write_sample(model, s, Path(idat_dir)) for s in specs]
