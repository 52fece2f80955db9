"""Benchmark ``make bench-preprocess``: per-sample preprocessing of 450k IDATs against mepylome and methylprep,
and cohort ingestion on local Spark — all in one run, on the same simulated files.

    .venv/bin/python pipelines/bench_preprocess.py                              # the issue's full benchmark
    .venv/bin/python pipelines/bench_preprocess.py --sizes 100,500,1000         # without the 2,000 cohort
    .venv/bin/python pipelines/bench_preprocess.py --skip-per-sample --sizes 2000 --merge   # add a size later
    .venv/bin/python pipelines/bench_preprocess.py --quick   # call path only, 8 samples, vs mepylome (~2 min)

**Call path** (also the whole of ``--quick``): what a user calls, ``read_raw([basename], manifest=m).samples[0]``
then ``normalize(s, method="noob")`` with its defaults (pOOBAH detection p-values and sample QC included; the
manifest loaded once beforehand), against mepylome's ``RawData`` → ``MethylData(prep="noob").betas`` on the same
files. ``--quick`` alternates methylclass and mepylome processes ``--rounds`` times (default 3) so both see the
same machine load, and reports the median of the per-round ratios next to the load averages — of wall time and of
CPU time (on a shared machine the wall time follows the load; the criteria are checked on both).

**Per sample** (``--samples`` N realistic 450k pairs written by :func:`methylclass.simulate.simulate_cohort`,
cached under ``<repo>/.cache/bench``). Every tool runs in its own process; what is timed per sample is the
same for all: *read the sample's two IDATs, map addresses to probes, normalise, compute betas* — never the
interpreter start, imports or the manifest load (reported separately). Sample 1 is processed once untimed
(JIT, per-layout index caches), then ``--repeat`` rounds over the N samples are timed (wall: ``perf_counter``,
CPU: ``process_time``); medians and bests over all timed calls are reported.

* methylclass ``raw`` / ``illumina`` / ``noob`` (linear dye bias): ``read_idat`` ×2 →
  ``raw_signals_from_idats`` → ``normalize``; variant ``betas`` (``detection=None, qc=False``: what the peers
  compute) and ``full`` (the default: + pOOBAH detection p-values + sample QC);
* mepylome (own Python 3.12 venv, ``bench_preprocess/run_mepylome.py``) ``raw`` / ``illumina`` / ``noob``:
  ``RawData`` → ``MethylData(prep=…)`` → ``.betas``; also its batch mode over all N samples;
* methylprep 1.7.1 noob (own venv, ``methylprep_reference/run_methylprep.py``, ``sesame=False``): its
  ``run_pipeline`` times reading, noob, dye bias and betas but also its manifest load, so it is run on 1 and
  on ``--methylprep-samples`` k samples and the per-sample time is the marginal ``(t_k − t_1)/(k − 1)``.

Parity on the same files: Pearson r and max |Δβ| of methylclass betas against mepylome's (each method) and
methylprep's (noob). methylclass ``illumina`` is the Heidelberg variant (controls scaled to 10,000); mepylome
follows minfi ``preprocessIllumina`` with the sample as its own reference (controls scaled to (G + R) / 2), which
changes low-intensity betas through the offset 100 — so the same kernel is also run with minfi's reference
(untimed, ``illumina_minfi_reference``) and must then equal mepylome's illumina betas.

**Ingestion** of 100 / 500 / 1,000 / 2,000 *distinct* simulated 450k samples (``--jobs`` processes) on local
Spark through ``pipelines/bench_ingest.py --run-one`` (``ingest_cohort`` as ``methylclass preprocess`` runs
it; a sampler records peak RSS of the driver's Python, its JVM and the Python workers). Simulated pairs are
kept in a growing pool (disk ≈ 16 MB per pair) and removed at the end unless ``--keep-pool``.

Results: printed table and ``results/bench_preprocess.json`` (machine, load average, versions, criteria of the
issue: noob ≤ 0.15 s, ≥ 2× mepylome, ≥ 100× methylprep — all on the median wall time of the ``betas`` variant;
1,000 samples with driver RSS (Python + JVM) < 2 GB; ≤ 20 % more peak memory for 2× the samples, checked for every
doubling measured: 500 → 1,000 and 1,000 → 2,000). Wall times depend on the machine's load: the load average
before each tool is recorded next to its CPU times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HELPERS = HERE / "bench_preprocess"
METHYLPREP_DIR = HERE / "methylprep_reference"
sys.path.insert(0, str(HELPERS))

from cohorts import disk_mb, link_cohort, pool_pairs, timing_cohort

METHODS = ("raw", "illumina", "noob")
TARGET_NOOB_S = 0.15
#: the user's call path (read_raw + normalize with defaults): seconds per 450k sample and speed-up over mepylome
TARGET_CALL_PATH_S = 0.03
MIN_CALL_PATH_VS_MEPYLOME = 5.0
MIN_VS_MEPYLOME = 2.0
MIN_VS_METHYLPREP = 100.0
MAX_DRIVER_MB = 2048.0
MAX_GROWTH = 0.20
#: cohort sizes of the issue; the simulated pool always grows in the chunks these imply, so a later run with
#: other ``--sizes`` reuses the pairs already simulated
DEFAULT_SIZES = (100, 500, 1000, 2000)


def log(msg: str) -> None:
    """One progress line with a timestamp (flushed: the script usually runs under nohup)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _stats(walls: list[float], cpus: list[float]) -> dict:
    return {"n": len(walls), "median_s": statistics.median(walls), "best_s": min(walls),
            "mean_s": statistics.fmean(walls), "cpu_median_s": statistics.median(cpus), "cpu_best_s": min(cpus)}


