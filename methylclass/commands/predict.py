"""``methylclass predict``: classify the samples of a beta table with a model bundle.

Writes one row per sample: ``sample``, ``prediction`` (a class, or ``no_match`` when the calibrated score of
the best class is below the threshold or the sample is out of distribution), ``score`` (calibrated probability
of the best class), one ``proba_<class>`` column per class, and — when the bundle has them —
``prediction_set`` (conformal set at level 1 − alpha), ``ood_pvalue`` and ``ood``.
"""

from __future__ import annotations

import argparse
import sys

from ._model_args import echo


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``predict`` sub-command."""
    p = subparsers.add_parser("predict", help="classify the samples of a beta table with a model bundle",
                              description=__doc__.split("\n\n", 1)[1])
    p.add_argument("--model", required=True, metavar="DIR", help="model bundle folder (from methylclass train)")
    p.add_argument("--betas", required=True, metavar="TABLE",
                   help="beta table (CSV/TSV/Parquet, either orientation, GEO series matrix, methylprep output)")
    p.add_argument("--out", required=True, metavar="PRED.csv", help="predictions CSV to write")
    p.add_argument("--sample-column", metavar="COL", help="column with the sample ids (default: first column)")
    p.add_argument("--orientation", choices=("auto", "samples_x_cpgs", "cpgs_x_samples"), default="auto")
    p.add_argument("--label-column", metavar="COL", help="copy this true-label column into the output as 'label'")
    p.add_argument("--labels", metavar="FILE", help="label file whose labels are copied into the output")
    p.add_argument("--threshold", type=float,
                   help="calibrated score needed for a call (default: the model's, usually 0.9)")
    p.add_argument("--alpha", type=float,
                   help="conformal sets cover the true class with probability ≥ 1 − alpha (default: "
                        "1 − the model's decision.coverage, i.e. 0.1)")
    p.add_argument("--ood-alpha", type=float, default=None,
                   help="out-of-distribution p-value below which a sample is flagged (default: conf/base.yaml "
                        "predict.ood_alpha, 0.01)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Predict, write the CSV, print a one-line summary per outcome."""
    from ..workflows import predict_table

    pred = predict_table(args.model, args.betas, args.out, threshold=args.threshold, alpha=args.alpha,
                         ood_alpha=args.ood_alpha, sample_column=args.sample_column,
                         orientation=args.orientation, label_column=args.label_column, labels=args.labels)
    counts = pred["prediction"].value_counts()
    echo(f"{len(pred)} samples → {args.out}")
    for label, n in counts.items():
        print(f"{label}\t{n}", file=sys.stdout)
    if "label" in pred.columns:
        called = pred["prediction"] != "no_match"
        acc = (pred.loc[called, "prediction"] == pred.loc[called, "label"]).mean() if called.any() else float("nan")
        echo(f"accuracy among {int(called.sum())} classified samples: {acc:.3f}")
    return 0
