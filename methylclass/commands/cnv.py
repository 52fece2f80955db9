"""``methylclass cnv``: copy-number profiles, arm/focal calls and CNV features (conumee-style).

From IDATs: ``methylclass cnv QUERY… --reference NORMALS --out DIR``. QUERY is a folder of IDATs, a sample
sheet or IDAT basenames; NORMALS the same for a panel of copy-neutral references (≥ 3, 16 or more
recommended), or a panel saved as ``.npz``. Per query: a genome plot (PNG + SVG), segments, arm calls, focal
gene calls and bin values as TSV; for the cohort a feature table (also added to a store with ``--store``), a
summary and a gain/loss frequency plot.

From a store: ``methylclass cnv --from-store STORE --normals S1,S2,…`` (or ``--normals @FILE``,
``--normals-group [COLUMN=]VALUE`` for every stored sample whose sample-table column — ``Sample_Group`` by
default — equals VALUE, or ``--reference PANEL.npz``). The stored samples' meth + unmeth intensities are
analysed against those normals: by default every stored sample that is not a normal (``--samples`` to choose).
This runs on Spark, one sample per task (embedded ``local[*]``; ``--master`` for a cluster, whose executors
must see STORE and ``--out`` at the same paths; ``--local`` for no Spark). The features go to
``STORE/cnv_features.parquet``; per-sample tables and plots, ``cnv_features.tsv`` and ``cnv_summary.tsv`` to
``--out`` when given.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``cnv`` sub-command."""
    p = subparsers.add_parser("cnv", help="copy-number profiles, arm/focal calls and features from IDATs or a store",
                              description=__doc__.split("\n\n", 1)[1].replace("``", "") if __doc__ else None,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("queries", nargs="*", metavar="QUERY",
                   help="IDAT folder, sample sheet or IDAT basename(s) (not with --from-store)")
    p.add_argument("--reference", metavar="NORMALS",
                   help="IDATs: folder / sheet of copy-neutral normal IDATs, or a saved panel (.npz); "
                        "--from-store: a saved panel (.npz) instead of --normals")
    p.add_argument("--out", help="output folder (required for IDATs; optional with --from-store)")
    p.add_argument("--manifest", help="manifest file or array name for IDATs (default: detected from the IDATs)")
    p.add_argument("--genome", choices=("hg19", "hg38"),
                   help="genome build (default: hg19 for IDATs, the store's build with --from-store)")
    p.add_argument("--method", default="cbs", choices=("cbs", "binseg"),
                   help="segmentation: weighted CBS (default, DNAcopy-compatible) or binary "
                        "segmentation (binseg, fastest)")
    p.add_argument("--p-method", default="tail", choices=("tail", "hybrid", "perm"),
                   help="CBS p-values: tail approximation (default, fast), DNAcopy hybrid or permutation")
    p.add_argument("--alpha", type=float, default=0.001, help="CBS significance level (default 0.001)")
    p.add_argument("--undo-sd", type=float, default=2.2, help="undo splits within this many SD (2.2)")
    p.add_argument("--gain", type=float, default=0.1, help="arm/segment gain threshold (log2 ratio, 0.1)")
    p.add_argument("--loss", type=float, default=-0.1, help="arm/segment loss threshold (log2 ratio, -0.1)")
    p.add_argument("--cancer-genes", action="store_true", help="also call the ~730 cancer genes")
    p.add_argument("--formats", default="png,svg", help="plot formats (default png,svg)")
    p.add_argument("--no-plot", action="store_true", help="write tables only")
    p.add_argument("--store", help="IDATs: also add the CNV features to this store (cnv_features.parquet)")
    g = p.add_argument_group("CNV of the samples of a store")
    g.add_argument("--from-store", metavar="STORE", help="analyse the samples of this store (from `preprocess`)")
    g.add_argument("--normals", metavar="NAMES",
                   help="stored copy-neutral normals: comma-separated sample names or @FILE (one per line)")
    g.add_argument("--normals-group", metavar="[COLUMN=]VALUE",
                   help="the normals are the stored samples whose sample-table COLUMN equals VALUE "
                        "(COLUMN default: the first of Sample_Group, sample_group, group)")
    g.add_argument("--samples", metavar="NAMES",
                   help="samples to analyse: comma-separated names or @FILE (default: every stored sample "
                        "that is not a normal)")
    g.add_argument("--local", action="store_true", help="run in this process instead of on Spark")
    g.add_argument("--master", help="Spark master: local[*] (default, embedded), local[N], spark://HOST:PORT, yarn")
    g.add_argument("--driver-memory", default="2g", help="Spark driver memory (default 2g)")
    p.set_defaults(func=run)


def _common(args: argparse.Namespace) -> dict:
    from ..pp.cnv import CallThresholds, CBSParams, CNVOptions

    if args.loss >= 0 or args.gain <= 0:
        raise ConfigError("--gain must be > 0 and --loss < 0")
    options = CNVOptions(method=args.method, cancer_genes=args.cancer_genes,
                         seg_params=CBSParams(p_method=args.p_method, alpha=args.alpha, undo_sd=args.undo_sd),
                         thresholds=CallThresholds(gain=args.gain, loss=args.loss))
    return {"options": options, "formats": [f.strip() for f in args.formats.split(",") if f.strip()],
            "plot": not args.no_plot}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr)


