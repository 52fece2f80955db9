"""Segmentation (weighted CBS and the binary-segmentation alternative).

References: R DNAcopy's ``getbdry`` output (values recorded from DNAcopy 1.72.3), brute-force arc
maximisation, DNAcopy's ``trimmed.variance`` / ``changepoints.sdundo`` definitions, and planted change points.
The comparison with R DNAcopy itself is in test_dnacopy_parity.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from methylclass.errors import ConfigError
from methylclass.pp.cnv.cbs_pvalues import sequential_boundary, tail_pvalue
from methylclass.pp.cnv.segment import (
    _arc_max,
    _arc_max_dense,
    sd_undo,
    segment,
    trimmed_sd,
)


def test_sequential_boundary_equals_r_getbdry():
    """getbdry(0.05, 10000, 11) from R DNAcopy 1.72.3: first block and the block for 11 exceedances."""
    b = sequential_boundary(0.05, 10000, 11)
    assert len(b) == 66
    assert list(b[:12]) == [9500, 8352, 9864, 7316, 9174, 9936, 6473, 8360, 9474, 9962, 5809, 7623]
    assert list(b[55:66]) == [3603, 4875, 5889, 6756, 7512, 8175, 8750, 9234, 9617, 9880, 9994]


@pytest.mark.parametrize("n", [60, 450, 1300])
def test_arc_max_is_exact(n):
    """The block-pruned maximum equals brute force over every arc (value and location)."""
    rng = np.random.default_rng(n)
    for shift in (0.0, 1.2):
        x = rng.normal(0, 1, n)
        x[n // 3: n // 3 + 25] += shift
        w = rng.uniform(0.5, 3, n)
        x -= (w * x).sum() / w.sum()
        S = np.concatenate([[0], np.cumsum(w * x)])
        C = np.concatenate([[0], np.cumsum(w)])
        fast = _arc_max(S, C, 5)
        best, i, j = _arc_max_dense(S, C, 5)
        assert fast[0] == pytest.approx(best * C[-1], rel=1e-12) and (fast[1], fast[2]) == (i, j)


def test_trimmed_sd_definition():
    """DNAcopy trimmed.variance: inflation factor × mean of the smallest 95 % squared differences / 2."""
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.3, 5000)
    assert trimmed_sd(x) == pytest.approx(0.3, rel=0.03)
    x[::100] += 5  # outliers (2 % of the differences, under the 2.5 % trim) barely move it
    assert trimmed_sd(x) == pytest.approx(0.3, rel=0.06)


def test_tail_pvalue_matches_monte_carlo():
    """Siegmund's tail probability of max |T| over arcs ≥ 5 points agrees with the null distribution
    simulated by Monte Carlo (n = 300, 400 Gaussian sequences) within sampling error."""
    rng = np.random.default_rng(5)
    n, m = 300, 400
    stats_ = []
    for _ in range(m):
        x = rng.normal(0, 1, n)
        x -= x.mean()
        S = np.concatenate([[0], np.cumsum(x)])
        C = np.arange(n + 1, dtype=float)
        bss, _, _ = _arc_max(S, C, 5)
        tss = float(x @ x)
        stats_.append(np.sqrt(bss / ((tss - bss) / (n - 2))))
    stats_ = np.array(stats_)
    for b in (3.6, 4.0):
        p_mc = np.mean(stats_ >= b)
        p_tail = tail_pvalue(b, 5 / n, n)
        se = np.sqrt(p_mc * (1 - p_mc) / m)
        assert abs(p_tail - p_mc) < 4 * se + 0.02, (b, p_tail, p_mc)
    assert tail_pvalue(5.5, 0.005, 1000) < tail_pvalue(4.5, 0.005, 1000) < tail_pvalue(3.5, 0.005, 1000)


def test_sd_undo_merges_small_steps():
    """A change point between segments whose medians differ < 2.2 SD is removed; a large one stays."""
    x = np.concatenate([np.zeros(50), np.full(50, 0.1), np.full(50, 1.0)])
    assert sd_undo(x, [50, 100], sd=0.1, undo_sd=2.2) == [100]
    assert sd_undo(x, [50, 100], sd=0.01, undo_sd=2.2) == [50, 100]


def _planted(rng, sizes=(800, 500, 200), sd=0.12):
    vals, chrom, truth = [], [], []
    off = 0
    for ci, n in enumerate(sizes):
        mu = np.zeros(n)
        a, b = n // 4, n // 4 + max(12, n // 5)
        mu[a:b] = 0.5
        mu[int(0.7 * n):] -= 0.35
        truth += [off + a - 1, off + b - 1, off + int(0.7 * n) - 1]
        vals.append(mu + rng.normal(0, sd, n))
        chrom += [f"chr{ci + 1}"] * n
        off += n
    return np.concatenate(vals), np.array(chrom), np.array(truth)


@pytest.mark.parametrize("method,p_method", [("cbs", "tail"), ("cbs", "hybrid"), ("binseg", "tail")])
def test_planted_change_points_found(method, p_method):
    """All planted change points found within 2 bins, no spurious ones; means close to the planted levels."""
    rng = np.random.default_rng(7)
    x, chrom, truth = _planted(rng)
    w = np.full(x.size, 1 / 0.12 ** 2)
    seg = segment(x, chrom, w, method=method, p_method=p_method)
    found = np.sort(seg["last"][seg["chrom"].shift(-1) == seg["chrom"]].to_numpy())
    assert len(found) == len(truth)
    assert np.all(np.abs(found - truth) <= 2)
    assert set(np.round(seg["mean"], 1)) <= {0.0, 0.5, -0.3, -0.4, 0.2, 0.1, -0.0}
    assert seg["n_bins"].sum() == x.size


def test_nonfinite_bins_skipped_and_options_checked():
    """NaN values / zero weights are skipped (as DNAcopy drops them); bad options raise ConfigError."""
    rng = np.random.default_rng(1)
    x, chrom, _ = _planted(rng, sizes=(300,))
    w = np.ones_like(x)
    x[10] = np.nan
    w[20] = 0
    seg = segment(x, chrom, w)
    assert seg["n_bins"].sum() == x.size - 2
    with pytest.raises(ConfigError, match="unknown segmentation method"):
        segment(x, chrom, w, method="hmm")
    with pytest.raises(ConfigError, match="unknown segmentation option"):
        segment(x, chrom, w, alpah=0.01)
    with pytest.raises(ConfigError, match="p_method"):
        segment(x, chrom, w, p_method="exact")
