"""Parity of the weighted CBS with R DNAcopy (Bioconductor, Debian r-bioc-dnacopy) on the same bin values.

Reference: DNAcopy 1.72's per-chromosome kernel ``changepoints`` with conumee's settings (weights 1/variance,
alpha 0.001, min.width 5, sdundo 2.2, nperm 10,000, hybrid p-values), run by Rscript on bins computed from
simulated tumours with planted arm and focal events. Criteria (issue): per-bin segment means correlate
≥ 0.99 and ≥ 90 % of breakpoints lie within 2 bins — checked in both directions.

Focal events are planted over the gene ± 2 Mb (well above the 5-bin minimum width). Known difference, seen while
writing this test: on a 3-bin spike (gene ± 150 kb) DNAcopy's ``wfindcpt`` returned no change although the 5-bin arc
around it has T = 16 and both edge tests are significant; our exact arc maximisation splits it out. Events
at the minimum width are therefore not used for the parity criteria.
"""

from __future__ import annotations

import numpy as np
import pytest

from methylclass.pp.cnv.calls import bin_values
from methylclass.pp.cnv.segment import segment

pytestmark = pytest.mark.r


def _cases(sim, bins, panel, planted, r_tools, n=2, seed=0):
    rng = np.random.default_rng(seed)
    genes = ["EGFR", "MYCN", "CDK4", "MDM2", "CDKN2A/B", "PTEN", "MYC", "RB1"]
    for k in range(n):
        arms = {a: int(rng.choice([1, 3, 4])) for a in rng.choice(r_tools.callable_arms, 7, replace=False)}
        focal = {g: float(rng.choice([0.2, 8.0])) for g in rng.choice(genes, 3, replace=False)}
        fit = panel.fit(sim.tumour(planted(arms=arms, focal=focal), flank=2_000_000), bins, sample=f"t{k}")
        med, var = bin_values(fit.ratios, bins)
        yield med, 1 / var


def test_cbs_matches_dnacopy(sim, bins, panel, planted, r_tools):
    """Default CBS (tail p-values) vs DNAcopy (hybrid): r ≥ 0.99, ≥ 90 % breakpoints within 2 bins."""
    r_tools.require_r()
    for med, w in _cases(sim, bins, panel, planted, r_tools):
        ours = segment(med, bins.chrom, w)
        theirs, _ = r_tools.dnacopy_segment(med, w, bins.chrom)
        a, b = r_tools.per_bin(ours, bins.n_bins), r_tools.per_bin(theirs, bins.n_bins)
        ok = np.isfinite(a) & np.isfinite(b)
        assert np.corrcoef(a[ok], b[ok])[0, 1] >= 0.99
        bo, bt = r_tools.breakpoints(ours), r_tools.breakpoints(theirs)
        assert bt.size >= 7
        assert r_tools.matched_fraction(bt, bo) >= 0.9, (bt, bo)
        assert r_tools.matched_fraction(bo, bt) >= 0.9, (bo, bt)


def test_hybrid_and_trimmed_sd_match_dnacopy(sim, bins, panel, planted, r_tools):
    """DNAcopy's own p-value scheme (hybrid permutations) on chr1–chr12 and DNAcopy's trimmed SD."""
    r_tools.require_r()
    med, w = next(_cases(sim, bins, panel, planted, r_tools, n=1, seed=4))
    sel = np.isin(bins.chrom, [f"chr{i}" for i in range(1, 13)])
    ours = segment(med[sel], bins.chrom[sel], w[sel], p_method="hybrid")
    theirs, tsd = r_tools.dnacopy_segment(med[sel], w[sel], bins.chrom[sel])
    from methylclass.pp.cnv.segment import trimmed_sd

    assert trimmed_sd(med[sel]) == pytest.approx(tsd, rel=1e-7)
    a, b = r_tools.per_bin(ours, sel.sum()), r_tools.per_bin(theirs, sel.sum())
    assert np.corrcoef(a, b)[0, 1] >= 0.99
    bo, bt = r_tools.breakpoints(ours), r_tools.breakpoints(theirs)
    assert r_tools.matched_fraction(bt, bo) >= 0.9 and r_tools.matched_fraction(bo, bt) >= 0.9
