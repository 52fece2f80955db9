"""The cohort path on a preprocessed store and the picklability Spark relies on.

References: the single-sample kernel itself (the store path must give identical results for the same
intensities), pickle round trips (what Spark does to broadcast Bins/CNVReference and return CNVResult), and
planted truth (7q gain) in simulated meth + unmeth arrays.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

from methylclass.errors import DataError
from methylclass.pp.cnv import CNVReference, cnv_sample, make_bins, read_cnv_features
from methylclass.workflows.cnv import run_cnv_store


@pytest.fixture(scope="module")
def synth_store(tmp_path_factory, genome, data_dir, simulator_cls, planted):
    """A store of a synthetic 60k-probe design: 4 normals and 2 tumours with a planted 7q gain."""
    from methylclass.io import store as st
    from methylclass.io.store_writer import StoreWriter
    from methylclass.simulate.design import synthetic_manifest

    man = synthetic_manifest(60_000, seed=2)
    sbins = make_bins(man, "hg19")
    sim = simulator_cls(sbins, genome, seed=5)
    samples = {f"N{i}": sim.normal() for i in range(4)}
    samples.update({f"T{i}": sim.tumour(planted(arms={"7q": 3})) for i in range(2)})
    probes = man.probes
    path = tmp_path_factory.mktemp("store") / "cohort"
    info = {"array": man.array, "probe_hash": st.probe_table_hash(probes), "n_probes": len(probes),
            "method": "raw", "method_options": {}}
    totals = {}
    with StoreWriter(path, info, probes) as w:
        recs = []
        for name, tot in samples.items():
            full = np.full(len(probes), np.nan, dtype=np.float32)
            full[sbins.probe_index] = tot
            totals[name] = full
            arrays = {"beta": np.full(len(probes), 0.5, np.float32), "detection_p": np.zeros(len(probes), np.float32),
                      "meth": full * 0.3, "unmeth": full * 0.7}
            rec = {"sample": name, "status": "ok", "reason": "", "array": man.array}
            rec["file"] = st.write_sample_file(path, name, arrays, rec)
            recs.append(rec)
        w.finish(recs)
    return {"path": path, "bins": sbins, "totals": totals}


def test_store_path_equals_kernel(synth_store):
    """Store CNV = cnv_sample on the same meth + unmeth; features land in STORE/cnv_features.parquet."""
    normals = ["N0", "N1", "N2", "N3"]
    run = run_cnv_store(synth_store["path"], normals)
    assert [r.sample for r in run.results] == ["T0", "T1"]
    bins = run.bins
    ref = CNVReference.from_intensities(
        np.vstack([(synth_store["totals"][n] * 0.3).astype(np.float32) + (synth_store["totals"][n] * 0.7)
                   .astype(np.float32) for n in normals]), bins, normals)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        t0 = synth_store["totals"]["T0"]
        direct = cnv_sample((t0 * 0.3).astype(np.float32) + (t0 * 0.7).astype(np.float32), ref, bins,
                            sample="T0")
    np.testing.assert_allclose(run.results[0].bin_value, direct.bin_value, atol=1e-6)
    assert run.results[0].segments[["first", "last"]].equals(direct.segments[["first", "last"]])
    feats = read_cnv_features(synth_store["path"])
    assert list(feats.index) == ["T0", "T1"] and (feats["cnv_arm_7q"] > 0.2).all()
    assert (feats["cnv_arm_7p"].abs() < 0.1).all()
    with pytest.raises(DataError, match="need ≥ 3"):
        run_cnv_store(synth_store["path"], ["N0", "N1"])


def test_pickle_round_trip_for_spark(bins, panel, sim, planted):
    """Bins, the panel and results survive pickling; the kernel gives identical output on the copies."""
    q = sim.tumour(planted(arms={"3p": 1}))
    b2, p2 = pickle.loads(pickle.dumps(bins)), pickle.loads(pickle.dumps(panel))
    r1 = cnv_sample(q, panel, bins, sample="p")
    r2 = pickle.loads(pickle.dumps(cnv_sample(q, p2, b2, sample="p")))
    np.testing.assert_array_equal(r1.bin_value, r2.bin_value)
    assert r1.segments.equals(r2.segments) and r1.arms.equals(r2.arms)
