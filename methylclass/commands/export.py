"""``methylclass export STORE --out FILE``: beta values (or detection p-values, signals) of a store as a file.

Formats: csv (``.csv``, ``.tsv``, optionally ``.gz``; samples × probes or ``--orient probes``), wide parquet
(for selections: at most 50,000 columns), h5ad (needs the optional ``anndata`` package). ``--samples`` and
``--probes`` take comma-separated names or ``@FILE`` with one name per line; ``--top-variance N`` keeps the N
most variable probes (add ``--spark`` to compute them on Spark executors).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export`` sub-command."""
    p = subparsers.add_parser("export", help="write a store's betas as csv, parquet or h5ad",
                              description=__doc__.split("\n\n", 1)[1] if __doc__ else None)
    p.add_argument("store", help="a store written by `methylclass preprocess`")
    p.add_argument("--out", required=True, help="output file (.csv, .csv.gz, .tsv, .parquet, .h5ad)")
    p.add_argument("--format", choices=("csv", "parquet", "h5ad"), help="default: from the --out suffix")
    p.add_argument("--field", default="beta", choices=("beta", "detection_p", "meth", "unmeth"),
                   help="values to export (default beta)")
    p.add_argument("--orient", default="samples", choices=("samples", "probes"),
                   help="rows are samples (default) or probes")
    p.add_argument("--samples", help="comma-separated sample names or @FILE (default: every stored sample)")
    p.add_argument("--probes", help="comma-separated probe ids or @FILE (default: every probe)")
    p.add_argument("--top-variance", type=int, metavar="N", help="keep the N most variable probes")
    p.add_argument("--spark", action="store_true", help="compute --top-variance on Spark")
    p.add_argument("--master", help="Spark master for --spark (default: embedded local[*])")
    p.set_defaults(func=run)


def parse_names(value: str | None, what: str) -> list[str] | None:
    """``a,b,c`` or ``@file`` (one name per line, ``#`` comments) → names; None stays None."""
    if value is None:
        return None
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read the {what} list '{path}': {exc}") from None
        names = [ln.split("#", 1)[0].strip() for ln in lines]
    else:
        names = [v.strip() for v in value.split(",")]
    names = [n for n in names if n]
    if not names:
        raise ConfigError(f"the {what} list '{value}' is empty")
    return names


def run(args: argparse.Namespace) -> int:
    """Export and print what was written."""
    from ..workflows.export import export

    if args.spark and args.top_variance is None:
        raise ConfigError("--spark is used for --top-variance only")
    out = export(args.store, args.out, format=args.format, field=args.field,
                 samples=parse_names(args.samples, "sample"), probes=parse_names(args.probes, "probe"),
                 top_variance=args.top_variance, orient=args.orient,
                 backend="spark" if args.spark else "local", master=args.master)
    print(f"wrote {out}")
    return 0
