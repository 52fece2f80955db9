"""Per-sample normalisation: pure functions of one sample's :class:`RawSignals`, vectorised over probes.

The same function serves the single-sample path and the Spark cohort path (it is mapped over samples), so it
does no I/O and needs nothing but the sample and its manifest.

Methods (``normalize(raw, method=...)``):

* ``raw`` — no correction: ``beta = M / (M + U + offset)``.
* ``illumina`` — Heidelberg MNP / minfi ``preprocessIllumina`` single-sample variant: green is scaled so that
  the mean of the NORM_C + NORM_G controls is 10,000 and red so that NORM_A + NORM_T average 10,000
  (:data:`ILLUMINA_REFERENCE`; minfi's reference is the first array of the batch, the Heidelberg
  ``MNPpreprocessIllumina`` uses the fixed 10,000 so that every sample is processed on its own), then each
  channel's background — the 31st smallest of its negative controls, minfi ``bgcorrect.illumina`` — is
  subtracted and clipped at 0.
* ``noob`` — noob background correction (:mod:`.background`, offset 15) followed by dye-bias correction
  (:mod:`.dyebias`): ``dye_bias="linear"`` (default; minfi ``dyeMethod="single"``, what methylprep does with
  ``sesame=False``), ``"nonlinear"`` (sesame ``dyeBiasCorrTypeINorm``) or ``"none"``.

Betas: ``beta = max(M,0) / (max(M,0) + max(U,0) + offset)`` with ``offset = 100`` by default for every method —
Illumina GenomeStudio's and the Heidelberg classifier's convention, and what methylprep uses for noob (minfi
``getBeta`` defaults to 0, ``type="Illumina"`` to 100). M-values: ``log2((M + 1) / (U + 1))``.

Bead counts: a probe whose address was scanned with fewer than ``min_beads`` beads (default 1, i.e. no bead:
the intensity is not a measurement) gets a NaN beta — sesame's ``min.beads = 1`` default; minfi and methylprep
keep such values. ``min_beads=0`` keeps them.

Detection p-values (:mod:`.detection`) are computed on the raw intensities: ``detection="poobah"`` (default),
``"negative"`` (minfi ``detectionP``) or ``None``. With ``mask_failed=True`` the beta (and so the M-value) of
every probe with ``p > p_threshold`` is NaN; probes whose addresses are missing from the IDATs are always NaN.
With ``qc=True`` the :func:`~methylclass.pp.qc.sample_qc` dict goes into ``NormalizedSample.qc``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, is_dataclass

import numpy as np

from ..errors import ConfigError, DataError
from ..io.raw_types import RawSignals
from .background import NOOB_OFFSET, illumina_background, noob, subtract_background
from .detection import DETECTION_METHODS, P_THRESHOLD, detection_p, failed_mask
from .dyebias import DYE_METHODS, correct_dye_bias, normalization_control_means, scale_channels
from .levels import illumina_by_levels, noob_by_levels
from .qc import sample_qc

METHODS = ("raw", "illumina", "noob")
#: default beta offset (Illumina / Heidelberg / methylprep convention)
BETA_OFFSET = 100.0
#: probes read with fewer beads than this get a NaN beta (sesame ``min.beads``)
MIN_BEADS = 1
#: the level the Heidelberg single-sample Illumina normalisation scales the normalisation controls to
ILLUMINA_REFERENCE = 10_000.0


@dataclass
class NormalizedSample:
    """One sample after normalisation; arrays aligned to ``manifest.probes`` rows (float32)."""

    sample: str
    beta: np.ndarray
    meth: np.ndarray
    unmeth: np.ndarray
    detection_p: np.ndarray
    qc: dict = field(default_factory=dict)

    def m_values(self, alpha: float = 1.0) -> np.ndarray:
        """M-values ``log2((meth + alpha) / (unmeth + alpha))``; NaN wherever ``beta`` is NaN (missing
        addresses, probes read with fewer than ``min_beads`` beads, or failed detection when the sample was
        normalised with ``mask_failed=True``)."""
        m = np.log2((np.maximum(self.meth, 0) + alpha) / (np.maximum(self.unmeth, 0) + alpha)).astype(np.float32)
        m[np.isnan(self.beta)] = np.nan
        return m


def betas(meth: np.ndarray, unmeth: np.ndarray, offset: float = BETA_OFFSET, *,
          nonnegative: bool = False) -> np.ndarray:
    """``max(M,0) / (max(M,0) + max(U,0) + offset)`` as float32 (NaN where M or U is NaN).

    ``nonnegative=True`` promises that no value is below 0 (the clipping is then the identity and skipped).
    """
    m = meth if nonnegative else np.maximum(meth, 0)
    u = unmeth if nonnegative else np.maximum(unmeth, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = m + u
        if d.dtype.kind == "f" and np.result_type(d, offset) == d.dtype and np.result_type(m, d) == d.dtype:
            # m / (m + u + offset) computed in place: the same dtype at every step, so the same values
            d += offset
            return np.divide(m, d, out=d).astype(np.float32, copy=False)
        return (m / (d + offset)).astype(np.float32, copy=False)


def illumina_normalize(raw: RawSignals, *, reference: float = ILLUMINA_REFERENCE) -> RawSignals:
    """Heidelberg single-sample ``preprocessIllumina``: control normalisation to ``reference``, then
    negative-control background subtraction (see the module docstring)."""
    g, r = normalization_control_means(raw)
    if not (g > 0 and r > 0):
        raise DataError(f"sample '{raw.sample}': normalisation controls are not positive (green {g:.1f}, "
                        f"red {r:.1f}); cannot apply the Illumina normalisation")
    scaled = scale_channels(raw, reference / g, reference / r)
    bg_g, bg_r = illumina_background(scaled)
    out = subtract_background(scaled, bg_g, bg_r)
    out.meta["illumina"] = {"reference": reference, "green_factor": reference / g, "red_factor": reference / r,
                            "background_green": bg_g, "background_red": bg_r}
    return out


def _jsonable(obj):
    if is_dataclass(obj):
        return asdict(obj)
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj


def normalize(raw: RawSignals, *, method: str = "noob", offset: float = BETA_OFFSET, dye_bias: str = "linear",
              detection: str | None = "poobah", p_threshold: float = P_THRESHOLD, mask_failed: bool = False,
              noob_offset: float = NOOB_OFFSET, qc: bool = True, min_beads: int = MIN_BEADS) -> NormalizedSample:
    """Normalise one sample with ``method``; returns betas, corrected signals, detection p-values and QC.

    The methods and conventions are described in the module docstring.

    Parameters
    ----------
    raw : RawSignals
        One sample's raw signals.
    method : str
        ``"raw"``, ``"illumina"`` or ``"noob"``.
    offset : float
        The beta offset: ``beta = max(M,0) / (max(M,0) + max(U,0) + offset)``.
    dye_bias : str
        Dye-bias correction after noob: ``"linear"``, ``"nonlinear"`` or ``"none"``.
    detection : str or None
        Detection p-value method: ``"poobah"``, ``"negative"`` or None (p-values all NaN).
    p_threshold : float
        A probe with ``p > p_threshold`` fails detection (in [0, 1]).
    mask_failed : bool
        Set the beta of every probe failing detection to NaN.
    noob_offset : float
        The noob background-correction offset.
    qc : bool
        Compute the :func:`~methylclass.pp.qc.sample_qc` dict.
    min_beads : int
        A probe read with fewer beads gets a NaN beta (0 keeps every value).

    Returns
    -------
    NormalizedSample
        Betas, corrected methylated / unmethylated signals, detection p-values (float32, aligned to the
        manifest rows) and the QC dict (with the normalisation parameters).

    Raises
    ------
    ConfigError
        An unknown method or option, or an out-of-range ``p_threshold`` / ``min_beads``.
    DataError
        Naming the sample, when it lacks what the method needs.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown normalisation method '{method}'; choose one of {', '.join(METHODS)}")
    if dye_bias not in DYE_METHODS:
        raise ConfigError(f"unknown dye-bias method '{dye_bias}'; choose one of {', '.join(DYE_METHODS)}")
    if detection is not None and detection not in DETECTION_METHODS:
        raise ConfigError(f"unknown detection method '{detection}'; choose one of "
                          f"{', '.join(DETECTION_METHODS)} or None")
    if not 0 <= p_threshold <= 1:
        raise ConfigError(f"p_threshold must lie in [0, 1], got {p_threshold}")
    if not (isinstance(min_beads, (int, np.integer)) and min_beads >= 0):
        raise ConfigError(f"min_beads must be a whole number ≥ 0, got {min_beads!r}")

    positive = False  # signals known to be ≥ 0 or NaN (the beta's clipping at 0 is then skipped)
    if method == "raw":
        meth, unmeth, meta = raw.meth, raw.unmeth, raw.meta
    elif method == "illumina":
        fast = illumina_by_levels(raw, reference=ILLUMINA_REFERENCE)
        if fast is None:
            sig = illumina_normalize(raw)
            fast = sig.meth, sig.unmeth, sig.meta
        meth, unmeth, meta = fast
    else:
        fast = noob_by_levels(raw, offset=noob_offset, dye_bias=dye_bias)
        # the fast path's signals are table values ≥ noob_offset + 1e-6 (> 0) times a positive dye factor
        positive = fast is not None and noob_offset >= 0
        if fast is None:
            sig = correct_dye_bias(noob(raw, offset=noob_offset), dye_bias)
            fast = sig.meth, sig.unmeth, sig.meta
        meth, unmeth, meta = fast

    beta = betas(meth, unmeth, offset, nonnegative=positive)
    n_bead_masked = 0
    if min_beads > 0:
        few = raw.few_beads(min_beads)
        n_bead_masked = int(np.count_nonzero(few & ~np.isnan(beta)))
        beta[few] = np.nan
    if detection is None:
        detp = np.full(beta.shape, np.nan, dtype=np.float32)
    else:
        detp = detection_p(raw, detection)
        if mask_failed:
            beta[failed_mask(detp, p_threshold)] = np.nan

    info = {"method": method, "beta_offset": float(offset)}
    if method == "noob":
        info.update(dye_bias=dye_bias, noob=meta.get("noob"), dye=meta.get("dye_bias"))
    elif method == "illumina":
        info.update(illumina=meta.get("illumina"))
    qc_dict = sample_qc(raw, detp if detection else None, p_threshold=p_threshold,
                        detection_method=detection) if qc else {}
    qc_dict["normalization"] = _jsonable(info)
    qc_dict["mask_failed"] = bool(mask_failed)
    qc_dict["min_beads"] = int(min_beads)
    qc_dict["n_bead_masked"] = n_bead_masked
    # the raw method's signals are the (read-only) input arrays: hand out writable copies
    as_f32 = np.array if method == "raw" else np.asarray
    return NormalizedSample(sample=raw.sample, beta=beta, meth=as_f32(meth, dtype=np.float32),
                            unmeth=as_f32(unmeth, dtype=np.float32), detection_p=detp, qc=qc_dict)
