"""Smoke tests of the preprocessing benchmark's plumbing (pipelines/bench_preprocess.py and its helpers).

No external tool runs here (no mepylome / methylprep venv, no Spark): those are exercised by the benchmark
itself (``make bench-preprocess``). Every test states what it compares against.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "pipelines" / "bench_preprocess.py"
HELPERS = ROOT / "pipelines" / "bench_preprocess"


def _load(name: str, path: Path):
    if str(HELPERS) not in sys.path:
        sys.path.insert(0, str(HELPERS))
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bench():
    return _load("bench_preprocess_script", SCRIPT)


@pytest.fixture(scope="module")
def cohorts():
    return _load("bench_preprocess_cohorts", HELPERS / "cohorts.py")


@pytest.fixture(scope="module")
def hm27():
    from methylclass.io.manifest import load_manifest

    return load_manifest("HM27")


def test_illumina_csv_round_trip(tmp_path, hm27):
    """The Illumina-layout CSV written from the HM27 manifest is read back by methylclass's independent
    Illumina reader (methylclass.io.manifest.illumina) into the same probes and controls, column by column."""
    from methylclass.io.manifest.illumina import read_illumina_csv

    ilmn = _load("bench_preprocess_illumina_csv", HELPERS / "illumina_csv.py")
    path = ilmn.write_illumina_manifest(hm27, tmp_path / "HumanMethylation27.csv")
    back = read_illumina_csv(path)
    assert back.array == "HM27"
    assert back.n_probes == hm27.n_probes and back.genome_build == hm27.genome_build
    for col in hm27.probes.columns:
        assert (back.probes[col].astype(str).to_numpy() == hm27.probes[col].astype(str).to_numpy()).all(), col
    for col in hm27.controls.columns:
        assert (back.controls[col].astype(str).to_numpy() == hm27.controls[col].astype(str).to_numpy()).all(), col
    assert not list(tmp_path.glob(".*tmp")), "temporary file left behind"


def test_illumina_csv_layout_as_mepylome_parses_it(tmp_path, hm27):
    """Layout against the rules mepylome 0.13's ``Manifest._process_manifest`` applies to Illumina's CSV (read
    in its source): a line before the ``IlmnID`` header, the probe rows, ``[Controls]`` as the very next line,
    controls starting ``n_probes + 3`` lines after the line preceding the header; CRLF line ends; the heading's
    Loci Count equals the probe rows."""
    ilmn = _load("bench_preprocess_illumina_csv", HELPERS / "illumina_csv.py")
    raw = ilmn.write_illumina_manifest(hm27, tmp_path / "m.csv").read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n")
    lines = raw.decode().split("\r\n")
    assert lines[0].startswith("Illumina, Inc.") and lines[1].startswith("[Heading]")
    header = next(i for i, ln in enumerate(lines) if ln.startswith("IlmnID"))
    assert lines[header - 1].startswith("[Assay]")
    loci = next(ln for ln in lines if ln.startswith("Loci Count"))
    assert int(loci.split(",")[1]) == hm27.n_probes
    n = hm27.n_probes
    assert lines[header + n + 1].startswith("[Controls]")
    first_ctrl = lines[header - 1 + n + 3].split(",")
    row = hm27.controls.iloc[0]
    assert first_ctrl[:4] == [str(row["address"]), row["type"], str(row["channel"]), row["name"]]
    probe = lines[header + 1].split(",")
    cols = lines[header].split(",")
    assert probe[cols.index("IlmnID")] == hm27.probes["probe_id"].iloc[0]
    assert probe[cols.index("AddressA_ID")] == str(hm27.probes["address_u"].iloc[0])


def test_pool_chunks_and_linked_cohort(tmp_path, cohorts):
    """Pool growth against hand-computed chunk sizes; a linked cohort's files resolve to the pool pairs in
    order, under distinct sentrix-style names."""
    assert cohorts.pool_chunks([100, 500, 1000, 2000]) == [100, 400, 500, 1000]
    assert cohorts.pool_chunks([1000, 100, 100]) == [100, 900]
    pool = tmp_path / "pool"
    pool.mkdir()
    pairs = []
    for i in range(14):
        g, r = pool / f"x{i}_Grn.idat", pool / f"x{i}_Red.idat"
        g.write_bytes(b"g%d" % i)
        r.write_bytes(b"r%d" % i)
        pairs.append((g, r))
    folder = cohorts.link_cohort(tmp_path / "cohort", pairs)
    grns = sorted(folder.glob("*_Grn.idat"))
    assert len(grns) == 14 and len({p.name for p in grns}) == 14
    assert grns[0].name == "990000000000_R01C01_Grn.idat" and grns[12].name == "990000000001_R01C01_Grn.idat"
    assert [p.resolve() for p in grns] == [g.resolve() for g, _ in pairs]
    assert (folder / "990000000000_R01C01_Red.idat").read_bytes() == b"r0"
    assert cohorts.disk_mb(folder) == 0.0  # links are not counted


def test_pool_simulates_distinct_pairs_once(tmp_path, cohorts):
    """Against the files on disk: the pool grows in chunks of distinct simulated IDAT pairs (different
    bytes), and a second request reuses them without simulating again (modification times unchanged)."""
    pairs = cohorts.pool_pairs(tmp_path / "pool", [2, 3], 3, seed=5, n_jobs=1, array="HM27", log=lambda m: None)
    assert len(pairs) == 3 and all(g.is_file() and r.is_file() for g, r in pairs)
    assert len({g.read_bytes() for g, _ in pairs}) == 3
    mtimes = [g.stat().st_mtime_ns for g, _ in pairs]
    again = cohorts.pool_pairs(tmp_path / "pool", [2, 3], 2, seed=5, n_jobs=1, array="HM27", log=lambda m: None)
    assert again == pairs[:2]
    assert [g.stat().st_mtime_ns for g, _ in pairs] == mtimes


def test_methylclass_timing_returns_the_package_betas(tmp_path, bench, data_dir, hm27):
    """The timed path's betas equal a direct call of the package API (read_idat → raw_signals_from_idats →
    normalize) on the two real HM27 samples, for every method; per-sample counts match samples × rounds."""
    from methylclass.io.idat import read_idat
    from methylclass.io.raw_types import raw_signals_from_idats
    from methylclass.pp.normalize import normalize

    idats = data_dir / "idat" / "hm27"
    res = bench.time_methylclass(idats, tmp_path, repeat=2, array="HM27")
    assert res["samples"] == 2
    for method in bench.METHODS:
        for variant in ("betas", "full"):
            e = res["methods"][method][variant]
            assert e["per_sample"]["n"] == 4
            assert 0 < e["per_sample"]["best_s"] <= e["per_sample"]["median_s"]
            assert set(e["breakdown_median_s"]) == {"read_idats", "map_probes", "normalize"}
        z = np.load(tmp_path / f"betas_{method}.npz")
        assert list(z["sample"]) == ["4207113116_A", "4207113116_B"]
        raw = raw_signals_from_idats(read_idat(idats / "4207113116_B_Grn.idat"),
                                     read_idat(idats / "4207113116_B_Red.idat"), hm27, "4207113116_B")
        expect = normalize(raw, method=method, dye_bias="linear", detection=None, qc=False).beta
        np.testing.assert_array_equal(z["beta"][1], expect)
        assert list(z["probe_id"]) == list(hm27.probes["probe_id"])


def test_agreement_against_scipy(tmp_path, bench):
    """Parity statistics against scipy.stats.pearsonr and a planted difference: one probe shifted by 0.03,
    NaNs ignored, only probes and samples both tools report are compared."""
    import pandas as pd

    rng = np.random.default_rng(0)
    beta = rng.uniform(0, 1, (2, 500)).astype(np.float32)
    ids = np.array([f"cg{i:08d}" for i in range(500)])
    np.savez(tmp_path / "ours.npz", probe_id=ids, sample=np.array(["s1", "s2"]), beta=beta)
    theirs = pd.DataFrame(beta.T.astype(np.float64), index=ids, columns=["s1", "s2"]).iloc[::-1]
    theirs.loc["cg00000007", "s2"] += 0.03
    theirs.loc["cg00000009", "s2"] = np.nan
    theirs["s3"] = 0.5
    theirs = theirs.drop(index="cg00000400")
    a = bench.agreement(tmp_path / "ours.npz", theirs)
    assert set(a["samples"]) == {"s1", "s2"}
    assert a["samples"]["s1"]["max_abs_delta"] == 0 and a["samples"]["s1"]["probes"] == 499
    s2 = a["samples"]["s2"]
    assert s2["probes"] == 498 and s2["max_abs_delta"] == pytest.approx(0.03, abs=1e-6)
    keep = np.setdiff1d(np.arange(500), [9, 400])
    other = beta[1, keep].astype(np.float64)
    other[np.searchsorted(keep, 7)] += 0.03
    assert s2["pearson_r"] == pytest.approx(stats.pearsonr(beta[1, keep], other).statistic, abs=1e-12)
    assert a["min_pearson_r"] == s2["pearson_r"]


def test_criteria_on_planted_numbers(bench):
    """The issue's acceptance checks against hand-computed outcomes on a planted report."""
    def ingest(n, py, total, workers):
        return {"n_samples": n, "n_ok": n, "n_failed": 0, "driver_python_mb": py, "driver_total_mb": total,
                "workers_sum_mb": workers}

    report = {"per_sample": {
        "methylclass": {"methods": {"noob": {"betas": {"per_sample": {"median_s": 0.1}}}}},
        "mepylome": {"methods": {"noob": {"per_sample": {"median_s": 0.25}}}},
        "methylprep": {"per_sample_marginal_s": 9.0}},
        "ingest": {"runs": [ingest(1000, 400, 900, 700), ingest(2000, 420, 1000, 900)]}}
    c = bench.criteria(report)
    assert c["noob_le_0.15s"] and c["ge_2x_mepylome"] and c["speedup_vs_mepylome"] == pytest.approx(2.5)
    assert not c["ge_100x_methylprep"] and c["speedup_vs_methylprep"] == pytest.approx(90)
    assert c["ingest_1000_completed"] and c["ingest_1000_driver_rss_lt_2gb"]
    assert c["peak_growth_1000_to_2000"]["workers_sum_mb"] == pytest.approx(200 / 700)
    assert c["growth_1000_to_2000_le_20pct"] is False
    report["ingest"]["runs"][1]["workers_sum_mb"] = 800
    assert bench.criteria(report)["growth_1000_to_2000_le_20pct"] is True
    report["ingest"]["runs"].append(ingest(500, 400, 880, 600))
    assert bench.criteria(report)["peak_growth_500_to_1000"]["driver_total_mb"] == pytest.approx(900 / 880 - 1)
    assert bench.criteria({}) == {}
    # the call path: wall and CPU medians of alternated rounds, each judged on its own
    cp = {"round_medians_s": [0.05, 0.04, 0.06], "ratios_vs_mepylome": [6.0, 4.0, 5.5],
          "round_cpu_medians_s": [0.025, 0.02, 0.031], "cpu_ratios_vs_mepylome": [5.2, 4.8, 6.0]}
    c = bench.criteria({"per_sample": {"call_path": cp}})
    assert c["call_path_noob_s_per_sample"] == pytest.approx(0.05) and not c["call_path_le_0.03s"]
    assert c["call_path_speedup_vs_mepylome"] == pytest.approx(5.5) and c["call_path_ge_5x_mepylome"]
    assert c["call_path_cpu_s_per_sample"] == pytest.approx(0.025) and c["call_path_cpu_le_0.03s"]
    assert c["call_path_cpu_speedup_vs_mepylome"] == pytest.approx(5.2) and c["call_path_cpu_ge_5x_mepylome"]


def test_script_end_to_end_without_peers(tmp_path):
    """The script as ``make bench-preprocess`` runs it, on 2 simulated HM27 samples with the peers and Spark
    off: it writes a complete JSON (machine info, methylclass timings for every method, criteria) and refuses
    peers on another array with a one-line usage error."""
    out = tmp_path / "res.json"
    cmd = [sys.executable, str(SCRIPT), "--array", "HM27", "--samples", "2", "--repeat", "1", "--jobs", "1",
           "--skip-mepylome", "--skip-methylprep", "--sizes", "", "--work", str(tmp_path / "work"),
           "--out", str(out)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rep = json.loads(out.read_text())
    assert rep["runs"][0]["machine"]["nproc"] >= 1 and len(rep["runs"][0]["machine"]["load_average_start"]) == 3
    assert set(rep["per_sample"]["methylclass"]["methods"]) == {"raw", "illumina", "noob"}
    assert rep["criteria"]["noob_s_per_sample"] > 0 and "ingest" not in rep
    assert "methylclass noob" in proc.stdout
    bad = subprocess.run([sys.executable, str(SCRIPT), "--array", "HM27", "--sizes", ""], check=False,
                         capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2 and "HM450 only" in bad.stderr