# -- methylclass timing (runs in its own process: --time-methylclass) -------------------------------------

def _basenames(idats: Path) -> list[str]:
    """The sample basenames of the ``*_Grn.idat[.gz]`` files in ``idats``, sorted."""
    return sorted({p.name.split("_Grn.idat")[0] for p in idats.glob("*_Grn.idat*")})

def time_methylclass(idats: Path, out: Path, repeat: int, array: str = "HM450",
                      methods: tuple[str, ...] = METHODS) -> dict:
    """Per-sample timings of methylclass (see the module docstring); betas of the last round go to
    ``out/betas_<method>.npz`` (variant ``betas``)."""
    import numpy as np

    t = time.perf_counter()
    from methylclass.io.idat import read_idat
    from methylclass.io.manifest import load_manifest
    from methylclass.io.raw_types import raw_signals_from_idats
    from methylclass.pp.normalize import normalize
    t_import = time.perf_counter() - t
    t = time.perf_counter()
    man = load_manifest(array)
    t_manifest = time.perf_counter() - t
    names = _basenames(idats)
    pairs = [(n, next(idats.glob(f"{n}_Grn.idat*")), next(idats.glob(f"{n}_Red.idat*"))) for n in names]
    variants = {"betas": {"detection": None, "qc": False}, "full": {}}
    res = {"import_s": t_import, "manifest_load_s": t_manifest, "samples": len(pairs), "repeat": repeat,
           "methods": {}}
    out.mkdir(parents=True, exist_ok=True)
    for method in methods:
        for variant, opts in variants.items():
            def one(name, grn, red, method=method, opts=opts):
                t0 = time.perf_counter()
                g, r = read_idat(grn), read_idat(red)
                t1 = time.perf_counter()
                raw = raw_signals_from_idats(g, r, man, name)
                t2 = time.perf_counter()
                ns = normalize(raw, method=method, dye_bias="linear", **opts)
                t3 = time.perf_counter()
                return ns, (t1 - t0, t2 - t1, t3 - t2)

            c, t = time.process_time(), time.perf_counter()
            one(*pairs[0])
            first, first_cpu = time.perf_counter() - t, time.process_time() - c
            walls, cpus, parts, last = [], [], [], {}
            for _ in range(repeat):
                for p in pairs:
                    c, t = time.process_time(), time.perf_counter()
                    ns, split = one(*p)
                    walls.append(time.perf_counter() - t)
                    cpus.append(time.process_time() - c)
                    parts.append(split)
                    last[p[0]] = ns.beta
            entry = {"first_sample_s": first, "first_sample_cpu_s": first_cpu, "per_sample": _stats(walls, cpus),
                     "breakdown_median_s": {k: statistics.median(x[i] for x in parts)
                                            for i, k in enumerate(("read_idats", "map_probes", "normalize"))}}
            res["methods"].setdefault(method, {})[variant] = entry
            if variant == "betas":
                np.savez(out / f"betas_{method}.npz", probe_id=man.probes["probe_id"].to_numpy().astype(str),
                         sample=np.array(names), beta=np.stack([last[n] for n in names]))
    if "illumina" in methods:
        # untimed cross-check: the same kernel with minfi's reference, (G + R) / 2 of the sample itself instead
        # of the Heidelberg 10,000, is what mepylome's preprocess_illumina computes
        from methylclass.pp.dyebias import normalization_control_means
        from methylclass.pp.normalize import betas, illumina_normalize

        minfi_ref = []
        for name, grn, red in pairs:
            raw = raw_signals_from_idats(read_idat(grn), read_idat(red), man, name)
            g, r = normalization_control_means(raw)
            sig = illumina_normalize(raw, reference=(g + r) / 2)
            minfi_ref.append(betas(sig.meth, sig.unmeth))
        np.savez(out / "betas_illumina_minfi_reference.npz", probe_id=man.probes["probe_id"].to_numpy().astype(str),
                 sample=np.array(names), beta=np.stack(minfi_ref))
    return res


