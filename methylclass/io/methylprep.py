"""Interoperability with methylprep (FoxoTech, v1.7): read its outputs, write a manifest it accepts offline.

**Reading.** ``methylprep process`` leaves in its folder ``beta_values``, ``m_values``, ``noob_meth_values``,
``noob_unmeth_values`` (and with ``--uncorrected`` ``meth_values``/``unmeth_values``) as ``.pkl`` (default) or
``.parquet``, split into ``<name>_<n>`` files when run with ``--batch_size``; with ``--export`` also one
``<Sentrix_ID>_<Sentrix_Position>_processed.csv`` per sample (columns ``IlmnID, noob_meth, noob_unmeth,
poobah_pval, quality_mask, beta_value, m_value, …``). :func:`read_methylprep` returns any of these as one
samples × probes DataFrame (index = sample, columns = probe id, float32). Pickles can run code when loaded:
read only methylprep folders you trust (parquet and CSV are safe).

**Writing.** methylprep downloads its manifests at run time and rejects Illumina's official CSV; given
``manifest_filepath=`` it reads a CSV in its own layout: a header line starting with ``IlmnID`` and holding
``AddressA_ID, AddressB_ID, Infinium_Design_Type, Color_Channel, Genome_Build, CHR, MAPINFO, Strand`` and the
``OLD_Genome_Build, OLD_CHR, OLD_MAPINFO, OLD_Strand`` columns, then exactly the array's probe count of rows
(450k: 485,577 — methylprep reads ``nrows=ArrayType.num_probes``), a ``[Controls]`` line, then the control
probes as ``Address, Control_Type, Color, Extended_Type``. :func:`write_methylprep_manifest` writes that from a
:class:`~methylclass.io.manifest.types.Manifest` (AddressA = the unmethylated/Type II address, AddressB = the
methylated Type I address, as in Illumina's manifests).
"""

from __future__ import annotations

import csv
import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, ManifestError
from .manifest.types import Manifest

#: what → methylprep file stem (matrix outputs) and per-sample CSV column
OUTPUTS = {
    "beta": ("beta_values", "beta_value"),
    "m": ("m_values", "m_value"),
    "noob_meth": ("noob_meth_values", "noob_meth"),
    "noob_unmeth": ("noob_unmeth_values", "noob_unmeth"),
    "meth": ("meth_values", "meth"),
    "unmeth": ("unmeth_values", "unmeth"),
    "poobah": ("poobah_values", "poobah_pval"),
}
#: probe rows methylprep 1.7.1 expects in a manifest (``ArrayType.num_probes``), by methylclass array name
METHYLPREP_PROBE_COUNTS = {"HM27": 27578, "HM450": 485577, "EPIC": 865918, "EPIC+": 868698}
#: control rows it reads after the ``[Controls]`` line (``ArrayType.num_controls``)
METHYLPREP_CONTROL_COUNTS = {"HM450": 850, "EPIC": 635, "EPIC+": 635}
MANIFEST_HEADER = ("IlmnID", "Name", "AddressA_ID", "AddressB_ID", "Infinium_Design_Type", "Color_Channel",
                   "Genome_Build", "CHR", "MAPINFO", "Strand", "OLD_Genome_Build", "OLD_CHR", "OLD_MAPINFO",
                   "OLD_Strand")
_SUFFIXES = (".parquet", ".pkl", ".pickle", ".csv", ".csv.gz")
_PROBE_RE = re.compile(r"^(cg|ch|rs|nv|mu|rp|uk)", re.IGNORECASE)


def _read_matrix(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            df = pd.read_parquet(path)
        elif name.endswith((".pkl", ".pickle")):
            df = pd.read_pickle(path)
        elif name.endswith((".csv", ".csv.gz")):
            df = pd.read_csv(path, index_col=0)
        else:
            raise DataError(f"'{path}': not a methylprep output (expected .parquet, .pkl or .csv)")
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - pandas/pyarrow/pickle raise many types for a bad file
        raise DataError(f"'{path}' cannot be read as a methylprep table: {exc}") from None
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"'{path}' does not hold a table (found {type(df).__name__})")
    return _orient(df, path)


