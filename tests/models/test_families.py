"""Class families: taxonomy files, family scores and the class → family → no_match decision.

Planted truth: a simulated cohort (:func:`methylclass.simulate.betas.simulate_betas`, three families of two
sibling classes) in which 20 % of the tumours are *ambiguous sibling-class samples* (methylation mean 35–50 % of
the way to a sibling class). Nested-CV probabilities leave many of them below the class threshold; the family
fallback must turn at least half of those class-level no-matches into the correct family call, and no family
call above the threshold may be wrong.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ConfigError, DataError
from methylclass.models import (
    Taxonomy,
    decide,
    decide_hierarchical,
    family_scores,
    load_taxonomy,
    make_pipeline,
)
from methylclass.simulate.betas import simulate_betas
from methylclass.tl.cv import nested_cv

TAX = {"A1": "A", "A2": "A", "B1": "B", "B2": "B", "C": "C"}


def test_family_scores_sum_member_probabilities():
    P = np.array([[0.5, 0.4, 0.05, 0.05, 0.0], [0.1, 0.1, 0.1, 0.1, 0.6]])
    F, fams = family_scores(P, list(TAX), TAX)
    assert fams == ["A", "B", "C"]
    np.testing.assert_allclose(F, [[0.9, 0.1, 0.0], [0.2, 0.2, 0.6]])


def test_decide_hierarchical_levels():
    classes = list(TAX)
    P = pd.DataFrame([[0.95, 0.03, 0.01, 0.01, 0.0],    # class call
                      [0.50, 0.45, 0.03, 0.02, 0.0],    # family A (0.95)
                      [0.40, 0.05, 0.40, 0.05, 0.10],   # nothing reaches 0.9
                      [0.02, 0.02, 0.02, 0.02, 0.92],   # single-class family: class call
                      [0.05, 0.05, 0.05, 0.0, 0.85]],   # C alone: no family fallback for a one-class family
                     columns=classes, index=list("vwxyz"))
    out = decide_hierarchical(P, taxonomy=TAX, threshold=0.9)
    assert list(out.columns) == ["prediction", "prediction_level", "score", "family", "family_score"]
    assert list(out.index) == list("vwxyz")
    assert out["prediction"].tolist() == ["A1", "A", "no_match", "C", "no_match"]
    assert out["prediction_level"].tolist() == ["class", "family", "no_match", "class", "no_match"]
    np.testing.assert_allclose(out["family_score"], [0.98, 0.95, 0.45, 0.92, 0.85])
    np.testing.assert_allclose(out["score"], [0.95, 0.50, 0.40, 0.92, 0.85])
    # class-level labels agree with decide(); a stricter family threshold removes the family call
    assert (out["prediction"].where(out["prediction_level"] != "family", "no_match").to_numpy()
            == decide(P, threshold=0.9)).all()
    strict = decide_hierarchical(P, taxonomy=TAX, threshold=0.9, family_threshold=0.96)
    assert strict["prediction"].iloc[1] == "no_match"
    # without a taxonomy it is decide() with extra columns; OOD forces no_match at both levels
    assert (decide_hierarchical(P, threshold=0.9)["prediction"].to_numpy() == decide(P, threshold=0.9)).all()
    ood = np.array([False, True, False, False, False])
    assert decide_hierarchical(P, taxonomy=TAX, ood=ood)["prediction_level"].iloc[1] == "no_match"
    with pytest.raises(ConfigError):
        decide_hierarchical(P, taxonomy=TAX, family_threshold=1.5)


def test_taxonomy_files(tmp_path):
    (tmp_path / "t.tsv").write_text("class\tfamily\tsuperfamily\nA1\tA\tembryonal\nA2\tA\tembryonal\nB1\tB\t\n")
    tax = load_taxonomy(tmp_path / "t.tsv")
    assert tax.family == {"A1": "A", "A2": "A", "B1": "B"} and tax.superfamily == {"A": "embryonal"}
    (tmp_path / "t.yaml").write_text("families:\n  A: [A1, A2]\n  B: [B1]\n")
    assert load_taxonomy(tmp_path / "t.yaml").family == tax.family
    assert Taxonomy.from_dict(tax.to_dict()) == tax
    assert list(tax.family_of(["A2", "Z"])) == ["A", "Z"]
    (tmp_path / "bad.tsv").write_text("class\tfamily\nA1\tA\nA1\tB\n")
    with pytest.raises(DataError):
        load_taxonomy(tmp_path / "bad.tsv")
    with pytest.raises(DataError):
        load_taxonomy(tmp_path / "missing.tsv")


def test_family_fallback_on_ambiguous_sibling_samples():
    """Measured (seed 1, 30 per class): 42 ambiguous samples, 35 class-level no_match, all 35 → correct family."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = simulate_betas(classes=6, n_per_class=24, n_probes=1500, dmps_per_class=10, dmps_per_family=30,
                           ambiguous_fraction=0.2, seed=1)
        res = nested_cv(c.X, c.truth["class"],
                        lambda: make_pipeline("logreg", n_features=400, balance="class_weight"),
                        outer=4, inner=3, n_jobs=1, progress=False)
    out = decide_hierarchical(res.proba, taxonomy=c.taxonomy, threshold=0.9)
    fam_true = c.truth["family"]
    amb = c.truth["ambiguous"].to_numpy()
    class_nm = (out["prediction_level"] != "class").to_numpy()
    rescued = (out["prediction_level"] == "family").to_numpy() & (out["prediction"] == fam_true).to_numpy()
    assert (amb & class_nm).sum() >= 5  # the cohort really has ambiguous samples the class level rejects
    assert (amb & rescued).sum() >= 0.5 * (amb & class_nm).sum()
    family_calls = out["prediction_level"] == "family"
    assert (out.loc[family_calls, "prediction"] == fam_true[family_calls]).all()
    assert (out.loc[family_calls, "family_score"] >= 0.9).all()