def time_call_path(idats: Path, repeat: int, array: str = "HM450") -> dict:
    """Per-sample timings of the user's call path (module docstring): ``read_raw([basename], manifest=m)``
    then ``normalize(s, method="noob")`` with its defaults; the manifest load is reported apart."""
    t = time.perf_counter()
    from methylclass.io.manifest import load_manifest
    from methylclass.io.raw import read_raw
    from methylclass.pp.normalize import normalize
    t_import = time.perf_counter() - t
    t = time.perf_counter()
    man = load_manifest(array)
    t_manifest = time.perf_counter() - t
    names = _basenames(idats)

    def one(name: str) -> tuple[float, float]:
        t0 = time.perf_counter()
        s = read_raw([str(idats / name)], manifest=man).samples[0]
        t1 = time.perf_counter()
        normalize(s, method="noob")
        return t1 - t0, time.perf_counter() - t1

    c, t = time.process_time(), time.perf_counter()
    one(names[0])
    first, first_cpu = time.perf_counter() - t, time.process_time() - c
    walls, cpus, parts = [], [], []
    for _ in range(repeat):
        for name in names:
            c, t = time.process_time(), time.perf_counter()
            parts.append(one(name))
            walls.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
    return {"import_s": t_import, "manifest_load_s": t_manifest, "samples": len(names), "repeat": repeat,
            "first_sample_s": first, "first_sample_cpu_s": first_cpu, "per_sample": _stats(walls, cpus),
            "breakdown_median_s": {"read_raw": statistics.median(x[0] for x in parts),
                                   "normalize": statistics.median(x[1] for x in parts)}}


