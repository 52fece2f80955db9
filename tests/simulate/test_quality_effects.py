"""Controls, dye bias, conversion, FFPE, low quality, failed probes and purity behave as on real arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from methylclass.io.idat import read_idat
from methylclass.io.raw_types import raw_signals_from_idats
from methylclass.simulate import read_truth, simulate_cohort


@pytest.fixture(scope="module")
def qc_cohort(tmp_path_factory):
    """20 tumours of 2 classes + 4 normals with half FFPE, a quarter low quality and 1 % failed probes."""
    out = tmp_path_factory.mktemp("qc") / "cohort"
    res = simulate_cohort(out, n_probes=6000, classes=2, n_per_class=10, n_normals=4, seed=21, cnv="none",
                          ffpe_fraction=0.5, low_quality_fraction=0.25, failed_probe_rate=0.01,
                          dye_bias=2.0, dmps_per_class=200)
    truth = read_truth(out)
    raws = {}
    for row in truth.samples.itertuples(index=False):
        base = out / row.basename
        raws[row.sample] = raw_signals_from_idats(read_idat(f"{base}_Grn.idat"), read_idat(f"{base}_Red.idat"),
                                                  res.manifest, row.sample)
    return res, truth, raws


def _ctrl(raw, types, channel):
    c = raw.controls
    return c.loc[c["type"].isin(types), channel].to_numpy(float)


def test_control_probes_light_up_in_their_channel(qc_cohort):
    """Reference: Illumina's control design (450k: NORM_A/T in Red, NORM_C/G in Green; negatives =
    background) as seen in the real 450k oracle, where normalisation controls are 5–20× the negatives of
    their channel. Out-of-band signal of Type I probes is above the negatives (cross-talk) but far below
    in-band signal, as in the real sample (342 vs 169 vs ~10,000)."""
    _, truth, raws = qc_cohort
    good = truth.samples.loc[~truth.samples["low_quality"], "sample"]
    for s in good:
        raw = raws[s]
        neg_g, neg_r = np.median(_ctrl(raw, ["NEGATIVE"], "grn")), np.median(_ctrl(raw, ["NEGATIVE"], "red"))
        assert np.median(_ctrl(raw, ["NORM_A", "NORM_T"], "red")) > 4 * neg_r
        assert np.median(_ctrl(raw, ["NORM_C", "NORM_G"], "grn")) > 4 * neg_g
        assert np.median(_ctrl(raw, ["NORM_A", "NORM_T"], "grn")) < 3 * neg_g
        t1 = raw.is_type1
        oob = np.nanmedian(np.concatenate([raw.oob_meth[t1], raw.oob_unmeth[t1]]))
        inband = np.nanmedian((raw.meth + raw.unmeth)[t1])
        assert 1.0 * min(neg_g, neg_r) < oob < inband / 5


def test_dye_bias_shows_in_the_normalisation_controls(qc_cohort):
    """Reference: truth dye_bias (the sample's Red/Grn gain). The background-subtracted Red/Green ratio of
    the NORM_A/T vs NORM_C/G controls — what Illumina normalisation and dye-bias correction estimate — tracks
    it (Pearson r > 0.9 on the log scale) in samples of usable quality."""
    _, truth, raws = qc_cohort
    s = truth.samples[~truth.samples["low_quality"]]

    def ratio(raw):
        red = np.median(_ctrl(raw, ["NORM_A", "NORM_T"], "red")) - np.median(_ctrl(raw, ["NEGATIVE"], "red"))
        grn = np.median(_ctrl(raw, ["NORM_C", "NORM_G"], "grn")) - np.median(_ctrl(raw, ["NEGATIVE"], "grn"))
        return np.log(red / grn)

    est = [ratio(raws[n]) for n in s["sample"]]
    assert np.corrcoef(est, np.log(s["dye_bias"]))[0, 1] > 0.9


def test_bisulfite_controls_follow_conversion_efficiency(qc_cohort):
    """Reference: truth conversion_efficiency. The unconverted share U/(C+U) of the Type I bisulfite-
    conversion controls falls as efficiency rises (Spearman ρ < −0.8); low-quality samples (80–90 %) stand
    out."""
    _, truth, raws = qc_cohort
    s = truth.samples
    share = []
    for n in s["sample"]:
        c = raws[n].controls
        bs = c[c["type"] == "BISULFITE CONVERSION I"]
        is_u = bs["name"].str.contains(r"U\d", regex=True)
        sig = bs["grn"].where(bs["name"].str.contains(r"[CU][123]$|[CU]1", regex=True), bs["red"])
        share.append(sig[is_u].sum() / sig.sum())
    rho = stats.spearmanr(share, s["conversion_efficiency"]).statistic
    assert rho < -0.8


def test_low_quality_and_ffpe_lower_dna_signal_but_not_spike_ins(qc_cohort):
    """Reference: truth dna_scale, low_quality, ffpe. The median probe intensity tracks dna_scale (r > 0.9,
    log scale); low-quality samples are ≥ 3× dimmer than good ones while their spike-in controls (extension,
    hybridisation: no DNA involved) stay within a factor 1.6."""
    _, truth, raws = qc_cohort
    s = truth.samples
    med = np.array([np.nanmedian(raws[n].total_intensity()) for n in s["sample"]])
    assert np.corrcoef(np.log(med), np.log(s["dna_scale"]))[0, 1] > 0.9
    lowq = s["low_quality"].to_numpy()
    assert lowq.sum() >= 2 and s["ffpe"].sum() >= 5
    assert np.median(med[lowq]) * 3 < np.median(med[~lowq])
    spike = np.array([np.median(_ctrl(raws[n], ["EXTENSION", "HYBRIDIZATION"], "grn")) for n in s["sample"]])
    assert 1 / 1.6 < np.median(spike[lowq]) / np.median(spike[~lowq]) < 1.6


def test_failed_probes_have_zero_beads_or_background_signal(qc_cohort):
    """Reference: truth failed_probes (the realised count). Exactly half of the failed probes have 0 beads
    (every other probe has ≥ 1; Mean and SD are 0 there, as Illumina writes absent bead types); low-quality
    samples fail far more often."""
    _, truth, raws = qc_cohort
    s = truth.samples.set_index("sample")
    for n, raw in raws.items():
        zero = (raw.beads_meth == 0) | (raw.beads_unmeth == 0)
        assert zero.sum() == s.loc[n, "failed_probes"] // 2
        assert (np.nan_to_num(raw.meth[zero] * raw.unmeth[zero]) == 0).all()
    assert s.loc[s["low_quality"], "failed_probes"].min() > 5 * s.loc[~s["low_quality"], "failed_probes"].median()


def test_purity_dilutes_planted_dmps(qc_cohort):
    """Reference: truth purity and dmps.tsv. Per tumour, the slope of (β − normals' mean β) on the planted
    signed delta of its class's DMPs estimates purity (Pearson r > 0.8 with truth; slope ≈ purity ± 0.2)."""
    res, truth, raws = qc_cohort
    s = truth.samples
    good = s[~s["is_normal"] & ~s["low_quality"]]
    normals = s.loc[s["is_normal"], "sample"]
    pid = pd.Series(np.arange(res.manifest.n_probes), index=res.manifest.probes["probe_id"])
    ref = np.nanmean(np.vstack([raws[n].betas() for n in normals]), axis=0)
    slopes = []
    for row in good.itertuples(index=False):
        dm = truth.dmps[truth.dmps["class"] == row._6]
        idx = pid[dm["probe_id"]].to_numpy()
        signed = np.where(dm["direction"] == "hyper", 1.0, -1.0) * dm["delta"].to_numpy()
        d = raws[row.sample].betas()[idx] - ref[idx]
        ok = ~np.isnan(d)
        slopes.append(np.polyfit(signed[ok], d[ok], 1)[0])
    slopes = np.asarray(slopes)
    assert np.corrcoef(slopes, good["purity"])[0, 1] > 0.8
    assert np.all(np.abs(slopes - good["purity"].to_numpy()) < 0.2)
