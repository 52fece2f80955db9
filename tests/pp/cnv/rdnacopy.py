"""Run R DNAcopy ``segment`` on weighted bin values (the reference the CBS parity test compares with)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

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
"""


def rscript() -> str | None:
    """Path of Rscript when R with DNAcopy is usable, else None."""
    exe = shutil.which("Rscript")
    if not exe:
        return None
    ok = subprocess.run([exe, "-e", "suppressMessages(library(DNAcopy))"], capture_output=True)
    return exe if ok.returncode == 0 else None


def dnacopy_segment(values: np.ndarray, weights: np.ndarray, chrom: np.ndarray, *, alpha: float = 0.001,
                    nperm: int = 10000, min_width: int = 5, undo_sd: float = 2.2, seed: int = 1) -> pd.DataFrame:
    """Segments from R DNAcopy: columns chrom, first, last (0-based bin rows, inclusive), n_bins, mean."""
    exe = rscript()
    if exe is None:
        raise RuntimeError("Rscript with DNAcopy is not available")
    chrom_num = pd.Series(chrom).str.replace("chr", "", regex=False).map(
        lambda c: {"X": 23, "Y": 24}.get(c, c)).astype(int)
    with tempfile.TemporaryDirectory() as tmp:
        inp, out, scr = Path(tmp) / "in.tsv", Path(tmp) / "out.tsv", Path(tmp) / "seg.R"
        pd.DataFrame({"chrom": chrom_num, "pos": np.arange(len(values)) + 1, "value": values,
                      "weight": weights}).to_csv(inp, sep="\t", index=False)
        scr.write_text(R_SCRIPT)
        run = subprocess.run([exe, str(scr), str(inp), str(out), str(seed), str(alpha), str(nperm),
                              str(min_width), str(undo_sd)], capture_output=True, text=True,
                             env={**os.environ, "LC_ALL": "C"})
        if run.returncode != 0:
            raise RuntimeError(f"DNAcopy failed: {run.stderr[-2000:]}")
        seg = pd.read_csv(out, sep="\t")
    return pd.DataFrame({"chrom": ["chr" + str(c) for c in seg["chrom"]], "first": seg["startRow"] - 1,
                         "last": seg["endRow"] - 1, "n_bins": seg["num.mark"], "mean": seg["seg.mean"]})