def run_self(mode_args: list[str]) -> dict:
    """Run this script in a fresh process with ``mode_args``; return the JSON it prints after ``RESULT ``."""
    proc = subprocess.run([sys.executable, __file__, *mode_args], capture_output=True, text=True, check=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"{mode_args[0]} failed (exit {proc.returncode}): {proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


# -- peers ------------------------------------------------------------------------------------------------
def build_venv(script: Path, venv: Path) -> Path:
    """Build (or reuse) a peer's venv with its builder script; return its python."""
    subprocess.run(["bash", str(script), str(venv)], check=True, stdout=subprocess.DEVNULL)
    return venv / "bin" / "python"


def run_mepylome(idats: Path, work: Path, repeat: int, manifest_dir: Path, methods: tuple[str, ...] = METHODS,
                 batch: bool = True) -> dict:
    """mepylome's timings (its own venv and process). The manifest CSV is written once from methylclass's HM450
    into ``manifest_dir`` (a stable path, so mepylome's own cache of the processed CSV is reused by later runs)."""
    from illumina_csv import write_illumina_manifest

    from methylclass.io.manifest import load_manifest

    py = build_venv(HELPERS / "build_mepylome_venv.sh", Path(os.environ.get("MEPYLOME_VENV",
                                                                             ROOT / ".cache" / "mepylome-venv")))
    csv = manifest_dir / "HumanMethylation450_15017482_v1-2.csv"
    if not csv.is_file():
        write_illumina_manifest(load_manifest("HM450"), csv)
    t = time.perf_counter()  # processes the CSV once into mepylome's cache (first use) or loads its pickle
    subprocess.run([str(py), "-W", "ignore", "-c", f"from mepylome import Manifest; Manifest(raw_path={str(csv)!r})"],
                   check=True, capture_output=True)
    first_load = time.perf_counter() - t
    out = work / "mepylome_out"
    subprocess.run([str(py), str(HELPERS / "run_mepylome.py"), "--idats", str(idats), "--manifest", str(csv),
                    "--out", str(out), "--repeat", str(repeat), "--methods", ",".join(methods),
                    *(["--batch"] if batch else [])], check=True, capture_output=True)
    res = json.loads((out / "timing.json").read_text())
    res["manifest_prepare_s"] = first_load  # first use: CSV → mepylome's cache; later: its pickle
    res["betas_dir"] = str(out)
    return res


def run_methylprep(idats: Path, work: Path, k: int) -> dict:
    """methylprep noob on 1 and on ``k`` samples (own venv, own processes); marginal seconds per sample."""
    from methylclass.io.manifest import load_manifest
    from methylclass.io.methylprep import write_methylprep_manifest

    venv = Path(os.environ.get("METHYLPREP_VENV", ROOT / ".cache" / "methylprep-venv"))
    py = build_venv(METHYLPREP_DIR / "build_venv.sh", venv)
    csv = work / "hm450_methylprep.csv"
    if not csv.is_file():
        write_methylprep_manifest(load_manifest("HM450"), csv)
    grns = sorted(idats.glob("*_Grn.idat*"))
    runs = {}
    for n in sorted({1, k}):
        sub = work / f"methylprep_in_{n}"
        shutil.rmtree(sub, ignore_errors=True)
        sub.mkdir(parents=True)
        for g in grns[:n]:
            r = g.with_name(g.name.replace("_Grn.", "_Red."))
            (sub / g.name).symlink_to(g.resolve())
            (sub / r.name).symlink_to(r.resolve())
        out = work / f"methylprep_out_{n}"
        t = time.perf_counter()
        subprocess.run([str(py), str(METHYLPREP_DIR / "run_methylprep.py"), "--idats", str(sub), "--manifest",
                        str(csv), "--out", str(out)], check=True, capture_output=True)
        timing = json.loads((out / "timing.json").read_text())
        timing["process_wall_s"] = time.perf_counter() - t
        runs[n] = timing
    marginal = ((runs[k]["seconds"] - runs[1]["seconds"]) / (k - 1)) if k > 1 else runs[1]["seconds"]
    return {"tool": "methylprep", "version": runs[1]["methylprep"], "runs": {str(n): v for n, v in runs.items()},
            "per_sample_marginal_s": marginal, "per_sample_incl_manifest_s": runs[k]["seconds_per_sample"],
            "betas_dir": str(work / f"methylprep_out_{k}")}


# -- parity -----------------------------------------------------------------------------------------------
def agreement(ours_npz: Path, theirs) -> dict:
    """Per sample Pearson r and max/mean |Δβ| of methylclass betas against a peer's (probes both report)."""
    import numpy as np
    import pandas as pd

    z = np.load(ours_npz)
    ours = pd.DataFrame(z["beta"].T, index=z["probe_id"], columns=z["sample"])
    if isinstance(theirs, Path):
        t = np.load(theirs)
        theirs = pd.DataFrame(t["beta"].T, index=t["probe_id"], columns=t["sample"])
    out = {}
    for s in ours.columns.intersection(theirs.columns):
        common = ours.index.intersection(theirs.index)
        a = ours.loc[common, s].to_numpy(np.float64)
        b = theirs.loc[common, s].to_numpy(np.float64)
        ok = np.isfinite(a) & np.isfinite(b)
        d = np.abs(a[ok] - b[ok])
        out[s] = {"probes": int(ok.sum()), "pearson_r": float(np.corrcoef(a[ok], b[ok])[0, 1]),
                  "max_abs_delta": float(d.max()), "mean_abs_delta": float(d.mean())}
    if not out:
        raise RuntimeError(f"no common samples between {ours_npz} and the peer's betas")
    return {"samples": out, "min_pearson_r": min(v["pearson_r"] for v in out.values()),
            "max_abs_delta": max(v["max_abs_delta"] for v in out.values())}


# -- ingestion --------------------------------------------------------------------------------------------
def run_ingest(work: Path, sizes: list[int], seed: int, jobs: int, master: str, driver_memory: str,
               keep_pool: bool, on_result) -> list[dict]:
    """Ingest cohorts of ``sizes`` distinct simulated samples (bench_ingest.py --run-one), smallest first."""
    pool = work / f"pool_HM450_s{seed}"
    plan = sorted(set(sizes) | set(DEFAULT_SIZES))
    runs = []
    env = {**os.environ, "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1")}
    for n in sorted(sizes):
        t = time.perf_counter()
        pairs = pool_pairs(pool, plan, n, seed, jobs, log=log)
        t_sim = time.perf_counter() - t
        cohort = link_cohort(work / f"ingest_cohort_{n}", pairs)
        store = work / f"ingest_store_{n}"
        shutil.rmtree(store, ignore_errors=True)
        log(f"ingesting {n} samples on Spark ({master}) …")
        proc = subprocess.run([sys.executable, str(HERE / "bench_ingest.py"), "--run-one", "--cohort", str(cohort),
                               "--store", str(store), "--method", "noob", "--master", master, "--driver-memory",
                               driver_memory], capture_output=True, text=True, check=False, env=env)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(cohort, ignore_errors=True)
        if proc.returncode != 0 or line is None:
            runs.append({"n_samples": n, "error": f"exit {proc.returncode}: {proc.stderr[-2000:]}"})
            log(f"N={n}: ingestion FAILED (exit {proc.returncode})")
            on_result(runs)
            break
        res = json.loads(line[len("RESULT "):])
        res.update(requested=n, simulate_s=round(t_sim, 1), pool_mb=disk_mb(pool),
                   load_average_after=[round(x, 2) for x in os.getloadavg()])
        runs.append(res)
        log(f"N={n}: {res['ingest_s']:.0f} s ({res['s_per_sample']:.3f} s/sample), driver python "
            f"{res['driver_python_mb']:.0f} MB + JVM {res['driver_jvm_mb']:.0f} MB = {res['driver_total_mb']:.0f} MB, "
            f"workers {res['workers_sum_mb']:.0f} MB, failed {res['n_failed']}")
        on_result(runs)
    if not keep_pool:
        shutil.rmtree(pool, ignore_errors=True)
    return runs


