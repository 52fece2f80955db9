"""A benchmark run that explains itself (issue 12): chosen hyperparameters per outer fold, bootstrap intervals,
family-level metrics from a taxonomy column, the in-fold material adjustment fed by a covariate column, and the
taxonomy stored in a trained bundle's card — on a small simulated cohort with planted families and FFPE."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from methylclass.config import load_config
from methylclass.models import Taxonomy, load_bundle
from methylclass.simulate.betas import simulate_betas
from methylclass.workflows import benchmark, train


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("fam")
    c = simulate_betas(classes=4, n_per_class=15, n_probes=1000, dmps_per_class=8, dmps_per_family=20,
                       ambiguous_fraction=0.2, ffpe_fraction=0.5, ffpe_shift=1.0, ffpe_probe_fraction=0.2, seed=4)
    c.X.reset_index().to_csv(root / "betas.csv", index=False)
    labels = pd.DataFrame({"sample": c.X.index, "class": c.truth["class"], "family": c.truth["family"],
                           "material": np.where(c.truth["ffpe"], "FFPE", "Frozen")})
    labels.to_csv(root / "labels.tsv", sep="\t", index=False)
    data = {"betas": str(root / "betas.csv"), "labels": str(root / "labels.tsv"), "sample_column": "sample",
            "label_column": "class", "family_column": "family", "covariates": {"material": "material"}}
    return c, root, data


def _cfg(root, data, models):
    cfg = load_config("mb_quick", overrides=[f"defaults.models=[{','.join(models)}]",
                                             f"experiment.out_dir={root / 'runs'}", "experiment.n_jobs=1",
                                             "report.formats=[png]", "report.bootstrap=200", "cv.outer=3",
                                             "pipeline.n_features=300"])
    cfg["data"] = dict(data)
    return cfg


def test_benchmark_writes_params_families_intervals(cohort):
    c, root, data = cohort
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = benchmark(_cfg(root, data, ("logreg", "logreg_adjusted")), progress=False)
    p = run.path
    params = pd.read_csv(p / "params.csv")
    assert set(params["model"]) == {"logreg", "logreg_adjusted"} and len(params) == 6
    assert set(params["C"]) <= {0.1, 1.0, 10.0}
    metrics = json.loads((p / "metrics.json").read_text())
    assert metrics["data"]["taxonomy"]["family"] == c.taxonomy
    assert metrics["data"]["covariates"]["cov_material"]["levels"] == {"FFPE": 0.0, "Frozen": 1.0}
    for name in ("logreg", "logreg_adjusted"):
        s = metrics["models"][name]["scalars"]
        assert s["balanced_accuracy_ci_low"] <= s["balanced_accuracy"] <= s["balanced_accuracy_ci_high"]
        assert 0 <= s["family_brier"] <= s["brier"] + 1e-12  # merging siblings cannot raise the Brier score
        assert np.isclose(s["called_class"] + s["called_family"] + s["no_match_hier"], 1.0)
        assert metrics["models"][name]["chosen_params"]
    per_class = pd.read_csv(p / "per_class.csv")
    assert set(per_class["level"]) == {"class", "family"}
    assert set(per_class.loc[per_class["level"] == "family", "class"]) == set(c.taxonomy.values())
    html = (p / "report.html").read_text()
    assert "hyperparameters chosen by the inner search" in html and "family level: balanced accuracy" in html
    assert "bootstrap interval" in html


def test_trained_bundle_card_carries_the_taxonomy(cohort, tmp_path):
    c, root, data = cohort
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(_cfg(root, data, ("logreg_adjusted",)), tmp_path / "bundle", conformal=None)
    bundle = load_bundle(tmp_path / "bundle")
    cfg = bundle.card["config"]
    assert Taxonomy.from_dict(cfg["taxonomy"]).family == c.taxonomy
    assert cfg["covariates"] == {"cov_material": {"FFPE": 0.0, "Frozen": 1.0}}
    assert "cov_material" in bundle.features
