"""Array designs for the simulator: a synthetic manifest of any size, CpG context and slide layouts.

:func:`synthetic_manifest` builds a real :class:`~methylclass.io.manifest.types.Manifest` (``array="SYNTH"``):
``cg########`` probes plus a few ``rs`` SNP probes, unique 8-digit bead addresses, a Type I / Type II mix
(Type I Red/Grn in the 450k's 2:1 ratio, Type I enriched in CpG islands as on Illumina arrays), hg19/hg38
positions drawn from the sequenced part of each chromosome (gaps, centromeres and acrocentric short arms
avoided) in island clusters, shores and open sea, and extra probes in and around the 20 focal genes of
``regions/detail_regions_<build>.tsv`` so focal amplifications and deletions are callable. Its control table
has every usual type (STAINING, EXTENSION, HYBRIDIZATION, TARGET REMOVAL, BISULFITE CONVERSION I/II,
SPECIFICITY I/II, NON-POLYMORPHIC, NORM_A/C/G/T and ≥ 400 NEGATIVE), named and coloured as in the 450k
manifest so that control-based normalisation code finds what it expects.

:func:`cpg_context` classifies the probes of *any* manifest as island / shore / open sea from probe density
(the 450k design places CpG-island probes in clusters), which drives the background methylation model.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..io.manifest.types import CONTROL_COLUMNS, PROBE_COLUMNS, Manifest
from ._arrays import sorted_unique
from .genome import CHROMOSOMES, genome_tables
from .rng import stream

#: CpG context codes returned by :func:`cpg_context`
ISLAND, SHORE, SEA = 0, 1, 2
#: smallest synthetic design accepted
MIN_SYNTHETIC_PROBES = 1000

# relative probe density per chromosome (× sequenced length): the 450k has ~half the X density, few Y probes
_CHROM_WEIGHT = {"chrX": 0.5, "chrY": 0.1}


# ----------------------------------------------------------------------------------------------- controls
def _control_table(n_negative: int) -> pd.DataFrame:
    """The control probes of a 450k-like array (types, colours and names as in the Illumina manifest)."""
    rows: list[tuple[str, str, str]] = [
        ("STAINING", "-99", "DNP(20K)"), ("STAINING", "Red", "DNP (High)"), ("STAINING", "Purple", "DNP (Bkg)"),
        ("STAINING", "Green", "Biotin (High)"), ("STAINING", "-99", "Biotin(5K)"),
        ("STAINING", "Blue", "Biotin (Bkg)"),
        ("EXTENSION", "Red", "Extension (A)"), ("EXTENSION", "Purple", "Extension (T)"),
        ("EXTENSION", "Green", "Extension (C)"), ("EXTENSION", "Blue", "Extension (G)"),
        ("HYBRIDIZATION", "Green", "Hyb (High)"), ("HYBRIDIZATION", "Blue", "Hyb (Medium)"),
        ("HYBRIDIZATION", "Black", "Hyb (Low)"),
        ("TARGET REMOVAL", "Green", "Target Removal 1"), ("TARGET REMOVAL", "Blue", "Target Removal 2"),
    ]
    bs1 = [("Green", "BS Conversion I C1"), ("LimeGreen", "BS Conversion I-C2"), ("Lime", "BS Conversion I-C3"),
           ("Blue", "BS Conversion I U1"), ("SkyBlue", "BS Conversion I-U2"), ("Cyan", "BS Conversion I-U3"),
           ("Purple", "BS Conversion I-C4"), ("Red", "BS Conversion I-C5"), ("Tomato", "BS Conversion I-C6"),
           ("Orange", "BS Conversion I-U4"), ("Gold", "BS Conversion I-U5"), ("Yellow", "BS Conversion I-U6")]
    rows += [("BISULFITE CONVERSION I", c, n) for c, n in bs1]
    rows += [("BISULFITE CONVERSION II", c, f"BS Conversion II-{i}")
             for i, c in enumerate(["Purple", "Red", "Tomato", "Orange"], 1)]
    spec1 = [("Green", "GT Mismatch 1 (PM)"), ("LimeGreen", "GT Mismatch 2 (PM)"), ("Lime", "GT Mismatch 3 (PM)"),
             ("Blue", "GT Mismatch 1 (MM)"), ("SkyBlue", "GT Mismatch 2 (MM)"), ("Cyan", "GT Mismatch 3 (MM)"),
             ("Purple", "GT Mismatch 4 (PM)"), ("Red", "GT Mismatch 5 (PM)"), ("Tomato", "GT Mismatch 6 (PM)"),
             ("Orange", "GT Mismatch 4 (MM)"), ("Gold", "GT Mismatch 5 (MM)"), ("Yellow", "GT Mismatch 6 (MM)")]
    rows += [("SPECIFICITY I", c, n) for c, n in spec1]
    rows += [("SPECIFICITY II", c, f"Specificity {i}") for i, c in enumerate(["Purple", "Red", "Tomato"], 1)]
    rows += [("NON-POLYMORPHIC", "Red", "NP (A)"), ("NON-POLYMORPHIC", "Purple", "NP (T)"),
             ("NON-POLYMORPHIC", "Green", "NP (C)"), ("NON-POLYMORPHIC", "Blue", "NP (G)")]
    rows += [("NEGATIVE", "Black", f"Negative {i}") for i in range(1, n_negative + 1)]
    for i in range(1, 33):
        rows += [("NORM_A", "Red", f"Norm_A{i}"), ("NORM_G", "Blue", f"Norm_G{i}")]
    for i in range(1, 62):
        rows += [("NORM_C", "Green", f"Norm_C{i}"), ("NORM_T", "Purple", f"Norm_T{i}")]
    return pd.DataFrame(rows, columns=["type", "channel", "name"])


# ------------------------------------------------------------------------------------------- addresses
def unique_addresses(rng: np.random.Generator, n: int, low: int = 10_000_000, high: int = 99_999_999,
                     exclude: np.ndarray | None = None) -> np.ndarray:
    """``n`` distinct random bead addresses in ``[low, high]`` (8 digits, like 450k/EPIC), in random order,
    none of them in ``exclude``."""
    if n > (high - low + 1) // 2:
        raise ConfigError(f"cannot draw {n:,} distinct addresses from [{low:,}, {high:,}]")
    taken = sorted_unique(np.asarray(exclude if exclude is not None else [], dtype=np.int64))
    out = np.empty(0, dtype=np.int64)
    while out.size < n:
        cand = np.concatenate([out, rng.integers(low, high + 1, size=int((n - out.size) * 1.05) + 16)])
        srt = np.sort(cand)
        keep = np.concatenate([[True], srt[1:] != srt[:-1]])
        uniq = srt[keep]
        if taken.size:
            j = np.clip(np.searchsorted(taken, uniq), 0, taken.size - 1)
            uniq = uniq[taken[j] != uniq]
        out = uniq if uniq.size <= n else rng.choice(uniq, size=n, replace=False)
    return rng.permutation(out)


# -------------------------------------------------------------------------------------------- positions
def _uniform_positions(rng: np.random.Generator, intervals: np.ndarray, n: int) -> np.ndarray:
    """``n`` positions uniform over the union of 1-based closed ``intervals``."""
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    widths = intervals[:, 1] - intervals[:, 0] + 1
    cum = np.cumsum(widths)
    u = rng.integers(0, cum[-1], size=n)
    k = np.searchsorted(cum, u, side="right")
    before = np.concatenate([[0], cum[:-1]])[k]
    return intervals[k, 0] + (u - before)


@dataclass(frozen=True)
class _Placed:
    code: np.ndarray  # index into CHROMOSOMES
    pos: np.ndarray
    island_bias: np.ndarray  # True for probes placed in island clusters (design-type bias)


def _place_probes(rng: np.random.Generator, n: int, build: str, island_fraction: float,
                  per_gene: int) -> _Placed:
    """Genomic positions for ``n`` probes: focal-gene probes, island clusters, shores and open sea."""
    gt = genome_tables(build)
    intervals = {c: gt.allowed_intervals(c) for c in CHROMOSOMES}
    weight = np.array([(intervals[c][:, 1] - intervals[c][:, 0] + 1).sum() * _CHROM_WEIGHT.get(c, 1.0)
                       for c in CHROMOSOMES], dtype=float)
    weight /= weight.sum()
    chroms: list[np.ndarray] = []
    poss: list[np.ndarray] = []
    isl: list[np.ndarray] = []

    # 1. focal genes: half inside the gene, half in +-600 kb flanks (amplicon / deletion edges)
    n_gene = 0
    if per_gene > 0:
        for _, g in gt.genes.iterrows():
            inside = rng.integers(g["start"], g["end"] + 1, size=per_gene - per_gene // 2)
            flank = np.concatenate([rng.integers(max(1, g["start"] - 600_000), g["start"], size=per_gene // 4),
                                    rng.integers(g["end"] + 1, g["end"] + 600_000, size=per_gene // 2 - per_gene // 4)])
            p = np.concatenate([inside, flank])
            chroms.append(np.full(p.size, CHROMOSOMES.index(g["chrom"])))
            poss.append(p)
            isl.append(np.zeros(p.size, dtype=bool))
            n_gene += p.size
    rest = n - n_gene
    n_island = round(rest * island_fraction)
    n_shore = round(rest * 0.15)
    n_sea = rest - n_island - n_shore

    # 2. island clusters: 4-12 probes within +-400 bp of a centre
    sizes_arr = rng.integers(4, 13, size=n_island // 4 + 1).astype(np.int64)
    k_last = int(np.searchsorted(np.cumsum(sizes_arr), n_island))
    sizes_arr = sizes_arr[: k_last + 1]
    if sizes_arr.size:
        sizes_arr[-1] -= int(sizes_arr.sum()) - n_island
        sizes_arr = sizes_arr[sizes_arr > 0]
    c_idx = rng.choice(len(CHROMOSOMES), size=sizes_arr.size, p=weight)
    centres = np.empty(sizes_arr.size, dtype=np.int64)
    for k, c in enumerate(CHROMOSOMES):
        sel = c_idx == k
        centres[sel] = _uniform_positions(rng, intervals[c], int(sel.sum()))
    rep_c = np.repeat(centres, sizes_arr)
    chroms.append(np.repeat(c_idx, sizes_arr))
    poss.append(rep_c + rng.integers(-400, 401, size=rep_c.size))
    isl.append(np.ones(rep_c.size, dtype=bool))

    # 3. shores: 1.3-2.8 kb from an island centre
    if n_shore and centres.size:
        pick = rng.integers(0, centres.size, size=n_shore)
        side = np.where(rng.random(n_shore) < 0.5, -1, 1)
        chroms.append(c_idx[pick])
        poss.append(centres[pick] + side * rng.integers(1300, 2800, size=n_shore))
        isl.append(np.zeros(n_shore, dtype=bool))
    else:
        n_sea += n_shore

    # 4. open sea: uniform (at least 20 chrY probes so that sex is always inferable)
    s_idx = rng.choice(len(CHROMOSOMES), size=n_sea, p=weight)
    y = CHROMOSOMES.index("chrY")
    short = max(0, min(20, n_sea // 50) - int((s_idx == y).sum()))
    s_idx[np.flatnonzero(s_idx != y)[:short]] = y
    for k, c in enumerate(CHROMOSOMES):
        m = int((s_idx == k).sum())
        if m:
            chroms.append(np.full(m, k))
            poss.append(_uniform_positions(rng, intervals[c], m))
            isl.append(np.zeros(m, dtype=bool))
    code = np.concatenate(chroms).astype(np.int64)
    pos = np.clip(np.concatenate(poss), 1, None).astype(np.int64)
    return _Placed(code=code, pos=pos, island_bias=np.concatenate(isl))


def synthetic_manifest(n_probes: int = 20_000, *, seed: int = 0, genome_build: str = "hg19",
                       type1_fraction: float = 0.28, red_fraction: float = 0.66, island_fraction: float = 0.5,
                       n_negative: int = 600, probes_per_gene: int | None = None,
                       array: str = "SYNTH") -> Manifest:
    """Build a synthetic array design with ``n_probes`` probes and genome coordinates (see module docstring).

    ``type1_fraction`` of the probes are Infinium I (``red_fraction`` of those read in Red), ``island_fraction``
    sit in CpG-island clusters; ``probes_per_gene`` probes (default 16, 32 for designs ≥ 200k probes) are placed
    in and around each focal gene. Deterministic given ``seed``.
    """
    if not isinstance(n_probes, (int, np.integer)) or n_probes < MIN_SYNTHETIC_PROBES:
        raise ConfigError(f"a synthetic design needs at least {MIN_SYNTHETIC_PROBES:,} probes (got {n_probes!r})")
    for name, val in (("type1_fraction", type1_fraction), ("red_fraction", red_fraction),
                      ("island_fraction", island_fraction)):
        if not 0.0 <= val <= 1.0:
            raise ConfigError(f"{name} must lie in [0, 1] (got {val})")
    if n_negative < 400:
        raise ConfigError(f"a synthetic design needs at least 400 NEGATIVE controls (got {n_negative})")
    rng = stream(seed, "design")
    per_gene = probes_per_gene if probes_per_gene is not None else (32 if n_probes >= 200_000 else 16)
    per_gene = int(min(per_gene, n_probes // 60))
    n_snp = int(min(65, n_probes // 5000))
    placed = _place_probes(rng, n_probes - n_snp, genome_build, island_fraction, per_gene)
    gt = genome_tables(genome_build)
    snp_code = rng.integers(0, 22, size=n_snp)
    snp_pos = np.array([_uniform_positions(rng, gt.allowed_intervals(CHROMOSOMES[c]), 1)[0] for c in snp_code],
                       dtype=np.int64)
    code = np.concatenate([placed.code, snp_code]).astype(np.int64)
    pos = np.concatenate([placed.pos, snp_pos])
    island = np.concatenate([placed.island_bias, np.zeros(n_snp, dtype=bool)])
    is_snp = np.concatenate([np.zeros(placed.pos.size, dtype=bool), np.ones(n_snp, dtype=bool)])

    # clip into the chromosome and make positions unique within each chromosome
    lengths = np.array([gt.lengths[c] for c in CHROMOSOMES], dtype=np.int64)
    pos = np.clip(pos, 1, lengths[code])
    order = np.lexsort((pos, code))
    code, pos, island, is_snp = code[order], pos[order], island[order], is_snp[order]
    key = code * 10**10 + pos
    bump = np.maximum.accumulate(key - np.arange(key.size)) + np.arange(key.size)  # strictly increasing
    pos = pos + (bump - key)
    chrom = np.asarray(CHROMOSOMES, dtype=object)[code]

    # design type: Type I enriched in islands (450k: ~85 % of Type I Grn probes sit in island clusters)
    n = chrom.size
    p_isl = min(1.0, type1_fraction * 1.6)
    n_isl = int(island.sum())
    p_other = max(0.0, (type1_fraction * n - p_isl * n_isl) / max(1, n - n_isl))
    t1 = rng.random(n) < np.where(island, p_isl, p_other)
    red = rng.random(n) < red_fraction
    ids_num = unique_addresses(rng, n, low=0, high=99_999_999)
    digits = (ids_num + 100_000_000).astype("U9").view("U1").reshape(-1, 9)[:, 1:].copy().view("U8").ravel()
    probe_id = np.strings.add("cg", digits).astype(object)
    snp_num = unique_addresses(rng, int(is_snp.sum()), low=1_000_000, high=99_999_999)
    probe_id[is_snp] = [f"rs{v}" for v in snp_num]

    controls = _control_table(n_negative)
    n_addr = n + int(t1.sum()) + len(controls)
    addr = unique_addresses(rng, n_addr)
    address_u = addr[:n]
    address_m = np.full(n, -1, dtype=np.int64)
    address_m[t1] = addr[n:n + int(t1.sum())]
    controls.insert(0, "address", addr[n + int(t1.sum()):])
    probes = pd.DataFrame({
        "probe_id": probe_id, "cpg_id": probe_id.copy(),
        "address_u": address_u.astype(np.int64), "address_m": address_m,
        "design": np.where(t1, "I", "II"), "channel": np.where(t1, np.where(red, "Red", "Grn"), ""),
        "chrom": chrom, "pos": pos.astype(np.int64),
    })[list(PROBE_COLUMNS)]
    controls = controls[list(CONTROL_COLUMNS)].astype({"address": np.int64})
    return Manifest(array=array, probes=probes, controls=controls, genome_build=genome_build,
                    extra={"synthetic": True, "design_seed": int(seed)})


def write_manifest_tsv(manifest: Manifest, probes_path: str | Path, controls_path: str | Path) -> None:
    """Write ``manifest`` as sesame-style TSVs that :func:`methylclass.io.manifest.load_sesame_tsv` reads back.

    Probe columns: ``Probe_ID, address_M, address_U, DESIGN, COLOR_CHANNEL, col, chr_<build>, pos_<build>``
    (gzip-compressed when the name ends in ``.gz``); control columns: ``Address, Type, Color_Channel, Name``.
    Files are written under a temporary name and renamed.
    """
    p = manifest.probes
    b = manifest.genome_build
    t1 = p["design"].to_numpy() == "I"
    chan = p["channel"].to_numpy()
    out = pd.DataFrame({
        "Probe_ID": p["probe_id"],
        "address_M": pd.Series(p["address_m"].to_numpy(np.int64), dtype="Int64").where(t1, pd.NA).to_numpy(),
        "address_U": p["address_u"].astype(np.int64),
        "DESIGN": p["design"],
        "COLOR_CHANNEL": np.where(t1, chan, "Both"),
        "col": np.where(chan == "Red", "R", np.where(chan == "Grn", "G", "")),
        f"chr_{b}": p["chrom"],
        f"pos_{b}": pd.Series(p["pos"].to_numpy(np.int64), dtype="Int64")
                    .where(p["pos"].to_numpy() >= 0, pd.NA).to_numpy(),
    })
    probes_path, controls_path = Path(probes_path), Path(controls_path)
    tmp = probes_path.with_name(f".{probes_path.name}.tmp")
    if probes_path.name.endswith(".gz"):  # no time stamp in the gzip header: byte-identical reruns
        text = out.to_csv(sep="\t", index=False, lineterminator="\n").encode()
        tmp.write_bytes(gzip.compress(text, compresslevel=6, mtime=0))
    else:
        out.to_csv(tmp, sep="\t", index=False)
    tmp.replace(probes_path)
    c = manifest.controls.rename(columns={"address": "Address", "type": "Type", "channel": "Color_Channel",
                                          "name": "Name"})
    tmp = controls_path.with_name(f".{controls_path.name}.tmp")
    c.to_csv(tmp, sep="\t", index=False)
    tmp.replace(controls_path)


# ------------------------------------------------------------------------------------------ CpG context
def cpg_context(manifest: Manifest, *, seed: int = 0, window: int = 1000, min_neighbours: int = 3,
                shore_window: int = 3000, reference: Manifest | None = None) -> np.ndarray:
    """CpG context per probe: :data:`ISLAND` (≥ ``min_neighbours`` other probes within ±``window`` bp),
    :data:`SHORE` (within ±``shore_window`` bp of an island probe) or :data:`SEA`.

    On the real 450k this density rule marks ~60 % of the probes as island-like, as Illumina's own island
    annotation does (~31 % island + ~23 % shore): the 450k tiles CpG islands with several probes. Sparser
    arrays (HM27: one or two probes per promoter) do not, so when the rule finds fewer than 15 % island probes,
    or a probe has no coordinates, the context is drawn with the 450k's odds for the probe's design type
    (Type I: 85 % island, Type II: 55 %), fixed by ``seed``. With a ``reference`` manifest (the 450k), CpGs
    it also holds take their context from it, so shared CpGs behave alike on every array.
    """
    p = manifest.probes
    n = len(p)
    out = np.full(n, SEA, dtype=np.int8)
    pos = p["pos"].to_numpy(np.int64)
    chrom = p["chrom"].to_numpy().astype(str)
    has = (pos >= 0) & (chrom != "")
    if has.any():
        inv, _ = pd.factorize(chrom[has])
        key = inv.astype(np.int64) * 10**10 + pos[has]
        order = np.argsort(key, kind="stable")
        sk = key[order]
        cnt = np.searchsorted(sk, sk + window, side="right") - np.searchsorted(sk, sk - window, side="left") - 1
        isl_sorted = cnt >= min_neighbours
        ik = sk[isl_sorted]
        near = np.zeros(sk.size, dtype=bool)
        if ik.size:
            j = np.searchsorted(ik, sk)
            left = np.abs(sk - ik[np.clip(j - 1, 0, ik.size - 1)]) <= shore_window
            right = np.abs(ik[np.clip(j, 0, ik.size - 1)] - sk) <= shore_window
            near = left | right
        ctx_sorted = np.where(isl_sorted, ISLAND, np.where(near, SHORE, SEA)).astype(np.int8)
        ctx = np.empty(sk.size, dtype=np.int8)
        ctx[order] = ctx_sorted
        out[has] = ctx
        if np.mean(ctx == ISLAND) < 0.15:  # too sparse for the density rule
            has = np.zeros(n, dtype=bool)
    if (~has).any():
        rng = stream(seed, "context")
        t1 = p["design"].to_numpy() == "I"
        u = rng.random(n)
        rand_ctx = np.where(u < np.where(t1, 0.85, 0.55), ISLAND, np.where(u < np.where(t1, 0.92, 0.7), SHORE, SEA))
        out[~has] = rand_ctx[~has].astype(np.int8)
    if reference is not None:
        ref = pd.Series(cpg_context(reference, seed=seed), index=reference.probes["cpg_id"].to_numpy())
        ref = ref[~ref.index.duplicated()]
        hit = ref.reindex(p["cpg_id"].to_numpy()).to_numpy()
        ok = ~np.isnan(hit)
        out[ok] = hit[ok].astype(np.int8)
    return out


# -------------------------------------------------------------------------------------------- layouts
@dataclass(frozen=True)
class SlideLayout:
    """Sentrix positions of one BeadChip type and the chip-type string its IDATs carry."""

    positions: tuple[str, ...]
    chip_type: str


LAYOUTS = {
    "450k": SlideLayout(tuple(f"R{r:02d}C{c:02d}" for c in (1, 2) for r in range(1, 7)), "BeadChip 12x8"),
    "epic": SlideLayout(tuple(f"R{r:02d}C01" for r in range(1, 9)), "BeadChip 8x1"),
    "hm27": SlideLayout(tuple("ABCDEFGHIJKL"), "BeadChip 12x1"),
    "msa": SlideLayout(tuple(f"R{r:02d}C{c:02d}" for c in range(1, 7) for r in range(1, 9)), "BeadChip 48x1"),
}


def default_layout(array: str, n_probes: int) -> str:
    """The slide layout name for an array: HM450 → 450k, HM27 → hm27, MSA → msa, EPIC-like/SYNTH → epic."""
    a = array.upper()
    if a in ("HM450", "450K"):
        return "450k"
    if a in ("HM27", "27K"):
        return "hm27"
    if a.startswith("MSA"):
        return "msa"
    if "EPIC" in a or a.startswith("SYNTH"):
        return "epic"
    return "epic" if n_probes > 600_000 else "450k"
