"""``methylclass info PATH``: what is in an IDAT file, a basename, a folder or a sample sheet.

Prints the samples (Red/Grn pairs) found, their array type (guessed from the address count), barcode,
position and probe count, and every problem (missing partner, duplicate name, unreadable or mismatched file).
Folders are summarised from the IDAT headers only (a few hundred bytes per file); ``--check`` reads every
pair completely and also compares the two channels' address sets.
"""

from __future__ import annotations

import argparse
import json

from ..workflows.info import describe, format_info


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``info`` sub-command."""
    p = subparsers.add_parser(
        "info", help="show the samples, array types and problems in an IDAT file, basename, folder or sheet",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None)
    p.add_argument("path", help="an IDAT file (.idat/.idat.gz), a basename (…/200012345678_R01C01), a folder "
                                "or a sample sheet")
    p.add_argument("--sheet", help="sample sheet whose rows are matched to the IDATs of the folder PATH")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of a table")
    p.add_argument("--check", action="store_true",
                   help="read every IDAT completely and compare each pair's address sets (slower)")
    p.add_argument("--no-recursive", dest="recursive", action="store_false",
                   help="look only in the folder itself, not in its sub-folders")
    p.add_argument("--manifest", help="manifest file (Illumina CSV or sesame TSV) or array name to check the "
                                      "samples against (as `preprocess --manifest`): its probes and control "
                                      "probes are reported; with --check each sample's share of its probes "
                                      "and swapped Grn/Red files")
    p.add_argument("--controls", help="control-probe table for a --manifest that has none")
    p.add_argument("--strict", action="store_true", help="exit with status 1 when any problem is found")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the report (or JSON) for ``args.path``; 1 with ``--strict`` when problems were found."""
    info = describe(args.path, sheet=args.sheet, check=args.check, recursive=args.recursive,
                    manifest=args.manifest, controls=args.controls)
    print(json.dumps(info, indent=2, default=str) if args.json else format_info(info))
    return 1 if args.strict and info["problems"] else 0
