"""Linear (minfi "single") and non-linear (sesame dyeBiasCorrTypeINorm) dye-bias correction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ConfigError, DataError
from methylclass.pp import dyebias


def _norm_controls() -> pd.DataFrame:
    types = ["NORM_C", "NORM_G", "NORM_A", "NORM_T", "NEGATIVE"]
    return pd.DataFrame({"address": np.arange(9000, 9005), "type": types, "channel": [""] * 5,
                         "name": [f"Norm {t}" for t in types]})


def test_linear_dye_bias_hand_computed(pp_tiny):
    """Hand-computed: green NORM_C/G = 1000, 3000 (mean 2000); red NORM_A/T = 3000, 5000 (mean 4000) → every red
    intensity × 0.5 (Type II U, Type I Red M and U, Type I Grn out-of-band, red controls), green unchanged."""
    man = pp_tiny.manifest(["II", "I", "I"], ["", "Red", "Grn"], controls=_norm_controls())
    raw = pp_tiny.raw(man, meth=[800, 600, 400], unmeth=[200, 100, 50],
                      oob_meth=[np.nan, 70, 90], oob_unmeth=[np.nan, 30, 10],
                      ctrl_grn=[1000, 3000, 111, 222, 50], ctrl_red=[333, 444, 3000, 5000, 60])
    out = dyebias.linear_dye_bias(raw)
    np.testing.assert_allclose(out.meth, [800, 300, 400])
    np.testing.assert_allclose(out.unmeth, [100, 50, 50])
    np.testing.assert_allclose(out.oob_meth[1:], [70, 45])   # Type I Red oob = green; Type I Grn oob = red
    np.testing.assert_allclose(out.oob_unmeth[1:], [30, 5])
    np.testing.assert_allclose(out.controls["red"], [166.5, 222, 1500, 2500, 30])
    np.testing.assert_allclose(out.controls["grn"], [1000, 3000, 111, 222, 50])
    assert out.meta["dye_bias"]["red_factor"] == pytest.approx(0.5)


def test_linear_dye_bias_needs_normalisation_controls(pp_tiny):
    """A manifest without NORM_* controls cannot be dye-corrected: DataError naming the sample."""
    man = pp_tiny.manifest(["II"], [""])
    with pytest.raises(DataError, match="'S9'.*normalisation control"):
        dyebias.linear_dye_bias(pp_tiny.raw(man, [1], [1], sample="S9"))


def test_nonlinear_dye_bias_maps_both_channels_to_the_midpoint(pp_tiny):
    """Planted truth: Type I Red intensities are exactly 2 × the Type I Grn ones (same distribution, doubled),
    so sesame's mid-point mapping must send red x → 0.75·x and green x → 1.5·x inside the observed range;
    above the range it shifts (x - max + max_mid), below it scales (min_mid/min · x)."""
    rng = np.random.default_rng(0)
    n = 500
    g_m, g_u = rng.uniform(100, 10_000, n), rng.uniform(100, 10_000, n)
    design = ["I"] * (2 * n) + ["II"] * 3
    channel = ["Grn"] * n + ["Red"] * n + [""] * 3
    man = pp_tiny.manifest(design, channel)
    red_max = 2 * max(g_m.max(), g_u.max())
    red_min = 2 * min(g_m.min(), g_u.min())
    meth = np.concatenate([g_m, 2 * g_m, [5000, 5000, 5000]])
    unmeth = np.concatenate([g_u, 2 * g_u, [4000, red_max + 1000, red_min / 2]])
    raw = pp_tiny.raw(man, meth, unmeth)
    out = dyebias.nonlinear_dye_bias(raw)
    np.testing.assert_allclose(out.meth[n:2 * n], 1.5 * g_m, rtol=1e-5)
    np.testing.assert_allclose(out.meth[:n], 1.5 * g_m, rtol=1e-5)
    np.testing.assert_allclose(out.unmeth[2 * n], 0.75 * 4000, rtol=1e-5)
    np.testing.assert_allclose(out.unmeth[2 * n + 1], red_max + 1000 - red_max + 0.75 * red_max, rtol=1e-5)
    np.testing.assert_allclose(out.unmeth[2 * n + 2], 0.75 * red_min / red_min * red_min / 2, rtol=1e-5)
    np.testing.assert_allclose(out.meth[2 * n], 1.5 * 5000, rtol=1e-5)


def test_nonlinear_dye_bias_on_realistic_sample(pp_synth_raw):
    """Property of the method on a realistic sample: afterwards the Type I Red and Type I Grn intensity
    distributions coincide (their quantiles agree far better than before)."""
    from methylclass.pp.background import channel_index, noob
    nb = noob(pp_synth_raw)
    out = dyebias.nonlinear_dye_bias(nb)
    ix = channel_index(nb.manifest)
    q = np.linspace(0.05, 0.95, 19)

    def gap(s):
        ig = np.concatenate([s.meth[ix.grn], s.unmeth[ix.grn]])
        ir = np.concatenate([s.meth[ix.red], s.unmeth[ix.red]])
        return np.max(np.abs(np.log(np.quantile(ir, q) / np.quantile(ig, q))))

    assert gap(out) < 0.02 < gap(nb)


def test_unknown_dye_method():
    """A misspelt method is a ConfigError listing the choices."""
    with pytest.raises(ConfigError, match="linear, nonlinear, none"):
        dyebias.correct_dye_bias(None, "quadratic")
