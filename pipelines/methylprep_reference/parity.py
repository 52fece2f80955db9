"""Parity of methylclass noob with the unmodified methylprep 1.7.1 noob on the same 450k IDATs.

    .venv/bin/python pipelines/methylprep_reference/parity.py [--idats DIR] [--work DIR] [--samples 3]

1. IDATs: ``--idats`` (any folder of 450k ``<barcode>_<pos>_{Grn,Red}.idat`` pairs) or, by default, 2–3
   realistic synthetic pairs built from the real 450k Green channel (:mod:`synth450k`);
2. writes the HM450 manifest in methylprep's CSV layout (:func:`methylclass.io.methylprep.write_methylprep_manifest`);
3. builds the methylprep venv (``build_venv.sh``; reused when present) and runs ``run_methylprep.py`` in it
   (``sesame=False``: minfi-style noob, offset 15, linear dye bias, beta offset 100);
4. runs ``methylclass.pp.normalize(method="noob", dye_bias="linear")`` on the same pairs;
5. compares per sample (probes methylprep reports, i.e. without ``rs``): Pearson r and max |Δβ| of the betas
   and of the noob intensities; prints the numbers and writes ``results/methylprep_parity.json``.

Acceptance (the issue's): r ≥ 0.9999 and max |Δβ| ≤ 0.01 for every sample.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from synth450k import write_pairs

from methylclass.io.idat import read_idat
from methylclass.io.manifest import load_manifest
from methylclass.io.methylprep import read_methylprep, write_methylprep_manifest
from methylclass.io.raw_types import raw_signals_from_idats
from methylclass.paths import data_dir
from methylclass.pp.normalize import normalize

MIN_R = 0.9999
MAX_ABS_DELTA = 0.01


def methylprep_venv() -> Path:
    """Location of the methylprep venv (``$METHYLPREP_VENV`` or ``<repo>/.cache/methylprep-venv``)."""
    return Path(os.environ.get("METHYLPREP_VENV", ROOT / ".cache" / "methylprep-venv"))


def build_venv() -> Path:
    """Build (or reuse) the methylprep venv; return its python."""
    venv = methylprep_venv()
    subprocess.run(["bash", str(HERE / "build_venv.sh"), str(venv)], check=True, stdout=subprocess.DEVNULL)
    return venv / "bin" / "python"


def run_methylprep(idats: Path, manifest_csv: Path, out: Path) -> dict:
    """Run the reference in its venv; return its timing dict."""
    py = build_venv()
    subprocess.run([str(py), str(HERE / "run_methylprep.py"), "--idats", str(idats), "--manifest",
                    str(manifest_csv), "--out", str(out)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return json.loads((out / "timing.json").read_text())


def run_methylclass(idats: Path, manifest) -> tuple[dict[str, pd.DataFrame], float, float]:
    """methylclass noob betas and intensities per sample (indexed by probe id), wall and CPU seconds per
    sample (reading the IDAT pair, mapping and normalising)."""
    names = sorted({p.name.rsplit("_", 1)[0] for p in idats.glob("*_Grn.idat*")})
    out: dict[str, pd.DataFrame] = {}
    ids = manifest.probes["probe_id"].to_numpy()
    t0, c0 = time.perf_counter(), time.process_time()
    for name in names:
        grn = read_idat(next(idats.glob(f"{name}_Grn.idat*")))
        red = read_idat(next(idats.glob(f"{name}_Red.idat*")))
        ns = normalize(raw_signals_from_idats(grn, red, manifest, name), method="noob", dye_bias="linear",
                       detection=None, qc=False)
        out[name] = pd.DataFrame({"beta": ns.beta, "meth": ns.meth, "unmeth": ns.unmeth}, index=ids)
    k = max(len(names), 1)
    return out, (time.perf_counter() - t0) / k, (time.process_time() - c0) / k


def _stats(a: np.ndarray, b: np.ndarray) -> dict:
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok].astype(np.float64), b[ok].astype(np.float64)
    return {"n": int(ok.sum()), "pearson_r": float(np.corrcoef(a, b)[0, 1]),
            "max_abs_delta": float(np.max(np.abs(a - b))), "mean_abs_delta": float(np.mean(np.abs(a - b)))}


def compare(ours: dict[str, pd.DataFrame], ref_dir: Path) -> dict[str, dict]:
    """Per-sample agreement of betas and noob intensities with methylprep's outputs in ``ref_dir``."""
    ref_beta = read_methylprep(ref_dir, "beta").T  # probes × samples, as compared below
    ref_m = read_methylprep(ref_dir, "noob_meth").T
    ref_u = read_methylprep(ref_dir, "noob_unmeth").T
    result = {}
    for name, df in ours.items():
        if name not in ref_beta.columns:
            raise RuntimeError(f"methylprep output lacks sample {name} (has {list(ref_beta.columns)})")
        probes = ref_beta.index.intersection(df.index)
        result[name] = {
            "probes_compared": len(probes),
            "beta": _stats(df.loc[probes, "beta"].to_numpy(), ref_beta.loc[probes, name].to_numpy()),
            "noob_meth": _stats(df.loc[probes, "meth"].to_numpy(), ref_m.loc[probes, name].to_numpy()),
            "noob_unmeth": _stats(df.loc[probes, "unmeth"].to_numpy(), ref_u.loc[probes, name].to_numpy()),
        }
    return result


