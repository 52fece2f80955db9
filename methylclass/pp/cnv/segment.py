"""Segmentation of bin log2 ratios: weighted circular binary segmentation (CBS) and a fast change-point option.

CBS follows Olshen et al. (2004, Biostatistics 5:557) and Venkatraman & Olshen (2007, Bioinformatics
23:657) as implemented in Bioconductor DNAcopy (``segment``/``changepoints``/``wfindcpt``), which conumee
calls with weights ``1 / bin variance``, ``alpha = 0.001``, ``min.width = 5``, ``undo.splits = "sdundo"``,
``undo.SD = 2.2``. No maintained Python CBS package exists (``cbseg`` 2022 has no weights or undo), so it is
implemented here; the parity test compares it with R DNAcopy on the same weighted bin values.

Per chromosome, starting from the whole chromosome, a segment of ``n ≥ 2·min_width`` bins is tested:

* data centred at the weighted mean; ``S_k`` = cumulative sum of ``w·x``, ``W_k`` of ``w``; for every arc
  ``(i, j]`` with ``j − i ≥ min_width`` and ``n − (j − i) ≥ min_width`` the between-group sum of squares is
  ``BSS = W (S_j − S_i)² / (W_a (W − W_a))`` and ``T² = BSS / ((TSS − BSS)/(n − 2))``; the maximum over all
  arcs is found exactly (blocks of √n points, bound-pruned as in DNAcopy's ``wtmaxo``, evaluated vectorised);
* ``T ≤ 0.1`` → no change; ``T ≥ 7`` with both parts ≥ 10 bins → change (DNAcopy's shortcuts);
* otherwise the p-value. ``p_method="tail"`` (default: fast and deterministic): the Siegmund (1988) tail
  approximation that DNAcopy uses for long arcs, applied to all arcs of ≥ ``min_width`` bins.
  ``p_method="hybrid"`` (DNAcopy's default scheme, ~50× slower here): for ``n > nmin`` the tail
  approximation for arcs longer than ``kmax`` plus a permutation p-value of the maximum over short arcs, for
  ``n ≤ nmin`` a full permutation test, both stopped early with DNAcopy's sequential boundary (``getbdry``,
  η = 0.05, reproduced exactly). ``p_method="perm"`` always permutes. Permutations use DNAcopy's arithmetic
  (``wxperm``/``wtmaxp``: permuted values are not re-centred) so decisions agree with it;
* a significant arc in the middle becomes two change points, each kept only if the side it cuts off differs
  from the rest (DNAcopy ``wtpermp``, transcribed with its arithmetic; with ≥ 30 drawn values its
  permutation distribution is replaced by the normal limit);
* the recursion continues on every new segment.

Afterwards ``undo.splits = "sdundo"`` removes, one at a time, the change point whose adjacent segment
*medians* differ least while that difference is < ``undo_sd`` × the trimmed SD of the sample (DNAcopy
``trimmed.variance``, trim 2.5 %). Segment means are weighted means.

Two DNAcopy 1.72 behaviours are deliberately *not* reproduced: ``segment()`` passes the whole-sample weight
vector to every chromosome (so from chr2 on, conumee's weights are misaligned) — here each chromosome uses
its own weights; and on a few 3-bin spikes DNAcopy's search returned no change although a 5-bin arc with
T ≈ 16 exists — here the maximisation is exact.

The permutation generator is seeded per chromosome (``seed``), so results are reproducible and independent
of processing order (R's random stream cannot be reproduced, so permutation decisions near α may differ).

``method="binseg"`` is the fast alternative: weighted binary segmentation (Scott & Knott 1974; the L2
change-point search of e.g. ``ruptures.Binseg``) — split a segment at the point maximising the weighted
between-group sum of squares while that gain exceeds ``penalty × σ² × log n`` (σ = trimmed SD, a BIC-type
penalty) and both parts have ≥ ``min_width`` bins — followed by the same ``sdundo``. Each split is one
vectorised cumulative-sum pass, so a genome takes milliseconds. (``ruptures`` itself was measured: its PELT
took 91 s for one 1,600-bin chromosome, pure Python, so it is not used.)
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd
from scipy import special, stats

from ...errors import ConfigError
from .cbs_pvalues import sequential_boundary, tail_pvalue

METHODS = ("cbs", "binseg")
P_METHODS = ("hybrid", "perm", "tail")
UNDO = ("none", "sdundo")


@dataclass(frozen=True)
class CBSParams:
    """Parameters of :func:`segment` (defaults = conumee's call of DNAcopy, except ``nperm`` = DNAcopy's)."""

    alpha: float = 0.001
    nperm: int = 10_000
    p_method: str = "tail"
    min_width: int = 5
    kmax: int = 25
    nmin: int = 200
    eta: float = 0.05
    trim: float = 0.025
    undo_splits: str = "sdundo"
    undo_sd: float = 2.2
    seed: int = 0


# ------------------------------------------------------------------------------------------------------
# statistics
def _arc_max_dense(S: np.ndarray, C: np.ndarray, min_width: int, block: int = 256) -> tuple[float, int, int]:
    """Exact max of the arc statistic by brute force over row blocks (used for short segments)."""
    n = S.shape[0] - 1
    W = C[-1]
    best, bi, bj = -1.0, 0, n
    jj = np.arange(n + 1)
    for r0 in range(0, n + 1, block):
        r1 = min(n + 1, r0 + block)
        ii = np.arange(r0, r1)[:, None]
        a = C[None, :] - C[r0:r1, None]
        d = S[None, :] - S[r0:r1, None]
        L = jj[None, :] - ii
        valid = (L >= min_width) & (n - L >= min_width)
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(valid, d * d / (a * (W - a)), -1.0)
        k = int(np.argmax(v))
        if v.flat[k] > best:
            best, bi, bj = float(v.flat[k]), r0 + k // (n + 1), k % (n + 1)
    return best, bi, bj


def _arc_max(S: np.ndarray, C: np.ndarray, min_width: int) -> tuple[float, int, int]:
    """Max of ``W (S_j − S_i)² / (a (W − a))``, ``a = C_j − C_i``, over arcs with both parts ≥ min_width.

    ``S``/``C`` have length n + 1 (leading 0). Returns (BSS, i, j) for the arc ``(i, j]``. Exact: the
    points are cut into blocks; for each pair of blocks an upper bound (largest partial-sum difference over
    the smallest possible ``a (W − a)``) is computed, and block pairs are evaluated exactly in decreasing
    bound order until no bound exceeds the best value found (the pruning DNAcopy's ``wtmaxo`` uses).
    """
    n = S.shape[0] - 1
    W = C[-1]
    if n <= 120:
        best, bi, bj = _arc_max_dense(S, C, min_width)
        return best * W, bi, bj
    bs = max(16, int(np.sqrt(n + 1)))
    nb = -(-(n + 1) // bs)
    pad = nb * bs - (n + 1)
    Sp = np.concatenate([S, np.full(pad, S[-1])]).reshape(nb, bs)
    first = np.arange(nb) * bs
    last = np.minimum(first + bs - 1, n)
    smax, smin = Sp.max(axis=1), Sp.min(axis=1)
    amin = float(np.min(C[min_width:] - C[:-min_width]))
    I, J = np.triu_indices(nb)
    num = np.maximum(np.abs(smax[J] - smin[I]), np.abs(smax[I] - smin[J]))
    alo = np.clip(C[first[J]] - C[last[I]], amin, W - amin)
    ahi = np.clip(C[last[J]] - C[first[I]], amin, W - amin)
    den = np.minimum(alo * (W - alo), ahi * (W - ahi))
    bound = num * num / np.maximum(den, 1e-300)
    order = np.argsort(-bound)
    best, bi, bj = -1.0, 0, n
    off = np.arange(bs)
    chunk = 32
    for c0 in range(0, order.size, chunk):
        sel = order[c0:c0 + chunk]
        if bound[sel[0]] <= best:
            break
        ii = (first[I[sel]][:, None] + off[None, :]).clip(max=n)  # (k, bs)
        jj = (first[J[sel]][:, None] + off[None, :]).clip(max=n)
        L = jj[:, None, :] - ii[:, :, None]
        valid = (L >= min_width) & (n - L >= min_width)
        a = C[jj][:, None, :] - C[ii][:, :, None]
        d = S[jj][:, None, :] - S[ii][:, :, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.where(valid, d * d / (a * (W - a)), -1.0)
        k = int(np.argmax(v))
        if v.flat[k] > best:
            p_, r_ = divmod(k, bs * bs)
            best, bi, bj = float(v.flat[k]), int(ii[p_, r_ // bs]), int(jj[p_, r_ % bs])
    return best * W, bi, bj


def _t2(bss: np.ndarray | float, tss: np.ndarray | float, n: int):
    tss = np.where(tss <= bss + 1e-4, bss + 1.0, tss)
    return bss / ((tss - bss) / (n - 2))


def _perm_batch(rng: np.random.Generator, xr: np.ndarray, rw: np.ndarray, B: int) -> np.ndarray:
    """B permutations of the data as DNAcopy ``wxperm``: permute ``x·√w``, divide by ``√w`` in place."""
    idx = rng.permuted(np.broadcast_to(np.arange(xr.shape[0]), (B, xr.shape[0])), axis=1)
    return xr[idx] / rw[None, :]


def _perm_sums(px: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Partial sums and TSS of permuted rows with DNAcopy's arithmetic (``wtmaxp``/``hwtmaxp``): the
    permuted values are *not* re-centred (their weighted mean is not 0 once values move between slots of
    different weight), and TSS = Σ w x² − (Σ w x)² / W. Kept for agreement with DNAcopy."""
    W = w.sum()
    S = np.concatenate([np.zeros((px.shape[0], 1)), np.cumsum(px * w, axis=1)], axis=1)
    tss = (w * px * px).sum(axis=1) - S[:, -1] ** 2 / W
    return S, tss


def _perm_stats_full(px: np.ndarray, w: np.ndarray, min_width: int) -> np.ndarray:
    """Max T² over all arcs for each row of ``px`` (B × n), weighted (DNAcopy ``wtmaxp``)."""
    B, n = px.shape
    W = w.sum()
    S, tss = _perm_sums(px, w)
    C = np.concatenate([[0.0], np.cumsum(w)])
    L = np.arange(n + 1)[None, :] - np.arange(n + 1)[:, None]
    valid = (L >= min_width) & (n - L >= min_width)
    ii, jj = np.nonzero(valid)
    a = C[jj] - C[ii]
    den = a * (W - a) / W
    best = np.zeros(B)
    step = max(1, 2_000_000 // max(B, 1))
    for s0 in range(0, ii.size, step):
        sl = slice(s0, s0 + step)
        d = S[:, jj[sl]] - S[:, ii[sl]]
        best = np.maximum(best, (d * d / den[sl]).max(axis=1))
    return _t2(best, tss, n)


def _perm_stats_small(px: np.ndarray, w: np.ndarray, min_width: int, kmax: int) -> np.ndarray:
    """Max T² over arcs of min_width … kmax points (and their complements), per row (DNAcopy hwtmaxp)."""
    B, n = px.shape
    W = w.sum()
    S, tss = _perm_sums(px, w)
    C = np.concatenate([[0.0], np.cumsum(w)])
    best = np.zeros(B)
    for L in range(min_width, min(kmax, n - min_width) + 1):
        a = C[L:] - C[:-L]
        d = S[:, L:] - S[:, :-L]
        best = np.maximum(best, (d * d / (a * (W - a) / W)).max(axis=1))
        # wrap-around arcs whose complement (the short part) crosses the segment ends
        i = np.arange(0, L + 1)
        a2 = C[i + n - L] - C[i]
        d2 = S[:, i + n - L] - S[:, i]
        best = np.maximum(best, (d2 * d2 / (a2 * (W - a2) / W)).max(axis=1))
    return _t2(best, tss, n)


def _sequential_perm(rng, stat_fn, xr, rw, ostat, nrejc, bdry, nperm, batch) -> bool:
    """Permutation test with DNAcopy's early stopping; True = significant."""
    k = nrejc * (nrejc + 1) // 2  # 0-based start of the boundary block for nrejc + 1 exceedances
    nrej, done = 0, 0
    size = min(32, batch)  # small first batches: a segment without change stops after a few dozen
    while done < nperm:
        B = min(size, nperm - done)
        size = min(batch, size * 2)
        pstat = stat_fn(_perm_batch(rng, xr, rw, B))
        for v in pstat >= ostat:
            done += 1
            if v:
                nrej += 1
                k += 1
                if nrej > nrejc:
                    return False
            if k < len(bdry) and done >= bdry[k]:
                return True
    return nrej <= nrejc


def _random_subsets(rng, n: int, m: int, B: int) -> np.ndarray:
    """B uniformly random ordered samples of m distinct indices out of n (rows)."""
    if m * m >= n:  # many collisions expected: rank random keys instead
        keys = rng.random((B, n))
        pick = np.argpartition(keys, m - 1, axis=1)[:, :m]
        return np.take_along_axis(pick, np.argsort(np.take_along_axis(keys, pick, axis=1), axis=1), axis=1)
    pick = rng.integers(0, n, size=(B, m))
    while True:  # redraw the (rare) rows that hold a repeated index
        srt = np.sort(pick, axis=1)
        bad = np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1))
        if bad.size == 0:
            return pick
        pick[bad] = rng.integers(0, n, size=(bad.size, m))


