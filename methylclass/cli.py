"""The ``methylclass`` command line: argument parsing only; every command calls a library function.

Each sub-command lives in its own module under :mod:`methylclass.commands` and exposes
``register(subparsers) -> None`` (adds its parser and sets ``func``). Errors derived from
:class:`~methylclass.errors.MethylclassError` are printed as one line (``error: …``) with exit status 2; so
is an operating-system error on a file the user named (``OSError`` with a file name: permission denied, disk
full, read-only file system). A reader that stops early (``methylclass info DIR --json | head -1``) ends the
command quietly with status 141 (128 + SIGPIPE, what a shell reports for a process killed by a broken pipe).
"""

from __future__ import annotations

import argparse
import importlib
import os
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


#: exit status after a broken pipe on stdout (128 + SIGPIPE, as a shell reports a process killed by it)
EXIT_BROKEN_PIPE = 141


def _silence_stdout() -> None:
    """Point stdout at /dev/null after a broken pipe, so the interpreter's final flush cannot fail again
    (the recipe of the Python documentation, "Note on SIGPIPE")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (captured in tests)
        pass


def os_error_message(exc: OSError) -> str:
    """One line for an operating-system error on a user's file: ``'<path>' <problem>``."""
    what = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is None:
        return what
    target = f" → '{exc.filename2}'" if getattr(exc, "filename2", None) else ""
    return f"'{exc.filename}'{target}: {what[:1].lower() + what[1:]}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    try:
        status = _run(argv)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (`| head`): also while argparse prints --help
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    return status


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        result = args.func(args)
    except BrokenPipeError:
        raise
    except MethylclassError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the file system refused a path the user gave: no traceback for that
        print(f"error: {os_error_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
