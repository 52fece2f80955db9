"""Copy-number events: whole chromosomes, arms and focal amplifications / homozygous deletions at named genes.

An event is a region with an absolute copy number in the tumour cells (1-based closed coordinates). Events are
written in a karyotype-like notation, per class (``--cnv "F1_A=+7,-10,EGFR:amp"``) or drawn at random:

========================  =================================================================================
``+7`` / ``-10``          whole-chromosome gain (copy number base + 1) / loss (base − 1)
``+1q`` / ``-9p``         arm gain / loss
``+7:4``                  any of the above with an explicit copy number
``EGFR:amp[:CN]``         focal amplification of a gene of ``regions/detail_regions_<build>.tsv`` (default 10
                          copies over the gene ± 0.1–0.8 Mb)
``CDKN2A:homdel``         homozygous deletion (0 copies over the gene ± 20–300 kb)
``MYC:gain`` / ``:loss``  focal gain / loss at a gene
``chr7:1000-900000:amp:8``  an explicit region
========================  =================================================================================

The base copy number is 2 on autosomes; chrX is 1 in males and 2 in females, chrY 1 in males and 0 in females.
:func:`probe_copy_number` turns a sample's events into a copy number per probe (vectorised masks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .genome import ACROCENTRIC, CHROMOSOMES, GenomeTables

KINDS = ("gain", "loss", "amp", "homdel")
#: genes that get amplifications / homozygous deletions when events are drawn at random
ONCOGENES = ("EGFR", "MYC", "MYCN", "CDK4", "MDM2", "CCND1", "ERBB2", "MET", "CDK6", "GLI2", "KRAS", "CCNE1",
             "FGFR1", "MCL1")
SUPPRESSORS = ("CDKN2A", "PTEN", "RB1", "NF1", "PTCH1", "TP53")

_ARM = re.compile(r"^([+-])(?:chr)?(\d{1,2}|X|Y)([pq]?)(?::(\d+(?:\.\d+)?))?$", re.IGNORECASE)
_REGION = re.compile(r"^(chr(?:\d{1,2}|X|Y)):(\d+)-(\d+):(gain|loss|amp|homdel)(?::(\d+(?:\.\d+)?))?$",
                     re.IGNORECASE)
_GENE = re.compile(r"^([A-Za-z0-9/._-]+):(gain|loss|amp|homdel)(?::(\d+(?:\.\d+)?))?$", re.IGNORECASE)


@dataclass(frozen=True)
class CnvEvent:
    """A copy-number event. ``copy_number`` is ``None`` for relative gains/losses (base ± 1 per sample)."""

    chrom: str
    start: int
    end: int
    region: str  # "7", "7p", gene name, or "chr7:1-100"
    kind: str  # gain / loss / amp / homdel
    copy_number: float | None = None

    def absolute_cn(self, base: float) -> float:
        """Copy number in the tumour cells given the chromosome's base copy number."""
        if self.copy_number is not None:
            return float(self.copy_number)
        if self.kind == "gain":
            return base + 1.0
        if self.kind == "loss":
            return max(0.0, base - 1.0)
        if self.kind == "amp":
            return 10.0
        return 0.0


def _arm_events(genome: GenomeTables, sign: str, chrom: str, arm: str, cn: float | None, text: str) -> list[CnvEvent]:
    kind = "gain" if sign == "+" else "loss"
    short = chrom.removeprefix("chr")
    if arm:
        a = genome.arm(chrom, arm)
        return [CnvEvent(chrom, int(a["start"]), int(a["end"]), f"{short}{arm}", kind, cn)]
    return [CnvEvent(chrom, 1, int(genome.lengths[chrom]), short, kind, cn)]


def parse_event(spec: str, genome: GenomeTables, rng: np.random.Generator | None = None) -> CnvEvent:
    """Parse one event of the notation in the module docstring. Focal extents are drawn with ``rng``
    (fixed flanks when ``rng`` is None). Raises :class:`ConfigError` naming the bad spec."""
    text = spec.strip()
    m = _ARM.match(text)
    if m:
        sign, c, arm, cn = m.groups()
        chrom = f"chr{c.upper()}"
        if chrom not in CHROMOSOMES:
            raise ConfigError(f"copy-number event '{spec}': unknown chromosome {chrom}")
        return _arm_events(genome, sign, chrom, arm.lower(), float(cn) if cn else None, text)[0]
    m = _REGION.match(text)
    if m:
        chrom, s, e, kind, cn = m.groups()
        chrom = "chr" + chrom[3:].upper()
        s, e = int(s), int(e)
        if chrom not in genome.lengths or not 1 <= s <= e <= genome.lengths[chrom]:
            raise ConfigError(f"copy-number event '{spec}': region outside {chrom} "
                              f"(1–{genome.lengths.get(chrom, 0):,})")
        return CnvEvent(chrom, s, e, f"{chrom}:{s}-{e}", kind.lower(), float(cn) if cn else None)
    m = _GENE.match(text)
    if m:
        name, kind, cn = m.groups()
        g = genome.gene(name)
        kind = kind.lower()
        if rng is None:
            lo = hi = 300_000 if kind in ("amp", "gain", "loss") else 50_000
        elif kind == "homdel":
            lo, hi = rng.integers(20_000, 300_000, size=2)
        else:
            lo, hi = rng.integers(100_000, 800_000, size=2)
        start = max(1, int(g["start"]) - int(lo))
        end = min(genome.lengths[g["chrom"]], int(g["end"]) + int(hi))
        return CnvEvent(g["chrom"], start, end, str(g["name"]), kind, float(cn) if cn else None)
    raise ConfigError(
        f"cannot parse copy-number event '{spec}'; use +7, -10q, +1q:4, EGFR:amp, CDKN2A:homdel or "
        "chr7:1000-900000:amp:8")


