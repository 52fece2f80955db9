"""Aligning an EPICv2-like query to a 450k-trained model's features: replicate collapse, coverage, refusal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ConfigError, DataError
from methylclass.models.crossarray import align_to_features
from methylclass.simulate.design import synthetic_manifest
from methylclass.simulate.mixed import derive_array_manifests


@pytest.fixture(scope="module")
def layouts():
    return derive_array_manifests(synthetic_manifest(3000, seed=4), ["450k", "EPICv2"], seed=4)


def test_epicv2_query_lands_on_450k_features(layouts):
    """Reference: the layouts' CpG sets (coverage = |450k ∩ EPICv2| / |450k|) and the replicate values."""
    k450, v2 = layouts["450k"], layouts["EPICv2"]
    features = k450.probes["cpg_id"].tolist()
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.random((3, v2.n_probes)), columns=v2.probes["probe_id"], index=["a", "b", "c"])
    X.iloc[2, :] = np.nan
    X.iloc[2, :100] = 0.5  # sample c: almost nothing
    al = align_to_features(X, features, min_coverage=0.5)
    assert list(al.X.columns) == features
    shared = len(set(features) & set(v2.probes["cpg_id"])) / len(features)
    assert al.coverage["a"] == pytest.approx(shared) and 0.84 < shared < 0.94
    assert al.low_coverage.tolist() == [False, False, True]
    assert "of the" in al.reasons["c"] and "at least 50%" in al.reasons["c"] and al.reasons["a"] == ""
    # a replicated CpG gets the mean of its replicates
    p = v2.probes
    cpg = p.loc[p["cpg_id"].duplicated(keep=False) & p["cpg_id"].isin(features), "cpg_id"].iloc[0]
    reps = p.loc[p["cpg_id"] == cpg, "probe_id"]
    assert al.X.loc["a", cpg] == pytest.approx(X.loc["a", reps].mean())
    # coverage on the used subset only
    used = features[:10]
    assert align_to_features(X, features, used=used, min_coverage=0.0).n_used == 10


def test_bad_queries_are_refused(layouts):
    with pytest.raises(DataError, match="DataFrame"):
        align_to_features(np.zeros((2, 3)), ["a"], min_coverage=0.5)
    with pytest.raises(ConfigError, match="min_coverage"):
        align_to_features(pd.DataFrame({"a": [1.0]}), ["a"], min_coverage=1.5)
