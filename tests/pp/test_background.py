"""Noob (normal-exponential out-of-band) and Illumina background correction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import DataError
from methylclass.pp import background as bg


def _mass_huber(y, k=1.5, tol=1e-6):
    """MASS::huber transcribed literally (plain loop over the raw values): the independent reference."""
    y = np.asarray(y, dtype=np.float64)
    y = y[~np.isnan(y)]
    n = len(y)
    mu = float(np.median(y))
    s = float(1.4826 * np.median(np.abs(y - mu)))
    while True:
        yy = np.minimum(np.maximum(mu - k * s, y), mu + k * s)
        mu1 = float(np.sum(yy) / n)
        if abs(mu - mu1) < tol * s:
            break
        mu = mu1
    return mu, s


def test_huber_matches_R_MASS_values():
    """Reference: R 4.2.2 / MASS 7.3-58 ``huber(c(1,2,3,50,4,5,6))`` printed mu = 4.241298, s = 2.9652."""
    mu, s = bg.huber(np.array([1, 2, 3, 50, 4, 5, 6], dtype=float))
    assert mu == pytest.approx(4.241298, abs=5e-7)
    assert s == pytest.approx(2.9652, abs=1e-12)


@pytest.mark.parametrize("integer", [True, False])
def test_huber_equals_literal_MASS_algorithm(integer):
    """Reference: a literal transcription of MASS::huber on the raw values — checks both the histogram fast
    path (integer IDAT-like data, 200k values) and the direct path (non-integer data)."""
    rng = np.random.default_rng(1)
    y = np.concatenate([rng.normal(400, 80, 150_000), rng.exponential(3000, 50_000) + 400])
    y = np.rint(np.clip(y, 1, 65535)) if integer else y
    y[::997] = np.nan
    mu, s = bg.huber(y)
    ref_mu, ref_s = _mass_huber(y)
    assert s == pytest.approx(ref_s, rel=1e-12)
    assert mu == pytest.approx(ref_mu, rel=1e-9)


def test_huber_refuses_constant_data():
    """A constant vector has MAD 0: MASS stops with an error, we raise DataError."""
    with pytest.raises(DataError, match="MAD is zero"):
        bg.huber(np.full(100, 7.0))


def test_normexp_signal_matches_limma_values():
    """Reference: R limma 3.54 ``normexp.signal(c(100, log(30), log(800)), c(1, 5, 100, 300, 2000))`` printed
    7.828889 8.079685 23.532303 198.875000 1898.875000."""
    out = bg.normexp_signal(np.array([1, 5, 100, 300, 2000.0]), bg.NormexpParams(mu=100, sigma=30, alpha=800))
    np.testing.assert_allclose(out, [7.828889, 8.079685, 23.532303, 198.875, 1898.875], rtol=2e-7)


def test_apply_normexp_table_path_is_exact():
    """Reference: direct evaluation of the formula — the uint16 look-up table must give identical float32s."""
    rng = np.random.default_rng(2)
    x = rng.integers(0, 30_000, 100_000).astype(np.float64)
    x[::1000] = np.nan
    par = bg.NormexpParams(mu=412.3, sigma=97.1, alpha=2311.0)
    fast = bg.apply_normexp(x, par, 15.0)
    slow = (bg.normexp_signal(x, par) + 15.0).astype(np.float32)
    np.testing.assert_array_equal(fast, slow)


def test_normexp_recovers_planted_signal():
    """Planted truth: X = N(300, 50²) + Exp(mean 1500). The background estimate must recover (300, 50); near
    the background (X < 450) E[S|X] must be clearly closer to the true S than plain subtraction; and with the
    true parameters E[E[S|X]] = E[S]."""
    rng = np.random.default_rng(3)
    n = 200_000
    signal = rng.exponential(1500.0, n)
    x = rng.normal(300, 50, n) + signal
    par = bg.estimate_normexp(x, rng.normal(300, 50, 50_000))
    assert par.mu == pytest.approx(300, abs=2)
    assert par.sigma == pytest.approx(50, rel=0.03)
    est = bg.normexp_signal(x, par)
    naive = np.maximum(x - par.mu, 0)
    low = x < 450
    assert np.mean((est - signal)[low] ** 2) < 0.9 * np.mean((naive - signal)[low] ** 2)
    assert np.mean((est - signal) ** 2) < np.mean((naive - signal) ** 2)
    truth = bg.normexp_signal(x, bg.NormexpParams(300, 50, 1500))
    assert truth.mean() == pytest.approx(signal.mean(), rel=0.005)
    assert np.all(est > 0)


def test_noob_on_realistic_sample(pp_synth_raw):
    """Planted truth: the synthetic red background is N(450, 110²) + Exp(60); noob's red background estimate
    must land near it, every corrected intensity must be ≥ the offset, and the input must stay untouched."""
    raw = pp_synth_raw
    before = raw.meth.copy()
    out = bg.noob(raw)
    np.testing.assert_array_equal(raw.meth, before)
    green, red = out.meta["noob"]["green"], out.meta["noob"]["red"]
    assert 450 < red.mu < 560 and 90 < red.sigma < 160
    assert green.sigma > 0 and green.alpha > bg.NOOB_MIN_ALPHA
    for arr in (out.meth, out.unmeth):
        assert arr.dtype == np.float32 and np.all(arr >= 15.0)
    ix = bg.channel_index(raw.manifest)
    assert np.all(np.isnan(out.oob_meth[ix.t2])) and np.all(out.oob_meth[ix.red] >= 15.0)
    # monotone: a brighter raw value never gets a smaller corrected one (within one channel)
    g = ix.meth_green
    order = np.argsort(raw.meth[g], kind="stable")
    assert np.all(np.diff(out.meth[g][order]) >= -1e-3)


def test_noob_keeps_missing_addresses_nan(pp_synth_raw):
    """A probe whose address is absent from the IDAT (NaN) stays NaN and does not disturb the others."""
    raw = pp_synth_raw
    meth = raw.meth.copy()
    meth[:50] = np.nan
    from dataclasses import replace
    out = bg.noob(replace(raw, meth=meth))
    assert np.all(np.isnan(out.meth[:50]))
    assert np.isfinite(out.meth[50:]).all()


def test_noob_without_type1_probes_names_the_sample(pp_tiny):
    """No Type I probes → no out-of-band background: a DataError naming the sample, not a numpy warning."""
    man = pp_tiny.manifest(["II"] * 4, [""] * 4)
    raw = pp_tiny.raw(man, [100, 200, 300, 400], [400, 300, 200, 100], sample="S-17")
    with pytest.raises(DataError, match="S-17.*out-of-band"):
        bg.noob(raw)


def _neg_controls(n: int) -> pd.DataFrame:
    return pd.DataFrame({"address": np.arange(5000, 5000 + n), "type": ["NEGATIVE"] * n,
                         "channel": ["Red"] * n, "name": [f"Negative {i}" for i in range(n)]})


@pytest.mark.parametrize("n_neg, expected", [(614, 31.0), (411, 31.0), (40, 2.0), (20, 1.0)])
def test_illumina_background_is_minfi_rank(pp_tiny, n_neg, expected):
    """Reference: minfi bgcorrect.illumina takes ``sort(neg)[31]`` (450k: 614 negatives, EPIC: 411); with fewer
    than 100 negatives we take the ceil(5 %) order statistic (40 → 2nd, 20 → 1st). Negatives are 1..n
    (shuffled), so the answer is the rank itself."""
    man = pp_tiny.manifest(["II"], [""], controls=_neg_controls(n_neg))
    vals = np.random.default_rng(0).permutation(np.arange(1, n_neg + 1)).astype(float)
    raw = pp_tiny.raw(man, [1], [1], ctrl_grn=vals, ctrl_red=vals * 2)
    g, r = bg.illumina_background(raw)
    assert g == expected and r == 2 * expected


def test_subtract_background_clips_at_zero(pp_tiny):
    """Hand-computed: M (green, Type II) 100 - 30 = 70; U (red) 20 - 50 → 0; Type I Red both red."""
    man = pp_tiny.manifest(["II", "I"], ["", "Red"])
    raw = pp_tiny.raw(man, [100, 80], [20, 60], oob_meth=[np.nan, 40], oob_unmeth=[np.nan, 10])
    out = bg.subtract_background(raw, 30.0, 50.0)
    np.testing.assert_array_equal(out.meth, [70, 30])
    np.testing.assert_array_equal(out.unmeth, [0, 10])
    np.testing.assert_array_equal(out.oob_meth[1:], [10])  # Type I Red oob is green


def test_illumina_background_without_negative_addresses(pp_tiny):
    """Negative controls in the manifest but absent from the IDATs (NaN): a DataError naming the sample rather
    than silently all-NaN betas."""
    man = pp_tiny.manifest(["II"], [""], controls=_neg_controls(5))
    raw = pp_tiny.raw(man, [1], [1], ctrl_grn=[np.nan] * 5, ctrl_red=[np.nan] * 5, sample="S-3")
    with pytest.raises(DataError, match="'S-3'.*NEGATIVE"):
        bg.illumina_background(raw)


def test_channel_index_cache_follows_the_probe_table(pp_tiny):
    """Manifests derived with dataclasses.replace share ``extra``: the cached index must belong to the probe
    table in hand, never to the one it was first computed for (same length, different designs here)."""
    from dataclasses import replace
    man = pp_tiny.manifest(["II", "I", "I"], ["", "Red", "Grn"])
    first = bg.channel_index(man)
    flipped = replace(man, probes=man.probes.iloc[::-1].reset_index(drop=True))
    second = bg.channel_index(flipped)
    np.testing.assert_array_equal(first.t2, [0])
    np.testing.assert_array_equal(second.t2, [2])
    assert bg.channel_index(man) is not second and bg.channel_index(man).t2.tolist() == [0]
