"""Write a methylclass :class:`~methylclass.io.manifest.types.Manifest` as an Illumina manifest CSV.

mepylome works offline only from Illumina's own manifest CSV (``Manifest(raw_path="….csv")``); these
machines hold no copy of that file, but methylclass's HM450 manifest carries everything mepylome reads from
it (addresses, design, colour channel, coordinates, control probes). This writes it in Illumina's exact layout,
the one :mod:`methylclass.io.manifest.illumina` reads back::

    Illumina, Inc.
    [Heading]
    Descriptor File Name,HumanMethylation450_15017482_v.1.2.bpm
    Assay Format,Infinium HD Methylation
    Date Manufactured,…
    Loci Count ,485577
    [Assay]
    IlmnID,Name,AddressA_ID,AlleleA_ProbeSeq,AddressB_ID,AlleleB_ProbeSeq,Infinium_Design_Type,Next_Base,
        Color_Channel,Forward_Sequence,Genome_Build,CHR,MAPINFO,SourceSeq,Chromosome_36,Coordinate_36,Strand
    cg00035864,cg00035864,31729416,,,,II,,,,37,Y,8553009,,,,
    …
    [Controls]
    21630339,STAINING,-99,DNP(20K)
    …

CRLF line ends as in Illumina's files. Probe sequences are not in methylclass manifests: those columns are
empty (mepylome then counts 0 CpGs per probe — used by none of its normalisations). ``AddressA_ID`` is the Type
II / Type I unmethylated bead, ``AddressB_ID`` the Type I methylated bead; ``Next_Base`` is derived from the
Type I colour (A/T → Red, C/G → Grn) as in Illumina's file. Hand-written because no library writes this
layout (methylclass only reads it; methylprep's own layout is another one).

Kept in the benchmark folder, not the package: only the mepylome comparison needs it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from methylclass.errors import ManifestError
from methylclass.io.manifest.types import Manifest

#: the [Assay] columns written, in Illumina's order (450k manifest v1.2, up to Strand)
ASSAY_COLUMNS = ("IlmnID", "Name", "AddressA_ID", "AlleleA_ProbeSeq", "AddressB_ID", "AlleleB_ProbeSeq",
                 "Infinium_Design_Type", "Next_Base", "Color_Channel", "Forward_Sequence", "Genome_Build",
                 "CHR", "MAPINFO", "SourceSeq", "Chromosome_36", "Coordinate_36", "Strand")
#: descriptor (.bpm) names Illumina gives the arrays methylclass knows
DESCRIPTORS = {"HM450": "HumanMethylation450_15017482_v.1.2.bpm",
               "HM27": "HumanMethylation27_270596_v.1.2.bpm",
               "EPIC": "MethylationEPIC_v-1-0_B4.bpm"}
_BUILDS = {"hg19": "37", "hg38": "38", "hg18": "36"}


def assay_frame(manifest: Manifest) -> pd.DataFrame:
    """The ``[Assay]`` section of ``manifest`` as a frame of strings, one row per probe (vectorised)."""
    p = manifest.probes
    n = len(p)
    pos = p["pos"].to_numpy(np.int64)
    chrom = p["chrom"].astype(str).str.replace("^chr", "", regex=True).to_numpy()
    has_pos = (pos >= 0) & (chrom != "")
    addr_m = p["address_m"].to_numpy(np.int64)
    channel = p["channel"].astype(str).to_numpy()
    next_base = np.select([channel == "Red", channel == "Grn"], ["A", "C"], default="")
    empty = np.full(n, "", dtype=object)
    build = _BUILDS.get(manifest.genome_build, "")
    frame = pd.DataFrame({
        "IlmnID": p["probe_id"].astype(str).to_numpy(),
        "Name": p["cpg_id"].astype(str).to_numpy(),
        "AddressA_ID": p["address_u"].to_numpy(np.int64).astype(str),
        "AlleleA_ProbeSeq": empty,
        "AddressB_ID": np.where(addr_m >= 0, addr_m.astype(str), ""),
        "AlleleB_ProbeSeq": empty,
        "Infinium_Design_Type": p["design"].astype(str).to_numpy(),
        "Next_Base": next_base,
        "Color_Channel": channel,
        "Forward_Sequence": empty,
        "Genome_Build": np.where(has_pos, build, ""),
        "CHR": np.where(has_pos, chrom, ""),
        "MAPINFO": np.where(has_pos, pos.astype(str), ""),
        "SourceSeq": empty, "Chromosome_36": empty, "Coordinate_36": empty, "Strand": empty,
    }, columns=list(ASSAY_COLUMNS))
    return frame


def write_illumina_manifest(manifest: Manifest, path: str | Path, *, date: str = "5/2/2013") -> Path:
    """Write ``manifest`` as an Illumina manifest CSV at ``path`` (temporary name, then renamed).

    Raises :class:`ManifestError` when the manifest has no control probes (noob and the Illumina
    normalisation need them) or the file cannot be written.
    """
    path = Path(path)
    if len(manifest.controls) == 0:
        raise ManifestError(f"manifest '{manifest.source or manifest.array}' has no control probes; an Illumina "
                            "manifest CSV without [Controls] is useless for normalisation")
    descriptor = DESCRIPTORS.get(manifest.array, f"{manifest.array}.bpm")
    width = len(ASSAY_COLUMNS)
    pad = "," * (width - 2)
    head = [f"Illumina, Inc.{pad},", f"[Heading]{pad},", f"Descriptor File Name,{descriptor}{pad}",
            f"Assay Format,Infinium HD Methylation{pad}", f"Date Manufactured,{date}{pad}",
            f"Loci Count ,{manifest.n_probes}{pad}", f"[Assay]{pad},"]
    c = manifest.controls
    ctrl = (c["address"].to_numpy(np.int64).astype(str).astype(object) + "," + c["type"].astype(str).to_numpy()
            + "," + c["channel"].astype(str).to_numpy() + "," + c["name"].astype(str).to_numpy())
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", newline="") as fh:
            fh.write("\r\n".join(head) + "\r\n")
            assay_frame(manifest).to_csv(fh, index=False, lineterminator="\r\n")
            fh.write(f"[Controls]{pad},\r\n")
            fh.write("\r\n".join(ctrl) + "\r\n")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ManifestError(f"cannot write Illumina manifest '{path}': {exc}") from None
    return path
