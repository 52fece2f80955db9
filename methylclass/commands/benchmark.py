"""``methylclass benchmark``: every configured model side by side under nested cross-validation.

Default: conf/base.yaml (the five model families rf, logreg, svm, xgb, mlp on the GSE85212 medulloblastoma
table, 5 × 3 nested CV). Writes ``runs/<experiment>/<timestamp>/`` with the resolved config, metrics (CSV +
JSON), out-of-fold probabilities, plots and a self-contained HTML report comparing the models.
"""

from __future__ import annotations

import argparse

from ._model_args import add_config_options, add_cv_options, add_data_options, echo, load_run_config


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``benchmark`` sub-command."""
    p = subparsers.add_parser("benchmark", help="all configured models side by side (nested CV) → HTML report",
                              description=__doc__.split("\n\n", 1)[1])
    add_config_options(p)
    p.add_argument("--models", metavar="A,B,…", help="comma-separated model names (default: the experiment's)")
    add_data_options(p)
    add_cv_options(p)
    p.add_argument("--strict", action="store_true",
                   help="exit with status 1 when the experiment's acceptance criteria (report.criteria) fail")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Resolve the config, run the benchmark, print the side-by-side metrics."""
    from ..workflows import benchmark, scalar_table

    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    cfg = load_run_config(args, models=models)
    res = benchmark(cfg, progress=args.progress, echo=echo)
    print(scalar_table(res.metrics))
    if res.criteria:
        print(f"criteria ({res.criteria['label']}): {res.criteria['verdict']}")
    print(f"report: {res.path / 'report.html'}")
    if args.strict and res.criteria and not res.criteria["passed"]:
        return 1
    return 0
