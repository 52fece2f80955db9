"""The fast paths on integer IDAT levels (methylclass.pp.levels: noob + dye bias, Illumina; pOOBAH and the QC
medians) against the generic kernels.

Reference: :func:`methylclass.pp.background.noob` followed by :func:`methylclass.pp.dyebias.correct_dye_bias`,
:func:`methylclass.pp.normalize.illumina_normalize`, and pOOBAH/QC on copied float signals (the kernels proven
against minfi/limma/methylprep and hand-computed inputs elsewhere in tests/pp). The fast path must reproduce them
*bit for bit* — betas, corrected M/U and the recorded parameters — and must step aside (return None, so the
generic kernels answer or raise) whenever its preconditions do not hold. Every equality test first asserts the
fast path really ran, so it cannot pass vacuously.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from methylclass.errors import ConfigError, DataError
from methylclass.io.idat import Idat
from methylclass.io.raw_types import raw_signals_from_idats
from methylclass.pp.background import noob
from methylclass.pp.dyebias import correct_dye_bias
from methylclass.pp.levels import noob_by_levels
from methylclass.pp.normalize import betas, normalize


def _generic(raw, dye_bias: str):
    sig = correct_dye_bias(noob(raw), dye_bias)
    return sig.meth, sig.unmeth, sig.meta


def _assert_identical(raw, dye_bias: str) -> None:
    fast = noob_by_levels(raw, offset=15.0, dye_bias=dye_bias)
    assert fast is not None, "the fast path did not run"
    meth, unmeth, meta = _generic(raw, dye_bias)
    assert fast[0].dtype == np.float32 and fast[1].dtype == np.float32
    np.testing.assert_array_equal(fast[0], meth)
    np.testing.assert_array_equal(fast[1], unmeth)
    assert fast[2]["noob"] == meta["noob"]
    assert fast[2].get("dye_bias") == meta.get("dye_bias")
    ns = normalize(raw, method="noob", dye_bias=dye_bias, detection=None, qc=False, min_beads=0)
    np.testing.assert_array_equal(ns.beta, betas(meth, unmeth))


def _subset_pair(pair, keep: np.ndarray, edit=None):
    """The pair restricted to the addresses where ``keep`` is true; ``edit(grn_mean, red_mean)`` may change
    the means (float64 copies) before the IDATs are rebuilt."""
    g, r = pair.grn, pair.red
    gm, rm = g.mean.astype(np.float64)[keep], r.mean.astype(np.float64)[keep]
    if edit is not None:
        edit(gm, rm)
    ids = g.illumina_ids[keep]
    return (Idat.from_arrays(ids, gm, n_beads=g.n_beads[keep]), Idat.from_arrays(ids, rm, n_beads=r.n_beads[keep]))


def _edited_raw(pair, manifest, seed: int, *, drop: float, zeros: int, saturated: int):
    """The pair mapped with ``drop`` of its addresses removed (absent → NaN) and, per channel, ``zeros``
    means set to 0 and ``saturated`` to 65535 (probes and controls alike)."""
    rng = np.random.default_rng(seed)

    def edit(gm, rm):
        for m in (gm, rm):
            m[rng.choice(m.size, zeros, replace=False)] = 0
            m[rng.choice(m.size, saturated, replace=False)] = 65535

    grn, red = _subset_pair(pair, rng.random(pair.grn.n_probes) > drop, edit)
    return raw_signals_from_idats(grn, red, manifest, "edited")


@pytest.mark.parametrize("dye_bias", ["linear", "none"])
def test_fast_path_is_bit_identical_on_a_450k_sample(pp_synth_raw, dye_bias):
    _assert_identical(pp_synth_raw, dye_bias)


def test_fast_path_is_bit_identical_with_absent_zero_and_saturated_levels(pp_synth_pair, pp_hm450):
    """Absent addresses (NaN), level 0 (floored to 1 by noob) and saturated 65535 values, in probes and
    controls."""
    raw = _edited_raw(pp_synth_pair, pp_hm450, 3, drop=0.01, zeros=2_000, saturated=500)
    assert np.isnan(raw.meth).any() and (raw.meth == 0).any() and np.isnan(raw.controls["grn"]).any()
    _assert_identical(raw, "linear")
    ns = normalize(raw, method="noob", detection=None, qc=False, min_beads=0)
    assert np.array_equal(np.isnan(ns.beta), np.isnan(raw.meth) | np.isnan(raw.unmeth))


def test_signals_from_idats_are_read_only_and_derived_signals_use_the_generic_kernels(pp_synth_raw):
    raw = pp_synth_raw
    assert raw.idat_levels() is not None
    with pytest.raises(ValueError):
        raw.meth[0] = 1.0
    meth = raw.meth.copy()
    meth[:100] = 200.0
    edited = replace(raw, meth=meth)
    assert edited.idat_levels() is None
    assert noob_by_levels(edited, offset=15.0, dye_bias="linear") is None
    ns = normalize(edited, method="noob", detection=None, qc=False, min_beads=0)
    m, u, _ = _generic(edited, "linear")
    np.testing.assert_array_equal(ns.beta, betas(m, u))
    # the raw method hands out writable copies, never the read-only inputs
    out = normalize(raw, method="raw", detection=None, qc=False)
    out.meth[0] = 1.0
    assert raw.meth[0] != 1.0 or np.isnan(raw.meth[0])


def test_nonlinear_dye_bias_uses_the_generic_kernels(pp_synth_raw):
    assert noob_by_levels(pp_synth_raw, offset=15.0, dye_bias="nonlinear") is None
    ns = normalize(pp_synth_raw, method="noob", dye_bias="nonlinear", detection=None, qc=False, min_beads=0)
    m, u, _ = _generic(pp_synth_raw, "nonlinear")
    np.testing.assert_array_equal(ns.beta, betas(m, u))


def test_missing_normalisation_controls_fall_back_to_the_generic_error(pp_synth_pair, pp_hm450):
    """Without any NORM_A/T control address the fast path steps aside and the generic kernel's DataError,
    naming the sample, is what the user sees."""
    ctrl = pp_hm450.controls
    norm = ctrl.loc[ctrl["type"].str.upper().isin(["NORM_A", "NORM_T"]), "address"].to_numpy()
    keep = ~np.isin(pp_synth_pair.grn.illumina_ids, norm)
    grn, red = _subset_pair(pp_synth_pair, keep)
    raw = raw_signals_from_idats(grn, red, pp_hm450, "no_norm_controls")
    assert noob_by_levels(raw, offset=15.0, dye_bias="linear") is None
    with pytest.raises(DataError, match="no_norm_controls.*normalisation control"):
        normalize(raw, method="noob", detection=None, qc=False)
    # without dye-bias correction the controls are not needed and the fast path applies
    _assert_identical(raw, "none")


def test_small_arrays_use_the_generic_kernels(pp_tiny):
    """With ≤ 8,192 values per channel the generic Huber sorts instead of counting; the fast path steps aside."""
    n = 40
    design = ["I"] * 20 + ["II"] * 20
    channel = ["Grn"] * 10 + ["Red"] * 10 + [""] * 20
    man = pp_tiny.manifest(design, channel)
    addresses = np.unique(np.concatenate([man.probes["address_u"], man.probes["address_m"]]))
    addresses = addresses[addresses >= 0]
    rng = np.random.default_rng(0)
    grn = Idat.from_arrays(addresses, rng.integers(100, 5000, addresses.size))
    red = Idat.from_arrays(addresses, rng.integers(100, 5000, addresses.size))
    raw = raw_signals_from_idats(grn, red, man, "tiny")
    assert raw.idat_levels() is not None and raw.meth.size == n
    assert noob_by_levels(raw, offset=15.0, dye_bias="none") is None
    ns = normalize(raw, method="noob", dye_bias="none", detection=None, qc=False, min_beads=0)
    m, u, _ = _generic(raw, "none")
    np.testing.assert_array_equal(ns.beta, betas(m, u))


def _generic_copy(raw):
    """The same sample with copied signal arrays: no IDAT levels, so every kernel takes its generic path."""
    out = replace(raw, meth=raw.meth.copy(), unmeth=raw.unmeth.copy(), oob_meth=raw.oob_meth.copy(),
                  oob_unmeth=raw.oob_unmeth.copy())
    assert out.idat_levels() is None
    return out


@pytest.mark.parametrize("edited", [False, True])
def test_poobah_and_qc_on_levels_equal_the_generic_kernels(pp_synth_raw, pp_synth_pair, pp_hm450, edited):
    """pOOBAH (level-count ECDF) and the QC medians (level-count median) on IDAT levels give exactly the
    generic float results, also with absent, zero and saturated values."""
    raw = pp_synth_raw
    if edited:
        raw = _edited_raw(pp_synth_pair, pp_hm450, 5, drop=0.02, zeros=3_000, saturated=300)
    from methylclass.pp.detection import _poobah_by_levels
    assert _poobah_by_levels(raw, True) is not None, "the levels path did not run"
    fast, slow = normalize(raw), normalize(_generic_copy(raw))
    for field in ("beta", "meth", "unmeth", "detection_p"):
        np.testing.assert_array_equal(getattr(fast, field), getattr(slow, field))
    assert fast.qc == slow.qc
    assert np.isnan(fast.detection_p).any() == edited


@pytest.mark.parametrize("edited", [False, True])
def test_illumina_on_levels_equals_the_generic_kernel(pp_synth_raw, pp_synth_pair, pp_hm450, edited):
    """The Heidelberg Illumina normalisation on IDAT levels (one scaled, background-subtracted table per
    channel) reproduces illumina_normalize exactly, and normalize(method="illumina") uses it."""
    from methylclass.pp.levels import illumina_by_levels
    from methylclass.pp.normalize import ILLUMINA_REFERENCE, illumina_normalize

    raw = pp_synth_raw
    if edited:
        raw = _edited_raw(pp_synth_pair, pp_hm450, 9, drop=0.02, zeros=3_000, saturated=300)
    fast = illumina_by_levels(raw, reference=ILLUMINA_REFERENCE)
    assert fast is not None, "the fast path did not run"
    sig = illumina_normalize(raw)
    np.testing.assert_array_equal(fast[0], sig.meth)
    np.testing.assert_array_equal(fast[1], sig.unmeth)
    assert fast[2]["illumina"] == sig.meta["illumina"]
    a, b = normalize(raw, method="illumina"), normalize(_generic_copy(raw), method="illumina")
    np.testing.assert_array_equal(a.beta, b.beta)
    assert a.qc == b.qc


def test_probes_without_beads_get_nan_betas(pp_synth_pair, pp_hm450):
    """An address scanned with no bead carries no measurement: its probes get NaN betas by default (sesame
    min.beads = 1), are counted in the QC, and keep their value with min_beads=0; min_beads=3 masks more."""
    g, r = pp_synth_pair.grn, pp_synth_pair.red
    rng = np.random.default_rng(11)
    nb = g.n_beads.copy()
    nb[rng.choice(nb.size, 5_000, replace=False)] = 0
    grn = Idat.from_arrays(g.illumina_ids, g.mean, n_beads=nb)
    red = Idat.from_arrays(r.illumina_ids, r.mean, n_beads=nb)
    raw = raw_signals_from_idats(grn, red, pp_hm450, "zero_beads")
    none = (raw.beads_meth == 0) | (raw.beads_unmeth == 0)
    assert none.sum() > 1_000
    ns = normalize(raw)
    assert np.isnan(ns.beta[none]).all() and np.isfinite(ns.beta[~none]).all()
    assert np.isnan(ns.m_values()[none]).all()
    assert ns.qc["n_bead_masked"] == int(none.sum()) and ns.qc["min_beads"] == 1
    kept = normalize(raw, min_beads=0)
    assert np.isfinite(kept.beta).all() and kept.qc["n_bead_masked"] == 0
    np.testing.assert_array_equal(kept.beta[~none], ns.beta[~none])
    few = (raw.beads_meth < 3) | (raw.beads_unmeth < 3)
    assert np.isnan(normalize(raw, min_beads=3, qc=False).beta[few]).all()
    with pytest.raises(ConfigError):
        normalize(raw, min_beads=-1)
