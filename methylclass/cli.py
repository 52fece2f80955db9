"""The ``methylclass`` command line: argument parsing only; every command calls a library function.

Each sub-command lives in its own module under :mod:`methylclass.commands` and exposes
``register(subparsers) -> None`` (adds its parser and sets ``func``). Errors derived from
:class:`~methylclass.errors.MethylclassError` are printed as one line (``error: …``) with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import __version__, commands
from .errors import MethylclassError


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every sub-command found in :mod:`methylclass.commands`."""
    parser = argparse.ArgumentParser(
        prog="methylclass",
        description="Classify tumours from Illumina DNA-methylation arrays (IDAT → betas → CNV → diagnosis).",
    )
    parser.add_argument("--version", action="version", version=f"methylclass {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        result = args.func(args)
    except MethylclassError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
