"""Reference fit (conumee CNV.fit).

References: an explicit least-squares solve (numpy ``lstsq`` on the design matrix ``[1, X]``), conumee's
formulas (ratio = y − max(ŷ, 0); noise = sqrt(mean(diff(ratio)²))), and planted copy-number shifts.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from methylclass.errors import DataError
from methylclass.pp.cnv.reference import CNVReference, fit_reference, log2_intensity

pytestmark = pytest.mark.filterwarnings("ignore:.*conumee recommends:UserWarning")


def _design(rng, n=5000, k=6):
    R = rng.normal(12, 1, (1, n)) + rng.normal(0, 0.2, (k, n))
    beta = rng.uniform(0.05, 0.3, k)
    y = 0.4 + beta @ R + rng.normal(0, 0.1, n)
    return y, R


def test_fit_equals_explicit_least_squares():
    """Coefficients, intercept and ratios equal numpy lstsq on [1, X]; noise is conumee's formula."""
    rng = np.random.default_rng(0)
    y, R = _design(rng)
    res = fit_reference(y, R)
    A = np.column_stack([np.ones(y.size), R.T])
    sol, *_ = np.linalg.lstsq(A, y, rcond=None)
    np.testing.assert_allclose(res.intercept, sol[0], rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(res.coef, sol[1:], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(res.ratios, y - np.maximum(A @ sol, 0), atol=1e-8)
    assert res.noise == pytest.approx(np.sqrt(np.mean(np.diff(res.ratios) ** 2)))
    assert list(res.used_refs) == list(range(6))


def test_query_in_panel_is_dropped():
    """A reference identical to the query (r ≥ 0.99) is excluded from the fit, as conumee does."""
    rng = np.random.default_rng(1)
    y, R = _design(rng)
    R2 = np.vstack([R, y[None, :]])
    res = fit_reference(y, R2)
    assert 6 not in res.used_refs and res.correlations[6] == pytest.approx(1.0)
    np.testing.assert_allclose(res.ratios, fit_reference(y, R).ratios, atol=1e-8)


def test_errors_name_the_sample():
    """< 3 usable references and too few shared probes raise DataError naming the sample."""
    rng = np.random.default_rng(2)
    y, R = _design(rng, k=3)
    with pytest.raises(DataError, match="sample 'Q1': only 2 usable reference samples"):
        fit_reference(y, np.vstack([R[:2], y]), sample="Q1")
    y2 = y.copy()
    y2[: int(0.6 * y.size)] = np.nan
    with pytest.raises(DataError, match="sample 'Q2': only 2,000 of 5,000 CNV probes"):
        fit_reference(y2, R, sample="Q2")
    with pytest.warns(UserWarning, match="recommends ≥ 16"):
        fit_reference(y, R)


def test_missing_query_probes_are_skipped():
    """NaN query probes are excluded from the regression and come back as NaN ratios."""
    rng = np.random.default_rng(3)
    y, R = _design(rng)
    y2 = y.copy()
    y2[::10] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_reference(y2, R)
        ref = fit_reference(y[~np.isnan(y2)], R[:, ~np.isnan(y2)])
    assert np.isnan(res.ratios[::10]).all()
    np.testing.assert_allclose(res.ratios[~np.isnan(y2)], ref.ratios, atol=1e-8)


def test_log2_floor():
    """Intensities < 1 are set to 1 before log2 (conumee); NaN stays NaN."""
    np.testing.assert_array_equal(log2_intensity(np.array([0.0, 0.5, 1.0, 8.0])), [0, 0, 0, 3])
    assert np.isnan(log2_intensity(np.array([np.nan]))[0])


def test_panel_recovers_planted_shift(sim, bins, panel, planted):
    """A simulated 7p gain (CN 3, compression 0.6) gives probe ratios ≈ 0.6·log2(3/2) there, ≈ 0 elsewhere."""
    q = sim.tumour(planted(arms={"7p": 3}))
    res = panel.fit(q, bins, sample="t")
    on = sim.arm == "7p"
    shift = np.median(res.ratios[~on])
    assert np.median(res.ratios[on]) - shift == pytest.approx(0.6 * np.log2(1.5), abs=0.03)
    assert res.n_shared == bins.n_fit_probes and len(res.used_refs) == 16


def test_panel_save_load_and_errors(sim, bins, panel, tmp_path):
    """The saved panel (float32) reproduces the fit; < 3 usable normals and a foreign bin set are refused."""
    q = sim.normal()
    path = panel.save(tmp_path / "ref.npz")
    loaded = CNVReference.load(path)
    assert loaded.names == panel.names and loaded.probe_key == panel.probe_key
    a = panel.fit(q, bins).ratios
    b = loaded.fit(q, bins).ratios
    assert np.max(np.abs(a - b)) < 1e-4
    with pytest.raises(DataError, match="reference panel has 2 usable samples"):
        CNVReference.from_intensities(np.vstack([sim.normal(), sim.normal()]), bins)
    half = np.vstack([sim.normal() for _ in range(3)])
    half[2, : int(0.7 * half.shape[1])] = np.nan
    with pytest.raises(DataError, match="unusable .*: ref3"):
        CNVReference.from_intensities(half, bins)
    import dataclasses
    with pytest.raises(DataError, match="other probes/array"):
        dataclasses.replace(panel, probe_key="other").fit(q, bins, sample="x")
