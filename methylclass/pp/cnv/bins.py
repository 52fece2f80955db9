"""Genomic bins for copy-number analysis (conumee ``CNV.create_bins`` + ``CNV.merge_bins``), cached on disk.

Algorithm (Hovestadt & Zapatka, conumee; conumee2 ``annotation.R``), all coordinates 1-based closed:

1. tile every chromosome into ``tile_size`` (50 kb) windows, the last one cut at the chromosome end;
2. remove assembly gaps (``gap_info_<build>.tsv``) and exclude regions from each tile (a tile may split);
3. count the probes in each piece; repeatedly take the piece with the fewest probes (the first one on ties)
   and merge it into its *contiguous* neighbour with fewer probes (left on ties); a piece with no contiguous
   neighbour is dropped; stop when every bin has ≥ ``min_probes`` probes;
4. drop bins wider than ``max_size`` (5 Mb).

Step 3 is inherently sequential (each merge changes the next minimum), so it is a heap-driven loop over
tiles (≈ 60,000 for a human genome, ≈ 0.3 s) rather than a vectorised expression; everything else is
vectorised. The result depends only on the manifest coordinates, the build and the parameters, so it is
computed once and cached under ``cache_dir()/cnv_bins/<key>.npz``.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..._atomic import atomic_write
from ...errors import DataError, ManifestError
from ...io.manifest.types import Manifest
from ...paths import cache_dir
from .genome import AUTOSOMES, CHROMOSOMES, Genome, load_genome, load_regions, read_regions

BINS_VERSION = 1
_SHIFT = np.int64(1) << np.int64(32)  # genome-wide coordinate = chrom_index * 2**32 + pos


@dataclass(frozen=True)
class Bins:
    """CNV bins and the probes they are built from (everything a per-sample kernel needs, picklable).

    * ``probe_index``: manifest row of every *fit probe* (CpG probes with coordinates on the analysed
      chromosomes, sorted by location) — the probes the reference fit uses; ``probe_chrom`` /
      ``probe_pos`` their location; ``probe_bin`` the bin each lies in (``-1`` = in no bin: gap, exclude
      region, dropped bin).
    * per bin: ``chrom``, ``start``, ``end`` (1-based closed), ``midpoint``, ``n_probes``, ``arm`` (p/q);
      ``bin_ptr``/``bin_probes`` list each bin's fit-probe positions (CSR layout).
    * ``probe_key`` identifies the fit-probe set (a reference must share it); ``key`` the whole bin set.
    """

    build: str
    array: str
    chroms: tuple[str, ...]
    probe_index: np.ndarray
    probe_chrom: np.ndarray
    probe_pos: np.ndarray
    probe_bin: np.ndarray
    chrom: np.ndarray
    start: np.ndarray
    end: np.ndarray
    n_probes: np.ndarray
    arm: np.ndarray
    probe_key: str
    key: str
    params: dict = field(default_factory=dict, compare=False)

    @property
    def n_bins(self) -> int:
        """Number of bins."""
        return int(self.start.shape[0])

    @property
    def n_fit_probes(self) -> int:
        """Number of probes used by the reference fit."""
        return int(self.probe_index.shape[0])

    @property
    def midpoint(self) -> np.ndarray:
        """Bin midpoints (conumee: ``as.integer(start + (end - start) / 2)``)."""
        return self.start + (self.end - self.start) // 2

    @cached_property
    def names(self) -> np.ndarray:
        """Bin names ``chr1-0001`` … (numbered within each chromosome, zero-padded as conumee)."""
        out = np.empty(self.n_bins, dtype=object)
        for c in self.chroms:
            idx = np.flatnonzero(self.chrom == c)
            width = len(str(len(idx))) if len(idx) else 1
            out[idx] = [f"{c}-{k + 1:0{width}d}" for k in range(len(idx))]
        return out.astype(str)

    @cached_property
    def bin_order(self) -> np.ndarray:
        """Fit-probe positions grouped by bin (probes in no bin excluded), with :attr:`bin_ptr`."""
        inbin = np.flatnonzero(self.probe_bin >= 0)
        return inbin[np.argsort(self.probe_bin[inbin], kind="stable")]

    @cached_property
    def bin_ptr(self) -> np.ndarray:
        """CSR offsets: probes of bin ``b`` are ``bin_order[bin_ptr[b]:bin_ptr[b+1]]``."""
        counts = np.bincount(self.probe_bin[self.probe_bin >= 0], minlength=self.n_bins)
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def table(self) -> pd.DataFrame:
        """One row per bin: name, chrom, start, end, midpoint, n_probes, arm."""
        return pd.DataFrame({"bin": self.names, "chrom": self.chrom, "start": self.start, "end": self.end,
                             "midpoint": self.midpoint, "n_probes": self.n_probes, "arm": self.arm})

    def chrom_slices(self) -> list[tuple[str, int, int]]:
        """``(chrom, first_bin, last_bin + 1)`` for every chromosome with bins, in genome order."""
        out = []
        for c in self.chroms:
            idx = np.flatnonzero(self.chrom == c)
            if len(idx):
                out.append((c, int(idx[0]), int(idx[-1]) + 1))
        return out

    # -- persistence ----------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the bins to ``path`` (npz, written to a temporary name and renamed)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"build": self.build, "array": self.array, "chroms": list(self.chroms),
                "probe_key": self.probe_key, "key": self.key, "params": self.params,
                "version": BINS_VERSION}
        atomic_write(path, lambda fh: np.savez(fh, meta=np.array(json.dumps(meta)), probe_index=self.probe_index,
                         probe_chrom=self.probe_chrom.astype("U5"), probe_pos=self.probe_pos,
                         probe_bin=self.probe_bin, chrom=self.chrom.astype("U5"), start=self.start,
                         end=self.end, n_probes=self.n_probes, arm=self.arm.astype("U1")), binary=True)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Bins:
        """Read bins written by :meth:`save` (DataError when unreadable or from another version)."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("version") != BINS_VERSION:
                    raise DataError(f"CNV bins file '{path}' has version {meta.get('version')}, "
                                    f"expected {BINS_VERSION}; delete it to rebuild")
                arrays = {k: z[k] for k in z.files if k != "meta"}
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"CNV bins file '{path}' cannot be read: {exc}") from None
        return cls(build=meta["build"], array=meta["array"], chroms=tuple(meta["chroms"]),
                   probe_index=arrays["probe_index"], probe_chrom=arrays["probe_chrom"].astype(object),
                   probe_pos=arrays["probe_pos"], probe_bin=arrays["probe_bin"],
                   chrom=arrays["chrom"].astype(object), start=arrays["start"], end=arrays["end"],
                   n_probes=arrays["n_probes"], arm=arrays["arm"].astype(object),
                   probe_key=meta["probe_key"], key=meta["key"], params=meta["params"])


