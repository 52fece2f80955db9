"""Benchmark: manifest loading (first parse vs checksum cache), array detection, raw reading, replicate collapse.

    python pipelines/bench_manifest.py            # prints a table and writes results/manifest.json

Every manifest timing runs in a fresh Python process (so imports, the in-memory memo and the OS page cache of
the Parquet files are as a user meets them) with its own empty cache folder for the "first" run and the
filled one for the "cached" run. Wall and CPU seconds are reported: on a shared machine the CPU time is the
stable number.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_record import machine_record

ROOT = Path(__file__).resolve().parent.parent

_LOAD = """
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
from methylclass.io.manifest import load_manifest
t1, c1 = time.perf_counter(), time.process_time()
m = load_manifest(sys.argv[1])
t2, c2 = time.perf_counter(), time.process_time()
load_manifest(sys.argv[1])
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_wall_s": t2 - t1, "load_cpu_s": c2 - c1, "memo_s": t3 - t2,
                  "from_cache": bool(m.extra.get("from_cache")), "n_probes": m.n_probes}))
"""


def _run_load(array: str, cache: Path) -> dict:
    env = dict(os.environ, METHYLCLASS_CACHE=str(cache))
    out = subprocess.run([sys.executable, "-c", _LOAD, array], env=env, capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_manifests(arrays: tuple[str, ...] = ("HM450", "MSA", "HM27"), repeats: int = 3) -> dict:
    """First parse (empty cache) and cached load (filled cache), each in a fresh process; best of repeats."""
    out = {}
    for array in arrays:
        firsts, cached = [], []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as tmp:
                firsts.append(_run_load(array, Path(tmp)))
                cached.append(_run_load(array, Path(tmp)))
        assert not any(f["from_cache"] for f in firsts) and all(c["from_cache"] for c in cached)
        best = lambda rows, key: round(min(r[key] for r in rows), 3)
        out[array] = {"n_probes": firsts[0]["n_probes"],
                      "first_parse_wall_s": best(firsts, "load_wall_s"),
                      "first_parse_cpu_s": best(firsts, "load_cpu_s"),
                      "cached_wall_s": best(cached, "load_wall_s"), "cached_cpu_s": best(cached, "load_cpu_s"),
                      "in_memory_s": best(cached, "memo_s"), "import_s": best(cached, "import_s")}
    return out


def bench_in_process() -> dict:
    """Detection, raw reading of the real HM27 pairs and EPICv2-size replicate collapse, in this process."""
    import numpy as np
    import pandas as pd

    from methylclass.io.idat import Idat
    from methylclass.io.manifest import collapse_replicates, detect_array, load_manifest
    from methylclass.io.raw import read_raw
    from methylclass.paths import data_dir

    d = data_dir()
    res = {}
    load_manifest("HM450")
    load_manifest("HM27")
    with np.load(d / "idat/hm450_green_parsed/5723646052_R02C02_Grn.npz") as z:
        idat = Idat.from_arrays(z["IlluminaID"], z["Mean"])
    t = time.perf_counter()
    assert detect_array(idat) == "HM450"
    res["detect_by_count_450k_s"] = round(time.perf_counter() - t, 4)
    t = time.perf_counter()
    assert detect_array(idat, manifests=[load_manifest("HM450")]) == "HM450"
    res["detect_confirmed_by_overlap_450k_s"] = round(time.perf_counter() - t, 4)
    t = time.perf_counter()
    rs = read_raw(d / "idat/hm27")
    rs.betas()
    res["read_raw_hm27_2_samples_s"] = round(time.perf_counter() - t, 4)
    ids = pd.read_parquet(d / "manifests/epicv2/epicv2_probes_peters2024.parquet", columns=["IlmnID"])["IlmnID"]
    betas = pd.DataFrame(np.random.default_rng(0).random((len(ids), 8), dtype=np.float32), index=ids.to_numpy())
    t, c = time.perf_counter(), time.process_time()
    out = collapse_replicates(betas)
    res["collapse_epicv2_936k_x8_wall_s"] = round(time.perf_counter() - t, 3)
    res["collapse_epicv2_936k_x8_cpu_s"] = round(time.process_time() - c, 3)
    res["epicv2_cpgs_after_collapse"] = len(out)
    return res


def main() -> int:
    results = {"host": {"python": platform.python_version(), "cpus": os.cpu_count(),
                        "load_average_at_start": os.getloadavg()},
               "manifests": bench_manifests(), "in_process": bench_in_process()}
    results["host"]["load_average_at_end"] = os.getloadavg()
    for array, r in results["manifests"].items():
        print(f"{array:6s} {r['n_probes']:>8,} probes  first parse {r['first_parse_wall_s']:6.2f} s "
              f"(cpu {r['first_parse_cpu_s']:.2f})  cached {r['cached_wall_s']:.3f} s "
              f"(cpu {r['cached_cpu_s']:.3f})  in memory {r['in_memory_s'] * 1000:.2f} ms")
    for key, value in results["in_process"].items():
        print(f"{key:40s} {value}")
    dest = ROOT / "results" / "manifest.json"
    dest.parent.mkdir(exist_ok=True)
    tmp = dest.with_suffix(".json.tmp")
    results["record"] = machine_record()
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(dest)
    print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
