"""Family-level metrics and bootstrap intervals (:mod:`methylclass.tl.hierarchy`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from methylclass.tl.hierarchy import bootstrap_ci, family_evaluation, hierarchical_scalars
from methylclass.tl.metrics import evaluate

TAX = {"A1": "A", "A2": "A", "B1": "B"}


def _proba():
    P = pd.DataFrame([[0.95, 0.04, 0.01],   # A1 right class
                      [0.50, 0.45, 0.05],   # truth A2: family call A (right family)
                      [0.30, 0.10, 0.60],   # truth B1: no match
                      [0.02, 0.03, 0.95],   # truth B1: right
                      [0.10, 0.85, 0.05]],  # truth A1: class no match → family A (0.95)
                     columns=list(TAX), index=list("abcde"))
    return P, np.array(["A1", "A2", "B1", "B1", "A1"], dtype=object)


def test_hierarchical_scalars_by_hand():
    P, y = _proba()
    s = hierarchical_scalars(y, P, TAX, threshold=0.9)
    assert s["called_class"] == 0.4 and s["called_family"] == 0.4 and s["no_match_hier"] == 0.2
    assert s["accuracy_called_class"] == 1.0 and s["accuracy_called_family"] == 1.0
    assert np.isclose(s["family_rescued"], 2 / 3)


def test_family_evaluation_sums_members():
    P, y = _proba()
    ev = family_evaluation(y, P, TAX, threshold=0.9)
    ref = evaluate(np.array(["A", "A", "B", "B", "A"]),
                   pd.DataFrame({"A": P["A1"] + P["A2"], "B": P["B1"]}), threshold=0.9)
    for k in ("accuracy", "balanced_accuracy", "brier", "log_loss", "classifiable"):
        assert np.isclose(ev.scalars[k], ref.scalars[k])
    assert list(ev.per_class.index) == ["A", "B"]
    assert "family_rescued" in ev.scalars


def test_bootstrap_interval_contains_the_point_estimate_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    def table(n):
        y = np.array(["A1", "A2", "B1"] * n, dtype=object)
        P = rng.dirichlet([1, 1, 1], size=len(y)) * 0.3
        P[np.arange(len(y)), [list(TAX).index(v) for v in y]] += 0.7
        return y, pd.DataFrame(P, columns=list(TAX))
    y, P = table(20)
    point = evaluate(y, P).scalars
    ci = bootstrap_ci(y, P, n_boot=300)
    for k in ("balanced_accuracy", "brier", "classifiable"):
        lo, hi = ci[k]
        assert lo <= point[k] <= hi
    y2, P2 = table(200)
    ci2 = bootstrap_ci(y2, P2, n_boot=300)
    assert ci2["brier"][1] - ci2["brier"][0] < ci["brier"][1] - ci["brier"][0]
