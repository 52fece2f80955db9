"""Bin summaries and calls.

References: pandas group-by medians/variances (independent implementation), conumee's shift criterion
(minimise median |x − s|, evaluated by brute force), and planted truth from the simulator: arm gains/losses
(issue: ≥ 95 % called with the right sign, ≤ 5 % false calls on copy-neutral arms), focal amplifications and
homozygous deletions of detail genes, and the planted fraction of the genome altered.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from methylclass.pp.cnv.calls import bin_values, shorth_shift
from methylclass.pp.cnv.sample import cnv_sample


def test_bin_values_equal_groupby(bins):
    """Bin medians and variances (ddof 1) equal pandas group-by on the same probes, NaN probes ignored."""
    rng = np.random.default_rng(0)
    r = rng.normal(0, 0.3, bins.n_fit_probes)
    r[::97] = np.nan
    med, var = bin_values(r, bins)
    df = pd.DataFrame({"b": bins.probe_bin, "r": r})
    df = df[df.b >= 0]
    g = df.groupby("b")["r"]
    np.testing.assert_allclose(med, g.median().reindex(range(bins.n_bins)).to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(var, g.var().reindex(range(bins.n_bins)).to_numpy(), rtol=1e-9, atol=1e-12)


def test_shift_is_conumee_lms_location():
    """The shorth midpoint minimises conumee's criterion median(|x − s|) (checked on a fine grid)."""
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0.12, 0.05, 600), rng.normal(-0.4, 0.05, 300), rng.normal(0.5, 0.05, 250)])
    s = shorth_shift(x)
    grid = np.linspace(-1, 1, 20001)
    crit = [np.median(np.abs(x - g)) for g in grid]
    assert np.median(np.abs(x - s)) <= min(crit) + 1e-4
    assert s == pytest.approx(0.12, abs=0.02)  # the commonest state, not the mean


def _cohort(sim, planted, rng, n, r_tools):
    truth = []
    for _ in range(n):
        arms = {a: int(rng.choice([1, 3])) for a in rng.choice(r_tools.callable_arms, 6, replace=False)}
        truth.append(planted(arms=arms))
    return truth


def test_planted_arm_calls(sim, bins, panel, planted, r_tools):
    """≥ 95 % of planted arm gains/losses called with the right sign; ≤ 5 % false calls on neutral arms."""
    rng = np.random.default_rng(2)
    hits = total = false = neutral = 0
    for k, p in enumerate(_cohort(sim, planted, rng, 8, r_tools)):
        res = cnv_sample(sim.tumour(p), panel, bins, sample=f"t{k}", detail=None)
        calls = dict(zip(res.arms["arm"], res.arms["call"]))
        for arm in r_tools.callable_arms:
            if arm in p.arms:
                total += 1
                hits += calls[arm] == ("gain" if p.arms[arm] > 2 else "loss")
            else:
                neutral += 1
                false += calls[arm] in ("gain", "loss")
        assert calls["13p"] == "NA"
    assert hits / total >= 0.95, (hits, total)
    assert false / neutral <= 0.05, (false, neutral)


def test_planted_focal_events(sim, bins, panel, planted):
    """Planted amplifications (EGFR on a gained chr7, MYCN) and homozygous deletions (CDKN2A/B on a lost
    9p, PTEN) are called; a hemizygous arm loss is a 'loss', not a 'deletion'; other genes balanced."""
    p = planted(arms={"7p": 3, "7q": 3, "9p": 1, "10q": 1},
                focal={"EGFR": 12, "MYCN": 10, "CDKN2A/B": 0.1, "PTEN": 0.1})
    res = cnv_sample(sim.tumour(p), panel, bins, sample="focal")
    calls = dict(zip(res.focal["gene"], res.focal["call"]))
    assert calls["EGFR"] == "amplification" and calls["MYCN"] == "amplification"
    assert calls["CDKN2A/B"] == "deletion" and calls["PTEN"] == "deletion"
    assert calls["CDK6"] == "gain" and calls["MET"] == "gain"  # on the gained chr7 only
    for g in ("CCND1", "ERBB2", "MDM2", "MYC", "TP53", "RB1"):
        assert calls[g] == "balanced", g
    p2 = planted(arms={"10q": 1})
    calls2 = dict(zip(*cnv_sample(sim.tumour(p2), panel, bins, sample="hemi").focal[["gene", "call"]].T.values))
    assert calls2["PTEN"] == "loss"


def test_fraction_altered_matches_planted(sim, bins, panel, planted):
    """FGA ≈ the planted share of the binned genome (bp) on altered arms."""
    p = planted(arms={"1p": 1, "7q": 3, "17q": 3})
    res = cnv_sample(sim.tumour(p), panel, bins, sample="fga", detail=None)
    size = (bins.end - bins.start + 1).astype(float)
    arm = np.char.add(np.char.replace(bins.chrom.astype(str), "chr", ""), bins.arm.astype(str))
    truth_gain = size[np.isin(arm, ["7q", "17q"])].sum() / size.sum()
    truth_loss = size[arm == "1p"].sum() / size.sum()
    assert res.fga["fga_gain"] == pytest.approx(truth_gain, abs=0.01)
    assert res.fga["fga_loss"] == pytest.approx(truth_loss, abs=0.01)
    assert res.shift == pytest.approx(0, abs=0.05)


def test_cancer_gene_option(sim, bins, panel, planted):
    """cancer_genes=True adds the ~730 cancer genes to the focal table (detail genes once)."""
    res = cnv_sample(sim.tumour(planted(focal={"EGFR": 12})), panel, bins, sample="cg", cancer_genes=True)
    assert len(res.focal) > 700 and res.focal["gene"].is_unique
    assert dict(zip(res.focal["gene"], res.focal["call"]))["EGFR"] == "amplification"
