"""The per-sample kernel of cohort ingestion: read a Red/Grn pair, map it onto the manifest, normalise it.

:func:`run_kernel` never raises for bad input: it returns the sample-table record with ``status="failed"`` and
the reason. :func:`process_sample` also writes the sample's arrays into the store. Spark tasks
(:mod:`methylclass.spark.jobs`), the local path and :func:`~methylclass.workflows.ingest.preprocess_local` all call
these, so the
Spark and local results are identical by construction (and tested to be).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IdatError, MethylclassError
from ..io.discover import check_pair
from ..io.idat import read_idat
from ..io.manifest.types import Manifest
from ..io.raw import MIN_ADDRESS_COVERAGE, address_coverage
from ..io.raw_types import raw_signals_from_idats
from ..io.store import CORE_SAMPLE_COLUMNS, write_sample_file
from .normalize import NormalizedSample, normalize

#: the one sample-acceptance rule (:data:`methylclass.io.raw.MIN_ADDRESS_COVERAGE`), under its older name
MIN_ADDRESS_FRACTION = MIN_ADDRESS_COVERAGE
_RESERVED = set(CORE_SAMPLE_COLUMNS) | {"status", "reason", "grn", "red", "method", "chip_type", "n_probes",
                                        "address_fraction", "beta_missing"}


def _flatten_qc(qc: dict, prefix: str = "qc") -> dict:
    """Nested QC dict → flat ``qc_a_b`` scalar columns (lists joined with "; ")."""
    out: dict[str, Any] = {}
    for key, value in (qc or {}).items():
        if prefix == "qc" and key == "sample":
            continue
        name = f"{prefix}_{key}"
        if isinstance(value, dict):
            out.update(_flatten_qc(value, name))
        elif isinstance(value, (list, tuple)):
            out[name] = "; ".join(map(str, value))
        elif isinstance(value, np.generic):
            out[name] = value.item()
        elif value is None or isinstance(value, (str, int, float, bool)):
            out[name] = value
        else:
            out[name] = str(value)
    return out


def _meta_columns(ref: dict) -> dict:
    """Sample-sheet metadata as sample-table columns (``sheet_`` prefix where a name is taken)."""
    return {(f"sheet_{k}" if str(k) in _RESERVED else str(k)): v for k, v in (ref.get("meta") or {}).items()}


def _base_record(ref: dict, manifest: Manifest, method: str) -> dict:
    return {"sample": ref["sample"], "status": "failed", "reason": "", "array": manifest.array,
            "barcode": None, "position": None, "file": None, "grn": ref.get("grn"), "red": ref.get("red"),
            "method": method, **_meta_columns(ref)}


def run_kernel(ref: dict, manifest: Manifest, method: str, *, options: dict | None = None,
               min_address_fraction: float = MIN_ADDRESS_FRACTION) -> tuple[dict, NormalizedSample | None]:
    """Read, map and normalise one sample; return its sample-table record and the normalised sample (None
    when it failed, with the reason in ``record["reason"]``). Never raises for bad input."""
    rec = _base_record(ref, manifest, method)
    if ref.get("problem"):
        rec["reason"] = str(ref["problem"])
        return rec, None
    try:
        if not ref.get("grn") or not ref.get("red"):
            missing = "Grn" if not ref.get("grn") else "Red"
            raise IdatError(f"sample '{ref['sample']}': the {missing} IDAT of the pair is missing "
                            f"(have {ref.get('grn') or ref.get('red')})")
        grn = read_idat(ref["grn"])
        red = check_pair(grn, read_idat(ref["red"]))
        rec.update(barcode=grn.barcode or None, position=grn.position or None, chip_type=grn.chip_type)
        raw = raw_signals_from_idats(grn, red, manifest, ref["sample"])
        present = address_coverage(raw) if manifest.n_probes else 0.0
        rec["address_fraction"] = round(present, 6)
        if present < min_address_fraction:
            raise IdatError(
                f"sample '{ref['sample']}': only {present:.1%} of the {manifest.array} manifest's probe bead "
                f"addresses are in '{ref['grn']}' ({grn.n_probes:,} addresses, chip '{grn.chip_type}'); it is "
                "another array type or a damaged scan")
        ns = normalize(raw, method=method, **(options or {}))
        for name in ("beta", "detection_p", "meth", "unmeth"):
            if np.shape(getattr(ns, name)) != (manifest.n_probes,):
                raise MethylclassError(f"sample '{ref['sample']}': normalize(method={method!r}) returned "
                                       f"{name} of shape {np.shape(getattr(ns, name))}")
        rec.update(_flatten_qc(ns.qc))
        rec.update(status="ok", n_probes=manifest.n_probes,
                   beta_missing=int(np.count_nonzero(np.isnan(ns.beta))))
        return rec, ns
    except MethylclassError as exc:
        rec["reason"] = str(exc)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - a kernel bug on one odd sample must not sink the cohort
        rec["reason"] = f"unexpected error while processing: {type(exc).__name__}: {exc}"
    return rec, None


def process_sample(ref: dict, manifest: Manifest, method: str, store: str | Path, *,
                   options: dict | None = None, min_address_fraction: float = MIN_ADDRESS_FRACTION) -> dict:
    """:func:`run_kernel` and, when it succeeds, write the sample file into the store; return the record."""
    rec, ns = run_kernel(ref, manifest, method, options=options, min_address_fraction=min_address_fraction)
    if ns is None:
        return rec
    arrays = {"beta": ns.beta, "detection_p": ns.detection_p, "meth": ns.meth, "unmeth": ns.unmeth}
    try:
        rec["file"] = write_sample_file(store, rec["sample"], arrays, rec)
    except Exception as exc:  # noqa: BLE001 - disk full, permissions: recorded, retried next run
        rec.update(status="failed", file=None, reason=f"cannot write the sample file: {exc}")
    return rec
