"""Simulated intensities against real arrays: two-sample KS statistics per channel, probe group and metric.

Tolerances (the numbers quoted in the README data section come from the same comparisons):
KS(Mean) ≤ TOL_MEAN and KS(SD) ≤ TOL_SD per group (Type II, Type I in-band M/U, out-of-band, negative controls) of
a nominal copy-neutral sample; NBeads ≤ 0.02 over all probe addresses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from methylclass.io.idat import read_idat
from methylclass.io.manifest import load_manifest
from methylclass.simulate import (
    ks_statistic,
    ks_table,
    read_truth,
    real_450k_green,
    reference_channels,
    simulate_cohort,
)

TOL_MEAN = 0.11
TOL_SD = 0.15
GROUPS_450K = ("II", "I_Grn_M", "I_Grn_U", "oob_Grn", "NEGATIVE")


@pytest.fixture(scope="module")
def hm450():
    return load_manifest("HM450")


def _show(tab: pd.DataFrame, title: str) -> None:
    print(f"\n{title}\n" + tab.round(3).to_string(index=False))


def test_ks_statistic_equals_scipy():
    """Reference: scipy.stats.ks_2samp (the statistic, ties included)."""
    rng = np.random.default_rng(0)
    for x, y in ((rng.normal(size=500), rng.normal(0.2, 1, size=800)),
                 (rng.integers(0, 20, size=300), rng.integers(0, 22, size=400))):
        assert ks_statistic(x, y) == pytest.approx(stats.ks_2samp(x, y).statistic, abs=1e-12)


def test_hm450_green_channel_matches_the_real_450k(hm450, data_dir):
    """Reference: the real 450k Green IDAT of 5723646052_R02C02 (data/idat/hm450_green_parsed, 622,399
    addresses). A nominal simulated male normal on the real HM450 manifest matches it group by group:
    KS(Mean) ≤ 0.11 and KS(SD) ≤ 0.15 for Type II, Type I Grn M and U beads, out-of-band Type I Red beads and
    negative controls; KS(NBeads) ≤ 0.02 over the 621,078 probe addresses."""
    real = real_450k_green(data_dir)
    grn, _ = reference_channels(hm450, seed=0)
    tab = ks_table(grn, real, hm450, "Grn")
    _show(tab, "simulated vs real 450k Green (KS)")
    core = tab[tab["group"].isin(GROUPS_450K)]
    assert (core.loc[core["metric"] == "Mean", "ks"] <= TOL_MEAN).all()
    assert (core.loc[core["metric"] == "SD", "ks"] <= TOL_SD).all()
    nb = tab.set_index(["group", "metric"])["ks"]
    assert nb[("probes", "NBeads")] <= 0.02 and nb[("controls", "NBeads")] <= 0.1
    assert grn.n_probes == real.n_probes  # 471 unused addresses bring the count to the real 622,399


def test_hm450_red_channel_matches_the_minfi_oracle(hm450, data_dir):
    """Reference: Red intensities of the same real sample in the minfi oracle (1,938 addresses: chrX/chrY
    probes of a male and all controls; Mean only). The simulated male uses cn_gamma 0.65, the copy-number
    response measured from the oracle's X dosage, so that its single-copy X/Y probes sit at real levels.
    Negative controls: KS ≤ 0.1; NORM controls KS ≤ 0.2; the methylation-independent groups — Type I Red
    total M + U and out-of-band signal (a few hundred sex-chromosome probes each) — have medians within 35 %
    of the real ones. The M/U split of the X/Y probes depends on their methylation, which the background
    model does not tune per chromosome: those KS values are printed, not asserted."""
    red_real = pd.read_csv(data_dir / "oracle" / "minfi_hm450_subset" / "RGset_Red.csv", index_col=0)
    col = red_real["5723646052_R02C02"]
    from methylclass.io.idat import Idat

    real = Idat.from_arrays(col.index.to_numpy(), col.to_numpy())
    _, red = reference_channels(hm450, seed=0, cn_gamma=0.65)
    keep = np.isin(red.illumina_ids, real.illumina_ids)
    red = Idat.from_arrays(red.illumina_ids[keep], red.mean[keep], sd=red.sd[keep], n_beads=red.n_beads[keep])
    tab = ks_table(red, real, hm450, "Red").query("metric == 'Mean'")
    _show(tab, "simulated vs real 450k Red (oracle addresses, KS of Mean)")
    t = tab.set_index("group")
    assert t.loc["NEGATIVE", "ks"] <= 0.1 and t.loc["NORM", "ks"] <= 0.2
    for g in ("I_Red_T", "oob_Red"):
        assert 1 / 1.35 < t.loc[g, "median_sim"] / t.loc[g, "median_real"] < 1.35, g


def test_hm27_matches_the_real_hm27_pair(data_dir):
    """Reference: the real HM27 sample 4207113116_A (data/idat/hm27, both channels). KS(Mean) ≤ 0.18 for
    in-band M/U beads, their total and out-of-band signal in each channel, KS(SD) ≤ 0.16; KS(NBeads) ≤ 0.02
    over the 55,156 probe addresses. (HM27 betas come from the 450k-fitted background model through the
    450k context of the CpGs both arrays share: the M/U split is the loosest match.)"""
    man = load_manifest("HM27")
    real_g = read_idat(data_dir / "idat" / "hm27" / "4207113116_A_Grn.idat")
    real_r = read_idat(data_dir / "idat" / "hm27" / "4207113116_A_Red.idat")
    grn, red = reference_channels(man, seed=0)
    assert grn.n_probes == real_g.n_probes == 55_300
    tab = pd.concat([ks_table(grn, real_g, man, "Grn"), ks_table(red, real_r, man, "Red")])
    _show(tab, "simulated vs real HM27 (KS)")
    core = tab[~tab["group"].isin(["NORM", "NEGATIVE", "controls"])]
    assert (core.loc[core["metric"] == "Mean", "ks"] <= 0.18).all()
    assert (core.loc[core["metric"] == "SD", "ks"] <= 0.16).all()
    assert (core.loc[core["metric"] == "NBeads", "ks"] <= 0.02).all()


def test_simulated_hm450_cohort_reads_back_and_looks_real(hm450, data_dir, tmp_path):
    """Reference: the real 450k Green channel again, now through the full cohort path (IDATs written and read
    back) with the default between-sample variation (scale, background, dye bias, slides). Each of three
    normals has 622,399 addresses; per probe group its Mean distribution has the real shape (KS ≤ 0.15 once
    each sample's background — its median negative control — is subtracted and the result divided by the group
    median) and its median lies within a factor 1.6 of the real one (the spread of real 450k samples: the
    minfi oracle's six samples differ by up to 1.5× in NORM and negative levels)."""
    res = simulate_cohort(tmp_path / "hm450", manifest=hm450, classes=1, n_per_class=1, n_normals=3, seed=4,
                          cnv="none", ffpe_fraction=0.0, dmps_per_class=100)
    truth = read_truth(res.out_dir)
    real = real_450k_green(data_dir)
    from methylclass.simulate.calibration import channel_groups

    gr = channel_groups(hm450, real.illumina_ids, "Grn")
    bg_real = np.median(real.mean[gr["NEGATIVE"]])
    for row in truth.samples[truth.samples["is_normal"]].itertuples(index=False):
        grn = read_idat(res.out_dir / f"{row.basename}_Grn.idat")
        assert grn.n_probes == 622_399 and grn.chip_type == "BeadChip 12x8"
        gs = channel_groups(hm450, grn.illumina_ids, "Grn")
        bg = np.median(grn.mean[gs["NEGATIVE"]])
        for g in ("II", "I_Grn_M", "I_Grn_U", "oob_Grn"):
            x, y = grn.mean[gs[g]] - bg, real.mean[gr[g]] - bg_real
            assert ks_statistic(x / np.median(x), y / np.median(y)) <= 0.15, (row.sample, g)
            assert 1 / 1.6 < np.median(x + bg) / np.median(y + bg_real) < 1.6, (row.sample, g)
        assert 1 / 1.6 < bg / bg_real < 1.6
