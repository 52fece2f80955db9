"""Run configuration (methylclass.config + conf/): every shipped YAML loads, deltas compose, bad keys fail."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from methylclass.config import (
    conf_dir,
    deep_merge,
    load_config,
    pipeline_options,
    read_yaml,
    registry_models,
    save_config,
)
from methylclass.errors import ConfigError

CONF = conf_dir()
GROUP_FILES = sorted(p for p in CONF.rglob("*.yaml"))


def test_every_yaml_in_conf_loads():
    """Each of conf/**/*.yaml is valid YAML holding a mapping; every group directory is populated."""
    assert {p.parent.name for p in GROUP_FILES} >= {"conf", "data", "model", "cv", "experiment"}
    for path in GROUP_FILES:
        assert isinstance(read_yaml(path), dict), path


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (CONF / "experiment").glob("*.yaml")))
def test_every_experiment_resolves(experiment):
    """Each experiment composes with base.yaml into a validated config whose models are registry entries
    with make_pipeline options only, and whose name is the experiment's file name."""
    cfg = load_config(experiment)
    assert cfg["experiment"]["name"] == experiment
    assert list(cfg)[:6] == ["defaults", "experiment", "data", "cv", "pipeline", "models"]
    options = set(pipeline_options())
    for name, m in cfg["models"].items():
        assert m["estimator"] in registry_models()
        assert set(m["pipeline"]) <= options, name
    assert "${" not in yaml.safe_dump(cfg)


@pytest.mark.parametrize("model", sorted(p.stem for p in (CONF / "model").glob("*.yaml")))
def test_every_model_file_resolves(model):
    """Each conf/model file, selected alone, builds (its params are accepted by the registry factory)."""
    cfg = load_config(overrides=[f"defaults.models=[{model}]"])
    assert list(cfg["models"]) == [model]


def test_base_defaults_and_data_interpolation(data_dir):
    """base.yaml defaults: five model families, 5×3 nested CV, threshold 0.9, ${data_dir} resolved to the
    shared data folder; the MB file exists there."""
    cfg = load_config()
    assert list(cfg["models"]) == ["rf", "logreg", "svm", "xgb", "mlp"]
    assert (cfg["cv"]["outer"], cfg["cv"]["inner"]) == (5, 3)
    assert cfg["decision"]["threshold"] == 0.9
    assert Path(cfg["data"]["betas"]) == data_dir / "labelled" / "mb_gse85212" / "mb_gse85212_341x399.csv.gz"
    # per-model pipeline = top-level pipeline updated by the model file
    assert cfg["models"]["rf"]["pipeline"]["balance"] == "downsample"
    assert cfg["models"]["rf"]["pipeline"]["n_features"] == cfg["pipeline"]["n_features"]


def test_experiment_is_a_delta_and_overrides_win(tmp_path):
    """An experiment re-picks groups and patches keys; --config and key=value overrides apply on top, in
    that order; a model configured but not selected is ignored and recorded."""
    delta = tmp_path / "mine.yaml"
    delta.write_text("cv: {outer: 4}\nmodels: {svm: {params: {C: 0.5}}, rf: {params: {n_estimators: 9}}}\n")
    cfg = load_config("mb_quick", config_file=delta, overrides=["cv.repeats=2", "models.svm.params.C=0.25"])
    assert cfg["cv"]["name"] == "nested_3x3" and cfg["cv"]["outer"] == 4 and cfg["cv"]["repeats"] == 2
    assert list(cfg["models"]) == ["logreg", "svm"]
    assert cfg["models"]["svm"]["params"]["C"] == 0.25
    assert cfg["meta"]["unselected_models"] == ["rf"]
    assert str(delta) in cfg["meta"]["files"]
    full = load_config("mb_full")
    assert full["models"]["rf"]["params"]["n_estimators"] == 1000 and full["cv"]["repeats"] == 3


def test_user_defined_model_by_name(tmp_path):
    """A user model defined inline in a delta (estimator = registry entry + own params) can be selected."""
    delta = tmp_path / "d.yaml"
    delta.write_text("defaults: {models: [rf_small]}\n"
                     "models: {rf_small: {estimator: rf, params: {n_estimators: 50}}}\n")
    cfg = load_config(config_file=delta)
    assert cfg["models"]["rf_small"]["estimator"] == "rf"
    assert cfg["models"]["rf_small"]["params"] == {"n_estimators": 50}