# ---------------------------------------------------------------------------------------------------------
def manifest_fingerprint(manifest: Manifest) -> str:
    """A content hash of the manifest's probe ids and coordinates (``manifest.sha256`` when set)."""
    if manifest.sha256:
        return manifest.sha256
    cached = manifest.extra.get("_cnv_fingerprint") if isinstance(manifest.extra, dict) else None
    if cached:
        return cached
    p = manifest.probes
    h = hashlib.sha256()
    h.update("\n".join(p["probe_id"].astype(str).tolist()).encode())
    h.update("\n".join(p["chrom"].astype(str).tolist()).encode())
    h.update(np.ascontiguousarray(p["pos"].to_numpy(np.int64)).tobytes())
    digest = h.hexdigest()
    if isinstance(manifest.extra, dict):
        manifest.extra["_cnv_fingerprint"] = digest
    return digest


def select_fit_probes(manifest: Manifest, chroms: tuple[str, ...], cpg_only: bool = True) -> np.ndarray:
    """Manifest rows used for CNV: located on ``chroms``, CpG (``cg``) probes unless ``cpg_only`` is False,
    one per CpG id; sorted by (chromosome order, position)."""
    p = manifest.probes
    if not manifest.has_coordinates:
        raise ManifestError(
            f"manifest '{manifest.source or manifest.array}' ({manifest.array}) has no probe coordinates "
            f"(chrom/pos) for {manifest.genome_build}; CNV analysis needs a manifest with locations")
    chrom = p["chrom"].astype(str).to_numpy()
    pos = p["pos"].to_numpy(np.int64)
    order = {c: i for i, c in enumerate(chroms)}
    code = pd.Series(chrom).map(order).fillna(-1).astype(np.int64).to_numpy()
    keep = (code >= 0) & (pos > 0)
    if cpg_only:
        keep &= p["probe_id"].astype(str).str.startswith("cg").to_numpy()
    keep &= ~p["cpg_id"].astype(str).duplicated().to_numpy()
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        raise ManifestError(f"manifest '{manifest.source or manifest.array}' has no probes with coordinates "
                            f"on {chroms[0]}…{chroms[-1]}")
    gpos = code[rows] * _SHIFT + pos[rows]
    return rows[np.argsort(gpos, kind="stable")]


