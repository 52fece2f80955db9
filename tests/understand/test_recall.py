"""Planted truth: the SHAP ranking and the Boruta selection recover the simulator's class DMPs."""

from __future__ import annotations

from methylclass.models import make_pipeline
from methylclass.tl.importance import oof_explain, shap_ranking
from methylclass.tl.panel import PanelOptions, rank_features


def test_shap_and_boruta_recall_planted_class_dmps(planted_cohort):
    s = planted_cohort
    truth = set(s.class_dmps())
    assert len(truth) >= 50
    # SHAP: out-of-fold global importance of a random forest inside nested CV (every fold explains its test part)
    _, exp = oof_explain(s.X, s.y, make_pipeline("rf", n_features=1000, calibrate=None, n_estimators=200),
                           outer=3, inner=None, n_jobs=1, progress=False)
    assert exp.values.shape[0] == len(s.X) and exp.samples == list(s.X.index)
    top_shap = set(shap_ranking(exp).index[:100])
    recall_shap = len(top_shap & truth) / len(truth)
    # Boruta: the confirmed CpGs on all samples (and the top 100 of its ordering)
    order, score = rank_features(s.X.to_numpy(float), s.y.to_numpy(), "boruta", PanelOptions())
    confirmed = set(s.X.columns[score == -1])
    recall_boruta = len(confirmed & truth) / len(truth)
    recall_boruta_top = len(set(s.X.columns[order[:100]]) & truth) / len(truth)
    assert recall_shap >= 0.8, recall_shap
    assert recall_boruta >= 0.8 and recall_boruta_top >= 0.8, (recall_boruta, recall_boruta_top)
    # and they are not just everything: most confirmed CpGs are planted ones
    assert len(confirmed & truth) / len(confirmed) >= 0.5
