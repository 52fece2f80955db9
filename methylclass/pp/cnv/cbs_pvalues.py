"""Significance of a CBS change: the quantities DNAcopy computes to decide whether a segment splits.

* :func:`tail_pvalue` — Siegmund's (1988) tail approximation of the maximal two-sample T statistic over arcs
  (DNAcopy ``tailprobs.f``), used for long arcs and by ``p_method="tail"``;
* :func:`sequential_boundary` — DNAcopy ``getbdry``: the early-stopping boundary of the sequential permutation
  test (Venkatraman & Olshen 2007), identical to R's for the defaults and cached on disk.

Used by :mod:`methylclass.pp.cnv.segment`; written by hand because no Python package provides them (see that
module's docstring).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache

import numpy as np
from scipy import special

from ...paths import cache_dir


# ------------------------------------------------------------------------------------------------------
# tail approximation (DNAcopy tailprobs.f)
def _nu(x: np.ndarray) -> np.ndarray:
    """Siegmund's ν(x) via the Siegmund & Yakir (2007) closed form (relative error < 1 % for x < 5)."""
    x = np.asarray(x, dtype=np.float64)
    h = x / 2
    return np.where(x > 0.01, (2 / np.maximum(x, 1e-12)) * (special.ndtr(h) - 0.5)
                    / (h * special.ndtr(h) + np.exp(-h * h / 2) / np.sqrt(2 * np.pi)),
                    np.exp(-0.583 * x))


def _it1tsq(x: np.ndarray, a: float) -> np.ndarray:
    """∫_x^{x+a} dt / (t(1−t))² (closed form, as DNAcopy)."""
    def f(y):
        return 8 * y / (1 - 4 * y ** 2) + 2 * np.log((1 + 2 * y) / (1 - 2 * y))
    return f(x + a - 0.5) - f(x - 0.5)


def tail_pvalue(b: float, delta: float, m: int, ngrid: int = 100) -> float:
    """Siegmund (1988) tail probability of the CBS maximum statistic ``b`` = max |T| over arcs whose length
    fraction is ≥ ``delta`` in a segment of ``m`` points (two-sided; DNAcopy ``tailp``)."""
    delta = min(max(delta, 1e-9), 0.5 - 1e-9)
    dincr = (0.5 - delta) / ngrid
    tl = delta + dincr * np.arange(ngrid)
    t = tl + 0.5 * dincr
    x = b / np.sqrt(m) / np.sqrt(t * (1 - t))
    total = np.sum(_nu(x) ** 2 * _it1tsq(tl, dincr))
    return float(2 * 9.973557e-2 * b ** 3 * np.exp(-b * b / 2) * total)


# ------------------------------------------------------------------------------------------------------
# sequential stopping boundary (DNAcopy getbdry.f)
def _flchoose(n, k):
    return special.gammaln(np.asarray(n, float) + 1) - special.gammaln(np.asarray(k, float) + 1) \
        - special.gammaln(np.asarray(n, float) - np.asarray(k, float) + 1)


def _hyper_cdf(ks: np.ndarray, total: int, ones: int, draws: np.ndarray) -> np.ndarray:
    """P(X ≤ ks[r]) for X ~ hypergeometric(draws[r] of ``total`` with ``ones`` successes), vectorised."""
    xs = np.arange(ks.max() + 1)[None, :]
    d = draws[:, None].astype(np.float64)
    with np.errstate(invalid="ignore"):
        lp = _flchoose(ones, xs) + _flchoose(total - ones, d - xs) - _flchoose(total, d)
    pm = np.where((d - xs >= 0) & (total - ones - (d - xs) >= 0), np.exp(lp), 0.0)
    cdf = np.cumsum(pm, axis=1)
    return cdf[np.arange(ks.size), ks]


