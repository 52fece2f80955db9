"""``methylclass cnv QUERY… --reference NORMALS --out DIR``: copy-number profiles from IDATs (conumee-style).

QUERY is a folder of IDATs, a sample sheet or IDAT basenames; NORMALS the same for a panel of copy-neutral
references (≥ 3, 16 or more recommended), or a panel saved as ``.npz``. Per query: a genome plot (PNG + SVG),
segments, arm calls, focal gene calls and bin values as TSV; for the cohort a feature table (optionally
added to a store with ``--store``), a summary and a gain/loss frequency plot.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``cnv`` sub-command."""
    p = subparsers.add_parser("cnv", help="copy-number profiles, arm/focal calls and plots from IDATs",
                              description=__doc__.split("\n\n", 1)[1] if __doc__ else None)
    p.add_argument("queries", nargs="+", metavar="QUERY", help="IDAT folder, sample sheet or IDAT basename(s)")
    p.add_argument("--reference", required=True, metavar="NORMALS",
                   help="folder / sheet of copy-neutral normal IDATs, or a saved reference panel (.npz)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--manifest", help="manifest file or array name (default: detected from the IDATs)")
    p.add_argument("--genome", default="hg19", choices=("hg19", "hg38"), help="genome build (default hg19)")
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
    p.add_argument("--store", help="add the CNV features to this store (cnv_features.parquet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run :func:`methylclass.pp.cnv.workflow.run_cnv` and print one line per sample."""
    from ..pp.cnv.calls import CallThresholds
    from ..pp.cnv.segment import CBSParams
    from ..pp.cnv.workflow import run_cnv

    if args.loss >= 0 or args.gain <= 0:
        raise ConfigError("--gain must be > 0 and --loss < 0")
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    res = run_cnv(args.queries, args.reference, args.out, manifest=args.manifest, genome=args.genome,
                  method=args.method, seg_params=CBSParams(p_method=args.p_method, alpha=args.alpha,
                                                           undo_sd=args.undo_sd),
                  cancer_genes=args.cancer_genes, thresholds=CallThresholds(gain=args.gain, loss=args.loss),
                  formats=formats, plot=not args.no_plot, store=args.store,
                  log=lambda m: print(m, file=sys.stderr))
    for r in res.results:
        arms = r.arms[r.arms["call"].isin(["gain", "loss"])]
        focal = r.focal[r.focal["call"].isin(["amplification", "deletion"])]
        desc = ", ".join([f"{'+' if c == 'gain' else '-'}{a}" for a, c in zip(arms["arm"], arms["call"])]
                         + [f"{g}:{'amp' if c == 'amplification' else 'del'}"
                            for g, c in zip(focal["gene"], focal["call"])]) or "balanced"
        print(f"{r.sample}\tnoise {r.noise:.3f}\tFGA {r.fga['fga']:.1%}\t{desc}")
    for sample, reason in res.failures:
        print(f"failed\t{sample}\t{reason}")
    print(f"outputs: {res.out}")
    return 1 if res.failures else 0
