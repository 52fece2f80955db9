"""Write and read the truth of a simulated cohort (formats documented in :mod:`methylclass.simulate`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .._atomic import atomic_write
from ..errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from .worker import SampleSpec

SAMPLE_COLUMNS = ("sample", "basename", "sentrix_id", "sentrix_position", "slide", "batch", "class", "family",
                  "is_normal", "sex", "purity", "ffpe", "low_quality", "dye_bias", "dna_scale",
                  "background_scale", "conversion_efficiency", "failed_rate", "failed_probes", "n_cnv_events",
                  "sim_index")
DMP_COLUMNS = ("probe_id", "cpg_id", "level", "class", "family", "direction", "delta", "beta_background",
               "beta_class")
CNV_COLUMNS = ("sample", "class", "origin", "chrom", "start", "end", "region", "kind", "copy_number")


def _atomic_csv(df: pd.DataFrame, path: Path, sep: str) -> None:
    atomic_write(path, lambda fh: df.to_csv(fh, sep=sep, index=False, lineterminator="\n"))


def _base_cn(chrom: str, male: bool) -> float:
    if chrom == "chrX":
        return 1.0 if male else 2.0
    if chrom == "chrY":
        return 1.0 if male else 0.0
    return 2.0


def write_truth(out: Path, specs: list[SampleSpec], failed: dict[int, int], dmps: pd.DataFrame, *,
                compress: bool = False, array_of: Mapping[int, str] | None = None,
                manifest_of: Mapping[int, tuple[str, str]] | None = None) -> pd.DataFrame:
    """Write ``samplesheet.csv`` and ``truth/{samples,dmps,cnv}.tsv`` into ``out``; return the sample table.

    ``array_of`` / ``manifest_of`` (mixed-array cohorts: sample index → array name / (probe table, control
    table) files) add an ``array`` column to the truth table and ``Array`` / ``Manifest`` / ``Controls``
    columns to the sample sheet."""
    (out / "truth").mkdir(exist_ok=True)
    rows, cnv_rows = [], []
    for s in specs:
        stem = f"{s.barcode}_{s.position}"
        rows.append({
            "sample": s.sample, "basename": f"idat/{stem}", "sentrix_id": s.barcode, "sentrix_position": s.position,
            "slide": s.slide + 1, "batch": f"B{s.slide + 1:03d}", "class": s.cls, "family": s.family,
            "is_normal": s.is_normal, "sex": "M" if s.male else "F", "purity": round(s.purity, 4),
            "ffpe": s.ffpe, "low_quality": s.low_quality, "dye_bias": round(s.dye_bias, 4),
            "dna_scale": round(s.state.dna_scale, 4), "background_scale": round(s.state.bg_scale, 4),
            "conversion_efficiency": round(s.state.conversion, 4), "failed_rate": round(s.state.failed_rate, 5),
            "failed_probes": int(failed.get(s.index, 0)), "n_cnv_events": len(s.events), "sim_index": s.index,
        })
        for origin, ev in s.events:
            cnv_rows.append({"sample": s.sample, "class": s.cls, "origin": origin, "chrom": ev.chrom,
                             "start": ev.start, "end": ev.end, "region": ev.region, "kind": ev.kind,
                             "copy_number": ev.absolute_cn(_base_cn(ev.chrom, s.male))})
    samples = pd.DataFrame(rows, columns=list(SAMPLE_COLUMNS))
    if array_of is not None:
        samples["array"] = [array_of[s.index] for s in specs]
    _atomic_csv(samples, out / "truth" / "samples.tsv", "\t")
    _atomic_csv(dmps[list(DMP_COLUMNS)], out / "truth" / "dmps.tsv", "\t")
    _atomic_csv(pd.DataFrame(cnv_rows, columns=list(CNV_COLUMNS)), out / "truth" / "cnv.tsv", "\t")
    sheet = pd.DataFrame({
        "Sample_Name": samples["sample"], "Sample_Group": samples["class"],
        "Sentrix_ID": samples["sentrix_id"], "Sentrix_Position": samples["sentrix_position"],
        "Sex": samples["sex"], "Material": samples["ffpe"].map({True: "FFPE", False: "Frozen"}),
        "Basename": samples["basename"],
    })
    if array_of is not None:
        sheet["Array"] = samples["array"]
    if manifest_of is not None:
        sheet["Manifest"] = [manifest_of[s.index][0] for s in specs]
        sheet["Controls"] = [manifest_of[s.index][1] for s in specs]
    _atomic_csv(sheet, out / "samplesheet.csv", ",")
    return samples


@dataclass
class Truth:
    """The truth tables of a simulated cohort (see :mod:`methylclass.simulate` for the columns)."""

    samples: pd.DataFrame
    dmps: pd.DataFrame
    cnv: pd.DataFrame


def read_truth(out_dir: str | Path) -> Truth:
    """Read ``truth/samples.tsv``, ``truth/dmps.tsv`` and ``truth/cnv.tsv`` of a simulated cohort."""
    root = Path(out_dir) / "truth"
    try:
        samples = pd.read_csv(root / "samples.tsv", sep="\t", dtype={"sentrix_id": str})
        dmps = pd.read_csv(root / "dmps.tsv", sep="\t")
        cnv = pd.read_csv(root / "cnv.tsv", sep="\t")
    except FileNotFoundError as exc:
        raise DataError(f"'{out_dir}' is not a simulated cohort: {exc.filename} is missing") from None
    return Truth(samples=samples, dmps=dmps, cnv=cnv)
