"""``normalize``: the raw / illumina / noob methods, masking, M-values and the QC it attaches."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ConfigError
from methylclass.io.idat import Idat
from methylclass.io.raw_types import raw_signals_from_idats
from methylclass.pp.normalize import METHODS, NormalizedSample, normalize


@pytest.fixture(scope="module")
def minfi_subset(data_dir, pp_hm450):
    """Real 450k intensities of minfiData sample 5723646052_R02C02 at 1,938 addresses, mapped with the HM450
    manifest, and minfi's preprocessRaw M/U for the 600 probes they cover."""
    d = data_dir / "oracle" / "minfi_hm450_subset"
    g = pd.read_csv(d / "RGset_Green.csv", index_col=0)
    r = pd.read_csv(d / "RGset_Red.csv", index_col=0)
    s = "5723646052_R02C02"
    grn = Idat.from_arrays(g.index.to_numpy(), g[s].to_numpy())
    red = Idat.from_arrays(r.index.to_numpy(), r[s].to_numpy())
    raw = raw_signals_from_idats(grn, red, pp_hm450, s)
    m = pd.read_csv(d / "preprocessRaw_Meth.csv", index_col=0)[s]
    u = pd.read_csv(d / "preprocessRaw_Unmeth.csv", index_col=0)[s]
    return raw, m, u


def test_raw_betas_match_minfi_preprocessRaw(minfi_subset):
    """Reference: minfi preprocessRaw M and U of the 600 covered probes, beta = M / (M + U + 100) (Illumina
    offset); every probe whose addresses are absent from the IDAT must be NaN in beta and M-value."""
    raw, m, u = minfi_subset
    ns = normalize(raw, method="raw", detection=None, qc=False)
    pos = pd.Series(np.arange(raw.manifest.n_probes), index=raw.probe_ids)[m.index].to_numpy()
    np.testing.assert_allclose(ns.beta[pos], (m / (m + u + 100)).to_numpy(), rtol=1e-6)
    mv = ns.m_values()
    np.testing.assert_allclose(mv[pos], np.log2((m + 1) / (u + 1)).to_numpy(), rtol=1e-5)
    finite = np.isfinite(ns.beta)
    assert set(np.flatnonzero(finite)) >= set(pos)
    assert np.isnan(ns.beta[~finite]).all() and np.isnan(mv[~finite]).all()
    assert finite.sum() < 1000  # the rest of the 485,577 probes have no data here


def test_raw_beta_offset_parameter(minfi_subset):
    """minfi getBeta's default offset 0: beta = M / (M + U)."""
    raw, m, u = minfi_subset
    ns = normalize(raw, method="raw", offset=0, detection=None, qc=False)
    pos = pd.Series(np.arange(raw.manifest.n_probes), index=raw.probe_ids)[m.index].to_numpy()
    np.testing.assert_allclose(ns.beta[pos], (m / (m + u)).to_numpy(), rtol=1e-6)


def _illumina_manifest(pp_tiny):
    types = ["NORM_C", "NORM_G", "NORM_A", "NORM_T"] + ["NEGATIVE"] * 614
    ctrl = pd.DataFrame({"address": np.arange(7000, 7000 + len(types)), "type": types,
                         "channel": [""] * len(types), "name": [f"c{i}" for i in range(len(types))]})
    return pp_tiny.manifest(["II", "I", "I"], ["", "Red", "Grn"], controls=ctrl)


def test_illumina_hand_computed(pp_tiny):
    """Hand-computed Heidelberg preprocessIllumina: green NORM_C/G = 4000, 6000 → mean 5000 → ×2; red NORM_A/T
    = 2000, 3000 → mean 2500 → ×4; 614 negatives (as on 450k) with values 1..614 in both channels → after
    scaling the 31st smallest is 62 (green) and 124 (red). Type II: M = 1000·2 - 62 = 1938, U = 500·4 - 124 =
    1876; Type I Red: M = 300·4 - 124 = 1076, U = max(10·4 - 124, 0) = 0; Type I Grn: M = 700·2 - 62 = 1338,
    U = 40·2 - 62 = 18. beta offset 100."""
    man = _illumina_manifest(pp_tiny)
    neg = np.random.default_rng(1).permutation(np.arange(1, 615, dtype=float))
    raw = pp_tiny.raw(man, meth=[1000, 300, 700], unmeth=[500, 10, 40],
                      oob_meth=[np.nan, 5, 5], oob_unmeth=[np.nan, 5, 5],
                      ctrl_grn=np.r_[4000, 6000, 1, 1, neg], ctrl_red=np.r_[1, 1, 2000, 3000, neg])
    ns = normalize(raw, method="illumina", detection=None, qc=False)
    np.testing.assert_allclose(ns.meth, [1938, 1076, 1338])
    np.testing.assert_allclose(ns.unmeth, [1876, 0, 18])
    np.testing.assert_allclose(ns.beta, [1938 / (1938 + 1876 + 100), 1076 / 1176, 1338 / (1338 + 18 + 100)],
                               rtol=1e-6)
    info = ns.qc["normalization"]["illumina"]
    assert info["green_factor"] == 2 and info["red_factor"] == 4
    assert info["background_green"] == 62 and info["background_red"] == 124