@pytest.mark.parametrize("override,message", [
    (["cv.outr=3"], r"unknown key 'cv\.outr'"),
    (["banana=1"], r"unknown key 'banana'"),
    (["defaults.models=[rf,nosuchmodel]"], r"unknown estimator 'nosuchmodel'"),
    (["models.nosuch.params.C=1"], r"unknown model 'nosuch'"),
    (["pipeline.selec=variance"], r"unknown option\(s\) \['selec'\]"),
    (["models.logreg.params.n_trees=5"], r"models\.logreg\.params"),
    (["cv.rare=maybe"], r"choose one of refuse, merge, drop"),
    (["cv.outer=three"], r"'cv\.outer' must be int"),
    (["experiment.seed=yes"], r"not a boolean"),
    (["defaults.cv=nested_9x9"], r"no cv config 'nested_9x9'.*nested_3x3"),
    (["cv.outer"], r"key\.path=value"),
    (["defaults.models=[]"], r"no model selected"),
])
def test_bad_configs_raise_config_error(override, message):
    """Unknown keys, model names, pipeline options, parameters, enum values, types and group files are
    ConfigErrors naming the key (and the allowed values where there is a list)."""
    with pytest.raises(ConfigError, match=message):
        load_config("mb_quick", overrides=override)


def test_bad_files(tmp_path):
    """A missing file, broken YAML, a non-mapping file and an unset ${env:…} are ConfigErrors with the path."""
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(config_file=tmp_path / "none.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("cv: {outer: [1, 2\n")
    with pytest.raises(ConfigError, match="broken.yaml' is not valid YAML"):
        load_config(config_file=broken)
    seq = tmp_path / "seq.yaml"
    seq.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(config_file=seq)
    env = tmp_path / "env.yaml"
    env.write_text("data: {betas: '${env:METHYLCLASS_TEST_UNSET_VAR}/x.csv'}\n")
    with pytest.raises(ConfigError, match="METHYLCLASS_TEST_UNSET_VAR is not set"):
        load_config(config_file=env)
    with pytest.raises(ConfigError, match="no base.yaml"):
        load_config(conf=tmp_path)


def test_saved_config_reloads_identically(tmp_path):
    """save_config writes YAML that reads back to the same resolved dict, and can serve as --config."""
    cfg = load_config("mb_quick", overrides=["cv.outer=4", "models.svm.params.C=0.5"])
    path = save_config(cfg, tmp_path / "run" / "config.yaml")
    again = read_yaml(path)
    assert again == yaml.safe_load(yaml.safe_dump(cfg))
    reloaded = load_config(config_file=path)
    for key in ("defaults", "experiment", "data", "cv", "pipeline", "models", "decision", "report"):
        assert reloaded[key] == cfg[key], key


def test_deep_merge_semantics():
    """Mappings merge recursively; lists and scalars are replaced; inputs are not modified."""
    a = {"x": {"y": 1, "z": [1, 2]}, "k": 1}
    b = {"x": {"z": [3]}, "n": 2}
    assert deep_merge(a, b) == {"x": {"y": 1, "z": [3]}, "k": 1, "n": 2}
    assert a == {"x": {"y": 1, "z": [1, 2]}, "k": 1}


def test_conf_dir_falls_back_to_the_wheel_installed_copy(tmp_path, monkeypatch):
    """Without the repository's conf/ (a wheel install), the copy under <prefix>/share/methylclass/conf is
    used; $METHYLCLASS_CONF and an explicit path still win; a folder without base.yaml is refused by name."""
    from methylclass import config

    installed = tmp_path / "prefix" / "share" / "methylclass" / "conf"
    installed.mkdir(parents=True)
    (installed / "base.yaml").write_text("{}\n")
    monkeypatch.delenv(config.CONF_ENV, raising=False)
    monkeypatch.setattr(config, "_REPO_CONF", tmp_path / "no_repo" / "conf")
    monkeypatch.setattr(config.sys, "prefix", str(tmp_path / "prefix"))
    assert config.conf_dir() == installed
    monkeypatch.setenv(config.CONF_ENV, str(CONF))
    assert config.conf_dir() == CONF
    with pytest.raises(ConfigError, match="no_base"):
        config.conf_dir(tmp_path / "no_base")