def run_parity(work: Path, *, idats: Path | None = None, n_samples: int = 3) -> dict:
    """The whole check (see the module docstring); returns the report dict."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest("HM450")
    if idats is None:
        idats = work / "idats"
        write_pairs(manifest, data_dir(), idats, n=n_samples)
        source = f"{n_samples} synthetic pairs (real 450k Green channel + synthesised Red)"
    else:
        source = str(idats)
    manifest_csv = work / "hm450_methylprep.csv"
    write_methylprep_manifest(manifest, manifest_csv)
    ref_out = work / "methylprep_out"
    timing = run_methylprep(idats, manifest_csv, ref_out)
    ours, ours_sec, ours_cpu = run_methylclass(idats, manifest)
    per_sample = compare(ours, ref_out)
    worst_r = min(s["beta"]["pearson_r"] for s in per_sample.values())
    worst_d = max(s["beta"]["max_abs_delta"] for s in per_sample.values())
    return {
        "idats": source, "samples": per_sample,
        "beta_min_pearson_r": worst_r, "beta_max_abs_delta": worst_d,
        "passed": bool(worst_r >= MIN_R and worst_d <= MAX_ABS_DELTA),
        "criteria": {"min_pearson_r": MIN_R, "max_abs_delta": MAX_ABS_DELTA},
        "seconds_per_sample": {"methylprep": timing["seconds_per_sample"], "methylclass": ours_sec},
        "cpu_seconds_per_sample": {"methylprep": timing["cpu_seconds_per_sample"], "methylclass": ours_cpu},
        "methylprep": timing,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="methylclass vs methylprep noob parity")
    ap.add_argument("--idats", type=Path, default=None, help="folder of 450k IDAT pairs (default: synthetic)")
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--samples", type=int, default=3, help="number of synthetic pairs (1-3)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "methylprep_parity.json")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mc_parity_") as tmp:
        report = run_parity(args.work or Path(tmp), idats=args.idats, n_samples=args.samples)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    for name, s in report["samples"].items():
        print(f"{name}: beta r={s['beta']['pearson_r']:.7f} max|dβ|={s['beta']['max_abs_delta']:.5f}  "
              f"noob_meth r={s['noob_meth']['pearson_r']:.7f}  noob_unmeth r={s['noob_unmeth']['pearson_r']:.7f}")
    sp, cpu = report["seconds_per_sample"], report["cpu_seconds_per_sample"]
    print(f"seconds per sample (wall / CPU): methylprep {sp['methylprep']:.1f} / {cpu['methylprep']:.1f}, "
          f"methylclass {sp['methylclass']:.2f} / {cpu['methylclass']:.2f}")
    print(f"{'PASS' if report['passed'] else 'FAIL'} (criteria r >= {MIN_R}, max |dβ| <= {MAX_ABS_DELTA}); "
          f"wrote {args.out}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
