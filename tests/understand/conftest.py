"""Fixtures of the understanding tests: a small simulated cohort with planted class DMPs (β level, no IDATs)."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_limits

from methylclass.simulate.betas import simulate_betas


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def planted_cohort():
    """4 classes × 15 samples × 1,000 CpGs, 15 class DMPs per class (shift 0.2–0.4 β, purity 0.5–0.9)."""
    return simulate_betas(1000, classes=4, n_per_class=15, dmps_per_class=15, delta=(0.2, 0.4),
                          purity=(0.5, 0.9), seed=1)
