"""Parity with the R reference implementations noob is built from: limma ``normexp.signal`` and MASS ``huber``.

Needs Rscript with limma and MASS (Debian: ``r-base-core r-bioc-limma r-cran-mass``); skipped with that reason
only when Rscript is missing.
"""

from __future__ import annotations

import numpy as np
import pytest

from methylclass.pp import background as bg

pytestmark = pytest.mark.r


def test_normexp_signal_matches_limma(pp_tiny, tmp_path):
    """Reference: R ``limma::normexp.signal(c(mu, log(sigma), log(alpha)), x)`` on the same 2,000 intensities
    (background-like to very bright, plus values far below the background where limma clamps to 1e-6), for
    three parameter sets spanning real noob fits."""
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.normal(400, 100, 800), rng.exponential(4000, 1000) + 300,
                        np.linspace(-500, 60000, 200)])
    np.savetxt(tmp_path / "x.txt", x, fmt="%.17g")
    x = np.loadtxt(tmp_path / "x.txt")
    params = [(417.3, 241.7, 4616.8), (508.2, 123.1, 3567.3), (90.0, 15.0, 10.0)]
    code = ["suppressMessages(library(limma))", f"x <- scan('{tmp_path / 'x.txt'}', quiet=TRUE)"]
    for i, (mu, sigma, alpha) in enumerate(params):
        code.append(f"write(format(suppressWarnings(normexp.signal(c({mu}, log({sigma}), log({alpha})), x)), "
                    f"digits=17), '{tmp_path}/r{i}.txt', ncolumns=1)")
    pp_tiny.run_r("; ".join(code))
    for i, (mu, sigma, alpha) in enumerate(params):
        ref = np.loadtxt(tmp_path / f"r{i}.txt")
        ours = bg.normexp_signal(x, bg.NormexpParams(mu, sigma, alpha))
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-9)


def test_huber_matches_MASS(pp_tiny, tmp_path):
    """Reference: R ``MASS::huber(y)`` (mu and s) on the same skewed, IDAT-like integer intensities, which our
    histogram fast path handles, and on non-integer data."""
    rng = np.random.default_rng(8)
    y_int = np.rint(np.concatenate([rng.normal(450, 110, 30_000), rng.exponential(3000, 10_000) + 450]))
    y_int = np.clip(y_int, 1, 65535)
    y_flt = rng.lognormal(6, 0.7, 5000)
    np.savetxt(tmp_path / "a.txt", y_int, fmt="%.0f")
    np.savetxt(tmp_path / "b.txt", y_flt, fmt="%.17g")
    out = pp_tiny.run_r(
        "suppressMessages(library(MASS)); "
        f"for (f in c('{tmp_path}/a.txt', '{tmp_path}/b.txt')) {{ h <- huber(scan(f, quiet=TRUE)); "
        "cat(format(c(h$mu, h$s), digits=17), '\\n') }")
    rows = [list(map(float, line.split())) for line in out.strip().splitlines()]
    for y, (r_mu, r_s) in zip((y_int, y_flt), rows):
        mu, s = bg.huber(y)
        assert s == pytest.approx(r_s, rel=1e-12)
        assert mu == pytest.approx(r_mu, rel=1e-10)
