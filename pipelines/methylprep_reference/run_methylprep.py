"""Run the UNMODIFIED methylprep 1.7.1 noob (``sesame=False``: minfi-style noob + linear dye bias) on a folder
of IDATs with an offline manifest and write its outputs.

Runs inside the separate venv built by ``build_venv.sh`` (methylprep needs numpy 1.26 / pandas 1.5), not in
methylclass's environment, and imports nothing from methylclass.

    .cache/methylprep-venv/bin/python run_methylprep.py --idats DIR --manifest FILE --out DIR [--array-type 450k]

Writes into ``--out``: ``beta_values.parquet``, ``noob_meth_values.parquet``, ``noob_unmeth_values.parquet``
(probes × samples, as methylprep writes them) and ``timing.json`` (wall and CPU seconds per sample).
The IDATs are symlinked into ``--out/work`` so methylprep's sample sheet and outputs never touch the input folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import warnings
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--idats", required=True, type=Path, help="folder with <barcode>_<pos>_{Grn,Red}.idat files")
    ap.add_argument("--manifest", required=True, type=Path, help="manifest CSV in methylprep's layout")
    ap.add_argument("--out", required=True, type=Path, help="output folder")
    ap.add_argument("--array-type", default="450k", help="methylprep array type (27k, 450k, epic, epic+)")
    args = ap.parse_args(argv)

    warnings.simplefilter("ignore")
    import methylprep

    work = args.out / "work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    idats = sorted(p for p in args.idats.iterdir() if p.name.lower().endswith((".idat", ".idat.gz")))
    if not idats:
        print(f"error: no IDAT files in {args.idats}", file=sys.stderr)
        return 2
    for p in idats:
        (work / p.name).symlink_to(p.resolve())
    n_samples = len({p.name.rsplit("_", 1)[0] for p in idats})

    t0, c0 = time.perf_counter(), time.process_time()
    methylprep.run_pipeline(
        str(work), array_type=args.array_type, manifest_filepath=str(args.manifest.resolve()),
        sesame=False, betas=True, make_sample_sheet=True, export=False, save_control=False,
        meta_data_frame=False, poobah=False, file_format="parquet",
    )
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    for stem in ("beta_values", "noob_meth_values", "noob_unmeth_values"):
        src = work / f"{stem}.parquet"
        if not src.is_file():
            print(f"error: methylprep did not write {src}", file=sys.stderr)
            return 1
        shutil.copy2(src, args.out / src.name)
    timing = {"methylprep": methylprep.__version__, "samples": n_samples, "seconds": seconds,
              "seconds_per_sample": seconds / n_samples, "cpu_seconds_per_sample": cpu / n_samples,
              "sesame": False}
    (args.out / "timing.json").write_text(json.dumps(timing, indent=1))
    print(json.dumps(timing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
