"""Unmeasured probes in the CNV signal: an address with no beads is missing data, not an intensity of 1.

References: planted truth — the same simulated normals and tumour without failed probes give the clean noise
and calls the masked analysis must reproduce — and the definition of an unmeasured raw probe (an IDAT mean
of 0, which the scanner reports only for an address with 0 beads).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from methylclass.pp.cnv import CNVReference, cnv_sample, make_bins
from methylclass.pp.cnv.panel import as_saved
from methylclass.pp.cnv.task import cnv_total

pytestmark = pytest.mark.filterwarnings("ignore:.*conumee recommends:UserWarning")


def test_cnv_total_marks_unmeasured_probes():
    """Raw zeros (either channel) and zero-bead addresses → NaN; zeros of normalised signals are kept (a
    background-subtracted 0 is a real low signal, e.g. a homozygous deletion); the sum is exact float64."""
    meth = np.array([100, 0, 250, 0, np.nan, 65535], dtype=np.float32)
    unmeth = np.array([300, 400, 0, 0, 10, 65535], dtype=np.float32)
    raw = cnv_total(meth, unmeth, raw=True)
    np.testing.assert_array_equal(raw, [400, np.nan, np.nan, np.nan, np.nan, 131070])
    assert raw.dtype == np.float64
    norm = cnv_total(meth, unmeth)
    np.testing.assert_array_equal(norm, [400, 400, 250, 0, np.nan, 131070])
    beads = cnv_total(meth, unmeth, beads_meth=np.array([3, 5, 0, 9, 9, 9]), beads_unmeth=np.full(6, 9))
    np.testing.assert_array_equal(beads, [400, 400, np.nan, 0, np.nan, 131070])


@pytest.fixture(scope="module")
def design(genome, simulator_cls):
    """A synthetic 60k-probe design, its bins and a simulator on them."""
    from methylclass.simulate.design import synthetic_manifest

    bins = make_bins(synthetic_manifest(60_000, seed=4), "hg19")
    return bins, simulator_cls(bins, genome, seed=9)


def _run(normals: np.ndarray, query: np.ndarray, bins):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ref = CNVReference.from_intensities(normals, bins)
        return cnv_sample(query, ref, bins, sample="q")


def test_zero_bead_probes_do_not_inflate_the_noise(design, planted):
    """0.3 % zero-bead probes per sample (the simulator's FFPE rate): with conumee's floor of 1 the noise
    metric grows ≥ 1.5× over the clean data; read as missing (cnv_total) it stays within 5 % of the clean
    noise and the arm calls equal the clean calls."""
    bins, sim = design
    rng = np.random.default_rng(1)
    normals = np.vstack([sim.normal() for _ in range(12)])
    query = sim.tumour(planted(arms={"7q": 3, "10p": 1}))
    clean = _run(normals, query, bins)

    def fail(x: np.ndarray) -> np.ndarray:
        y = x.copy()
        y[rng.random(y.size) < 0.003] = 0.0  # a raw IDAT reports Mean 0 for an address without beads
        return y

    n_f = np.vstack([fail(n) for n in normals])
    q_f = fail(query)
    floored = _run(n_f, q_f, bins)
    masked = _run(np.vstack([cnv_total(0.4 * n, 0.6 * n, raw=True) for n in n_f]),
                  cnv_total(0.4 * q_f, 0.6 * q_f, raw=True), bins)
    assert floored.noise > 1.5 * clean.noise
    assert abs(masked.noise - clean.noise) < 0.05 * clean.noise
    assert masked.arms["call"].tolist() == clean.arms["call"].tolist()
    assert masked.arms.set_index("arm").loc[["7q", "10p"], "call"].tolist() == ["gain", "loss"]


def test_saved_panel_rounding_is_what_save_load_gives(design, tmp_path):
    """as_saved(panel) has exactly the log2 values of the same panel saved and loaded (float32 on disk), so
    fresh, cached and .npz panels give identical results."""
    bins, sim = design
    ref = CNVReference.from_intensities(np.vstack([sim.normal() for _ in range(4)]), bins)
    loaded = CNVReference.load(ref.save(tmp_path / "p.npz"))
    np.testing.assert_array_equal(as_saved(ref).log2, loaded.log2)
    assert not np.array_equal(ref.log2, loaded.log2)
