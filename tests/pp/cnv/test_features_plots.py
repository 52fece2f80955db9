"""CNV feature block and plots.

References: the CNVResult tables the features are read from (identity), a store round trip, the per-bin
gain/loss frequencies recomputed by hand, and the drawn artists (one dot per finite bin, one line per segment).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ConfigError, DataError
from methylclass.pl.cnv import cohort_frequencies, plot_cohort_frequency, plot_genome, save_genome_plot
from methylclass.pp.cnv.features import cnv_feature_table, cnv_features, read_cnv_features, write_cnv_features
from methylclass.pp.cnv.sample import cnv_sample


@pytest.fixture(scope="module")
def results(sim, bins, panel, planted):
    ps = [planted(arms={"7p": 3, "7q": 3, "10q": 1}, focal={"EGFR": 12}),
          planted(arms={"1p": 1, "19q": 1}, focal={"CDKN2A/B": 0.1}),
          planted(arms={"7q": 3})]
    return [cnv_sample(sim.tumour(p), panel, bins, sample=f"s{i}") for i, p in enumerate(ps)]


def test_features_mirror_results(results, bins, tmp_path):
    """Arm/focal/FGA features equal the result tables; bin summaries; store round trip keeps everything."""
    r = results[0]
    f = cnv_features(r)
    assert f["cnv_arm_7q"] == pytest.approx(r.arms.set_index("arm").loc["7q", "value"])
    assert f["cnv_focal_EGFR"] == pytest.approx(r.focal.set_index("gene").loc["EGFR", "value"])
    assert "cnv_focal_CDKN2A_B" in f.index and f["cnv_fga"] == pytest.approx(r.fga["fga"])
    fb = cnv_features(r, bins=bins, bin_summary="segment")
    assert len(fb) == len(f) + bins.n_bins and f"cnv_bin_{bins.names[0]}" in fb.index
    with pytest.raises(ConfigError):
        cnv_features(r, bin_summary="segment")
    table = cnv_feature_table(results)
    assert list(table.index) == ["s0", "s1", "s2"] and table.dtypes.eq(np.float32).all()
    assert all(c.startswith("cnv_") for c in table.columns)
    write_cnv_features(table, tmp_path)
    back = read_cnv_features(tmp_path, ["s2", "s0"])
    pd.testing.assert_frame_equal(back, table.loc[["s2", "s0"]])
    with pytest.raises(DataError, match="missing"):
        read_cnv_features(tmp_path, ["nope"])
    with pytest.raises(DataError, match="no CNV features"):
        read_cnv_features(tmp_path / "x")


def test_genome_plot(results, bins, tmp_path):
    """One dot per finite bin, one line per segment, PNG + SVG written atomically."""
    r = results[0]
    fig = plot_genome(r, bins)
    ax = fig.axes[0]
    assert ax.collections[0].get_offsets().shape[0] == int(np.isfinite(r.bin_value).sum())
    seg_lines = [ln for ln in ax.lines if ln.get_color() == "#1f3b73"]
    assert len(seg_lines) == len(r.segments)
    assert any(t.get_text() == "EGFR" for t in ax.texts)
    paths = save_genome_plot(r, bins, tmp_path / "s0")
    assert [p.suffix for p in paths] == [".png", ".svg"] and all(p.stat().st_size > 10_000 for p in paths)
    assert not list(tmp_path.glob(".*tmp"))


def test_cohort_frequency(results, bins):
    """Per-bin gain/loss frequencies equal a direct count over the samples' segment values."""
    gain, loss = cohort_frequencies(results, bins)
    mat = np.vstack([r.seg_per_bin() for r in results])
    np.testing.assert_allclose(gain, (mat >= 0.1).mean(axis=0))
    np.testing.assert_allclose(loss, (mat <= -0.1).mean(axis=0))
    on7q = (bins.chrom == "chr7") & (bins.arm == "q")
    assert np.median(gain[on7q]) == pytest.approx(2 / 3)
    fig = plot_cohort_frequency(results, bins)
    assert "3 samples" in fig.axes[0].get_title(loc="left")
    with pytest.raises(ConfigError):
        cohort_frequencies(np.zeros((2, 5)), bins)
