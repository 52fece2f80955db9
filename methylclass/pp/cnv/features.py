"""CNV features per sample for the model zoo: arm values, focal gene values, fraction altered, bin summaries.

One row per sample, columns prefixed ``cnv_`` so they never collide with CpG ids:

* ``cnv_arm_<arm>`` — arm value (median shifted segment value; NaN for uncalled arms such as 13p);
* ``cnv_focal_<gene>`` — median shifted probe log2 ratio inside the gene;
* ``cnv_fga``, ``cnv_fga_gain``, ``cnv_fga_loss`` — fraction of the binned genome altered; ``cnv_noise``;
* optional ``cnv_bin_<bin name>`` — the shifted segment value of every bin (``bin_summary="segment"``) or
  the bin median (``"bin"``).

The table is stored next to the betas of a store as ``STORE/cnv_features.parquet`` (written atomically) and
read back with :func:`read_cnv_features`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ...errors import ConfigError, DataError
from .bins import Bins
from .sample import CNVResult

FEATURES_FILE = "cnv_features.parquet"
PREFIX = "cnv_"


def _safe(name: str) -> str:
    return str(name).replace("/", "_").replace(" ", "_")


def cnv_features(result: CNVResult, *, bins: Bins | None = None, bin_summary: str | None = None) -> pd.Series:
    """The feature vector of one :class:`CNVResult` (see the module docstring for the columns)."""
    vals: dict[str, float] = {}
    for arm, v in zip(result.arms["arm"], result.arms["value"]):
        vals[f"{PREFIX}arm_{arm}"] = float(v)
    for gene, v in zip(result.focal["gene"], result.focal["value"]):
        vals[f"{PREFIX}focal_{_safe(gene)}"] = float(v)
    for k in ("fga", "fga_gain", "fga_loss"):
        vals[f"{PREFIX}{k}"] = float(result.fga[k])
    vals[f"{PREFIX}noise"] = float(result.noise)
    if bin_summary is not None:
        if bins is None or bins.key != result.bins_key:
            raise ConfigError("bin summaries need the Bins the result was computed with")
        if bin_summary == "segment":
            v = result.seg_per_bin()
        elif bin_summary == "bin":
            v = result.bin_shifted
        else:
            raise ConfigError(f"unknown bin_summary '{bin_summary}'; choose 'segment' or 'bin'")
        vals.update({f"{PREFIX}bin_{n}": float(x) for n, x in zip(bins.names, v)})
    return pd.Series(vals, name=result.sample, dtype=np.float64)


def cnv_feature_table(results: Iterable[CNVResult], *, bins: Bins | None = None,
                      bin_summary: str | None = None) -> pd.DataFrame:
    """Samples × CNV features (index ``sample``, float32)."""
    rows = [cnv_features(r, bins=bins, bin_summary=bin_summary) for r in results]
    if not rows:
        return pd.DataFrame(index=pd.Index([], name="sample"))
    df = pd.DataFrame(rows).astype(np.float32)
    df.index.name = "sample"
    return df


def write_cnv_features(table: pd.DataFrame, store: str | Path) -> Path:
    """Write the feature table to ``STORE/cnv_features.parquet`` atomically (temporary name + rename)."""
    from ...io.store import atomic_write_table

    store = Path(store)
    if not store.is_dir():
        raise DataError(f"store folder '{store}' does not exist")
    df = table.reset_index()
    return atomic_write_table(store / FEATURES_FILE, pa.Table.from_pandas(df, preserve_index=False))


def read_cnv_features(store: str | Path, samples: Iterable[str] | None = None) -> pd.DataFrame:
    """Read the CNV feature block of a store (optionally a sample subset, in that order)."""
    path = Path(store) / FEATURES_FILE
    if not path.is_file():
        raise DataError(f"store '{store}' has no CNV features ({FEATURES_FILE}); run `methylclass cnv` with "
                        "--store to add them")
    df = pd.read_parquet(path).set_index("sample")
    if samples is not None:
        samples = list(samples)
        missing = [s for s in samples if s not in df.index]
        if missing:
            raise DataError(f"CNV features of {len(missing)} sample(s) missing in '{path}': "
                            f"{', '.join(missing[:5])}")
        df = df.loc[samples]
    return df


#: files of the CNV panel saved next to a store's feature table (what a model bundle needs to recompute them)
PANEL_FILES = {"bins": "cnv_bins.npz", "reference": "cnv_reference.npz", "params": "cnv_params.json"}


def write_cnv_panel(store: str | Path, bins: Bins, reference, params: dict) -> list[Path]:
    """Save the bins, reference panel and options that produced ``STORE/cnv_features.parquet`` beside it, so
    a model trained on those features can recompute them for a new sample identically. ``params``: ``input``
    (``"idat_raw"``: raw IDAT intensities; ``"store"``: the stored normalised meth + unmeth), ``method``,
    ``cancer_genes``, ``bin_summary``."""
    import json

    from ..._atomic import atomic_text

    store = Path(store)
    files = [bins.save(store / PANEL_FILES["bins"]), reference.save(store / PANEL_FILES["reference"])]
    atomic_text(store / PANEL_FILES["params"], json.dumps(params, indent=1, default=str))
    return [*files, store / PANEL_FILES["params"]]


def read_cnv_panel(store: str | Path) -> tuple[Bins, object, dict] | None:
    """``(bins, reference, params)`` saved by :func:`write_cnv_panel`, or None when the store has none."""
    import json

    from .reference import CNVReference

    store = Path(store)
    paths = {k: store / v for k, v in PANEL_FILES.items()}
    if not all(p.is_file() for p in paths.values()):
        return None
    return (Bins.load(paths["bins"]), CNVReference.load(paths["reference"]),
            json.loads(paths["params"].read_text(encoding="utf-8")))