def _print_failures(failures) -> None:
    for f in failures:
        print(f"failed\t{f.sample}\t{f.reason}")


def _print_rows(res) -> None:
    for s, noise, fga in zip(res.summary["sample"], res.summary["noise"], res.summary["fga"]):
        print(f"{s}\tnoise {noise:.3f}\tFGA {fga:.1%}\t{res.calls[s]}")


def run(args: argparse.Namespace) -> int:
    """Run the IDAT or the store analysis and print one line per sample; exit 1 when a sample failed."""
    if args.from_store:
        return _run_store(args)
    store_only = [f"--{n.replace('_', '-')}" for n in ("normals", "normals_group", "samples", "local", "master")
                  if getattr(args, n)]
    if store_only:
        raise ConfigError(f"{', '.join(store_only)} apply to --from-store STORE")
    if not args.queries:
        raise ConfigError("give QUERY IDATs (a folder, sample sheet or basenames) or --from-store STORE")
    if not args.reference or not args.out:
        raise ConfigError("CNV from IDATs needs --reference NORMALS and --out DIR")
    from ..workflows.cnv import run_cnv

    res = run_cnv(args.queries, args.reference, args.out, manifest=args.manifest, genome=args.genome or "hg19",
                  store=args.store, log=_log, **_common(args))
    _print_rows(res)
    _print_failures(res.failures)
    print(f"outputs: {res.out}")
    return 1 if res.failures else 0


def _normals(args: argparse.Namespace):
    from .export import parse_names

    given = [n for n in ("normals", "normals_group", "reference") if getattr(args, n)]
    if len(given) != 1:
        raise ConfigError("with --from-store give the normals once: --normals NAMES, --normals-group "
                          "[COLUMN=]VALUE or --reference PANEL.npz")
    if args.reference:
        if not args.reference.endswith(".npz"):
            raise ConfigError(f"with --from-store, --reference must be a saved panel (.npz), not "
                              f"'{args.reference}'; name stored normals with --normals or --normals-group")
        return args.reference
    if args.normals:
        return parse_names(args.normals, "normals")
    from ..pp.cnv.store import store_group_samples

    names = store_group_samples(args.from_store, args.normals_group)
    _log(f"normals: {len(names)} stored samples with {args.normals_group}")
    return names


def _run_store(args: argparse.Namespace) -> int:
    from .export import parse_names

    if args.queries:
        raise ConfigError("QUERY IDATs and --from-store exclude each other")
    if args.store or args.manifest:
        raise ConfigError("--store and --manifest apply to IDAT queries; --from-store uses the store's own "
                          "probes and writes the features into it")
    if args.local and args.master:
        raise ConfigError("--local and --master exclude each other")
    normals = _normals(args)
    samples = parse_names(args.samples, "samples")
    from ..workflows.cnv import run_cnv_store

    res = run_cnv_store(args.from_store, normals, samples, backend="local" if args.local else "spark",
                        master=args.master, genome=args.genome, out=args.out, driver_memory=args.driver_memory,
                        log=_log, **_common(args))
    _print_rows(res)
    failures = res.failures
    _print_failures(failures)
    print(f"features: {args.from_store}/cnv_features.parquet" + (f"; outputs: {args.out}" if args.out else ""))
    return 1 if failures else 0
