"""Simulated arrays through the toolkit's own preprocessing: noob, dye-bias correction, pOOBAH, Illumina.

These tests use the contract ``methylclass.pp.normalize.normalize(raw, method=...)``; a method the installed
normaliser does not offer is skipped (with the reason), never silently passed.
"""

from __future__ import annotations

import numpy as np
import pytest

from methylclass.pp import normalize as norm
from methylclass.simulate.cohort import build_model
from methylclass.simulate.worker import sample_signals


def _need(method: str) -> None:
    if method not in getattr(norm, "METHODS", ()):
        pytest.skip(f"normalize() offers no method '{method}' yet")


def _planted(cohort, cohort_signals, names, arrays: bool = False):
    """The planted per-probe β (or, with ``arrays``, the channel arrays) of some fixture samples, recomputed
    from their random streams."""
    import json

    from methylclass.simulate import SimulationConfig
    from methylclass.simulate.cohort import _class_events, _draw_samples
    from methylclass.simulate.design import default_layout
    from methylclass.simulate.profiles import make_layout

    meta = json.loads(cohort.config_json.read_text())["config"]
    meta.update(manifest=cohort.manifest, purity=tuple(meta["purity"]), dmp_delta=tuple(meta["dmp_delta"]))
    cfg = SimulationConfig(**meta)
    model, layout, params = build_model(cfg, cohort.manifest)
    ev = _class_events(cfg, make_layout(cfg.classes, cfg.families, cfg.n_per_class), True, "hg19")
    specs = {s.sample: s for s in _draw_samples(cfg, layout, params, default_layout("SYNTH", 8000), ev, True,
                                                "hg19")}
    return {n: sample_signals(model, specs[n])[2 if arrays else 0] for n in names}


def test_noob_brings_betas_closer_to_the_planted_truth(cohort, cohort_signals):
    """Reference: the planted β of each sample. noob (background from the out-of-band signal, dye-bias
    correction from the normalisation controls) reduces the mean absolute error of Type II betas against the
    truth compared with raw betas, as it does on real arrays (background inflates unmethylated signal)."""
    _need("noob")
    truth, raws = cohort_signals
    names = list(truth.samples.loc[~truth.samples["ffpe"], "sample"].head(6))
    planted = _planted(cohort, cohort_signals, names)
    t2 = cohort.manifest.probes["design"].to_numpy() == "II"
    for n in names:
        raw = raws[n]
        ok = t2 & (raw.beads_meth > 0)
        err_raw = np.nanmean(np.abs(raw.betas()[ok] - planted[n][ok]))
        err_noob = np.nanmean(np.abs(norm.normalize(raw, method="noob").beta[ok] - planted[n][ok]))
        assert err_noob < err_raw, (n, err_noob, err_raw)


def test_poobah_flags_the_failed_probes(cohort, cohort_signals):
    """Reference: the probes the simulator made fail in each sample (signal dropped to background).
    pOOBAH calls ≥ 80 % of them undetected (p > 0.05) and ≤ 5 % of the working probes."""
    _need("noob")
    truth, raws = cohort_signals
    names = list(truth.samples["sample"].head(4))
    arrays = _planted(cohort, cohort_signals, names, arrays=True)
    for n in names:
        detp = np.asarray(norm.normalize(raws[n], method="noob").detection_p)
        if np.all(np.isnan(detp)):
            pytest.skip("normalize() returns no detection p-values")
        drop = arrays[n].dropout_probes
        working = np.ones(detp.size, dtype=bool)
        working[np.concatenate([drop, arrays[n].zero_bead_probes])] = False
        assert drop.size > 0
        assert np.mean(detp[drop] > 0.05) >= 0.8, n
        assert np.nanmean(detp[working] > 0.05) <= 0.05, n


def test_illumina_normalisation_equalises_dye_bias(cohort, cohort_signals):
    """Reference: truth dye_bias. After Illumina normalisation (NORM controls scaled to a reference) the
    Red/Green imbalance of Type II probes no longer tracks the sample's planted dye bias as strongly as in
    raw signals (|r| drops)."""
    _need("illumina")
    truth, raws = cohort_signals
    s = truth.samples[~truth.samples["low_quality"]]
    t2 = cohort.manifest.probes["design"].to_numpy() == "II"
    raw_ratio, ill_ratio = [], []
    for n in s["sample"]:
        raw = raws[n]
        ill = norm.normalize(raw, method="illumina")
        raw_ratio.append(np.log(np.nanmedian(raw.unmeth[t2]) / np.nanmedian(raw.meth[t2])))
        ill_ratio.append(np.log(np.nanmedian(ill.unmeth[t2]) / np.nanmedian(ill.meth[t2])))
    dye = np.log(s["dye_bias"].to_numpy())
    r_raw = abs(np.corrcoef(raw_ratio, dye)[0, 1])
    r_ill = abs(np.corrcoef(ill_ratio, dye)[0, 1])
    assert r_raw > 0.5 and r_ill < r_raw, (r_raw, r_ill)
