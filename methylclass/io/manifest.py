"""Load probe manifests from local files (never downloaded).

INITIAL VERSION: loads the sesame-style TSVs of the shared data folder. To be extended with Illumina CSV,
checksum-keyed cache, registry and auto-detection.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ManifestError
from ..paths import data_dir
from .manifest_types import PROBE_COLUMNS, Manifest


def _norm_channel(col: pd.Series, design: pd.Series) -> pd.Series:
    c = col.fillna("").astype(str).str.strip().str.upper()
    out = np.where(c.isin(["R", "RED"]), "Red", np.where(c.isin(["G", "GRN", "GREEN"]), "Grn", ""))
    return pd.Series(np.where(design.to_numpy() == "I", out, ""), index=col.index)


def load_sesame_tsv(path: str | Path, *, array: str, controls: str | Path | None = None,
                    genome_build: str = "hg19") -> Manifest:
    """Load a sesame-style probe table (``Probe_ID, M|address_M, U|address_U, col|DESIGN``)."""
    path = Path(path)
    try:
        df = pd.read_csv(path, sep="\t", low_memory=False)
    except (OSError, ValueError) as exc:
        raise ManifestError(f"'{path}' cannot be read as a manifest table: {exc}") from None
    cols = {c.lower(): c for c in df.columns}
    am = cols.get("address_m") or cols.get("m")
    au = cols.get("address_u") or cols.get("u")
    if "probe_id" not in cols or am is None or au is None:
        raise ManifestError(f"'{path}' lacks Probe_ID / M / U columns")
    addr_m = pd.to_numeric(df[am], errors="coerce").fillna(-1).astype(np.int64)
    addr_u = pd.to_numeric(df[au], errors="coerce").fillna(-1).astype(np.int64)
    design = pd.Series(np.where(addr_m >= 0, "I", "II"), index=df.index)
    chan_src = df[cols["col"]] if "col" in cols else df.get(cols.get("color_channel", ""), pd.Series("", index=df.index))
    channel = _norm_channel(chan_src, design)
    chrom = df[cols[f"chr_{genome_build}"]] if f"chr_{genome_build}" in cols else pd.Series("", index=df.index)
    pos_col = cols.get(f"pos_{genome_build}") or cols.get(f"start_{genome_build}")
    pos = pd.to_numeric(df[pos_col], errors="coerce") if pos_col else pd.Series(np.nan, index=df.index)
    probe_id = df[cols["probe_id"]].astype(str)
    probes = pd.DataFrame({
        "probe_id": probe_id,
        "cpg_id": probe_id.str.replace(r"_(TC|BC|TO|BO)\d+$", "", regex=True),
        "address_u": addr_u, "address_m": addr_m, "design": design, "channel": channel,
        "chrom": chrom.fillna("").astype(str), "pos": pos.fillna(-1).astype(np.int64),
    })[list(PROBE_COLUMNS)]
    ctrl = pd.DataFrame(columns=["address", "type", "channel", "name"])
    if controls is not None:
        c = pd.read_csv(controls, sep="\t" if str(controls).endswith(".tsv") else ",")
        c.columns = ["address", "type", "channel", "name"][: len(c.columns)]
        c["address"] = pd.to_numeric(c["address"], errors="coerce").fillna(-1).astype(np.int64)
        ctrl = c[["address", "type", "channel", "name"]].astype({"type": str, "channel": str, "name": str})
    return Manifest(array=array, probes=probes, controls=ctrl, genome_build=genome_build, source=path)


def load_manifest(array: str) -> Manifest:
    """Load the manifest of a known array type from the shared data folder (HM450, HM27, MSA)."""
    d = data_dir() / "manifests"
    if array == "HM450":
        return load_sesame_tsv(d / "hm450/hm450_manifest.tsv.gz", array="HM450",
                               controls=d / "hm450/hm450_controls.tsv")
    if array == "HM27":
        return load_sesame_tsv(d / "hm27/hm27_ordering.tsv.gz", array="HM27",
                               controls=d / "hm27/hm27_controls.tsv")
    if array == "MSA":
        return load_sesame_tsv(d / "msa/msa_ordering.tsv.gz", array="MSA",
                               controls=d / "msa/msa_controls.csv.gz", genome_build="hg38")
    raise ManifestError(f"no manifest for array '{array}'; pass one with --manifest PATH")