def _edge_pvalue(rng, x: np.ndarray, w: np.ndarray, n1: int, nperm: int, alpha: float,
                 analytic: bool = False) -> float:
    """p-value that the first ``n1`` points differ from the rest.

    Default: DNAcopy's ``wtpermp`` permutation test, transcribed with its exact arithmetic (the pool holds
    ``x·√w`` for the first ``n1`` points but plain ``x`` for the others, and a drawn value is multiplied by
    ``√w`` of the last ``m1`` slots). That arithmetic is not invariant to the scale of the weights — with
    conumee's weights (1 / bin variance ≈ 10–100) the test is conservative — and it is kept so the change
    points agree with DNAcopy/conumee. With ≥ 30 drawn values the permutation distribution is replaced by
    its normal limit (exact mean and finite-population variance). ``analytic``: two-sided t distribution.
    """
    n = x.shape[0]
    n2 = n - n1
    if n1 == 1 or n2 == 1:
        return 1.0
    W = w.sum()
    xbar = (w * x).sum() / W
    w1, w2 = w[:n1].sum(), w[n1:].sum()
    if n1 <= n2:
        m1, rm1 = n1, w1
        ostat = 0.99999 * abs((w[:n1] * x[:n1]).sum() / w1 - xbar)
        tstat = ostat ** 2 * w1 * W / w2
    else:
        m1, rm1 = n2, w2
        ostat = 0.99999 * abs((w[n1:] * x[n1:]).sum() / w2 - xbar)
        tstat = ostat ** 2 * w2 * W / w1
    tss = (w * x * x).sum() - W * xbar ** 2
    tstat = tstat / ((tss - tstat) / (n - 2))
    if tstat > 25 and m1 >= 10:
        return 0.0
    if analytic:
        return float(2 * stats.t.sf(np.sqrt(max(tstat, 0.0)), n - 2))
    rw = np.sqrt(w)
    pool = np.concatenate([x[:n1] * rw[:n1], x[n1:]])
    slot_w = rw[n - m1:][::-1]
    if m1 >= 30:
        # the permutation distribution of a sum of ≥ 30 draws without replacement is normal to well
        # within the α used here: exact mean and finite-population variance, two-sided tail
        a = slot_w / rm1
        mu = pool.mean() * a.sum() - xbar
        var = pool.var() * (np.sum(a * a) - (a.sum() ** 2 - np.sum(a * a)) / (n - 1))
        sd = np.sqrt(max(var, 1e-300))
        return float(special.ndtr((-ostat - mu) / sd) + special.ndtr((mu - ostat) / sd))
    limit = int(alpha * nperm)
    nrej, done = 0, 0
    size = 64
    while done < nperm:
        B = min(size, nperm - done)
        size = min(2048, size * 2)
        pick = _random_subsets(rng, n, m1, B)
        pstat = np.abs((pool[pick] * slot_w[None, :]).sum(axis=1) / rm1 - xbar)
        nrej += int((pstat >= ostat).sum())
        done += B
        if nrej > limit:
            break
    return nrej / done


