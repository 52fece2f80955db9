"""Defaults live only in conf/: workflows read the resolved config (``config.setting``), and training's card
metrics apply the same decision rule as the benchmark (``decision.class_thresholds`` included)."""

from __future__ import annotations

import json

import pytest

from methylclass.config import load_config, setting
from methylclass.errors import ConfigError
from methylclass.workflows import cli_data_block, train
from methylclass.workflows.runs import decision_threshold


def test_setting_reads_the_config_then_conf():
    cfg = load_config("mb_quick", overrides=["decision.threshold=0.75"])
    assert setting(cfg, "decision.threshold") == 0.75
    assert setting(cfg, "decision.class_thresholds") is None  # an explicit null is a value, not a gap
    assert setting({}, "decision.threshold") == load_config()["decision"]["threshold"]  # from conf/base.yaml
    with pytest.raises(ConfigError, match="no setting 'decision.nope'"):
        setting({}, "decision.nope")


def test_decision_threshold_with_class_thresholds():
    cfg = load_config("mb_quick", overrides=["decision.class_thresholds={SHH: 0.99}"])
    assert decision_threshold(cfg) == {"SHH": 0.99, "default": cfg["decision"]["threshold"]}
    assert decision_threshold(load_config("mb_quick")) == load_config("mb_quick")["decision"]["threshold"]


def test_train_card_metrics_apply_class_thresholds(mb_tables, tmp_path):
    """Reference: the same training run without per-class thresholds. A 0.9999 threshold on SHH must make
    SHH samples no_match in the out-of-fold metrics of the card (fewer classifiable) — before the fix the
    card ignored decision.class_thresholds and both cards were equal."""
    def card(name: str, *over: str) -> dict:
        cfg = load_config("mb_quick", overrides=["defaults.models=[logreg]", "experiment.n_jobs=1", "cv.inner=2",
                                                 *over])
        cfg["data"] = cli_data_block(betas=mb_tables["small"], label_column="subgroup", sample_column="GSM")
        out = tmp_path / name
        train(cfg, out, conformal_folds=3, progress=False)
        return json.loads((out / "card.json").read_text())

    plain = card("plain")
    strict = card("strict", "decision.class_thresholds={SHH: 0.9999}")
    assert strict["config"]["decision"]["class_thresholds"] == {"SHH": 0.9999}
    assert strict["metrics"]["classifiable"] < plain["metrics"]["classifiable"]
    assert strict["metrics"]["balanced_accuracy"] == plain["metrics"]["balanced_accuracy"]  # same OOF models
