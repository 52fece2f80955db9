"""``methylclass embed``: PCA, hierarchical clustering, t-SNE and UMAP of a labelled cohort and how well each
agrees with the labels.

Writes OUT/embedding_<method>.csv (sample, coordinates, label), OUT/agreement.csv (method, ari, nmi,
silhouette), plots coloured by class (and by every --color-by column, e.g. a batch column, a cnv_* feature or a
prediction column whose no_match samples are ringed), the clustered heatmap and OUT/index.html.
"""

from __future__ import annotations

import argparse

from ._model_args import add_labelled_input, echo


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``embed`` sub-command."""
    from ..tl.embed import METHODS

    p = subparsers.add_parser("embed", help="PCA / clustering / t-SNE / UMAP of a cohort + agreement with labels",
                              description=__doc__.split("\n\n", 1)[1])
    add_labelled_input(p)
    p.add_argument("--methods", metavar="LIST",
                   help=f"comma-separated views among {','.join(METHODS)} (default: conf embed.methods)")
    p.add_argument("--n-features", type=int, metavar="N", help="most variable CpGs used (embed.n_features)")
    p.add_argument("--color-by", action="append", default=[], metavar="COL",
                   help="also colour by this column of the table (repeatable)")
    p.add_argument("--predictions", metavar="CSV",
                   help="predictions.csv of `methylclass predict`: colour by the call, no_match samples ringed")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Embed and print the agreement table."""
    from ..workflows.embed import embed_cohort

    methods = None if args.methods is None else tuple(m.strip() for m in args.methods.split(",") if m.strip())
    res = embed_cohort(args.betas, args.out, label_column=args.label_column, labels=args.labels,
                       sample_column=args.sample_column, methods=methods, n_features=args.n_features,
                       color_by=args.color_by, predictions=args.predictions, seed=args.seed,
                       echo=echo)
    print(res.agreement.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"report: {res.path / 'index.html'}")
    return 0
