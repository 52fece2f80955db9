"""Covariate values of new samples → the training codes (models.covariates): names, aliases, codes, and an
honest warning (no shift) for a missing value or a level never seen in training."""

from __future__ import annotations

import numpy as np
import pandas as pd

from methylclass.models.covariates import covariate_spec, encode_covariates


def test_levels_aliases_codes_and_unknowns():
    spec = {"cov_array": {"EPICv2": 0.0, "HM450": 1.0}, "cov_material": {"FFPE": 0.0, "Frozen": 1.0}}
    X = pd.DataFrame({"cg1": [0.1] * 6,
                      "cov_array": ["450k", "epicv2", 0.0, "MSA", None, "HM450"],
                      "cov_material": ["ffpe", "Frozen", 1.0, 2.0, "FFPE", np.nan]},
                     index=[f"s{i}" for i in range(6)])
    enc, warn = encode_covariates(X, spec)
    np.testing.assert_array_equal(enc["cov_array"].to_numpy(), [1.0, 0.0, 0.0, np.nan, np.nan, 1.0])
    np.testing.assert_array_equal(enc["cov_material"].to_numpy(), [0.0, 1.0, 1.0, np.nan, 0.0, np.nan])
    assert list(warn[:3]) == ["", "", ""]
    assert "array 'MSA' was not seen in training (EPICv2, HM450)" in warn["s3"]
    assert "material '2.0' was not seen in training" in warn["s3"]
    assert warn["s4"].startswith("array not given") and warn["s5"].startswith("material not given")
    again, _ = encode_covariates(enc, spec)  # codes stay codes
    pd.testing.assert_frame_equal(again, enc)
    # a column the input lacks: every sample unadjusted, with the warning
    enc2, warn2 = encode_covariates(X.drop(columns="cov_material"), spec)
    assert enc2["cov_material"].isna().all() and warn2.str.contains("material not given").all()


def test_spec_from_card():
    card = {"features": ["cg1", "cov_array"], "covariates": {"cov_array": {"levels": {"A": 0.0, "B": 1.0}}},
            "config": {"covariates": {"cov_material": {"x": 0.0}}}}
    assert covariate_spec(card) == {"cov_array": {"A": 0.0, "B": 1.0}}  # cov_material is no input of the model
    assert covariate_spec({"features": ["cg1"]}) == {}