def parse_class_specs(specs, class_names: list[str], genome: GenomeTables,
                      rng: np.random.Generator) -> dict[str, list[CnvEvent]]:
    """Parse ``{class: [spec, …]}`` or strings ``"CLASS=spec,spec"`` into events per class."""
    out: dict[str, list[CnvEvent]] = {c: [] for c in class_names}
    items: list[tuple[str, str]] = []
    if isinstance(specs, dict):
        for cls, lst in specs.items():
            lst = [lst] if isinstance(lst, str) else list(lst)
            items += [(str(cls), s) for s in lst]
    else:
        for text in ([specs] if isinstance(specs, str) else list(specs)):
            if "=" not in text:
                raise ConfigError(f"copy-number spec '{text}' must read CLASS=EVENT[,EVENT…] (e.g. F1_A=+7,-10)")
            cls, rest = text.split("=", 1)
            items += [(cls.strip(), s) for s in rest.split(",") if s.strip()]
    for cls, s in items:
        if cls not in out:
            raise ConfigError(f"copy-number spec names unknown class '{cls}'; classes are {', '.join(class_names)}")
        out[cls].append(parse_event(s, genome, rng))
    return out


def _random_arm_event(genome: GenomeTables, rng: np.random.Generator) -> CnvEvent:
    autos = [c for c in CHROMOSOMES[:22]]
    chrom = autos[int(rng.integers(0, len(autos)))]
    sign = "+" if rng.random() < 0.5 else "-"
    r = rng.random()
    if r < 0.3:
        arm = ""
    elif chrom in ACROCENTRIC:
        arm = "q"
    else:
        arm = "p" if r < 0.65 else "q"
    return _arm_events(genome, sign, chrom, arm, None, "")[0]


def random_class_events(genome: GenomeTables, rng: np.random.Generator, *, n_arm: tuple[int, int] = (1, 3),
                        focal_rate: float = 0.4) -> list[CnvEvent]:
    """Random signature events of one class: ``n_arm`` arm / chromosome gains or losses on distinct autosomes,
    plus, with probability ``focal_rate``, an amplification of an oncogene or a homozygous deletion of a
    tumour suppressor."""
    events: list[CnvEvent] = []
    used: set[str] = set()
    for _ in range(int(rng.integers(n_arm[0], n_arm[1] + 1))):
        for _try in range(20):
            ev = _random_arm_event(genome, rng)
            if ev.chrom not in used:
                used.add(ev.chrom)
                events.append(ev)
                break
    if rng.random() < focal_rate:
        if rng.random() < 0.6:
            gene, kind = ONCOGENES[int(rng.integers(0, len(ONCOGENES)))], "amp"
            cn = float(rng.choice([6, 8, 10, 15, 20]))
        else:
            gene, kind, cn = SUPPRESSORS[int(rng.integers(0, len(SUPPRESSORS)))], "homdel", 0.0
        genes_upper = genome.genes["name"].str.upper().str.split("/").str[0]
        if gene in set(genes_upper):
            ev = parse_event(f"{gene}:{kind}", genome, rng)
            events.append(CnvEvent(ev.chrom, ev.start, ev.end, ev.region, kind, cn))
    return events


def random_sample_events(genome: GenomeTables, rng: np.random.Generator, rate: float) -> list[CnvEvent]:
    """Sporadic per-sample arm / chromosome events (Poisson number with mean ``rate``)."""
    return [_random_arm_event(genome, rng) for _ in range(int(rng.poisson(rate)))] if rate > 0 else []


def base_copy_number(chrom_code: np.ndarray, *, male: bool) -> np.ndarray:
    """Germline copy number per probe (``chrom_code`` indexes :data:`CHROMOSOMES`, -1 = unknown)."""
    base = np.full(chrom_code.shape, 2.0, dtype=np.float32)
    x, y = CHROMOSOMES.index("chrX"), CHROMOSOMES.index("chrY")
    base[chrom_code == x] = 1.0 if male else 2.0
    base[chrom_code == y] = 1.0 if male else 0.0
    return base


def probe_copy_number(events: list[CnvEvent], chrom_code: np.ndarray, pos: np.ndarray,
                      base: np.ndarray) -> np.ndarray:
    """Tumour copy number per probe: ``base`` with ``events`` applied in order (arm / chromosome events first,
    focal events last so that a homozygous deletion inside a lost arm stays at 0)."""
    cn = base.copy()
    ordered = sorted(events, key=lambda e: e.kind in ("amp", "homdel"))
    for ev in ordered:
        code = CHROMOSOMES.index(ev.chrom)
        sel = (chrom_code == code) & (pos >= ev.start) & (pos <= ev.end)
        if sel.any():
            b = float(np.median(base[sel]))
            cn[sel] = ev.absolute_cn(b)
    return cn


def chrom_codes(chrom: np.ndarray) -> np.ndarray:
    """Index into :data:`CHROMOSOMES` per probe (``-1`` for unknown / other contigs)."""
    lut = {c: i for i, c in enumerate(CHROMOSOMES)}
    lut.update({c.removeprefix("chr"): i for i, c in enumerate(CHROMOSOMES)})
    inv, uniq = pd.factorize(np.asarray(chrom, dtype=object))
    codes = np.array([lut.get(str(u), -1) for u in uniq] + [-1], dtype=np.int8)
    return codes[inv]  # factorize marks missing values -1 -> the trailing -1