# -- report -----------------------------------------------------------------------------------------------
def machine_info() -> dict:
    """CPU count, load average, memory and the versions of everything compared."""
    import importlib.metadata as md

    def version(pkg: str) -> str | None:
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return None

    mem_gb = None
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    def git(*cmd: str) -> str:
        try:
            return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    code = {"commit": git("rev-parse", "HEAD"),
            "uncommitted_changes_in_methylclass": bool(git("status", "--porcelain", "--", "methylclass"))}
    return {"nproc": os.cpu_count(), "memory_gb": mem_gb, "code": code,
            "load_average_start": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "platform": platform.platform(),
            "versions": {p: version(p) for p in ("methylclass", "numpy", "pandas", "scipy", "pyspark", "pyarrow")}}


def criteria(report: dict) -> dict:
    """The issue's acceptance checks on what was measured (absent measurements give None)."""
    out: dict = {}
    mc = report.get("per_sample", {}).get("methylclass", {}).get("methods", {}).get("noob", {}).get("betas")
    if mc:
        ours = mc["per_sample"]["median_s"]
        out["noob_s_per_sample"] = ours
        out[f"noob_le_{TARGET_NOOB_S}s"] = ours <= TARGET_NOOB_S
        mp = report["per_sample"].get("mepylome", {}).get("methods", {}).get("noob")
        if mp:
            out["speedup_vs_mepylome"] = mp["per_sample"]["median_s"] / ours
            out[f"ge_{MIN_VS_MEPYLOME:g}x_mepylome"] = out["speedup_vs_mepylome"] >= MIN_VS_MEPYLOME
            if "cpu_median_s" in mp["per_sample"] and "cpu_median_s" in mc["per_sample"]:
                out["cpu_speedup_vs_mepylome"] = mp["per_sample"]["cpu_median_s"] / mc["per_sample"]["cpu_median_s"]
        pr = report["per_sample"].get("methylprep")
        if pr:
            out["speedup_vs_methylprep"] = pr["per_sample_marginal_s"] / ours
            out[f"ge_{MIN_VS_METHYLPREP:g}x_methylprep"] = out["speedup_vs_methylprep"] >= MIN_VS_METHYLPREP
    cp = report.get("per_sample", {}).get("call_path")
    if cp and cp.get("round_medians_s"):
        ours = statistics.median(cp["round_medians_s"])
        out["call_path_noob_s_per_sample"] = ours
        out[f"call_path_le_{TARGET_CALL_PATH_S}s"] = ours <= TARGET_CALL_PATH_S
        ratios = cp.get("ratios_vs_mepylome")
        if ratios:
            out["call_path_speedup_vs_mepylome"] = statistics.median(ratios)
            out[f"call_path_ge_{MIN_CALL_PATH_VS_MEPYLOME:g}x_mepylome"] = (
                out["call_path_speedup_vs_mepylome"] >= MIN_CALL_PATH_VS_MEPYLOME)
        if cp.get("cpu_ratios_vs_mepylome"):
            # on a shared machine the wall time follows the load; CPU seconds are what the code costs
            out["call_path_cpu_speedup_vs_mepylome"] = statistics.median(cp["cpu_ratios_vs_mepylome"])
            out["call_path_cpu_s_per_sample"] = statistics.median(cp["round_cpu_medians_s"])
            out[f"call_path_cpu_le_{TARGET_CALL_PATH_S}s"] = out["call_path_cpu_s_per_sample"] <= TARGET_CALL_PATH_S
            out[f"call_path_cpu_ge_{MIN_CALL_PATH_VS_MEPYLOME:g}x_mepylome"] = (
                out["call_path_cpu_speedup_vs_mepylome"] >= MIN_CALL_PATH_VS_MEPYLOME)
    runs = {r["n_samples"]: r for r in report.get("ingest", {}).get("runs", []) if "error" not in r}
    if 1000 in runs:
        r = runs[1000]
        out["ingest_1000_completed"] = r["n_failed"] == 0 and r["n_ok"] == 1000
        out["ingest_1000_driver_total_mb"] = r["driver_total_mb"]
        out["ingest_1000_driver_rss_lt_2gb"] = r["driver_total_mb"] < MAX_DRIVER_MB
    for n in sorted(runs):  # every doubling measured (the is 1,000 → 2,000)
        if 2 * n in runs:
            a, b = runs[n], runs[2 * n]
            growth = {k: b[k] / a[k] - 1 for k in ("driver_python_mb", "driver_total_mb", "workers_sum_mb")
                      if a[k]}
            out[f"peak_growth_{n}_to_{2 * n}"] = growth
            out[f"growth_{n}_to_{2 * n}_le_20pct"] = all(g <= MAX_GROWTH for g in growth.values())
    return out


