"""``methylclass info PATH``: what is in an IDAT file, a basename, a folder or a sample sheet.

Prints the samples (Red/Grn pairs) found, their array type (guessed from the address count), barcode,
position and probe count, and every problem (missing partner, duplicate name, unreadable or mismatched file).
Folders are summarised from the IDAT headers only (a few hundred bytes per file); ``--check`` reads every
pair completely and also compares the two channels' address sets.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import IdatError
from ..io.discover import (
    Discovery,
    IdatSummary,
    Problem,
    SampleRef,
    find_samples,
    guess_array,
    peek_idat,
    read_idat_pair,
)
from ..io.idat import read_idat
from ..io.samplesheet import IDAT_NAME
from ..records import SampleFailure


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
    p.add_argument("--strict", action="store_true", help="exit with status 1 when any problem is found")
    p.set_defaults(func=run)


def _summary_of(sample: SampleRef, check: bool) -> tuple[dict[str, Any] | None, SampleFailure | None]:
    """Describe one pair from its headers (or full files with ``check``); a bad pair gives a Problem."""
    try:
        if check:
            grn, _red = read_idat_pair(sample)
            g = IdatSummary(sample.grn, grn.n_probes, grn.barcode, grn.position, grn.chip_type)
        else:
            g, r = peek_idat(sample.grn), peek_idat(sample.red)
            names = f"'{sample.grn}' and '{sample.red}'"
            if g.n_probes != r.n_probes:
                raise IdatError(f"{names} are not a pair: {g.n_probes:,} vs {r.n_probes:,} probes")
            for what, a, b in (("barcode", g.barcode, r.barcode), ("position", g.position, r.position)):
                if a and b and a != b:
                    raise IdatError(f"{names} are not a pair: {what} {a} vs {b}")
    except IdatError as exc:
        return None, Problem(sample.name, sample.grn, f"sample '{sample.name}': {exc}")
    meta = {k: v for k, v in sample.meta.items() if k not in ("sample",)}
    return {"name": sample.name, "array": g.array, "barcode": g.barcode, "position": g.position,
            "chip_type": g.chip_type, "n_addresses": g.n_probes, "grn": str(sample.grn),
            "red": str(sample.red), "meta": meta}, None


def describe(path: str | Path, *, sheet: str | Path | None = None, check: bool = False,
             recursive: bool = True) -> dict[str, Any]:
    """Everything ``methylclass info`` reports about ``path``, as a JSON-ready dict.

    Keys: ``source``, ``kind`` (``idat``/``basename``/``folder``/``sheet``), ``file`` (for one IDAT file),
    ``samples`` (name, array, barcode, position, chip_type, n_addresses, grn, red, meta), ``arrays``
    (samples per array type), ``problems`` (sample, path, message) and ``notes``.
    """
    path = Path(path)
    kind = ("folder" if path.is_dir() else "idat" if path.is_file() and IDAT_NAME.match(path.name)
            else "sheet" if path.is_file() else "basename")
    out: dict[str, Any] = {"source": str(path), "kind": kind, "samples": [], "arrays": {}, "problems": [],
                           "notes": []}
    if kind == "idat":
        idat = read_idat(path)
        out["file"] = {"path": str(path), "channel": "Grn" if IDAT_NAME.match(path.name)["channel"].lower()
                       == "grn" else "Red", "array": guess_array(idat.n_probes), "n_addresses": idat.n_probes,
                       "barcode": idat.barcode, "position": idat.position, "chip_type": idat.chip_type}
    found: Discovery = find_samples(path, sheet=sheet, recursive=recursive)
    problems = list(found.problems)
    for sample in found.samples:
        info, problem = _summary_of(sample, check)
        if problem is not None:
            problems.append(problem)
        else:
            out["samples"].append(info)
    out["problems"] = [{"sample": p.sample, "path": str(p.path) if p.path else None, "message": p.message}
                       for p in problems]
    counts = Counter(s["array"] or "unknown" for s in out["samples"])
    out["arrays"] = dict(sorted(counts.items()))
    if len(counts) > 1:
        out["notes"].append("samples come from several array types: "
                            + ", ".join(f"{k} ×{v}" for k, v in out["arrays"].items())
                            + " — analyses across them can use only the probes the arrays share")
    if "unknown" in counts:
        out["notes"].append("'unknown' arrays: the address count matches no known array; pass the manifest "
                            "explicitly")
    return out


def _short(path: str, root: str) -> str:
    try:
        rel = os.path.relpath(path, root)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def format_info(info: dict[str, Any]) -> str:
    """Render :func:`describe`'s dict as the human-readable report."""
    lines = [f"{info['source']} ({info['kind']})"]
    if "file" in info:
        f = info["file"]
        lines.append(f"  {f['channel']} channel: {f['array'] or 'unknown array'}, {f['n_addresses']:,} "
                     f"addresses, barcode {f['barcode'] or '-'}, position {f['position'] or '-'}, "
                     f"{f['chip_type'] or 'chip type not recorded'}")
    n, n_bad = len(info["samples"]), len(info["problems"])
    arrays = ", ".join(f"{k} ×{v}" for k, v in info["arrays"].items()) or "-"
    lines.append(f"  {n} sample{'s' * (n != 1)} (pairs), {n_bad} problem{'s' * (n_bad != 1)}; arrays: {arrays}")
    if info["samples"]:
        root = info["source"] if info["kind"] == "folder" else str(Path(info["source"]).parent)
        rows = [("sample", "array", "barcode", "position", "addresses", "green IDAT")]
        rows += [(s["name"], s["array"] or "unknown", s["barcode"] or "-", s["position"] or "-",
                  f"{s['n_addresses']:,}", _short(s["grn"], root)) for s in info["samples"]]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        lines.append("")
        for r in rows:
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
    if info["problems"]:
        lines += ["", "problems:"] + [f"  - {p['message']}" for p in info["problems"]]
    if info["notes"]:
        lines += ["", "notes:"] + [f"  - {note}" for note in info["notes"]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the report (or JSON) for ``args.path``; 1 with ``--strict`` when problems were found."""
    info = describe(args.path, sheet=args.sheet, check=args.check, recursive=args.recursive)
    print(json.dumps(info, indent=2, default=str) if args.json else format_info(info))
    return 1 if args.strict and info["problems"] else 0
