"""``methylclass preprocess INPUT --out STORE``: IDATs of a cohort → normalised betas in a Parquet store.

INPUT is a folder of IDATs (searched recursively) or a sample sheet. Samples are normalised on an embedded
local Spark master by default (``--master spark://HOST:7077`` or ``yarn`` for a cluster, whose executors
must see INPUT and --out at the same paths; ``--local`` for no Spark at all). Samples that cannot be
processed (truncated IDAT, missing Red/Grn partner, another array type) are listed with their reason in the
store's sample table; the others are stored. Re-running with the same
``--out`` resumes: samples already stored are skipped, failed ones retried.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``preprocess`` sub-command."""
    p = subparsers.add_parser("preprocess", help="normalise a cohort's IDATs into a Parquet store (Spark)",
                              description=__doc__.split("\n\n", 1)[1] if __doc__ else None)
    p.add_argument("input", help="folder of IDAT files or a sample sheet")
    p.add_argument("--out", required=True, help="store folder to create or resume")
    p.add_argument("--sheet", help="sample sheet to match to the IDATs of the INPUT folder")
    p.add_argument("--method", default="noob", help="normalisation: noob (default), illumina or raw")
    p.add_argument("--dye-bias", choices=("linear", "nonlinear", "none"),
                   help="dye-bias correction after noob (normalize's default: linear)")
    p.add_argument("--mask-failed", action="store_true",
                   help="set betas of probes failing detection (p > 0.05) to NaN")
    p.add_argument("--min-beads", type=int, default=None, metavar="N",
                   help="set betas of probes read with fewer than N beads to NaN (default 1: no bead, as "
                        "sesame; 0 keeps them)")
    p.add_argument("--manifest", help="manifest file (Illumina CSV or sesame TSV) instead of the built-in one")
    p.add_argument("--controls", help="control-probe table for a --manifest that has none (needed by noob, "
                                      "illumina and pOOBAH)")
    p.add_argument("--array", help="array type (HM450, EPIC, EPICv2, MSA, HM27); default: from the IDATs")
    p.add_argument("--mixed", action="store_true",
                   help="store samples of several arrays together (each normalised with its own manifest, "
                        "one store on canonical CpG ids); implied when the sample sheet's Array / Manifest "
                        "columns name several arrays")
    p.add_argument("--master", help="Spark master: local[*] (default, embedded), local[N], spark://HOST:PORT, "
                                    "yarn")
    p.add_argument("--driver-memory", default="2g", help="Spark driver memory (default 2g)")
    p.add_argument("--samples-per-task", metavar="N|auto",
                   help="samples per Spark task (default: ingest.samples_per_task of conf/base.yaml, auto = "
                        "from the cohort size and cores; a crashed task's samples are re-run one per task)")
    p.add_argument("--local", action="store_true", help="run in this process without Spark (a few samples)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing store instead of resuming it")
    p.add_argument("--strict", action="store_true", help="exit with status 1 when any sample failed")
    p.set_defaults(func=run)


def _options(args: argparse.Namespace) -> dict:
    opts: dict = {}
    if args.dye_bias:
        if args.method != "noob":
            raise ConfigError("--dye-bias applies to --method noob only")
        opts["dye_bias"] = args.dye_bias
    if args.mask_failed:
        opts["mask_failed"] = True
    if args.min_beads is not None:
        if args.min_beads < 0:
            raise ConfigError(f"--min-beads must be ≥ 0, got {args.min_beads}")
        opts["min_beads"] = args.min_beads
    return opts


def run(args: argparse.Namespace) -> int:
    """Run the ingestion and print a summary (failed samples with their reasons)."""
    from ..workflows.ingest import ingest_cohort

    if args.local and args.master:
        raise ConfigError("--local and --master exclude each other")
    res = ingest_cohort(args.input, args.out, method=args.method, manifest=args.manifest, array=args.array,
                        controls=args.controls, sheet=args.sheet, master=args.master, local=args.local,
                        overwrite=args.overwrite, options=_options(args), driver_memory=args.driver_memory,
                        samples_per_task=args.samples_per_task, log=lambda msg: print(msg, file=sys.stderr),
                        mixed=args.mixed)
    failed = res.failures
    print(f"{res.store}: {res.n_ok} samples stored ({res.array}, method {res.method}); this run: "
          f"{res.n_processed} processed, {res.n_skipped} already stored, {res.n_failed} failed "
          f"[{res.seconds:.1f} s]")
    for f in failed[:20]:
        print(f"  failed  {f.sample}: {f.reason}")
    if len(failed) > 20:
        print(f"  … and {len(failed) - 20} more (see {res.store}/samples.parquet)")
    if res.n_ok == 0:
        print("error: no sample could be stored", file=sys.stderr)
        return 1
    return 1 if (args.strict and len(failed)) else 0
