"""What is in an IDAT file, a basename, a folder or a sample sheet (``methylclass info``).

:func:`describe` lists the samples (Red/Grn pairs) found, their array type (guessed from the address count),
barcode, position and probe count, and every problem (missing partner, duplicate name, unreadable or
mismatched file). Folders are summarised from the IDAT headers only (a few hundred bytes per file); ``check``
reads every pair completely and also compares the two channels' address sets. :func:`format_info` renders it.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, IdatError
from ..io.channels import check_channels
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
from ..io.manifest.types import Manifest
from ..io.samplesheet import IDAT_NAME
from ..pp.kernel import MIN_ADDRESS_FRACTION
from ..records import SampleFailure

__all__ = ["describe", "format_info"]


def _load_manifest(manifest: str | Path, controls: str | Path | None) -> Manifest:
    """A manifest file (with an optional control table) or, when no such file exists, an array name."""
    from ..io.manifest import load_manifest

    path = Path(manifest)
    if path.exists() or controls is not None or any(c in str(manifest) for c in "/\\."):
        return load_manifest(path=path, controls=controls)
    return load_manifest(str(manifest))


def _manifest_summary(man: Manifest) -> dict[str, Any]:
    return {"source": str(man.source) if man.source else None, "array": man.array, "n_probes": man.n_probes,
            "n_controls": len(man.controls), "genome_build": man.genome_build}


def _probe_fraction(man: Manifest, ids: np.ndarray) -> float:
    """Share of the manifest's probes whose bead addresses (both, for Type I) are in the IDAT."""
    have = np.sort(np.asarray(ids, dtype=np.int64))
    if not man.n_probes:
        return 0.0
    ok = np.ones(man.n_probes, dtype=bool)
    for col in ("address_u", "address_m"):
        a = man.probes[col].to_numpy(np.int64)
        pos = np.clip(np.searchsorted(have, a), 0, max(have.size - 1, 0))
        ok &= (a < 0) | ((have.size > 0) & (have[pos] == a))
    return float(ok.mean())


def _summary_of(sample: SampleRef, check: bool, manifest: Manifest | None = None
                ) -> tuple[dict[str, Any] | None, SampleFailure | None]:
    """Describe one pair from its headers (or full files with ``check``); a bad pair gives a Problem."""
    fraction = None
    try:
        if check:
            grn, red = read_idat_pair(sample)
            g = IdatSummary(sample.grn, grn.n_probes, grn.barcode, grn.position, grn.chip_type)
            if manifest is not None:
                fraction = _probe_fraction(manifest, grn.illumina_ids)
                if fraction < MIN_ADDRESS_FRACTION:
                    raise IdatError(f"'{sample.grn}' holds the bead addresses of only {fraction:.1%} "
                                    f"of the manifest's {manifest.n_probes:,} probes ({manifest.array}): "
                                    "another array type or a damaged scan")
                check_channels(grn, red, manifest, sample.name)  # "Grn/Red swapped?" as preprocess says
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
            "red": str(sample.red), "meta": meta,
            **({"manifest_probe_fraction": round(fraction, 6)} if fraction is not None else {})}, None


def describe(path: str | Path, *, sheet: str | Path | None = None, check: bool = False,
             recursive: bool = True, manifest: str | Path | None = None,
             controls: str | Path | None = None) -> dict[str, Any]:
    """Everything ``methylclass info`` reports about ``path``, as a JSON-ready dict.

    Keys: ``source``, ``kind`` (``idat``/``basename``/``folder``/``sheet``), ``file`` (for one IDAT file),
    ``samples`` (name, array, barcode, position, chip_type, n_addresses, grn, red, meta), ``arrays``
    (samples per array type), ``problems`` (sample, path, message) and ``notes``. With ``manifest`` (a file,
    with an optional ``controls`` table, or an array name): ``manifest`` (source, array, n_probes,
    n_controls, genome_build), and with ``check`` each sample's ``manifest_probe_fraction``.
    """
    if controls is not None and manifest is None:
        raise ConfigError(f"--controls '{controls}' goes with a manifest file (--manifest)")
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
    man = _load_manifest(manifest, controls) if manifest is not None else None
    if man is not None:
        out["manifest"] = _manifest_summary(man)
        if not len(man.controls):
            out["notes"].append(f"the manifest '{man.source or man.array}' has no control probes: "
                                "`preprocess` with --method noob or illumina needs --controls TABLE")
    found: Discovery = find_samples(path, sheet=sheet, recursive=recursive)
    problems = list(found.problems)
    for sample in found.samples:
        info, problem = _summary_of(sample, check, man)
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
    if "manifest" in info:
        m = info["manifest"]
        lines.append(f"  manifest {m['source'] or m['array']}: {m['array']}, {m['n_probes']:,} probes, "
                     f"{m['n_controls']:,} control probes, {m['genome_build']}")
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