def _etabdry(nperm: int, eta0: float, n1s: int) -> np.ndarray:
    """Boundary for ``n1s`` exceedances: ``b[k]`` = permutations after which seeing only ``k`` exceedances
    has hypergeometric probability ≤ ``eta0`` (DNAcopy ``etabdry``, vectorised by bisection)."""
    ks = np.arange(n1s)
    lo = np.ones(n1s, dtype=np.int64)
    hi = np.full(n1s, nperm, dtype=np.int64)
    # smallest i with cdf(k; draws=i) <= eta0 (cdf decreases with i)
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        ok = _hyper_cdf(ks, nperm, n1s, mid) <= eta0
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid + 1)
    b = lo.copy()
    for k in range(1, n1s):  # the sequential scan records at most one boundary per permutation
        b[k] = max(b[k], b[k - 1] + 1)
    return b


def _pexceed(nperm: int, n1s: int, b: np.ndarray) -> float:
    """Probability of crossing the boundary (DNAcopy ``pexceed``, transcribed)."""
    dlcnk = _flchoose(nperm, n1s)
    p = np.exp(_flchoose(nperm - b[0], n1s) - dlcnk)
    if n1s >= 2:
        p += np.exp(np.log(b[0]) + _flchoose(nperm - b[1], n1s - 1) - dlcnk)
    if n1s >= 3:
        dn1, dn2 = float(b[0]), float(b[1])
        fc = _flchoose(nperm - b[2], n1s - 2)
        p += np.exp(np.log(dn1) + np.log(dn1 - 1) - np.log(2) + fc - dlcnk) \
            + np.exp(np.log(dn1) + np.log(dn2 - dn1) + fc - dlcnk)
    for i in range(4, n1s + 1):
        dn1, dn2, dn3 = float(b[i - 4]), float(b[i - 3]), float(b[i - 2])
        fc = _flchoose(nperm - b[i - 1], n1s - i + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = [
                _flchoose(dn1, i - 1) + fc,
                _flchoose(dn1, i - 2) + np.log(dn3 - dn1) + fc,
                _flchoose(dn1, i - 3) + np.log(dn2 - dn1) + np.log(dn3 - dn2) + fc,
                _flchoose(dn1, i - 3) + np.log(dn2 - dn1) - np.log(2) + np.log(dn2 - dn1 - 1) + fc,
            ]
        p += sum(np.exp(t - dlcnk) for t in terms if np.isfinite(t))
    return float(p)


@lru_cache(maxsize=16)
def sequential_boundary(eta: float, nperm: int, max_ones: int, tol: float = 1e-2) -> tuple[int, ...]:
    """DNAcopy ``getbdry(eta, nperm, max.ones)``: concatenated boundaries for 1 … ``max_ones`` exceedances
    (identical to R's for the defaults; cached in ``cache_dir()/cnv_bdry``)."""
    path = cache_dir() / "cnv_bdry" / f"bdry_{eta:g}_{nperm}_{max_ones}_{tol:g}.json"
    try:
        return tuple(json.loads(path.read_text()))
    except (OSError, ValueError):
        pass
    out = _compute_boundary(eta, nperm, max_ones, tol)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(out))
        os.replace(tmp, path)
    except OSError:
        pass
    return tuple(out)


def _compute_boundary(eta: float, nperm: int, max_ones: int, tol: float) -> list[int]:
    out = [nperm - int(nperm * eta)]
    eta0 = eta
    for j in range(2, max_ones + 1):
        etahi = eta0 * 1.1
        phi = _pexceed(nperm, j, _etabdry(nperm, etahi, j))
        etalo = eta0 * 0.25
        plo = _pexceed(nperm, j, _etabdry(nperm, etalo, j))
        b = _etabdry(nperm, etalo, j)
        for _ in range(60):
            if (etahi - etalo) / etalo <= tol:
                break
            eta0 = etalo + (etahi - etalo) * (eta - plo) / (phi - plo) if phi != plo else (etalo + etahi) / 2
            b = _etabdry(nperm, eta0, j)
            p = _pexceed(nperm, j, b)
            if p > eta:
                etahi, phi = eta0, p
            else:
                etalo, plo = eta0, p
        out.extend(int(v) for v in b)
    return out
