"""``methylclass demo``: the end-to-end job on an embedded simulated cohort (see :mod:`methylclass.workflows.demo`)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` sub-command."""
    p = subparsers.add_parser(
        "demo", help="simulate a small cohort, ingest on Spark, call CNV, benchmark, train, predict, report",
        description="Run every stage on an embedded simulated cohort and write OUT/index.html.")
    p.add_argument("--out", default="demo_out", help="output folder (replaced if it holds an earlier demo)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the cohort and the folds (default 0)")
    p.add_argument("--master", default=None, help="Spark master (default: embedded local[*])")
    p.add_argument("--local", action="store_true", help="ingest without Spark (same kernels)")
    p.add_argument("--probes", type=int, default=20_000, help="probes of the synthetic array (default 20000)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo."""
    from ..workflows.demo import run_demo

    run_demo(args.out, seed=args.seed, master=args.master, local=args.local, n_probes=args.probes)
    return 0