def print_table(report: dict) -> None:
    """The per-sample and ingestion tables on stdout."""
    ps = report.get("per_sample", {})
    if ps:
        print(f"\nper 450k sample (read 2 IDATs + map + normalise + betas; median / best wall s, median CPU s; "
              f"{ps.get('samples')} samples × {ps.get('repeat')} rounds)")
        for method, variants in ps.get("methylclass", {}).get("methods", {}).items():
            for variant, e in variants.items():
                s = e["per_sample"]
                print(f"  methylclass {method:8s} {variant:5s}  {s['median_s']:7.3f} {s['best_s']:7.3f} "
                      f"{s['cpu_median_s']:7.3f}")
        for method, e in ps.get("mepylome", {}).get("methods", {}).items():
            s = e["per_sample"]
            print(f"  mepylome    {method:8s}        {s['median_s']:7.3f} {s['best_s']:7.3f} {s['cpu_median_s']:7.3f}"
                  f"   (batch of {e['batch']['samples']}: {e['batch']['per_sample_s']:.3f} s/sample)")
        cp = ps.get("call_path")
        if cp:
            s = cp["methylclass"]["per_sample"]
            print(f"  call path: read_raw + normalize(noob) {s['median_s']:7.3f} {s['best_s']:7.3f} "
                  f"{s['cpu_median_s']:7.3f}   (round medians: "
                  f"{', '.join(f'{r:.3f}' for r in cp['round_medians_s'])})")
            if cp.get("ratios_vs_mepylome"):
                print(f"  call path vs mepylome noob: {', '.join(f'{r:.1f}x' for r in cp['ratios_vs_mepylome'])} "
                      f"(median {statistics.median(cp['ratios_vs_mepylome']):.1f}x; load "
                      f"{', '.join(f'{x:.1f}' for x in cp['load_averages'])})")
            if cp.get("cpu_ratios_vs_mepylome"):
                print(f"  call path CPU s per sample {', '.join(f'{r:.4f}' for r in cp['round_cpu_medians_s'])}; "
                      f"vs mepylome CPU: {', '.join(f'{r:.1f}x' for r in cp['cpu_ratios_vs_mepylome'])}")
        if "methylprep" in ps:
            mp = ps["methylprep"]
            print(f"  methylprep  noob            {mp['per_sample_marginal_s']:7.2f}  (marginal; "
                  f"{mp['per_sample_incl_manifest_s']:.2f} s/sample incl. its manifest load)")
        for peer, per in ps.get("parity", {}).items():
            for method, a in per.items():
                print(f"  parity vs {peer:10s} {method:8s}: r ≥ {a['min_pearson_r']:.6f}, max |Δβ| = "
                      f"{a['max_abs_delta']:.4f}")
    runs = report.get("ingest", {}).get("runs", [])
    if runs:
        print("\ningestion on local Spark (noob): N, wall s, s/sample, driver python / JVM / total MB, workers MB")
        for r in runs:
            if "error" in r:
                print(f"  {r['n_samples']:5d}  FAILED")
                continue
            print(f"  {r['n_samples']:5d} {r['ingest_s']:8.1f} {r['s_per_sample']:7.3f}  {r['driver_python_mb']:7.0f} "
                  f"{r['driver_jvm_mb']:7.0f} {r['driver_total_mb']:7.0f}  {r['workers_sum_mb']:7.0f}")
    print("\ncriteria:", json.dumps(report.get("criteria", {}), indent=1))


