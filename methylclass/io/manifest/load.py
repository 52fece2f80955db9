"""Load probe manifests from local files (never downloaded), cache them, and recognise an IDAT's array type.

Entry points:

* :func:`load_manifest` — by array name (``"HM450"``, ``"450k"``, ``"EPICv2"``…, see
  :mod:`~methylclass.io.manifest.registry`) and/or a file (``path=``: Illumina's CSV or a sesame-style TSV);
  parsed once, then served from a checksum-keyed Parquet cache (:mod:`~methylclass.io.manifest.cache`);
* :func:`load_sesame_tsv` — the sesame / InfiniumAnnotation probe tables (``Probe_ID, M, U, col``…);
* :func:`detect_array` — array type of an IDAT: by address count, confirmed by address overlap;
* :func:`collapse_replicates` — EPICv2 replicate probes → one value per CpG.

Coordinates of the shipped tables (all ``pos`` values are the 1-based position of the CpG's C):

* HM450: hg19 from minfi's ilmn12.hg19 annotation (``chr_hg19``/``pos_hg19``, the default) and hg38 from
  sesame (``chr_hg38``/``start_hg38``, 1-based: it equals InfiniumAnnotation's 0-based ``CpG_beg`` + 1).
* MSA: ``msa_hg38_coord.tsv.gz`` has no probe ids; it is row-aligned with ``msa_ordering.tsv.gz`` (same
  284,309 rows, the 2,511 ``ctl_`` rows have no coordinates). Verified in the tests: for the 119,594 MSA
  CpGs also on the 450k, ``CpG_beg + 1`` equals the 450k hg38 position for 99.99 %.
* HM27: ``hm27_hg38_coord.tsv.gz`` has no probe ids and 27,722 rows for 27,578 probes, so it is *not*
  row-aligned with ``hm27_ordering.tsv.gz``. Its first 27,578 rows follow the probe ids in sorted order and
  the last 144 rows (no coordinates) are the 144 control probes. Verified in the tests: for all 25,590 HM27
  CpGs that have a 450k hg38 position, chromosome and position agree exactly. The loader checks that
  structure (row count, coordinate-less tail) and refuses the file otherwise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import ManifestError
from ...paths import data_dir
from ..idat import Idat, read_idat
from . import cache as manifest_cache
from .illumina import looks_like_illumina_csv, read_bytes, read_illumina_csv
from .registry import ArraySpec, arrays_for_count, get_array, list_arrays
from .tables import (
    build_control_table,
    build_probe_table,
    member_of,
    normalize_build,
    normalize_channel,
    normalize_chrom,
    normalize_design,
    normalize_pos,
    sorted_unique,
    strip_replicate_suffix,
    to_address,
)
from .types import Manifest

#: minimum fraction of a manifest's probe addresses an IDAT must hold for :func:`detect_array` to accept it
MIN_OVERLAP = 0.9

_MEMO: dict[str, Manifest] = {}
#: in-process shortcut: (file identities + size + mtime, params) → cache key, so a repeated load does not
#: re-hash the sources; any change of a file's size or mtime falls back to hashing
_STAT_KEYS: dict[tuple, str] = {}


def _stat_signature(sources: dict[str, Path | None], params: dict) -> tuple | None:
    try:
        files = tuple((role, str(p.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
                      for role, p in sources.items() if p is not None for st in (p.stat(),))
    except OSError:
        return None
    return files + tuple(sorted((k, str(v)) for k, v in params.items()))


# --------------------------------------------------------------------------------------------------------
# sesame / InfiniumAnnotation tables
# --------------------------------------------------------------------------------------------------------
def _pick(cols: dict[str, str], *names: str) -> str | None:
    for n in names:
        if n in cols:
            return cols[n]
    return None


def _read_table(path: Path, what: str) -> pd.DataFrame:
    sep = "," if path.name.lower().removesuffix(".gz").endswith(".csv") else "\t"
    try:
        return pd.read_csv(path, sep=sep, low_memory=False)
    except FileNotFoundError:
        raise ManifestError(f"{what} '{path}' does not exist") from None
    except (OSError, EOFError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ManifestError(f"{what} '{path}' cannot be read: {exc}") from None


def _read_controls(path: Path) -> pd.DataFrame:
    c = _read_table(path, "control-probe table")
    if c.shape[1] < 2:
        raise ManifestError(f"control-probe table '{path}' has {c.shape[1]} column(s); expected "
                            "Address, Type, Color_Channel, Name")
    empty = pd.Series("", index=c.index)
    return build_control_table(address=c.iloc[:, 0], type_=c.iloc[:, 1],
                               channel=c.iloc[:, 2] if c.shape[1] > 2 else empty,
                               name=c.iloc[:, 3] if c.shape[1] > 3 else empty, source=path)


def _aligned_coords(coords: Path, probe_ids: np.ndarray, is_ctl: np.ndarray, alignment: str
                    ) -> tuple[pd.Series, pd.Series]:
    """Chromosome and 0-based start per ordering row from an id-less coordinate table (see module doc)."""
    c = _read_table(coords, "coordinate table")
    cc = {x.lower(): x for x in c.columns}
    chrom_col, beg_col = _pick(cc, "cpg_chrm", "chrm", "chr"), _pick(cc, "cpg_beg", "beg", "start")
    if chrom_col is None or beg_col is None:
        raise ManifestError(f"coordinate table '{coords}' lacks CpG_chrm / CpG_beg columns")
    chrom, beg = c[chrom_col], c[beg_col]
    n, n_ctl = len(probe_ids), int(is_ctl.sum())
    if alignment == "rows":
        if len(c) != n:
            raise ManifestError(f"coordinate table '{coords}' has {len(c):,} rows but the probe table has "
                                f"{n:,}; they must be row-aligned")
        if n_ctl and chrom[is_ctl].notna().any():
            raise ManifestError(f"coordinate table '{coords}' is not row-aligned with its probe table: "
                                "control (ctl_) rows carry coordinates")
        return chrom.reset_index(drop=True), beg.reset_index(drop=True)
    if alignment == "sorted_probe_id":
        probe_rows = np.flatnonzero(~is_ctl)
        k = len(probe_rows)
        tail = chrom.iloc[k:]
        if len(c) < k or tail.notna().any():
            raise ManifestError(f"coordinate table '{coords}' ({len(c):,} rows) does not have the expected "
                                f"layout: {k:,} probe rows in sorted-id order, then coordinate-less control "
                                "rows")
        order = probe_rows[np.argsort(probe_ids[probe_rows].astype(str), kind="stable")]
        out_chrom = pd.Series(np.full(n, None, dtype=object))
        out_beg = pd.Series(np.full(n, np.nan))
        out_chrom.iloc[order] = chrom.iloc[:k].to_numpy(dtype=object)
        out_beg.iloc[order] = pd.to_numeric(beg.iloc[:k], errors="coerce").to_numpy()
        return out_chrom, out_beg
    raise ManifestError(f"unknown coordinate alignment '{alignment}' for '{coords}'")


def load_sesame_tsv(path: str | Path, *, array: str, controls: str | Path | None = None,
                    genome_build: str = "hg19", coords: str | Path | None = None,
                    coords_alignment: str = "rows") -> Manifest:
    """Parse a sesame-style probe table into a :class:`Manifest` (no caching; see :func:`load_manifest`).

    Accepted columns (case-insensitive): ``Probe_ID``/``probeID``; ``M``/``address_M``/``address_B`` (Type I
    methylated bead); ``U``/``address_U``/``address_A``; ``DESIGN``/``designType``/``type`` (I/II) and/or
    ``col`` (``R``,
    ``G``, ``2`` = Type II) / ``COLOR_CHANNEL``/``channel``; coordinates as ``chr_<build>`` with
    ``pos_<build>`` or ``start_<build>`` (1-based), or InfiniumAnnotation's ``CpG_chrm``/``CpG_beg``
    (0-based). ``coords`` is an id-less coordinate table aligned as ``coords_alignment`` says (see the
    module docstring). Rows named ``ctl_…`` are control probes: they leave the probe table and, when no
    ``controls`` file is given, become the control table (type from the name, e.g. ``ctl_123_NEGATIVE``).
    """
    path = Path(path)
    build = normalize_build(genome_build)
    df = _read_table(path, "manifest")
    cols = {c.lower(): c for c in df.columns}
    pid_col = _pick(cols, "probe_id", "probeid", "ilmnid")
    am_col = _pick(cols, "address_m", "m", "address_b")
    au_col = _pick(cols, "address_u", "u", "address_a")
    if pid_col is None or au_col is None:
        raise ManifestError(f"'{path}' lacks Probe_ID / U (address_U) columns; is it a sesame-style manifest?")
    probe_ids = df[pid_col].astype(str).to_numpy(dtype=object)
    is_ctl = probe_ids.astype("U4") == "ctl_"
    empty = pd.Series("", index=df.index)
    addr_m = to_address(df[am_col], what="M address", source=str(path)) if am_col \
        else np.full(len(df), -1, dtype=np.int64)
    addr_u = to_address(df[au_col], what="U address", source=str(path))

    col_col = _pick(cols, "col")
    chan_col = col_col or _pick(cols, "color_channel", "channel")
    channel = normalize_channel(df[chan_col]) if chan_col else normalize_channel(empty)
    design_col = _pick(cols, "design", "designtype", "type", "infinium_design_type")
    if design_col is not None:
        design = normalize_design(df[design_col])
    elif col_col is not None:  # sesame 'col': R / G for Type I, 2 for Type II
        design = np.where(channel != "", "I", np.where(df[col_col].astype(str).str.strip() == "2", "II", ""))
        design = design.astype(object)
    else:
        design = normalize_design(empty)

    chr_col = _pick(cols, f"chr_{build}")
    pos_col = _pick(cols, f"pos_{build}", f"start_{build}")
    if coords is not None:
        chrom_raw, beg = _aligned_coords(Path(coords), probe_ids, is_ctl, coords_alignment)
        chrom, pos = normalize_chrom(chrom_raw), normalize_pos(beg, zero_based=True)
    elif chr_col is not None and pos_col is not None:
        chrom, pos = normalize_chrom(df[chr_col]), normalize_pos(df[pos_col])
    elif "cpg_chrm" in cols and "cpg_beg" in cols:
        chrom, pos = normalize_chrom(df[cols["cpg_chrm"]]), normalize_pos(df[cols["cpg_beg"]], zero_based=True)
    else:
        builds = sorted({c.split("_", 1)[1] for c in cols if c.startswith("chr_")})
        if builds:
            raise ManifestError(f"'{path}' has coordinates for {', '.join(builds)} only; {build} was requested")
        chrom, pos = normalize_chrom(empty), normalize_pos(empty)

    keep = ~is_ctl
    probes, dropped = build_probe_table(
        probe_id=pd.Series(probe_ids[keep]), address_u=addr_u[keep], address_m=addr_m[keep],
        design=design[keep], channel=channel[keep], chrom=chrom[keep], pos=pos[keep], source=path)
    if controls is not None:
        ctrl = _read_controls(Path(controls))
    else:
        names = pd.Series(probe_ids[is_ctl])
        ctrl = build_control_table(address=pd.Series(addr_u[is_ctl]),
                                   type_=names.str.replace(r"^ctl_\d+_", "", regex=True),
                                   channel=pd.Series("", index=names.index), name=names, source=path)
    extra = {"format": "sesame_tsv", "dropped_probes": dropped, "n_ctl_rows": int(is_ctl.sum())}
    return Manifest(array=array, probes=probes, controls=ctrl, genome_build=build, source=path, extra=extra)


# --------------------------------------------------------------------------------------------------------
# load_manifest: registry + format sniffing + checksum cache
# --------------------------------------------------------------------------------------------------------
def _sniff(path: Path) -> str:
    """``"illumina_csv"`` or ``"sesame_tsv"`` from the first bytes of ``path``."""
    data = read_bytes(path, limit=65536)
    if looks_like_illumina_csv(data):
        return "illumina_csv"
    first = data.split(b"\n", 1)[0].lower()
    if b"\t" in first and (b"probe_id" in first or b"probeid" in first):
        return "sesame_tsv"
    if b"," in first and b"probe_id" in first:
        return "sesame_tsv"
    raise ManifestError(f"'{path}' is neither an Illumina manifest CSV ([Heading]/[Assay]/[Controls]) nor a "
                        "sesame-style probe table (Probe_ID, M, U, col)")


def _missing_manifest(spec: ArraySpec) -> ManifestError:
    where = data_dir(required=False)
    shipped = [w for w, v in (("control probes", spec.controls), ("a probe list", spec.probe_list)) if v]
    have = f" (only {' and '.join(shipped)} ship there)" if shipped else ""
    return ManifestError(
        f"no probe-address manifest for array '{spec.name}' in '{where / 'manifests' if where else 'the data folder'}'"
        f"{have}; supply Illumina's manifest CSV for {spec.name} with --manifest PATH (command line) or "
        f"load_manifest('{spec.name}', path=PATH) — nothing is downloaded")


def load_manifest(array: str | None = None, *, path: str | Path | None = None,
                  controls: str | Path | None = None, coords: str | Path | None = None,
                  genome_build: str | None = None, cache: bool = True) -> Manifest:
    """Load a manifest by array name and/or file, parsing it once and caching the result.

    * ``load_manifest("HM450")`` (also ``"450k"``, ``"HM27"``, ``"MSA"``): the default files of the shared data
      folder. ``"EPIC"``/``"EPICv2"`` have none there and raise :class:`ManifestError` saying how to supply one.
    * ``load_manifest(path=PATH)`` / ``load_manifest("EPICv2", path=PATH)``: Illumina's manifest CSV (plain,
      gz or zip; array inferred from its heading unless given) or a sesame-style TSV. ``controls`` and
      ``coords`` add a control table / id-less coordinate table; for a named array their defaults come from
      the registry when ``path`` itself has none.
      With ``path``, an ``array`` name the registry does not know is kept as the manifest's label.
    * ``genome_build``: ``"hg19"`` or ``"hg38"`` (default: the array's first build, or the file's own).

    The result is cached in ``cache_dir()/manifests`` keyed by the sha256 of every source file, the
    parameters and the loader version; :attr:`Manifest.sha256` is that key (the manifest's content identity)
    and ``extra["source_sha256"]`` holds each file's own sha256. Within one process the same object is
    returned for the same key: treat it as read-only.

    Parameters
    ----------
    array : str, optional
        Array name (``"HM450"``, ``"450k"``, ``"HM27"``, ``"MSA"``, ``"EPICv2"`` …); with ``path``, a name the
        registry does not know is kept as the manifest's label.
    path : str or Path, optional
        Illumina manifest CSV (plain, gz or zip) or sesame-style TSV (default: the array's registered file).
    controls : str or Path, optional
        Control-probe table (default from the registry for a named array when ``path`` has none).
    coords : str or Path, optional
        Id-less coordinate table (default from the registry for a named array).
    genome_build : str, optional
        ``"hg19"`` or ``"hg38"`` (default: the array's first build, or the file's own).
    cache : bool
        Use (and fill) the in-process and on-disk caches.

    Returns
    -------
    Manifest
        The parsed manifest (shared within the process: read-only).

    Raises
    ------
    ManifestError
        Neither ``array`` nor ``path`` given, an unknown array without ``path``, an array without a default
        manifest file (how to supply one is said), a missing file or a folder, or a genome build the shipped
        manifest lacks.
    """
    if array is None and path is None:
        raise ManifestError("load_manifest needs an array name (e.g. 'HM450') or path=… to a manifest file")
    spec, label = None, array
    if array is not None:
        try:
            spec = get_array(array)
        except ManifestError:
            if path is None:
                raise
            # a file with a name the registry does not know (a custom chip): the name is only a label
    coords_alignment = "rows"
    if path is None:
        assert spec is not None
        if spec.probes is None:
            raise _missing_manifest(spec)
        path = spec.resolve(spec.probes)
        controls = controls if controls is not None else spec.resolve(spec.controls)
        coords = coords if coords is not None else spec.resolve(spec.coords)
        coords_alignment = spec.coords_alignment
    path = Path(path)
    if path.is_dir():
        raise ManifestError(f"'{path}' is a folder, not a manifest file")
    if not path.is_file():
        raise ManifestError(f"manifest file '{path}' does not exist")
    fmt = _sniff(path)
    if spec is not None and controls is None and fmt == "sesame_tsv":
        controls = spec.resolve(spec.controls)
    build = normalize_build(genome_build) if genome_build is not None else None
    if build is None and spec is not None and fmt == "sesame_tsv":
        build = spec.genome_build
    if spec is not None and build is not None and build not in spec.builds and spec.probes is not None \
            and Path(path) == spec.resolve(spec.probes):
        raise ManifestError(f"the shipped {spec.name} manifest has coordinates for "
                            f"{', '.join(spec.builds)} only; {build} was requested")
    fallback = None  # the registry's controls, used when an Illumina CSV has no [Controls] section
    if fmt == "illumina_csv" and controls is None and spec is not None and spec.controls is not None:
        fallback = spec.resolve(spec.controls)
        fallback = fallback if fallback is not None and fallback.is_file() else None
    sources = {"probes": path, "controls": Path(controls) if controls is not None else None,
               "coords": Path(coords) if coords is not None else None, "fallback_controls": fallback}
    label = spec.name if spec else label
    params = {"array": label, "build": build, "format": fmt,
              "alignment": coords_alignment if coords is not None else None}
    sig = _stat_signature(sources, params)
    if cache and sig is not None and _STAT_KEYS.get(sig) in _MEMO:
        return _MEMO[_STAT_KEYS[sig]]
    key, shas = manifest_cache.manifest_key(sources, params)
    if cache:
        hit = _MEMO.get(key) or manifest_cache.load_cached(key, source=path)
        if hit is not None:
            _MEMO[key] = hit
            if sig is not None:
                _STAT_KEYS[sig] = key
            return hit
    if fmt == "illumina_csv":
        man = read_illumina_csv(path, array=label, genome_build=build)
        if controls is not None:
            man = dataclasses.replace(man, controls=_read_controls(Path(controls)))
        elif len(man.controls) == 0 and fallback is not None:
            man = dataclasses.replace(man, controls=_read_controls(fallback))
    else:
        man = load_sesame_tsv(path, array=label or "CUSTOM", controls=controls,
                              genome_build=build or "hg19", coords=coords, coords_alignment=coords_alignment)
    extra = dict(man.extra)
    extra["source_sha256"] = shas
    extra["loader_version"] = manifest_cache.LOADER_VERSION
    man = dataclasses.replace(man, sha256=key, extra=extra)
    if cache:
        manifest_cache.store_cached(key, man)
        _MEMO[key] = man
        if sig is not None:
            _STAT_KEYS[sig] = key
    return man


def clear_loaded_manifests() -> None:
    """Forget the manifests held in memory by :func:`load_manifest` (the on-disk cache stays)."""
    _MEMO.clear()
    _STAT_KEYS.clear()


# --------------------------------------------------------------------------------------------------------
# array detection
# --------------------------------------------------------------------------------------------------------
def _addresses(obj: Idat | str | Path | Sequence[int] | np.ndarray) -> tuple[np.ndarray, str]:
    if isinstance(obj, Idat):
        return sorted_unique(np.asarray(obj.illumina_ids, dtype=np.int64)), f"'{obj.path}'" if obj.path else "IDAT"
    if isinstance(obj, (str, Path)):
        idat = read_idat(obj)
        return sorted_unique(np.asarray(idat.illumina_ids, dtype=np.int64)), f"'{obj}'"
    return sorted_unique(np.asarray(obj, dtype=np.int64)), "address set"


def _address_sets(manifest: Manifest) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique probe addresses and all addresses (probes + controls), memoised in ``manifest.extra``."""
    memo = manifest.extra.get("_address_sets") if isinstance(manifest.extra, dict) else None
    if memo is None:
        p = manifest.probes
        probe = sorted_unique(np.concatenate([p["address_u"].to_numpy(np.int64),
                                              p["address_m"].to_numpy(np.int64)]))
        memo = (probe[probe >= 0], manifest.addresses)
        if isinstance(manifest.extra, dict):
            manifest.extra["_address_sets"] = memo
    return memo


def address_overlap(manifest: Manifest, addresses: np.ndarray) -> tuple[float, float]:
    """``(coverage, explained)`` of an IDAT address set by ``manifest``.

    ``coverage``: fraction of the manifest's probe addresses present in ``addresses``; ``explained``:
    fraction of ``addresses`` that are probe or control addresses of the manifest.
    """
    ids = sorted_unique(np.asarray(addresses, dtype=np.int64))
    probe_addr, all_addr = _address_sets(manifest)
    if len(probe_addr) == 0 or len(ids) == 0:
        return 0.0, 0.0
    coverage = float(member_of(probe_addr, ids).mean())
    explained = float(member_of(ids, all_addr).mean())
    return coverage, explained


def detect_array(idat_or_addresses: Idat | str | Path | Sequence[int] | np.ndarray,
                 manifests: Manifest | Iterable[Manifest] | None = None, *,
                 min_overlap: float = MIN_OVERLAP) -> str:
    """Name of the array an IDAT (an :class:`Idat`, a path, or its address set) comes from.

    The address count selects the candidate arrays of the registry. One candidate and no ``manifests`` →
    that array. Otherwise (no or several candidates, or ``manifests`` given to confirm against) every
    candidate manifest — the ``manifests`` passed plus the loadable default manifests of the count
    candidates (of all registered arrays when none matches the count) — is scored by address overlap; the
    best one covering at least ``min_overlap`` of its probe addresses wins (ties: the one explaining more of
    the IDAT's addresses).

    Parameters
    ----------
    idat_or_addresses : Idat, str, Path, sequence of int or ndarray
        An IDAT, its path, or its address set.
    manifests : Manifest or iterable of Manifest, optional
        Manifests to confirm against (scored together with the candidates' default manifests).
    min_overlap : float
        Minimum fraction of a manifest's probe addresses the IDAT must cover.

    Returns
    -------
    str
        The array's name (a registry name, or the ``array`` of a manifest passed).

    Raises
    ------
    ManifestError
        Naming the input when no manifest fits.
    """
    ids, what = _addresses(idat_or_addresses)
    n = len(ids)
    cands = arrays_for_count(n)
    given = [manifests] if isinstance(manifests, Manifest) else list(manifests or [])
    if len(cands) == 1 and not given:
        return cands[0].name
    pool: list[Manifest] = list(given)
    have = {m.array for m in given}
    for spec in (cands or list_arrays()):
        if spec.name in have or spec.probes is None:
            continue
        try:
            pool.append(load_manifest(spec.name))
        except ManifestError:
            continue
    scored = [(address_overlap(m, ids), m.array) for m in pool]
    ok = [(cov, expl, name) for (cov, expl), name in scored if cov >= min_overlap]
    if ok:
        return max(ok, key=lambda o: (o[1], o[0]))[2]
    table = ", ".join(f"{name} {cov:.1%}" for (cov, _), name in scored) or "none loadable"
    counted = f" (address count matches {', '.join(c.name for c in cands)})" if cands else \
        " (no registered array has IDATs of that size)"
    raise ManifestError(f"cannot tell which array {what} with {n:,} addresses comes from{counted}; manifest "
                        f"coverage: {table}. Pass the array's manifest with --manifest PATH / manifest=…, or "
                        "register the array (methylclass.io.manifest.registry.register_array)")


# --------------------------------------------------------------------------------------------------------
# EPICv2 replicate probes
# --------------------------------------------------------------------------------------------------------
def collapse_replicates(df: pd.DataFrame, manifest: Manifest | None = None, *,
                        method: str = "mean") -> pd.DataFrame:
    """Collapse replicate probes (rows, index = probe ids) to one row per CpG (index ``cpg_id``).

    EPICv2 (and MSA) carry several probes for some CpGs (``cg…_TC21``, ``cg…_TC22``, ``cg…_BC21``: other
    strand, other design or a plain replicate). The rule, applied per sample column:

    * ``method="mean"`` (default, as sesame's ``betasCollapseToPfx``): the mean of the replicates' values
      that are not NaN. Replicates measure the same CpG, so averaging reduces technical noise, and a
      replicate masked upstream (NaN, e.g. failed detection p-value) simply drops out; the CpG is NaN only
      when every replicate is.
    * ``method="first"``: the first non-NaN replicate in row order (manifest order).

    The CpG id of a row comes from ``manifest.probes.cpg_id`` when a manifest is given (ids absent from
    it, and every id when ``manifest`` is None, fall back to stripping the ``_TC21``-style suffix). Rows
    keep their first-occurrence order; dtypes are preserved. Works unchanged for arrays without
    replicates (then it only renames the index).

    Parameters
    ----------
    df : DataFrame
        Probes × samples values, index = probe ids (a Series is collapsed the same way).
    manifest : Manifest, optional
        Supplies ``probes.cpg_id`` for each probe id.
    method : str
        ``"mean"`` or ``"first"``.

    Returns
    -------
    DataFrame
        One row per CpG, index named ``cpg_id`` (a Series for a Series input).

    Raises
    ------
    ValueError
        An unknown ``method``.
    """
    if method not in ("mean", "first"):
        raise ValueError(f"unknown collapse method '{method}'; choose 'mean' or 'first'")
    if isinstance(df, pd.Series):
        return collapse_replicates(df.to_frame(), manifest, method=method).iloc[:, 0]
    ids = pd.Series(df.index.astype(str), index=df.index)
    cpg = strip_replicate_suffix(ids).to_numpy(dtype=object)
    if manifest is not None:
        mapping = pd.Series(manifest.probes["cpg_id"].to_numpy(),
                            index=manifest.probes["probe_id"].to_numpy())
        looked = mapping.reindex(ids.to_numpy()).to_numpy(dtype=object)
        found = pd.notna(looked)
        cpg = np.where(found, looked, cpg)
    codes, uniq = pd.factorize(cpg)  # first-occurrence order
    if len(uniq) == len(cpg):
        out = df.copy()
        out.index = pd.Index(cpg, name="cpg_id")
        return out
    grouped = df.groupby(codes, sort=True)  # codes ascend in first-occurrence order
    out = grouped.mean() if method == "mean" else grouped.first()
    if all(np.issubdtype(t, np.floating) for t in df.dtypes):
        out = out.astype(df.dtypes.to_dict(), copy=False)
    out.index = pd.Index(np.asarray(uniq, dtype=object), name="cpg_id")
    return out