def _merge_intervals(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union of closed intervals (sorted, non-overlapping, adjacent ones joined)."""
    if starts.size == 0:
        return starts, ends
    o = np.argsort(starts, kind="stable")
    s, e = starts[o], ends[o]
    run_end = np.maximum.accumulate(e)
    new = np.concatenate([[True], s[1:] > run_end[:-1] + 1])
    return s[new], np.maximum.reduceat(e, np.flatnonzero(new))


def _tiles(genome: Genome, forbidden: pd.DataFrame, tile: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tile pieces (chrom index, start, end) after removing ``forbidden`` intervals (vectorised per chrom)."""
    cs, ss, es = [], [], []
    for ci, (c, length) in enumerate(zip(genome.chroms, genome.lengths)):
        f = forbidden[forbidden["chrom"] == c]
        fs, fe = _merge_intervals(f["start"].to_numpy(np.int64), f["end"].to_numpy(np.int64))
        fs, fe = np.clip(fs, 1, length), np.clip(fe, 1, length)
        # allowed = complement of the forbidden union within [1, length]
        a_s = np.concatenate([[1], fe + 1])
        a_e = np.concatenate([fs - 1, [length]])
        ok = a_e >= a_s
        a_s, a_e = a_s[ok], a_e[ok]
        k0, k1 = (a_s - 1) // tile, (a_e - 1) // tile
        reps = (k1 - k0 + 1).astype(np.int64)
        seg = np.repeat(np.arange(a_s.size), reps)
        k = k0[seg] + (np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps))
        ss.append(np.maximum(a_s[seg], k * tile + 1))
        es.append(np.minimum(a_e[seg], (k + 1) * tile))
        cs.append(np.full(seg.size, ci, dtype=np.int64))
    return np.concatenate(cs), np.concatenate(ss), np.concatenate(es)


def _merge_bins(chrom: np.ndarray, start: np.ndarray, end: np.ndarray, count: np.ndarray,
                min_probes: int) -> np.ndarray:
    """conumee ``CNV.merge_bins`` on a doubly linked list with a lazy-deletion heap.

    Modifies ``start``/``end``/``count`` in place and returns the mask of surviving pieces. Pieces are
    ordered by genome position, so (count, index) heap order reproduces conumee's "first piece with the
    fewest probes" rule, per chromosome.
    """
    n = int(start.size)
    st, en, cnt, ch = start.tolist(), end.tolist(), count.tolist(), chrom.tolist()
    left = list(range(-1, n - 1))
    right = list(range(1, n + 1))
    if n:
        right[-1] = -1
    alive = [True] * n
    heap = [(cnt[i], i) for i in range(n) if cnt[i] < min_probes]
    heapq.heapify(heap)
    while heap:
        c, i = heapq.heappop(heap)
        if not alive[i] or c != cnt[i]:
            continue
        lft, rgt = left[i], right[i]
        target, tcount = -1, float("inf")
        if lft >= 0 and ch[lft] == ch[i] and en[lft] + 1 == st[i]:
            target, tcount = lft, cnt[lft]
        if rgt >= 0 and ch[rgt] == ch[i] and st[rgt] - 1 == en[i] and cnt[rgt] < tcount:
            target = rgt
        alive[i] = False
        if lft >= 0:
            right[lft] = rgt
        if rgt >= 0:
            left[rgt] = lft
        if target >= 0:
            st[target] = min(st[target], st[i])
            en[target] = max(en[target], en[i])
            cnt[target] += c
            if cnt[target] < min_probes:
                heapq.heappush(heap, (cnt[target], target))
    start[:] = st
    end[:] = en
    count[:] = cnt
    return np.asarray(alive, dtype=bool)


def _locate(g_starts: np.ndarray, g_ends: np.ndarray, gpos: np.ndarray) -> np.ndarray:
    """Index of the interval (sorted, disjoint, genome-wide coordinates) containing each position, or -1."""
    idx = np.searchsorted(g_starts, gpos, side="right") - 1
    ok = idx >= 0
    ok[ok] &= gpos[ok] <= g_ends[idx[ok]]
    return np.where(ok, idx, -1)


def _exclude_table(exclude, build: str) -> pd.DataFrame:
    if exclude is None:
        return pd.DataFrame(columns=["chrom", "start", "end", "name"])
    if isinstance(exclude, str) and exclude == "default":
        return load_regions("exclude", build)
    if isinstance(exclude, pd.DataFrame):
        return exclude
    return read_regions(exclude)


def bins_key(manifest: Manifest, build: str, params: dict) -> tuple[str, str]:
    """(probe_key, key) identifying the fit-probe set and the full bin set of ``manifest`` × build × params."""
    fp = manifest_fingerprint(manifest)
    probe_part = json.dumps({"manifest": fp, "array": manifest.array, "build": build,
                             "chroms": params["chroms"], "cpg_only": params["cpg_only"]}, sort_keys=True)
    probe_key = hashlib.sha256(probe_part.encode()).hexdigest()[:20]
    key = hashlib.sha256((probe_part + json.dumps(params, sort_keys=True)
                          + f"v{BINS_VERSION}").encode()).hexdigest()[:20]
    return probe_key, key


