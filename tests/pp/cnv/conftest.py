"""Shared helpers of the CNV tests (tests/pp/cnv).

* :class:`CNVSimulator` — an in-test generator of total intensities on the fit probes of real HM450 bins with
  planted arm and focal copy-number events (the planted truth most CNV tests compare with). Model, on the
  log2 scale per probe p and sample s: ``a_p + o_s + g_s·(a_p − ā) + c·log2(CN/2) + ε`` — probe affinities
  ``a_p`` shared by normals and tumours, a sample offset and gain, a copy-number effect compressed by ``c``
  (arrays show roughly half the theoretical log2 ratio) and probe-specific Gaussian noise.
* :func:`dnacopy_segment` — R DNAcopy's weighted segmentation on given bin values (the parity reference).
* session fixtures: the real HM450 manifest, its hg19 bins, the genome, a 16-normal reference panel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from methylclass.pp.cnv.bins import Bins, make_bins
from methylclass.pp.cnv.genome import Genome, load_genome, load_regions
from methylclass.pp.cnv.reference import CNVReference

ARMS = [f"{c}{a}" for c in range(1, 23) for a in "pq"]
#: arms with enough probes on the 450k to be called (acrocentric p arms excluded)
CALLABLE_ARMS = [a for a in ARMS if a not in {"13p", "14p", "15p", "21p", "22p"}]


@dataclass
class Planted:
    """Truth of one simulated tumour: arm copy numbers and focal events (gene → copy number)."""

    arms: dict = field(default_factory=dict)
    focal: dict = field(default_factory=dict)


class CNVSimulator:
    """Simulate normals and tumours on the fit probes of ``bins`` (arrays aligned to ``bins.probe_index``)."""

    def __init__(self, bins: Bins, genome: Genome, seed: int = 0, compression: float = 0.6,
                 noise: tuple[float, float] = (0.12, 0.30)):
        self.bins = bins
        self.rng = np.random.default_rng(seed)
        n = bins.n_fit_probes
        self.affinity = self.rng.normal(12.0, 1.0, n)
        self.sd = self.rng.uniform(*noise, n)
        self.compression = compression
        pq = dict(zip(genome.chroms, genome.pq))
        side = np.where(bins.probe_pos <= np.array([pq[c] for c in bins.probe_chrom]), "p", "q")
        self.arm = np.char.add(np.char.replace(bins.probe_chrom.astype(str), "chr", ""), side)

    def _sample(self, log2_cn: np.ndarray) -> np.ndarray:
        off = self.rng.normal(0, 0.3)
        gain = self.rng.normal(0, 0.05)
        a = self.affinity
        y = a + off + gain * (a - a.mean()) + self.compression * log2_cn + self.rng.normal(0, self.sd)
        return np.exp2(y)

    def normal(self) -> np.ndarray:
        """Total intensities of one copy-neutral normal."""
        return self._sample(np.zeros(self.bins.n_fit_probes))

    def copy_number(self, planted: Planted, regions: pd.DataFrame | None = None, flank: int = 150_000):
        """Copy number per fit probe for ``planted`` (focal events cover the gene ± ``flank``)."""
        cn = np.full(self.bins.n_fit_probes, 2.0)
        for arm, c in planted.arms.items():
            cn[self.arm == arm] = c
        if planted.focal:
            regs = regions if regions is not None else load_regions("detail", "hg19")
            for _, r in regs[regs["name"].isin(list(planted.focal))].iterrows():
                sel = (self.bins.probe_chrom == r["chrom"]) & (self.bins.probe_pos >= r["start"] - flank) & (
                    self.bins.probe_pos <= r["end"] + flank)
                cn[sel] = planted.focal[r["name"]]
        return cn

    def tumour(self, planted: Planted, regions: pd.DataFrame | None = None, flank: int = 150_000) -> np.ndarray:
        """Total intensities of a tumour with ``planted`` arm and focal copy numbers (gene ± ``flank``)."""
        cn = self.copy_number(planted, regions, flank)
        return self._sample(np.log2(np.maximum(cn, 0.05) / 2))


# ------------------------------------------------------------------------------------------ R DNAcopy
R_SCRIPT = r"""
# DNAcopy's weighted segmentation, one chromosome at a time with that chromosome's own weights.
# (DNAcopy 1.72 segment() hands the whole-sample weight vector to every chromosome, so from the second
# chromosome on the weights are misaligned; we call its per-chromosome kernel the way segment() intends:
# same trimmed SD over the whole sample, same sequential boundary, hybrid p-values, sdundo.)
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(DNAcopy))
d <- read.delim(args[1])
set.seed(as.integer(args[3]))
alpha <- as.numeric(args[4]); nperm <- as.integer(args[5]); min.width <- as.integer(args[6])
undo.SD <- as.numeric(args[7])
tsd <- sqrt(DNAcopy:::trimmed.variance(d$value, 0.025))
sbdry <- getbdry(0.05, nperm, floor(nperm * alpha) + 1)
res <- NULL
for (ic in unique(d$chrom)) {
  sel <- which(d$chrom == ic)
  cp <- DNAcopy:::changepoints(d$value[sel], "logratio", alpha, d$weight[sel], sbdry, length(sbdry), nperm,
                               "hybrid", min.width, 25, 200, tsd, "sdundo", 0.05, undo.SD, 0)
  ends <- cumsum(cp$lseg)
  res <- rbind(res, data.frame(chrom = ic, startRow = sel[1] + c(0, ends[-length(ends)]),
                               endRow = sel[1] + ends - 1, num.mark = cp$lseg, seg.mean = cp$segmeans))
}
write.table(res, args[2], sep = "\t", quote = FALSE, row.names = FALSE)
cat(sprintf("%.10f\n", tsd), file = args[8])
"""


def rscript() -> str | None:
    """Path of Rscript when R with DNAcopy is usable here, else None."""
    exe = shutil.which("Rscript")
    if not exe:
        return None
    ok = subprocess.run([exe, "-e", "suppressMessages(library(DNAcopy))"], capture_output=True, check=False)
    return exe if ok.returncode == 0 else None


def require_r() -> str:
    """Rscript with DNAcopy; in CI (CI=true) its absence fails the test, elsewhere it skips."""
    exe = rscript()
    if exe is None:
        msg = "R with DNAcopy is not installed (apt-get install r-base-core r-bioc-dnacopy)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return exe


def dnacopy_segment(values: np.ndarray, weights: np.ndarray, chrom: np.ndarray, *, alpha: float = 0.001,
                    nperm: int = 10000, min_width: int = 5, undo_sd: float = 2.2,
                    seed: int = 1) -> tuple[pd.DataFrame, float]:
    """R DNAcopy segments (chrom, first, last — 0-based inclusive rows —, n_bins, mean) and its trimmed SD."""
    exe = require_r()
    chrom_num = pd.Series(chrom).str.replace("chr", "", regex=False).map(
        lambda c: {"X": 23, "Y": 24}.get(c, c)).astype(int)
    with tempfile.TemporaryDirectory() as tmp:
        inp, out, scr, sd = (Path(tmp) / n for n in ("in.tsv", "out.tsv", "seg.R", "sd.txt"))
        pd.DataFrame({"chrom": chrom_num, "pos": np.arange(len(values)) + 1, "value": values,
                      "weight": weights}).to_csv(inp, sep="\t", index=False, float_format="%.12g")
        scr.write_text(R_SCRIPT)
        run = subprocess.run([exe, str(scr), str(inp), str(out), str(seed), str(alpha), str(nperm),
                              str(min_width), str(undo_sd), str(sd)], capture_output=True, text=True, check=False,
                             env={**os.environ, "LC_ALL": "C"})
        if run.returncode != 0:
            raise RuntimeError(f"DNAcopy failed: {run.stderr[-2000:]}")
        seg = pd.read_csv(out, sep="\t")
        tsd = float(sd.read_text())
    return pd.DataFrame({"chrom": ["chr" + str(c) for c in seg["chrom"]], "first": seg["startRow"] - 1,
                         "last": seg["endRow"] - 1, "n_bins": seg["num.mark"], "mean": seg["seg.mean"]}), tsd


def breakpoints(seg: pd.DataFrame) -> np.ndarray:
    """Internal breakpoints (last bin of every segment followed by one on the same chromosome)."""
    same = seg["chrom"].shift(-1) == seg["chrom"]
    return np.sort(seg["last"][same].to_numpy())


def matched_fraction(a: np.ndarray, b: np.ndarray, tol: int = 2) -> float:
    """Fraction of breakpoints in ``a`` with one of ``b`` within ``tol`` bins (1.0 when ``a`` is empty)."""
    if a.size == 0:
        return 1.0
    if b.size == 0:
        return 0.0
    return float(np.mean(np.min(np.abs(a[:, None] - b[None, :]), axis=1) <= tol))


def per_bin(seg: pd.DataFrame, n: int, column: str = "mean") -> np.ndarray:
    """Segment values expanded to bins."""
    out = np.full(n, np.nan)
    for f, l, v in zip(seg["first"], seg["last"], seg[column]):
        out[f:l + 1] = v
    return out


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def hm450(data_dir):
    """The real HM450 manifest (hg19 coordinates)."""
    from methylclass.io.manifest import load_manifest

    return load_manifest("HM450")


@pytest.fixture(scope="session")
def genome(data_dir) -> Genome:
    """hg19 genome tables."""
    return load_genome("hg19")


@pytest.fixture(scope="session")
def bins(hm450) -> Bins:
    """conumee-default bins of the HM450 manifest on hg19."""
    return make_bins(hm450, "hg19")


@pytest.fixture(scope="session")
def sim(bins, genome) -> CNVSimulator:
    """Simulator on the HM450 fit probes (fixed seed)."""
    return CNVSimulator(bins, genome, seed=11)


@pytest.fixture(scope="session")
def panel(sim, bins) -> CNVReference:
    """A panel of 16 simulated copy-neutral normals."""
    return CNVReference.from_intensities(np.vstack([sim.normal() for _ in range(16)]), bins,
                                         [f"normal{i + 1}" for i in range(16)])


@pytest.fixture(scope="session")
def planted():
    """The :class:`Planted` truth type (tests cannot import conftest directly)."""
    return Planted


@pytest.fixture(scope="session")
def r_tools():
    """R DNAcopy helpers: namespace with dnacopy_segment, breakpoints, matched_fraction, per_bin, require_r."""
    import types

    return types.SimpleNamespace(dnacopy_segment=dnacopy_segment, breakpoints=breakpoints,
                                 matched_fraction=matched_fraction, per_bin=per_bin, require_r=require_r,
                                 callable_arms=CALLABLE_ARMS)


@pytest.fixture(scope="session")
def simulator_cls():
    """The :class:`CNVSimulator` type (for simulations on other bin sets)."""
    return CNVSimulator
