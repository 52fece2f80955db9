"""The training side of a model bundle's card: class counts, decision defaults, preprocessing, CNV panel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

__all__ = ["training_card"]

_CNV = "cnv_"


def training_card(data: Mapping[str, Any], X: pd.DataFrame, y: pd.Series,
                  decision: Mapping[str, Any]) -> tuple[dict, dict]:
    """``(card_extra, arrays)`` a training run adds to its bundle: class counts, decision defaults,
    preprocessing (array, manifest sha256, normalisation and its options, probe filters, CNV panel options)
    and, when the model uses CNV features from a store, the store's CNV bins and reference panel."""
    prep: dict[str, Any] = {"source": "table"}
    arrays: dict[str, Any] = {}
    uses_cnv = any(str(c).startswith(_CNV) for c in X.columns)
    store = data.get("store")
    if store:
        from ..io.store import Store

        info = Store.open(store).info
        prep = {"source": "store", "array": info.get("array"), "manifest_sha256": info.get("manifest_sha256"),
                "probe_hash": info.get("probe_hash"), "genome_build": info.get("genome_build"),
                "n_probes": info.get("n_probes"), "method": info.get("method"),
                "method_options": info.get("method_options") or {},
                "probe_filters": {"min_beads": (info.get("method_options") or {}).get("min_beads", 1),
                                  "mask_failed": bool((info.get("method_options") or {}).get("mask_failed"))}}
        if uses_cnv:
            from ..pp.cnv.features import read_cnv_panel

            panel = read_cnv_panel(store)
            if panel is not None:
                bins, ref, params = panel
                arrays = {"cnv_bins": bins, "cnv_reference": ref}
                prep["cnv"] = {**params, "n_references": ref.n_references, "build": bins.build,
                               "n_bins": bins.n_bins}
    counts = {str(k): int(v) for k, v in y.value_counts().sort_index().items()}
    dec = {"threshold": float(decision.get("threshold", 0.9)),
           "class_thresholds": decision.get("class_thresholds") or None,
           "coverage": float(decision.get("coverage", 0.9)),
           "ood_alpha": decision.get("ood_alpha", "auto"),
           "max_missing_fraction": float(decision.get("max_missing_fraction", 0.05))}
    extra = {
        "class_counts": counts, "decision": dec, "preprocessing": prep,
        "intended_use": "research use: methylation-based classification of tumour samples of the trained "
                        "classes measured on the trained array type, to support (never replace) a "
                        "pathologist's diagnosis",
        "limitations": [
            ("classes absent from training can only come out as no_match (out_of_distribution); rare classes "
             f"with few training samples (smallest here: {min(counts.values())}) are estimated less reliably"),
            ("calibrated scores and cross-validated metrics assume new cases resemble the training cohort "
             "(array, normalisation, tissue handling, tumour purity)"),
            ("checksums detect edits and corruption, not a sender who rewrote the whole bundle; only a signature "
             "under a shared key proves its origin"),
        ],
    }
    return extra, arrays