def _find_change(x: np.ndarray, w: np.ndarray, p: CBSParams, rng, bdry) -> list[int]:
    """Change points (0-based cut positions, 1 … n−1) found in one segment; [] when none."""
    n = x.shape[0]
    if n < 2 * p.min_width or np.ptp(x) == 0:
        return []
    W = w.sum()
    xc = x - (w * x).sum() / W
    tss = float((w * xc * xc).sum())
    S = np.concatenate([[0.0], np.cumsum(w * xc)])
    C = np.concatenate([[0.0], np.cumsum(w)])
    bss, i, j = _arc_max(S, C, p.min_width)
    if bss <= 0:
        return []
    ostat = float(_t2(bss, tss, n)) * 0.99999
    b = np.sqrt(ostat / 0.99999)
    if b <= 0.1:
        return []
    short = min(j - i, n - j + i)
    if not (b >= 7.0 and short >= 10):
        if p.p_method == "tail":
            delta = p.min_width / n
            if tail_pvalue(b, delta, n) > p.alpha:
                return []
        else:
            rw = np.sqrt(w)
            xr = xc * rw
            if p.p_method == "hybrid" and n > p.nmin:
                # smallest weight fraction of an arc of kmax + 1 points (DNAcopy getmncwt)
                L = p.kmax + 1
                arcs = np.concatenate([C[L:] - C[:-L], W - (C[np.arange(L + 1) + n - L] - C[np.arange(L + 1)])])
                delta = float(arcs.min() / W)
                pval1 = tail_pvalue(b, delta, n)
                if pval1 > p.alpha:
                    return []
                nrejc = int((p.alpha - pval1) * p.nperm)
                fn = lambda px: _perm_stats_small(px, w, p.min_width, p.kmax)
                batch = max(16, min(1024, 4_000_000 // (n * p.kmax)))
            else:
                nrejc = int(p.alpha * p.nperm)
                fn = lambda px: _perm_stats_full(px, w, p.min_width)
                batch = max(8, min(256, 4_000_000 // max(n * n // 2, 1)))
            if not _sequential_perm(rng, fn, xr, rw, ostat, nrejc, bdry, p.nperm, batch):
                return []
    if j == n:
        return [i]
    if i == 0:
        return [j]
    cuts = []
    if _edge_pvalue(rng, xc[:j], w[:j], i, p.nperm, p.alpha) <= p.alpha:
        cuts.append(i)
    if _edge_pvalue(rng, xc[i:], w[i:], j - i, p.nperm, p.alpha) <= p.alpha:
        cuts.append(j)
    return cuts


def trimmed_sd(x: np.ndarray, trim: float = 0.025) -> float:
    """DNAcopy ``sqrt(trimmed.variance(x, trim))``: SD from trimmed absolute first differences."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n < 3:
        return float("nan")
    n_keep = round((1 - 2 * trim) * (n - 1))
    a = stats.norm.ppf(1 - trim)
    g = np.linspace(-a, a, 10001)
    g1 = (g[:-1] + g[1:]) / 2
    infl = 1 / (np.sum(g1 ** 2 * stats.norm.pdf(g1) / (1 - 2 * trim)) * (2 * a / 10000))
    d = np.sort(np.abs(np.diff(x)))[:n_keep]
    return float(np.sqrt(infl * np.sum(d ** 2 / (2 * n_keep))))


def sd_undo(x: np.ndarray, cuts: list[int], sd: float, undo_sd: float) -> list[int]:
    """DNAcopy ``changepoints.sdundo``: drop change points between segments whose medians differ by less
    than ``undo_sd × sd``, the smallest difference first (ties together)."""
    cuts = sorted(cuts)
    limit = undo_sd * sd
    while cuts:
        edges = [0, *cuts, x.shape[0]]
        med = np.array([np.median(x[a:b]) for a, b in pairwise(edges)])
        d = np.abs(np.diff(med))
        if d.min() >= limit:
            break
        cuts = [c for c, di in zip(cuts, d) if di != d.min()]
    return cuts


def _cbs_chrom(x: np.ndarray, w: np.ndarray, p: CBSParams, rng) -> list[int]:
    bdry = sequential_boundary(p.eta, p.nperm, int(p.nperm * p.alpha) + 1) if p.p_method != "tail" else ()
    cuts: list[int] = []
    stack = [(0, x.shape[0])]
    while stack:
        a, b = stack.pop()
        found = _find_change(x[a:b], w[a:b], p, rng, bdry)
        if not found:
            continue
        pts = [a, *[a + c for c in sorted(found)], b]
        cuts.extend(pts[1:-1])
        stack.extend(pairwise(pts))
    return sorted(cuts)


def _binseg_chrom(x: np.ndarray, w: np.ndarray, min_width: int, sd: float, penalty: float) -> list[int]:
    """Weighted binary segmentation with a BIC-type penalty (see the module docstring)."""
    n_all = x.shape[0]
    if n_all < 2 * min_width or not np.isfinite(sd) or sd <= 0:
        return []
    limit = penalty * sd * sd * np.log(n_all)
    cuts: list[int] = []
    stack = [(0, n_all)]
    while stack:
        a, b = stack.pop()
        n = b - a
        if n < 2 * min_width:
            continue
        xs, ws = x[a:b], w[a:b]
        S = np.cumsum(ws * xs)
        C = np.cumsum(ws)
        k = np.arange(min_width - 1, n - min_width)  # split after position k (left part k + 1 points)
        W, T = C[-1], S[-1]
        gain = (S[k] - C[k] * T / W) ** 2 * W / (C[k] * (W - C[k]))
        # weights are 1/variance, so the gain is in units of the variance: compare with a σ-free limit
        i = int(np.argmax(gain))
        wbar = W / n
        if gain[i] / wbar <= limit:
            continue
        cut = a + int(k[i]) + 1
        cuts.append(cut)
        stack.extend([(a, cut), (cut, b)])
    cuts.sort()
    # one refinement pass: move every cut to its best position between its neighbours (binary
    # segmentation places early cuts while later changes are still unmodelled)
    for idx in range(len(cuts)):
        a = cuts[idx - 1] if idx > 0 else 0
        b = cuts[idx + 1] if idx + 1 < len(cuts) else n_all
        xs, ws = x[a:b], w[a:b]
        S, C = np.cumsum(ws * xs), np.cumsum(ws)
        k = np.arange(min_width - 1, b - a - min_width)
        if k.size:
            W, T = C[-1], S[-1]
            gain = (S[k] - C[k] * T / W) ** 2 * W / (C[k] * (W - C[k]))
            cuts[idx] = a + int(k[int(np.argmax(gain))]) + 1
    return cuts


def segment(values: np.ndarray, chrom: np.ndarray, weights: np.ndarray | None = None, *,
            method: str = "cbs", params: CBSParams | None = None, penalty: float = 3.0,
            **kwargs) -> pd.DataFrame:
    """Segment bin values chromosome by chromosome.

    ``values``/``weights``/``chrom`` are aligned per bin (bins of one chromosome contiguous, in genome
    order). Bins with a non-finite value or weight are skipped (as DNAcopy drops them). Keyword arguments
    override :class:`CBSParams` fields. Returns one row per segment: ``chrom``, ``first``/``last`` (bin
    indices, inclusive), ``n_bins``, ``mean`` (weighted), ``median``.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown segmentation method '{method}'; choose one of {', '.join(METHODS)}")
    p = params or CBSParams()
    if kwargs:
        unknown = set(kwargs) - set(CBSParams.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown segmentation option(s): {', '.join(sorted(unknown))}")
        p = CBSParams(**{**p.__dict__, **kwargs})
    if p.p_method not in P_METHODS:
        raise ConfigError(f"unknown p_method '{p.p_method}'; choose one of {', '.join(P_METHODS)}")
    if p.undo_splits not in UNDO:
        raise ConfigError(f"unknown undo_splits '{p.undo_splits}'; choose one of {', '.join(UNDO)}")
    if not 2 <= p.min_width <= 5 and method == "cbs":
        raise ConfigError("min_width must be between 2 and 5 (as DNAcopy)")
    values = np.asarray(values, dtype=np.float64)
    chrom = np.asarray(chrom)
    w_all = np.ones_like(values) if weights is None else np.asarray(weights, dtype=np.float64)
    ok = np.isfinite(values) & np.isfinite(w_all) & (w_all > 0)
    idx_ok = np.flatnonzero(ok)
    sd = trimmed_sd(values[ok], p.trim)
    rows = []
    codes, uniq = pd.factorize(chrom[idx_ok])  # chromosomes in order of appearance
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniq) + 1))
    for ci, c in enumerate(uniq):
        sel = idx_ok[order[bounds[ci]:bounds[ci + 1]]]
        x, w = values[sel], w_all[sel]
        if method == "cbs":
            rng = np.random.default_rng([p.seed, ci])
            cuts = _cbs_chrom(x, w, p, rng)
        else:
            cuts = _binseg_chrom(x, w, p.min_width, sd, penalty)
        if p.undo_splits == "sdundo" and cuts:
            cuts = sd_undo(x, cuts, sd, p.undo_sd)
        edges = [0, *cuts, x.shape[0]]
        for a, b in pairwise(edges):
            ws = w[a:b]
            rows.append((c, int(sel[a]), int(sel[b - 1]), b - a, float((x[a:b] * ws).sum() / ws.sum()),
                         float(np.median(x[a:b]))))
    return pd.DataFrame(rows, columns=["chrom", "first", "last", "n_bins", "mean", "median"])
