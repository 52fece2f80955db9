"""CNV of a preprocessing store, the driver-side part: the store's probe coordinates as a manifest, its
total intensities (``meth`` + ``unmeth``), the normals group, the reference panel from stored normals, and the
:class:`StorePlan` (bins, panel, samples, files) every store path (one process or Spark) starts from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import ConfigError, DataError
from ...io.manifest.types import Manifest
from .bins import Bins, make_bins
from .options import CNVOptions
from .panel import _load_panel, _note_panel_size, _with_build, as_saved
from .reference import MIN_REFERENCES, CNVReference
from .task import CNVTask, cnv_total

#: sample-table columns searched for a normals group given without ``COLUMN=``
GROUP_COLUMNS = ("Sample_Group", "sample_group", "group")


def store_manifest(store) -> Manifest:
    """A coordinates-only :class:`Manifest` from a store's probe table (row i = element i of its arrays).

    It carries the store's ``manifest_sha256`` (the manifest file it was preprocessed with), so bins and
    saved reference panels are shared with the IDAT path on the same manifest.
    """
    probes = store.probes()
    missing = [c for c in ("probe_id", "chrom", "pos") if c not in probes.columns]
    if missing:
        raise DataError(f"store '{store.path}' has no probe {'/'.join(missing)} columns; CNV needs probe "
                        "coordinates")
    p = pd.DataFrame({
        "probe_id": probes["probe_id"].astype(str),
        "cpg_id": probes["cpg_id"].astype(str) if "cpg_id" in probes else probes["probe_id"].astype(str),
        "address_u": -1, "address_m": -1,
        "design": probes["design"].astype(str) if "design" in probes else "",
        "channel": probes["channel"].astype(str) if "channel" in probes else "",
        "chrom": probes["chrom"].fillna("").astype(str),
        "pos": pd.to_numeric(probes["pos"], errors="coerce").fillna(-1).astype(np.int64)})
    info = store.info
    return Manifest(array=str(info.get("array", "STORE")), probes=p,
                    controls=pd.DataFrame(columns=["address", "type", "channel", "name"]),
                    genome_build=str(info.get("genome_build") or "hg19"), source=store.path,
                    sha256=str(info.get("manifest_sha256") or info.get("probe_hash") or ""))


def store_is_raw(store) -> bool:
    """Whether a store holds raw (unnormalised) intensities, in which a 0 means an unmeasured address."""
    return str(store.info.get("method", "")) == "raw"


def store_totals(store, samples: Sequence[str], *, batch_size: int = 16, raw: bool | None = None):
    """Yield ``(sample, total intensity)`` of ``samples`` from a store, batch by batch (:func:`cnv_total`;
    ``raw`` defaults to the store's normalisation being ``raw``)."""
    raw = store_is_raw(store) if raw is None else raw
    meth = store.iter_arrays(samples, field="meth", batch_size=batch_size)
    unmeth = store.iter_arrays(samples, field="unmeth", batch_size=batch_size)
    for (names, m), (_, u) in zip(meth, unmeth):
        yield from zip(names, (cnv_total(a, b, raw=raw) for a, b in zip(m, u)))


def store_group_samples(store, spec: str) -> list[str]:
    """Stored samples (status ok) whose sample-table column equals a value: ``spec`` = ``COLUMN=VALUE``, or
    ``VALUE`` for the first of :data:`GROUP_COLUMNS` the sample table has (``Sample_Group`` of a sheet)."""
    from ...io.store import Store

    st = store if isinstance(store, Store) else Store.open(store)
    table = st.samples
    column, sep, value = str(spec).partition("=")
    if not sep:
        value = column
        column = next((c for c in GROUP_COLUMNS if c in table.columns), "")
        if not column:
            cols = [c for c in table.columns if not str(c).startswith("qc_")]
            raise ConfigError(f"store '{st.path}' has no {'/'.join(GROUP_COLUMNS)} column to find the normals "
                              f"group '{value}' in; use COLUMN=VALUE with one of: {', '.join(map(str, cols))}")
    elif column not in table.columns:
        raise ConfigError(f"store '{st.path}' has no sample-table column '{column}'")
    ok = table[table["status"] == "ok"]
    names = ok.loc[ok[column].astype(str) == value, "sample"].astype(str).tolist()
    if not names:
        seen = sorted(ok[column].dropna().astype(str).unique().tolist())[:10]
        raise DataError(f"store '{st.path}': no stored sample has {column} = '{value}' (values: "
                        f"{', '.join(seen) or 'none'})")
    return names


@dataclass
class StorePlan:
    """Driver-side preparation of a store CNV run: bins, reference panel and the samples to analyse."""

    store: object
    bins: Bins
    reference: CNVReference
    samples: list[str]
    files: list[Path]
    raw: bool

    def task(self, options: CNVOptions | None = None, *, writer=None) -> CNVTask:
        """The :class:`CNVTask` for this store (``writer``: the per-sample outputs, see :attr:`CNVTask.writer`);
        the focal regions (with the ~730 cancer genes when ``options.cancer_genes``) are resolved here, once."""
        from .sample import _focal_regions

        options = options or CNVOptions()
        regions = _focal_regions("default", options.cancer_genes, self.bins.build).reset_index(drop=True)
        return CNVTask(bins=self.bins, reference=self.reference, options=options, raw=self.raw,
                       n_probes=self.store.n_probes, regions=regions, writer=writer)


def _check_signals(st) -> None:
    """Refuse a store whose sample files hold no meth/unmeth arrays (e.g. betas imported from a table)."""
    import pyarrow.parquet as pq

    _, files = st.files_of(st.ok_samples[:1])
    if not files:
        raise DataError(f"store '{st.path}' has no stored samples")
    try:
        names = set(pq.read_schema(files[0]).names)
    except Exception as exc:  # noqa: BLE001 - unreadable first file: one clear line
        raise DataError(f"'{files[0]}' cannot be read: {exc}") from None
    if not {"meth", "unmeth"} <= names:
        raise DataError(f"store '{st.path}' holds no meth/unmeth arrays (its sample files have "
                        f"{', '.join(sorted(names))}); CNV needs the methylated and unmethylated intensities "
                        "written by `methylclass preprocess`")


def store_reference(st, normals, bins: Bins, *, raw: bool,
                    log: Callable[[str], None] = lambda m: None) -> tuple[CNVReference, list[str]]:
    """The reference panel of a store CNV run and the normals' names (empty for a saved panel).

    ``normals``: names of stored samples (≥ 3), a saved panel (``.npz`` path) or a :class:`CNVReference`.
    """
    if isinstance(normals, CNVReference):
        if normals.probe_key != bins.probe_key:
            raise DataError(f"the CNV reference panel was built for {normals.array}/{normals.build} probes that "
                            f"differ from store '{st.path}' ({bins.array}/{bins.build})")
        return normals, []
    if isinstance(normals, (str, Path)):
        if str(normals).endswith(".npz"):
            return _load_panel(normals, bins), []
        raise ConfigError(f"normals '{normals}': give ≥ 3 names of stored samples or a saved reference panel "
                          "(.npz)")
    names = list(dict.fromkeys(str(n) for n in normals))
    if len(names) < MIN_REFERENCES:
        raise DataError(f"reference panel: {len(names)} normal sample(s) named, need ≥ 3 copy-neutral "
                        "references (16 or more recommended)")
    got, totals = zip(*store_totals(st, names, raw=raw))
    intens = np.vstack(totals)
    if not np.isfinite(intens).any():
        raise DataError(f"store '{st.path}' holds no methylated/unmethylated intensities for the normals "
                        f"({', '.join(names[:5])}); CNV needs the meth and unmeth signals of "
                        "`methylclass preprocess`")
    ref = as_saved(CNVReference.from_intensities(intens, bins, list(got), meta={"store": str(st.path)}))
    log(f"reference panel: {ref.n_references} normals from {st.path}, {int(ref.probe_mask.sum()):,} probes")
    return ref, names


def plan_store_cnv(store, normals, samples: Sequence[str] | None = None, *, genome: str | None = None,
                   log: Callable[[str], None] = lambda m: None) -> StorePlan:
    """Open the store, build its bins (on ``genome``, default the store's build) and the reference panel, and
    list the samples to analyse (default: every stored sample that is not a normal)."""
    from ...io.store import Store

    st = store if isinstance(store, Store) else Store.open(store)
    man = store_manifest(st)
    build = genome or man.genome_build
    bins = make_bins(_with_build(man, build), build)
    _check_signals(st)
    raw = store_is_raw(st)
    ref, normal_names = store_reference(st, normals, bins, raw=raw, log=log)
    _note_panel_size(ref, log)
    if samples is None:
        skip = set(normal_names) | set(ref.names)
        samples = [s for s in st.ok_samples if s not in skip]
        if not samples:
            raise DataError(f"store '{st.path}': no samples to analyse besides the normals")
    else:
        samples = [samples] if isinstance(samples, str) else list(samples)
        if not samples:
            raise ConfigError("the list of samples to analyse is empty")
    names, files = st.files_of(samples)
    return StorePlan(store=st, bins=bins, reference=ref, samples=names, files=files, raw=raw)