def write_json(report: dict, path: Path) -> None:
    """Write ``report`` atomically (temporary name, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(report, indent=1, default=str) + "\n")
    tmp.replace(path)


def per_sample(args: argparse.Namespace, work: Path, report: dict, save) -> None:
    """Simulate (or reuse) the timing cohort, time every tool on it, compare betas."""
    t = time.perf_counter()
    idats = timing_cohort(work, args.samples, args.seed, args.jobs, args.array)
    log(f"{args.samples} {args.array} pairs ready in {idats} ({time.perf_counter() - t:.1f} s)")
    ps = report["per_sample"] = {"samples": args.samples, "repeat": args.repeat, "idats": str(idats),
                                 "timed": "read both IDATs + map to probes + normalise + betas, per sample"}
    run_dir = work / f"run_{os.getpid()}"
    log("methylclass …")
    ps["load_average_before"] = {"methylclass": os.getloadavg()}
    ps["methylclass"] = run_self(["--time-methylclass", str(idats), str(run_dir / "methylclass"), str(args.repeat),
                                  args.array])
    save()
    call_path(args, idats, run_dir, ps, save, rounds=0)
    parity = ps["parity"] = {}
    if not args.skip_mepylome:
        log("mepylome …")
        ps["load_average_before"]["mepylome"] = os.getloadavg()
        try:
            ps["mepylome"] = run_mepylome(idats, run_dir, args.repeat, work)
            theirs = Path(ps["mepylome"]["betas_dir"])
            parity["mepylome"] = {m: agreement(run_dir / "methylclass" / f"betas_{m}.npz", theirs / f"betas_{m}.npz")
                                  for m in METHODS}
            cp = ps["call_path"]
            mep = ps["mepylome"]["methods"]["noob"]["per_sample"]["median_s"]
            cp["mepylome_round_medians_s"] = [mep]
            cp["ratios_vs_mepylome"] = [mep / cp["round_medians_s"][0]]
            cp["load_averages"] = [ps["load_average_before"]["methylclass"][0]]
            mep_cpu = ps["mepylome"]["methods"]["noob"]["per_sample"]["cpu_median_s"]
            cp["round_cpu_medians_s"] = [cp["methylclass"]["per_sample"]["cpu_median_s"]]
            cp["cpu_ratios_vs_mepylome"] = [mep_cpu / cp["round_cpu_medians_s"][0]]
            parity["mepylome"]["illumina_minfi_reference"] = agreement(
                run_dir / "methylclass" / "betas_illumina_minfi_reference.npz", theirs / "betas_illumina.npz")
        except (subprocess.CalledProcessError, OSError) as exc:
            err = getattr(exc, "stderr", b"") or b""
            ps["mepylome"] = {"error": f"{exc}: {err.decode(errors='replace')[-2000:]}"}
            log(f"mepylome failed: {exc}")
        save()
    if not args.skip_methylprep:
        log(f"methylprep (1 and {args.methylprep_samples} samples) …")
        ps["load_average_before"]["methylprep"] = os.getloadavg()
        try:
            ps["methylprep"] = run_methylprep(idats, run_dir, args.methylprep_samples)
            from methylclass.io.methylprep import read_methylprep

            parity["methylprep"] = {"noob": agreement(run_dir / "methylclass" / "betas_noob.npz",
                                                      read_methylprep(Path(ps["methylprep"]["betas_dir"]), "beta").T)}
        except (subprocess.CalledProcessError, OSError) as exc:
            err = getattr(exc, "stderr", b"") or b""
            ps["methylprep"] = {"error": f"{exc}: {err.decode(errors='replace')[-2000:]}"}
            log(f"methylprep failed: {exc}")
        save()
    if not args.keep_outputs:
        shutil.rmtree(run_dir, ignore_errors=True)


def call_path(args: argparse.Namespace, idats: Path, run_dir: Path, ps: dict, save, rounds: int) -> None:
    """Time the user's call path; with ``rounds`` > 0 alternate it with mepylome's noob ``rounds`` times (the
    full run instead reuses its mepylome noob timing, measured right after)."""
    cp = ps["call_path"] = {"timed": "read_raw([basename], manifest=m).samples[0] + normalize(s, method='noob')",
                            "round_medians_s": [], "rounds": []}
    if rounds == 0:
        log("methylclass call path …")
        cp["methylclass"] = run_self(["--time-call-path", str(idats), str(args.repeat), args.array])
        cp["round_medians_s"].append(cp["methylclass"]["per_sample"]["median_s"])
        save()
        return
    cp.update(mepylome_round_medians_s=[], ratios_vs_mepylome=[], load_averages=[], round_cpu_medians_s=[],
              cpu_ratios_vs_mepylome=[])
    for i in range(rounds):
        load = os.getloadavg()
        log(f"round {i + 1}/{rounds}: methylclass call path (load {load[0]:.1f}) …")
        ours = run_self(["--time-call-path", str(idats), str(args.repeat), args.array])
        log(f"round {i + 1}/{rounds}: mepylome noob …")
        theirs = run_mepylome(idats, run_dir, args.repeat, args.work, methods=("noob",), batch=False)
        a, b = ours["per_sample"]["median_s"], theirs["methods"]["noob"]["per_sample"]["median_s"]
        cp["rounds"].append({"methylclass": ours, "mepylome": theirs["methods"]["noob"], "load_average": load})
        cp["round_medians_s"].append(a)
        cp["mepylome_round_medians_s"].append(b)
        cp["ratios_vs_mepylome"].append(b / a)
        cp["load_averages"].append(load[0])
        ca, cb = ours["per_sample"]["cpu_median_s"], theirs["methods"]["noob"]["per_sample"]["cpu_median_s"]
        cp["round_cpu_medians_s"].append(ca)
        cp["cpu_ratios_vs_mepylome"].append(cb / ca)
        cp["methylclass"] = ours
        log(f"round {i + 1}/{rounds}: methylclass {a:.4f} s, mepylome {b:.4f} s per sample → {b / a:.1f}x "
            f"(CPU {ca:.4f} vs {cb:.4f} s → {cb / ca:.1f}x)")
        save()
    # the headline: the round whose methylclass median is the median of the rounds
    order = sorted(range(rounds), key=lambda i: cp["round_medians_s"][i])
    cp["methylclass"] = cp["rounds"][order[rounds // 2]]["methylclass"]


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the benchmark (or one of the helper modes used in sub-processes)."""
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--time-methylclass"]:
        idats, out, repeat, array = argv[1:5]
        print("RESULT " + json.dumps(time_methylclass(Path(idats), Path(out), int(repeat), array)), flush=True)
        return 0
    if argv[:1] == ["--time-call-path"]:
        idats, repeat, array = argv[1:4]
        print("RESULT " + json.dumps(time_call_path(Path(idats), int(repeat), array)), flush=True)
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=8, help="450k samples for the per-sample timings")
    ap.add_argument("--repeat", type=int, default=3, help="timed rounds over those samples")
    ap.add_argument("--methylprep-samples", type=int, default=3, help="k for methylprep's marginal time (≥ 2)")
    ap.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="ingestion cohort sizes ('' = none)")
    ap.add_argument("--jobs", type=int, default=2, help="simulation processes")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--array", default="HM450", help="array of the per-sample cohort (peers: HM450 only)")
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--driver-memory", default="2g")
    ap.add_argument("--work", type=Path, default=ROOT / ".cache" / "bench")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "bench_preprocess.json")
    ap.add_argument("--skip-per-sample", action="store_true")
    ap.add_argument("--skip-mepylome", action="store_true")
    ap.add_argument("--skip-methylprep", action="store_true")
    ap.add_argument("--merge", action="store_true", help="update the sections of an existing --out file")
    ap.add_argument("--keep-pool", action="store_true", help="keep the simulated ingestion cohorts")
    ap.add_argument("--keep-outputs", action="store_true", help="keep the tools' betas")
    ap.add_argument("--quick", action="store_true",
                    help="only the user's call path vs mepylome noob, alternated --rounds times "
                         "(writes results/bench_preprocess_quick.json)")
    ap.add_argument("--rounds", type=int, default=3, help="--quick: alternations methylclass/mepylome")
    args = ap.parse_args(argv)
    if args.quick:
        return quick(args, argv)
    if not args.skip_methylprep and not 1 <= args.methylprep_samples <= args.samples:
        ap.error(f"--methylprep-samples must lie in 1..--samples ({args.samples})")
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if args.array != "HM450" and not (args.skip_mepylome and args.skip_methylprep):
        ap.error("the peers are run on HM450 only: add --skip-mepylome --skip-methylprep for another --array")

    report = json.loads(args.out.read_text()) if args.merge and args.out.is_file() else {}
    report.setdefault("benchmark", "preprocess")
    report.setdefault("runs", []).append({"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "argv": argv,
                                          "machine": machine_info(),
                                          "sections": (["per_sample"] if not args.skip_per_sample else [])
                                          + (["ingest"] if sizes else [])})
    report["machine"] = report["runs"][0]["machine"] if len(report["runs"]) == 1 else report.get("machine")

    def save() -> None:
        report["criteria"] = criteria(report)
        write_json(report, args.out)

    args.work.mkdir(parents=True, exist_ok=True)
    log(f"load average {os.getloadavg()[0]:.2f}; work folder {args.work}; free disk "
        f"{shutil.disk_usage(args.work).free / 2**30:.0f} GB")
    if not args.skip_per_sample:
        per_sample(args, args.work, report, save)
    if sizes:
        ing = report.setdefault("ingest", {"master": args.master, "driver_memory": args.driver_memory,
                                           "method": "noob", "array": "HM450", "distinct_samples": True,
                                           "runs": []})
        previous = [r for r in ing["runs"] if r.get("n_samples") not in sizes]

        def on_result(runs: list[dict]) -> None:
            ing["runs"] = sorted(previous + runs, key=lambda r: r["n_samples"])
            save()

        run_ingest(args.work, sizes, args.seed, args.jobs, args.master, args.driver_memory, args.keep_pool,
                   on_result)
    report["runs"][-1]["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    save()
    print_table(report)
    log(f"wrote {args.out}")
    return 0


def quick(args: argparse.Namespace, argv: list[str]) -> int:
    """``--quick``: the call path against mepylome only (no kernel variants, methylprep or ingestion)."""
    out = args.out if args.out != ROOT / "results" / "bench_preprocess.json" else \
        ROOT / "results" / "bench_preprocess_quick.json"
    report = {"benchmark": "preprocess_call_path", "argv": argv, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "machine": machine_info()}

    def save() -> None:
        report["criteria"] = criteria(report)
        write_json(report, out)

    args.work.mkdir(parents=True, exist_ok=True)
    idats = timing_cohort(args.work, args.samples, args.seed, args.jobs, args.array)
    ps = report["per_sample"] = {"samples": args.samples, "repeat": args.repeat, "idats": str(idats)}
    run_dir = args.work / f"run_{os.getpid()}"
    try:
        call_path(args, idats, run_dir, ps, save, rounds=max(1, args.rounds))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    report["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    save()
    print_table(report)
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