def test_noob_on_realistic_sample(pp_synth_raw):
    """Noob betas stay in [0, 1], are NaN exactly where an address was read with no bead (every address is
    present), remain highly correlated with the raw betas, and the linear dye-bias step only rescales red values
    (green meth of Type II probes is identical with and without it)."""
    ns = normalize(pp_synth_raw, method="noob")
    raw_ns = normalize(pp_synth_raw, method="raw", qc=False)
    beadless = (pp_synth_raw.beads_meth == 0) | (pp_synth_raw.beads_unmeth == 0)
    assert ns.beta.dtype == np.float32 and np.array_equal(np.isnan(ns.beta), beadless)
    b, rb = ns.beta[~beadless], raw_ns.beta[~beadless]
    assert (b >= 0).all() and (b <= 1).all()
    assert np.corrcoef(b, rb)[0, 1] > 0.98
    none = normalize(pp_synth_raw, method="noob", dye_bias="none", qc=False, detection=None)
    t2 = pp_synth_raw.manifest.probes["design"].to_numpy() == "II"
    np.testing.assert_array_equal(none.meth[t2], ns.meth[t2])
    factor = ns.qc["normalization"]["dye"]["red_factor"]
    np.testing.assert_allclose(ns.unmeth[t2], none.unmeth[t2] * factor, rtol=1e-5)
    json.dumps(ns.qc)  # the QC dict is JSON-ready for reports and Spark rows


def test_noob_nonlinear_variant(pp_synth_raw):
    """dye_bias="nonlinear" runs sesame's Type I quantile mid-point correction; its betas stay close to the
    linear variant's (r > 0.97: the synthetic Type I Red distribution is not a rescaled copy of the real Type I
    Grn one, so the non-linear map legitimately differs from a single factor)."""
    lin = normalize(pp_synth_raw, method="noob", detection=None, qc=False, min_beads=0)
    non = normalize(pp_synth_raw, method="noob", dye_bias="nonlinear", detection=None, qc=False, min_beads=0)
    assert np.corrcoef(lin.beta, non.beta)[0, 1] > 0.97
    assert np.isfinite(non.beta).all() and (non.beta >= 0).all() and (non.beta <= 1).all()


def test_mask_failed_sets_nan(pp_synth_raw):
    """With mask_failed=True the probes turned into pure background fail pOOBAH and get NaN beta and M-value;
    without it they keep a beta. The detection p-values are returned either way."""
    meth, unmeth = pp_synth_raw.meth.copy(), pp_synth_raw.unmeth.copy()
    meth[:500], unmeth[:500] = 200.0, 180.0
    raw = replace(pp_synth_raw, meth=meth, unmeth=unmeth)
    masked = normalize(raw, method="noob", mask_failed=True, qc=False)
    kept = normalize(raw, method="noob", qc=False)
    assert np.isnan(masked.beta[:500]).all() and np.isnan(masked.m_values()[:500]).all()
    assert np.isfinite(kept.beta[:500]).all()
    assert (masked.detection_p[:500] > 0.05).all()
    assert np.isfinite(masked.beta).mean() > 0.97


@pytest.mark.parametrize("method", METHODS)
def test_every_method_returns_the_contract(pp_synth_raw, method):
    """The Spark path relies on the NormalizedSample contract: float32 arrays aligned to the manifest rows."""
    ns = normalize(pp_synth_raw, method=method, qc=False)
    assert isinstance(ns, NormalizedSample) and ns.sample == pp_synth_raw.sample
    for arr in (ns.beta, ns.meth, ns.unmeth, ns.detection_p):
        assert arr.dtype == np.float32 and arr.shape == (pp_synth_raw.manifest.n_probes,)


@pytest.mark.parametrize("kwargs, match", [({"method": "swan"}, "raw, illumina, noob"),
                                           ({"dye_bias": "loess"}, "linear, nonlinear, none"),
                                           ({"detection": "gs"}, "poobah, negative"),
                                           ({"p_threshold": 2}, r"\[0, 1\]")])
def test_bad_options_are_config_errors(pp_tiny, kwargs, match):
    """Every invalid option is a ConfigError naming the valid choices."""
    man = pp_tiny.manifest(["II"], [""])
    with pytest.raises(ConfigError, match=match):
        normalize(pp_tiny.raw(man, [1], [1]), **kwargs)


@pytest.mark.parametrize("method", METHODS)
def test_real_hm27_sample(data_dir, method):
    """Real data: sesameData HM27 sample 4207113116_A (all Type I, HM27 'Normalization-Green/-Red' controls and
    32 negatives). Every probe gets a beta (data README), the distribution stays bimodal (most CpGs near 0 or
    1), the detection failures are few and the sample passes QC; noob and Illumina agree with raw betas."""
    from methylclass.io.idat import read_idat
    from methylclass.io.manifest import load_manifest
    man = load_manifest("HM27")
    d = data_dir / "idat" / "hm27"
    raw = raw_signals_from_idats(read_idat(d / "4207113116_A_Grn.idat"), read_idat(d / "4207113116_A_Red.idat"),
                                 man, "4207113116_A")
    ns = normalize(raw, method=method)
    assert np.isfinite(ns.beta).all()
    assert ((ns.beta < 0.2) | (ns.beta > 0.8)).mean() > 0.6
    assert ns.qc["passed"], ns.qc["reasons"]
    assert ns.qc["failed_fraction"] < 0.05
    assert ns.qc["dye_bias_red_green"] is not None
    base = normalize(raw, method="raw", qc=False, detection=None)
    assert np.corrcoef(ns.beta, base.beta)[0, 1] > 0.97
