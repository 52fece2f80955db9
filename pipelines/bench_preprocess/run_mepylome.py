"""Time mepylome's per-sample preprocessing on a folder of IDAT pairs (runs inside mepylome's own venv).

    .cache/mepylome-venv/bin/python run_mepylome.py --idats DIR --manifest ILLUMINA.csv --out DIR \
        [--methods raw,illumina,noob] [--repeat 3] [--betas-method noob]

Imports nothing from methylclass (mepylome needs Python >= 3.12; methylclass's venv is 3.11). The manifest is
Illumina's CSV layout, read offline as ``Manifest(raw_path=…)`` — never with an array type, which makes mepylome
try to download for ~24 s and fail. mepylome processes the raw CSV once and pickles the result under its
cache folder (``~/.cache/mepylome/<version>/tmp``); the first load in a fresh cache is reported separately
(``manifest_first_load_s``), as is the (cached) load in this process (``manifest_load_s``).

What is timed per sample, for each ``--method`` (mepylome ``prep``), identically to methylclass's timing in
``bench_preprocess.py``: ``RawData(<basename>, manifest=man)`` (reads both IDATs) +
``MethylData(raw, prep=method)`` (maps addresses to probes and normalises; noob = normexp out-of-band
background + single-sample dye-bias correction, minfi ``preprocessNoob``) + ``.betas`` (offset 100). Sample 1
is processed once first (``first_sample_s``: numba JIT and mepylome's per-layout index cache); then
``--repeat`` rounds over all samples are timed with ``perf_counter`` (wall) and ``process_time`` (CPU).
Also timed: one batch call over all samples at once (``RawData([all basenames])``), mepylome's own cohort mode.

Writes ``<out>/timing.json`` and ``<out>/betas_<method>.npz`` (probe ids, sample names, betas samples × probes
float32) for the parity check against methylclass.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path


def _stats(walls: list[float], cpus: list[float]) -> dict:
    return {"n": len(walls), "median_s": statistics.median(walls), "best_s": min(walls),
            "mean_s": statistics.fmean(walls), "cpu_median_s": statistics.median(cpus), "cpu_best_s": min(cpus)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--idats", required=True, type=Path)
    ap.add_argument("--manifest", required=True, type=Path, help="Illumina manifest CSV")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--methods", default="raw,illumina,noob")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch", action="store_true", help="also time one batch call over all samples")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")

    t0 = time.perf_counter()
    import importlib.metadata as md

    import numpy as np
    from mepylome import Manifest, MethylData, RawData
    t_import = time.perf_counter() - t0

    basenames = sorted({p.name.split("_Grn.idat")[0] for p in args.idats.glob("*_Grn.idat*")})
    if not basenames:
        print(f"error: no *_Grn.idat files in {args.idats}", file=sys.stderr)
        return 2
    paths = [args.idats / b for b in basenames]
    args.out.mkdir(parents=True, exist_ok=True)

    t = time.perf_counter()
    man = Manifest(raw_path=args.manifest)
    t_manifest = time.perf_counter() - t

    result = {"tool": "mepylome", "version": md.version("mepylome"), "numpy": np.__version__,
              "python": platform.python_version(), "samples": len(paths), "repeat": args.repeat,
              "import_s": t_import, "manifest_load_s": t_manifest, "methods": {}}
    for method in [m for m in args.methods.split(",") if m]:
        def one(path: Path, method: str = method):
            raw = RawData(path, manifest=man)
            md_ = MethylData(raw, prep=method)
            return md_.betas

        c, t = time.process_time(), time.perf_counter()
        betas = one(paths[0])
        first, first_cpu = time.perf_counter() - t, time.process_time() - c
        walls, cpus, last = [], [], {}
        for _ in range(args.repeat):
            for p in paths:
                c, t = time.process_time(), time.perf_counter()
                betas = one(p)
                walls.append(time.perf_counter() - t)
                cpus.append(time.process_time() - c)
                last[p.name] = betas
        entry = {"first_sample_s": first, "first_sample_cpu_s": first_cpu, "per_sample": _stats(walls, cpus),
                 "n_probes": len(betas)}
        if args.batch:
            c, t = time.process_time(), time.perf_counter()
            batch = MethylData(RawData(paths, manifest=man), prep=method).betas
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            entry["batch"] = {"samples": len(paths), "seconds": wall, "per_sample_s": wall / len(paths),
                              "cpu_per_sample_s": cpu / len(paths), "shape": list(batch.shape)}
        result["methods"][method] = entry
        ids = next(iter(last.values())).index.to_numpy().astype(str)
        mat = np.stack([last[p.name].reindex(ids).to_numpy(np.float32).ravel() for p in paths])
        np.savez(args.out / f"betas_{method}.npz", probe_id=ids, sample=np.array(basenames), beta=mat)
    (args.out / "timing.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({m: round(v["per_sample"]["median_s"], 3) for m, v in result["methods"].items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