def make_bins(manifest: Manifest, genome: str = "hg19", *, tile_size: int = 50_000, min_probes: int = 15,
              max_size: int = 5_000_000, chrxy: bool = False, exclude="default", cpg_only: bool = True,
              cache: bool = True) -> Bins:
    """Build (or load from the cache) the CNV bins of ``manifest`` on ``genome`` (see the module docstring).

    Parameters
    ----------
    manifest : Manifest
        The array's manifest (with coordinates on ``genome``).
    genome : str
        The genome build (``"hg19"`` or ``"hg38"``).
    tile_size : int
        Width of the initial tiles in bp.
    min_probes : int
        Bins are merged until each holds at least this many probes.
    max_size : int
        Bins wider than this (bp) are dropped.
    chrxy : bool
        Add chrX/chrY (conumee default: autosomes only).
    exclude
        ``"default"`` (the bundled exclude regions of the build), ``None``, a region table or a path (TSV/BED).
    cpg_only : bool
        Use only CpG (``cg``) probes.
    cache : bool
        Load from / save to ``cache_dir()/cnv_bins``.

    Returns
    -------
    Bins
        The bins and the probes they hold.

    Raises
    ------
    ManifestError
        The manifest's coordinates are on another build (or missing).
    """
    if manifest.genome_build and manifest.genome_build != genome:
        raise ManifestError(f"manifest '{manifest.source or manifest.array}' has {manifest.genome_build} "
                            f"coordinates but CNV bins were requested on {genome}")
    chroms = CHROMOSOMES if chrxy else AUTOSOMES
    excl = _exclude_table(exclude, genome)
    params = {"tile_size": int(tile_size), "min_probes": int(min_probes), "max_size": int(max_size),
              "chroms": list(chroms), "cpg_only": bool(cpg_only),
              "exclude": hashlib.sha256(excl[["chrom", "start", "end"]].to_csv(index=False).encode())
              .hexdigest()[:16]}
    probe_key, key = bins_key(manifest, genome, params)
    path = cache_dir() / "cnv_bins" / f"{manifest.array}_{genome}_{key}.npz"
    if cache and path.exists():
        try:
            return Bins.load(path)
        except DataError:
            pass  # stale or corrupt cache: rebuild below
    gen = load_genome(genome).subset(chroms)
    rows = select_fit_probes(manifest, chroms, cpg_only)
    p = manifest.probes
    pchrom = p["chrom"].astype(str).to_numpy()[rows]
    ppos = p["pos"].to_numpy(np.int64)[rows]
    code = {c: i for i, c in enumerate(chroms)}
    pcode = pd.Series(pchrom).map(code).to_numpy(np.int64)
    gpos = pcode * _SHIFT + ppos

    forbidden = pd.concat([gen.gaps[["chrom", "start", "end"]],
                           excl[excl["chrom"].isin(chroms)][["chrom", "start", "end"]]], ignore_index=True)
    forbidden[["start", "end"]] = forbidden[["start", "end"]].astype(np.int64)
    tchrom, tstart, tend = _tiles(gen, forbidden, int(tile_size))
    gs, ge = tchrom * _SHIFT + tstart, tchrom * _SHIFT + tend
    hit = _locate(gs, ge, gpos)
    counts = np.bincount(hit[hit >= 0], minlength=tstart.size).astype(np.int64)
    alive = _merge_bins(tchrom, tstart, tend, counts, int(min_probes))
    keep = alive & ((tend - tstart + 1) <= max_size)
    bchrom, bstart, bend = tchrom[keep], tstart[keep], tend[keep]
    pbin = _locate(bchrom * _SHIFT + bstart, bchrom * _SHIFT + bend, gpos).astype(np.int32)
    nprobes = np.bincount(pbin[pbin >= 0], minlength=bstart.size).astype(np.int32)
    if bstart.size == 0:
        raise DataError(f"no CNV bins with ≥ {min_probes} probes could be built for {manifest.array} on "
                        f"{genome}")
    mid = bstart + (bend - bstart) // 2
    arm = np.where(mid <= gen.pq[bchrom], "p", "q").astype(object)
    bins = Bins(build=genome, array=manifest.array, chroms=tuple(chroms), probe_index=rows.astype(np.int64),
                probe_chrom=pchrom.astype(object), probe_pos=ppos, probe_bin=pbin,
                chrom=np.asarray(chroms, dtype=object)[bchrom], start=bstart.astype(np.int64),
                end=bend.astype(np.int64), n_probes=nprobes, arm=arm, probe_key=probe_key, key=key,
                params=params)
    if cache:
        bins.save(path)
    return bins
