"""``methylclass panel``: rank CpGs (Boruta, SHAP, variance, PCA loadings) inside nested CV and find the smallest
panel within one point of the full balanced accuracy.

Writes OUT/panel_curve.csv (ranking, model, size, balanced_accuracy, brier), OUT/panel.csv (the recommended
panel: feature, stability, importance), OUT/fold_panels.csv (the CpGs chosen in every fold), a plot and
OUT/index.html. Rankings are refitted in every outer training fold on its most variable CpGs (--prefilter).
"""

from __future__ import annotations

import argparse

from ._model_args import add_labelled_input, echo


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v.strip())


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``panel`` sub-command."""
    from ..tl.panel import RANKINGS

    p = subparsers.add_parser("panel", help="CpG panels for a lighter assay: rankings evaluated in nested CV",
                              description=__doc__.split("\n\n", 1)[1])
    add_labelled_input(p)
    p.add_argument("--rankings", type=_names, metavar="LIST",
                   help=f"comma-separated rankings among {','.join(RANKINGS)} (default: conf panel.rankings)")
    p.add_argument("--models", type=_names, metavar="LIST", help="comma-separated registry models (panel.models)")
    p.add_argument("--sizes", type=_ints, metavar="LIST",
                   help="panel sizes, e.g. 5,10,25 (panel.sizes; all features are always added)")
    p.add_argument("--prefilter", type=int, metavar="N",
                   help="rank only the N most variable CpGs of each training fold (panel.prefilter)")
    p.add_argument("--outer", type=int, help="outer folds (panel.outer)")
    p.add_argument("--calibrate", choices=("none", "ridge", "sigmoid", "isotonic"),
                   help="calibrate each panel model (panel.calibrate; none = the Brier score of the raw model)")
    p.add_argument("--seed", type=int, help="random seed (panel.seed)")
    p.add_argument("--n-jobs", type=int, default=1, help="outer folds in parallel (1)")
    p.add_argument("--rare", choices=("refuse", "merge", "drop"), default="refuse",
                   help="classes smaller than the folds need")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress display")
    p.add_argument("--array", metavar="NAME", help="annotate CpGs from this array's manifest (e.g. 450k)")
    p.add_argument("--manifest", metavar="FILE", help="annotate CpGs from this manifest file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate the panels and print the recommendation."""
    from ..workflows.panel import panel, panel_options

    opts = panel_options(rankings=args.rankings, models=args.models, sizes=args.sizes, prefilter=args.prefilter,
                         outer=args.outer, seed=args.seed, n_jobs=args.n_jobs, rare=args.rare)
    if args.calibrate is not None:
        opts.calibrate = None if args.calibrate == "none" else args.calibrate
    res = panel(args.betas, args.out, label_column=args.label_column, labels=args.labels,
                sample_column=args.sample_column, options=opts, array=args.array, manifest=args.manifest,
                echo=echo, progress=args.progress)
    b = res.best
    print(f"smallest panel: {b['size']} CpGs ({b['ranking']}, {b['model']}): balanced accuracy "
          f"{b['balanced_accuracy']:.3f} (all features {b['full_balanced_accuracy']:.3f})")
    print(f"report: {res.path / 'index.html'}")
    return 0
