"""The CpG scale option of the pipeline: M-values and per-CpG standardisation, fitted on the training data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ConfigError
from methylclass.models import make_pipeline
from methylclass.models.scaling import MValueTransformer, check_scale
from tests.models.conftest import make_blobs_table


def test_mvalue_is_log2_ratio_with_clipping_and_nan():
    """Reference: M = log2(β/(1−β)) (Du et al. 2010); β = 0.5 → 0, β = 0.8 → 2; 0 and 1 are clipped to ±log2(999)."""
    B = np.array([[0.5, 0.8, 0.0, 1.0, np.nan]])
    M = MValueTransformer().fit(B).transform(B)
    np.testing.assert_allclose(M[0, :4], [0.0, 2.0, -np.log2(999), np.log2(999)])
    assert np.isnan(M[0, 4])


@pytest.mark.parametrize("scale,steps", [(None, ["variance", "impute", "model"]),
                                         ("standard", ["variance", "impute", "scale", "model"]),
                                         ("mvalue", ["variance", "impute", "mvalue", "model"]),
                                         ("mvalue_standard", ["variance", "impute", "mvalue", "scale", "model"])])
def test_scale_steps_follow_selection_and_use_training_statistics(scale, steps):
    X, y = make_blobs_table(n_per_class=(20, 20, 20), shift=0.3)
    train, test = X.iloc[::2], X.iloc[1::2]
    est = make_pipeline("logreg", n_features=15, calibrate=None, scale=scale).fit(train, y[::2])
    assert [n for n, _ in est.base_pipeline_.steps] == steps
    Z_train = est.transform_selected(train)
    Z_test = est.transform_selected(test)
    if scale in ("standard", "mvalue_standard"):  # standardised with the training fold's mean and sd only
        np.testing.assert_allclose(Z_train.mean(axis=0), 0.0, atol=1e-9)
        np.testing.assert_allclose(Z_train.std(axis=0), 1.0, atol=1e-9)
        assert np.abs(Z_test.mean(axis=0)).max() > 1e-6
    if scale == "mvalue":
        cols = est.selected_features_
        np.testing.assert_allclose(Z_test, MValueTransformer().fit(test[cols]).transform(test[cols]))
    assert list(est.selected_features_) == list(pd.Index(est.selected_features_))


def test_unknown_scale_is_a_config_error():
    assert check_scale("none") is None and check_scale("beta") is None
    with pytest.raises(ConfigError, match="unknown scale"):
        make_pipeline("logreg", scale="log")


def test_block_weight_scales_the_standardised_block_and_acts_as_a_blockwise_penalty():
    """``block_weight`` multiplies the standardised CNV columns (CpGs untouched). Reference for the penalty
    equivalence: a ridge fit on (w·Z) has coefficients β_w with w·β_w = the coefficients of a fit on Z whose
    block penalty is 1/w² times stronger — checked here as: a smaller weight shrinks the block's effective
    coefficients (w·β_w) monotonically, on a block that carries the whole signal."""
    X, y = make_blobs_table(n_per_class=(30, 30), n_informative=0, seed=4)
    rng = np.random.default_rng(4)
    X["cnv_0"] = rng.normal(0, 0.01, len(X)) + 0.02 * (y == "class_A")
    X["cnv_1"] = rng.normal(0, 0.01, len(X))
    effective = []
    for w in (1.0, 0.3, 0.1):
        est = make_pipeline("logreg", n_features=10, calibrate=None, feature_blocks="cnv_", block_weight=w,
                            C=1.0).fit(X, y)
        names = list(est.selected_features_)
        Z = pd.DataFrame(est.transform_selected(X), columns=names)
        cnv = X[["cnv_0", "cnv_1"]]
        np.testing.assert_allclose(Z[["cnv_0", "cnv_1"]].to_numpy(),
                                   w * ((cnv - cnv.mean()) / cnv.std(ddof=0)).to_numpy(), atol=1e-9)
        cpg = [n for n in names if not n.startswith("cnv_")]
        np.testing.assert_allclose(Z[cpg].to_numpy(), X[cpg].to_numpy())
        effective.append(abs(w * est.final_estimator_.coef_[0, names.index("cnv_0")]))
    assert effective[0] > effective[1] > effective[2]


@pytest.mark.parametrize("bad", [0, -1, "x", float("nan")])
def test_bad_block_weight_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="block_weight"):
        make_pipeline("logreg", feature_blocks="cnv_", block_weight=bad)


def test_auto_block_weight_is_the_median_sd_of_the_selected_cpgs_of_the_training_fold():
    """``block_weight="auto"``: w = median training SD of the selected CpGs (so a CNV feature weighs like a
    typical CpG); with standardised CpGs that is 1."""
    X, y = make_blobs_table(n_per_class=(30, 30), n_informative=0, seed=4)
    X["cnv_0"] = np.random.default_rng(4).normal(0, 0.01, len(X))
    train = X.iloc[:40]
    est = make_pipeline("logreg", n_features=10, calibrate=None, feature_blocks="cnv_", block_weight="auto",
                        C=1.0).fit(train, y[:40])
    ct = est.base_pipeline_.steps[0][1]
    cpg = [n for n in est.selected_features_ if not n.startswith("cnv_")]
    assert ct.block_weight_ == pytest.approx(float(np.median(train[cpg].std(ddof=0))))
    Z = est.transform_selected(X)
    cnv = train["cnv_0"]
    np.testing.assert_allclose(Z[:, -1], ct.block_weight_ * (X["cnv_0"] - cnv.mean()) / cnv.std(ddof=0))
    std = make_pipeline("logreg", n_features=10, calibrate=None, feature_blocks="cnv_", block_weight="auto",
                        scale="standard").fit(train, y[:40])
    assert std.base_pipeline_.steps[0][1].block_weight_ == pytest.approx(1.0)