def _looks_like_probes(labels: pd.Index) -> float:
    sample = labels[:200].astype(str)
    return float(np.mean([bool(_PROBE_RE.match(s)) for s in sample])) if len(sample) else 0.0


def _orient(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Return probes × samples (methylprep writes probes in rows, but transposes wide frames)."""
    if _looks_like_probes(df.columns) > 0.5 and _looks_like_probes(df.index) < 0.5:
        df = df.T
    df.index = df.index.astype(str)
    df.index.name = "probe_id"
    df.columns = df.columns.astype(str)
    try:
        return df.astype(np.float32)
    except (TypeError, ValueError) as exc:
        raise DataError(f"'{path}' holds non-numeric values: {exc}") from None


def _batch_files(folder: Path, stem: str) -> list[Path]:
    for suffix in _SUFFIXES:
        single = folder / f"{stem}{suffix}"
        if single.is_file():
            return [single]
        batches = sorted(folder.glob(f"{stem}_*{suffix}"),
                         key=lambda p: int(m.group(1)) if (m := re.search(r"_(\d+)" + re.escape(suffix) + "$",
                                                                          p.name)) else 0)
        batches = [p for p in batches if re.fullmatch(re.escape(stem) + r"_\d+" + re.escape(suffix), p.name)]
        if batches:
            return batches
    return []


def read_methylprep(path: str | Path, what: str = "beta") -> pd.DataFrame:
    """Read one methylprep output as a samples × probes float32 DataFrame (index ``sample``, columns
    ``probe_id``), whatever the file's orientation.

    ``path`` is a file (``beta_values.pkl``, ``m_values.parquet``, a ``*_processed.csv``…) or a methylprep
    output folder, in which case ``what`` (``beta``, ``m``, ``noob_meth``, ``noob_unmeth``, ``meth``,
    ``unmeth``, ``poobah``) picks the matrix file — batches ``<stem>_1 … <stem>_N`` are joined — or, failing
    that, the column of the per-sample ``*_processed.csv`` exports found below the folder.

    Parameters
    ----------
    path : str or Path
        A methylprep output file or folder.
    what : str
        For a folder, which matrix to read (``beta``, ``m``, ``noob_meth``, ``noob_unmeth``, ``meth``,
        ``unmeth``, ``poobah``).

    Returns
    -------
    DataFrame
        Samples × probes, float32, index ``sample``, columns ``probe_id``.
    """
    out = _read_probes_x_samples(Path(path), what).T
    out.index.name = "sample"
    return out


def _read_probes_x_samples(path: Path, what: str) -> pd.DataFrame:
    if what not in OUTPUTS:
        raise DataError(f"unknown methylprep output '{what}'; choose one of {', '.join(OUTPUTS)}")
    stem, column = OUTPUTS[what]
    if path.is_file():
        if path.name.endswith(("_processed.csv", "_processed.parquet")):
            return _read_processed([path], column)
        return _read_matrix(path)
    if not path.is_dir():
        raise DataError(f"'{path}' does not exist")
    files = _batch_files(path, stem)
    if files:
        parts = [_read_matrix(f) for f in files]
        return parts[0] if len(parts) == 1 else pd.concat(parts, axis=1, join="outer")
    processed = sorted(path.rglob("*_processed.csv")) or sorted(path.rglob("*_processed.parquet"))
    if processed:
        return _read_processed(processed, column)
    raise DataError(f"'{path}' holds no methylprep '{stem}' table (.parquet/.pkl/.csv) and no *_processed.csv "
                    "exports; run methylprep with --betas/--m_value or --export")


def _read_processed(files: list[Path], column: str) -> pd.DataFrame:
    cols = {}
    for f in files:
        try:
            df = pd.read_parquet(f) if f.name.endswith(".parquet") else pd.read_csv(f, index_col=0)
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"'{f}' cannot be read as a methylprep export: {exc}") from None
        if column not in df.columns:
            raise DataError(f"'{f}' has no '{column}' column (columns: {', '.join(map(str, df.columns))})")
        cols[re.sub(r"_processed\.(csv|parquet)$", "", f.name)] = df[column]
    out = pd.DataFrame(cols)
    out.index = out.index.astype(str)
    out.index.name = "probe_id"
    return out.astype(np.float32)


def _manifest_frame(manifest: Manifest) -> pd.DataFrame:
    p = manifest.probes
    n = len(p)
    build = {"hg19": "37", "hg38": "38", "hg18": "36"}.get(manifest.genome_build, "")
    chrom = p["chrom"].astype(str).str.replace("^chr", "", regex=True)
    pos = p["pos"].to_numpy(np.int64)
    has_pos = pos >= 0
    addr_m = p["address_m"].to_numpy(np.int64)
    empty = np.full(n, "", dtype=object)
    return pd.DataFrame({
        "IlmnID": p["probe_id"].astype(str).to_numpy(),
        "Name": p["cpg_id"].astype(str).to_numpy(),
        "AddressA_ID": p["address_u"].to_numpy(np.int64).astype(str),
        "AddressB_ID": np.where(addr_m >= 0, addr_m.astype(str), ""),
        "Infinium_Design_Type": p["design"].astype(str).to_numpy(),
        "Color_Channel": p["channel"].astype(str).to_numpy(),
        "Genome_Build": np.where(has_pos, build, ""),
        "CHR": np.where(has_pos, chrom.to_numpy(), ""),
        "MAPINFO": np.where(has_pos, pos.astype(str), ""),
        "Strand": empty, "OLD_Genome_Build": empty, "OLD_CHR": empty, "OLD_MAPINFO": empty, "OLD_Strand": empty,
    }, columns=list(MANIFEST_HEADER))


def write_methylprep_manifest(manifest: Manifest, path: str | Path, *, check_counts: bool = True) -> Path:
    """Write ``manifest`` as a CSV in methylprep's own layout (see the module docstring); ``.gz`` compresses.

    Written to a temporary name and renamed.

    Parameters
    ----------
    manifest : Manifest
        The manifest to write.
    path : str or Path
        Destination file (``.gz`` → gzip-compressed).
    check_counts : bool
        Require a manifest of a known array to have exactly the probe and control counts methylprep 1.7.1
        reads (450k: 485,577 probes, 850 controls); methylprep would silently misread any other.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ManifestError
        Probe or control counts methylprep would misread (with ``check_counts``), or the file cannot be written.
    """
    path = Path(path)
    expected = METHYLPREP_PROBE_COUNTS.get(manifest.array)
    if check_counts and expected is not None and manifest.n_probes != expected:
        raise ManifestError(f"manifest '{manifest.source or manifest.array}' has {manifest.n_probes:,} probes; "
                            f"methylprep reads exactly {expected:,} for {manifest.array}")
    n_ctrl = METHYLPREP_CONTROL_COUNTS.get(manifest.array)
    if check_counts and n_ctrl is not None and len(manifest.controls) != n_ctrl:
        raise ManifestError(f"manifest '{manifest.source or manifest.array}' has {len(manifest.controls)} control "
                            f"probes; methylprep reads exactly {n_ctrl} for {manifest.array}")
    frame = _manifest_frame(manifest)
    pad = [""] * (len(MANIFEST_HEADER) - 4)
    tmp = path.with_name(f".{path.name}.tmp")
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(tmp, "wt", newline="") as fh:
            frame.to_csv(fh, index=False)
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["[Controls]"] + [""] * (len(MANIFEST_HEADER) - 1))
            c = manifest.controls
            for addr, ctype, color, name in zip(c["address"].to_numpy(np.int64), c["type"].astype(str),
                                                c["channel"].astype(str), c["name"].astype(str)):
                writer.writerow([str(addr), ctype, color, name] + pad)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ManifestError(f"cannot write methylprep manifest '{path}': {exc}") from None
    return path
