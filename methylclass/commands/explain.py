"""``methylclass explain``: SHAP of a trained model bundle on a beta table or store.

Writes OUT/importance.csv (feature, class, importance = mean |SHAP|), OUT/samples.csv (each sample's top CpGs
for its explained class), bar and beeswarm plots per class and OUT/index.html. ``--array 450k`` (or
``--manifest FILE``) adds chromosome, position and gene of every CpG.
"""

from __future__ import annotations

import argparse

from ._model_args import echo


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``explain`` sub-command."""
    p = subparsers.add_parser("explain", help="SHAP of a trained model on a beta table/store → importance + plots",
                              description=__doc__.split("\n\n", 1)[1])
    p.add_argument("--model", required=True, metavar="DIR", help="model bundle (methylclass train --out DIR)")
    p.add_argument("--betas", required=True, metavar="TABLE|STORE", help="beta table or preprocessing store")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (replaced when complete)")
    p.add_argument("--sample-column", metavar="COL", help="column with the sample ids (default: first column)")
    p.add_argument("--top", type=int, default=10, metavar="N", help="CpGs per sample in samples.csv (10)")
    p.add_argument("--array", metavar="NAME", help="annotate CpGs from this array's manifest (e.g. 450k)")
    p.add_argument("--manifest", metavar="FILE", help="annotate CpGs from this manifest file")
    p.add_argument("--max-evals", type=int, metavar="N",
                   help="model evaluations per sample for svm/svm_rbf/mlp (default 2·features + 1)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Explain and print where the results are."""
    from ..workflows.explain import explain_model

    res = explain_model(args.model, args.betas, args.out, n_top=args.top, array=args.array,
                        manifest=args.manifest, sample_column=args.sample_column, max_evals=args.max_evals,
                        echo=echo)
    top = (res.importance.groupby("feature")["importance"].sum().sort_values(ascending=False).head(5))
    print(f"explainer: {res.explanation.method} ({res.explanation.output}); top CpGs: {', '.join(top.index)}")
    print(f"report: {res.path / 'index.html'}")
    return 0
