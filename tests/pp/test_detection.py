"""Detection p-values: pOOBAH (sesame) and the negative-control normal model (minfi detectionP)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from methylclass.errors import ConfigError, DataError
from methylclass.pp import detection


def _background_manifest(pp_tiny, n_bg: int = 60, extra: tuple = ()):
    """n_bg Type I Red + n_bg Type I Grn background probes, then the probes under test (``extra``)."""
    design = ["I"] * (2 * n_bg) + [d for d, _ in extra]
    channel = ["Red"] * n_bg + ["Grn"] * n_bg + [c for _, c in extra]
    return pp_tiny.manifest(design, channel)


def test_poobah_hand_computed(pp_tiny):
    """Hand-computed ECDFs. Green background = out-of-band values of all Type I Red probes: 1..60 twice from the
    background probes plus 7, 7 from the Type I Red probe under test (122 values); red background likewise
    101..160 twice plus 7, 7 (122 values).

    * Type I Red probe, M=150, U=20: max 150; red background > 150 = 151..160 twice → 20/122;
    * Type I Grn probe, M=5, U=45.5: max 45.5; green background > 45.5 = 46..60 twice → 30/122;
    * Type II probe, M (green) 61, U (red) 120: min(0/122, 80/122) = 0;
    * Type II probe, M 10, U 100: min(100/122, 120/122) = 100/122.
    """
    n = 60
    man = _background_manifest(pp_tiny, n, (("I", "Red"), ("I", "Grn"), ("II", ""), ("II", "")))
    oob_bg_g = np.arange(1, n + 1, dtype=float)
    oob_bg_r = np.arange(101, 101 + n, dtype=float)
    nan4 = [np.nan] * 4
    raw = pp_tiny.raw(man,
                      meth=np.r_[np.full(2 * n, 5000.0), 150, 5, 61, 10],
                      unmeth=np.r_[np.full(2 * n, 5000.0), 20, 45.5, 120, 100],
                      oob_meth=np.r_[oob_bg_g, oob_bg_r, [7, 7], nan4[:2]],
                      oob_unmeth=np.r_[oob_bg_g, oob_bg_r, [7, 7], nan4[:2]])
    p = detection.poobah(raw)
    assert p[2 * n] == pytest.approx(20 / 122)
    assert p[2 * n + 1] == pytest.approx(30 / 122)
    assert p[2 * n + 2] == pytest.approx(0.0)
    assert p[2 * n + 3] == pytest.approx(100 / 122)
    assert p.dtype == np.float32


def test_poobah_uses_sesame_prior_when_background_is_small(pp_tiny):
    """sesame: with ≤ 100 background values the ECDF of 1..1000 is used instead (p(500) = 0.5)."""
    man = pp_tiny.manifest(["I", "I", "II"], ["Red", "Grn", ""])
    raw = pp_tiny.raw(man, meth=[500, 500, 500], unmeth=[10, 10, 10], oob_meth=[1, 1, np.nan],
                      oob_unmeth=[1, 1, np.nan])
    np.testing.assert_allclose(detection.poobah(raw), [0.5, 0.5, 0.5])


def test_poobah_table_path_equals_binary_search():
    """The histogram fast path for integer IDAT data must equal R's ``1 - ecdf(bg)(x)`` computed by sorting."""
    rng = np.random.default_rng(4)
    bg = rng.integers(1, 3000, 200_000).astype(float)
    x = rng.integers(0, 20_000, 50_000).astype(float)
    x[::100] = np.nan
    fast = detection._ecdf_upper(bg, x)
    ref = 1.0 - np.searchsorted(np.sort(bg), np.nan_to_num(x), side="right") / bg.size
    ref[np.isnan(x)] = np.nan
    np.testing.assert_allclose(fast, ref.astype(np.float32), equal_nan=True)


def test_poobah_on_realistic_sample(pp_synth_raw):
    """Planted truth: in the synthetic sample every probe carries real signal (real green, red built as signal
    plus background), so only a small fraction fails; probes set to pure background must fail."""
    from dataclasses import replace
    p = detection.poobah(pp_synth_raw)
    assert np.isfinite(p).all()
    assert detection.failed_mask(p).mean() < 0.02
    meth, unmeth = pp_synth_raw.meth.copy(), pp_synth_raw.unmeth.copy()
    meth[:1000], unmeth[:1000] = 150.0, 150.0
    p2 = detection.poobah(replace(pp_synth_raw, meth=meth, unmeth=unmeth))
    assert detection.failed_mask(p2[:1000]).all()


def test_negative_control_p_matches_normal_model(pp_tiny):
    """Reference: scipy.stats.norm.sf with the negative controls' median and R-style MAD (1.4826), summed as
    minfi detectionP does: N(2mu, 2sd) per Type I channel, N(mu_R + mu_G, sd_R + sd_G) for Type II."""
    rng = np.random.default_rng(5)
    neg_g, neg_r = rng.normal(300, 40, 50), rng.normal(500, 60, 50)
    ctrl = pd.DataFrame({"address": np.arange(50), "type": ["NEGATIVE"] * 50, "channel": [""] * 50,
                         "name": [str(i) for i in range(50)]})
    man = pp_tiny.manifest(["I", "I", "II"], ["Red", "Grn", ""], controls=ctrl)
    raw = pp_tiny.raw(man, meth=[600, 400, 350], unmeth=[500, 300, 700], ctrl_grn=neg_g, ctrl_red=neg_r)
    neg_g, neg_r = neg_g.astype(np.float32).astype(float), neg_r.astype(np.float32).astype(float)
    mad = lambda v: 1.4826 * np.median(np.abs(v - np.median(v)))
    mg, mr, sg, sr = np.median(neg_g), np.median(neg_r), mad(neg_g), mad(neg_r)
    expected = [norm.sf(1100, 2 * mr, 2 * sr), norm.sf(700, 2 * mg, 2 * sg), norm.sf(1050, mr + mg, sr + sg)]
    np.testing.assert_allclose(detection.negative_control_p(raw), expected, rtol=1e-5)


def test_negative_control_p_without_negatives(pp_tiny):
    """No NEGATIVE controls → DataError naming the sample."""
    man = pp_tiny.manifest(["II"], [""])
    with pytest.raises(DataError, match="'X1'"):
        detection.negative_control_p(pp_tiny.raw(man, [1], [1], sample="X1"))


def test_failed_mask_counts_unknown_p_as_failed():
    """p > threshold fails, p == threshold passes, NaN (missing address) fails."""
    np.testing.assert_array_equal(detection.failed_mask(np.array([0.01, 0.05, 0.06, np.nan])),
                                  [False, False, True, True])


def test_unknown_detection_method(pp_tiny):
    """A misspelt method is a ConfigError listing the choices."""
    with pytest.raises(ConfigError, match="poobah, negative"):
        detection.detection_p(None, "pvalue")
