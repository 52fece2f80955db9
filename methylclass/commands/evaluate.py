"""``methylclass evaluate``: nested cross-validation of one model on a labelled beta table.

Writes ``runs/<experiment>/<timestamp>/`` (resolved config, metrics CSV + JSON, per-class metrics,
out-of-fold probabilities, fold timings, confusion matrix and reliability diagram, HTML report).
"""

from __future__ import annotations

import argparse

from ._model_args import add_config_options, add_cv_options, add_data_options, echo, load_run_config


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` sub-command."""
    p = subparsers.add_parser("evaluate", help="nested cross-validation of one model → run folder + report",
                              description=__doc__.split("\n\n", 1)[1])
    add_data_options(p)
    p.add_argument("--model", required=True, metavar="NAME",
                   help="model name: conf/model/NAME.yaml or a registry entry")
    add_cv_options(p)
    add_config_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Resolve the config, run the nested CV, print the metrics."""
    from ..workflows import evaluate, scalar_table

    cfg = load_run_config(args, models=[args.model])
    if not args.experiment and not args.config:
        cfg["experiment"]["name"] = f"evaluate_{args.model}"
    res = evaluate(cfg, args.model, progress=args.progress, echo=echo)
    print(scalar_table(res.metrics))
    print(f"report: {res.path / 'report.html'}")
    return 0
