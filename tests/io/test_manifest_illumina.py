"""Illumina manifest CSV loader (methylclass.io.manifest.illumina) and EPICv2 manifests end to end.

The CSVs are written here in Illumina's exact layout (``[Heading]``/``[Assay]``/``[Controls]``, CRLF, the
450k column set) from real tables: the 450k sesame TSV and the real EPICv2 probe list.
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ManifestError
from methylclass.io.idat import Idat
from methylclass.io.manifest import collapse_replicates, detect_array, load_manifest
from methylclass.io.manifest.illumina import read_illumina_csv
from methylclass.io.manifest.types import Manifest
from methylclass.io.raw import rawset_from_idats

#: the [Assay] columns of Illumina's HumanMethylation450_15017482_v1-2.csv, in order
ASSAY_COLUMNS_450K = [
    "IlmnID", "Name", "AddressA_ID", "AlleleA_ProbeSeq", "AddressB_ID", "AlleleB_ProbeSeq",
    "Infinium_Design_Type", "Next_Base", "Color_Channel", "Forward_Sequence", "Genome_Build", "CHR", "MAPINFO",
    "SourceSeq", "Chromosome_36", "Coordinate_36", "Strand", "Probe_SNPs", "Probe_SNPs_10", "Random_Loci",
    "Methyl27_Loci", "UCSC_RefGene_Name", "UCSC_RefGene_Accession", "UCSC_RefGene_Group",
    "UCSC_CpG_Islands_Name", "Relation_to_UCSC_CpG_Island", "Phantom", "DMR", "Enhancer", "HMM_Island",
    "Regulatory_Feature_Name", "Regulatory_Feature_Group", "DHS"]
#: the extra [Assay] columns of the EPIC v2 manifest that matter here
ASSAY_COLUMNS_EPICV2 = [
    "IlmnID", "Name", "AddressA_ID", "AlleleA_ProbeSeq", "AddressB_ID", "AlleleB_ProbeSeq",
    "Infinium_Design_Type", "Next_Base", "Color_Channel", "Forward_Sequence", "Genome_Build", "CHR", "MAPINFO",
    "SourceSeq", "Strand_FR", "Strand_TB", "Strand_CO", "Probe_Type", "Rep_Num", "UCSC_RefGene_Name"]
#: sesame-style control types as labs' tools spell them; Illumina's file is upper case — both must load
_TITLE_TYPES = {"BISULFITE CONVERSION I": "Bisulfite Conversion I", "NORM_A": "Norm_A",
                "SPECIFICITY II": "Specificity II"}


def write_illumina_csv(path: Path, probes: pd.DataFrame, controls: pd.DataFrame | None, *,
                       descriptor: str = "HumanMethylation450_15017482_v.1.2.bpm", build: str = "37",
                       chr_prefix: bool = False, heading: bool = True, loci_count: int | None = None,
                       columns: list[str] = ASSAY_COLUMNS_450K) -> Path:
    """Write ``probes``/``controls`` (manifest contract columns) as an Illumina manifest CSV (CRLF).

    Type I: AddressA = unmethylated (``address_u``), AddressB = methylated; Type II: AddressA only.
    ``heading=False`` writes methylprep's variant (no ``[Heading]``/``[Assay]`` lines).
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    pad = [""] * (len(columns) - 2)
    if heading:
        w.writerow(["Illumina, Inc."] + [""] * (len(columns) - 1))
        w.writerow(["[Heading]", ""] + pad)
        w.writerow(["Descriptor File Name", descriptor] + pad)
        w.writerow(["Assay Format", "Infinium HD Methylation"] + pad)
        w.writerow(["Date Manufactured", "5/1/2012"] + pad)
        w.writerow(["Loci Count ", str(loci_count if loci_count is not None else len(probes))] + pad)
        w.writerow(["[Assay]", ""] + pad)
    w.writerow(columns)
    seq = "ACGT" * 12 + "AC"
    for i, r in enumerate(probes.itertuples(index=False)):
        t1 = r.design == "I"
        chrom = r.chrom if chr_prefix else r.chrom.removeprefix("chr")
        values = {
            "IlmnID": r.probe_id, "Name": r.cpg_id, "AddressA_ID": str(r.address_u), "AlleleA_ProbeSeq": seq,
            "AddressB_ID": str(r.address_m) if t1 else "", "AlleleB_ProbeSeq": seq if t1 else "",
            "Infinium_Design_Type": r.design, "Next_Base": "A" if t1 else "", "Color_Channel": r.channel,
            "Forward_Sequence": f"{seq[:20]}[CG]{seq[:20]}", "Genome_Build": build if r.chrom else "",
            "CHR": chrom, "MAPINFO": str(r.pos) if r.pos > 0 else "", "Strand": "F",
            "UCSC_RefGene_Name": "GENE1;GENE1" if i % 3 else "",
            # a quoted free-text field with a comma, as spreadsheets write them
            "UCSC_RefGene_Accession": "NM_1, NM_2" if i % 7 == 0 else "NM_1",
            "Rep_Num": "1", "Probe_Type": r.probe_id[:2],
        }
        w.writerow([values.get(c, "") for c in columns])
    if controls is not None:
        w.writerow(["[Controls]", ""] + pad)
        for r in controls.itertuples(index=False):
            w.writerow([str(r.address), _TITLE_TYPES.get(r.type, r.type), r.channel, r.name] +
                       [""] * (len(columns) - 4))
    data = buf.getvalue().encode()
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(data))
    elif path.name.endswith(".zip"):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(path.stem + ".csv", data)
    else:
        path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def hm450():
    return load_manifest("HM450")


@pytest.fixture(scope="module")
def subset_450k(hm450) -> pd.DataFrame:
    """~3,100 real 450k probes: the first 1,000, a seeded sample across the table, all 65 without a locus."""
    rng = np.random.default_rng(7)
    p = hm450.probes
    rows = np.union1d(np.arange(1000), rng.choice(len(p), 2000, replace=False))
    rows = np.union1d(rows, np.flatnonzero(p["chrom"].to_numpy() == ""))
    return p.iloc[rows].reset_index(drop=True)


@pytest.mark.parametrize("name", ["m.csv", "m.csv.gz", "m.zip"])
def test_illumina_csv_equals_the_tsv(tmp_path, hm450, subset_450k, name):
    """Reference: the sesame TSV manifest of the same real probes and controls (loaded by the TSV loader)."""
    path = write_illumina_csv(tmp_path / name, subset_450k, hm450.controls)
    man = read_illumina_csv(path)
    assert man.array == "HM450" and man.genome_build == "hg19"
    assert man.extra["heading"]["Descriptor File Name"] == "HumanMethylation450_15017482_v.1.2.bpm"
    pd.testing.assert_frame_equal(man.probes, subset_450k)
    pd.testing.assert_frame_equal(man.controls, hm450.controls)
    assert set(man.probes["design"]) == {"I", "II"} and (man.probes["chrom"] == "").sum() == 65


def test_methylprep_layout_and_load_manifest(tmp_path, hm450, subset_450k):
    """Reference: the TSV manifest again, for methylprep's variant (no [Heading]/[Assay]) and via
    load_manifest (cached, with sha256 and array from the heading)."""
    path = write_illumina_csv(tmp_path / "mp.csv", subset_450k, hm450.controls, heading=False)
    man = read_illumina_csv(path, array="HM450")
    pd.testing.assert_frame_equal(man.probes, subset_450k)
    pd.testing.assert_frame_equal(man.controls, hm450.controls)
    full = write_illumina_csv(tmp_path / "il.csv", subset_450k, hm450.controls)
    loaded = load_manifest(path=full)
    assert loaded.array == "HM450" and len(loaded.sha256) == 64 and loaded.extra["format"] == "illumina_csv"
    pd.testing.assert_frame_equal(loaded.probes, subset_450k)


def test_illumina_csv_errors(tmp_path, hm450, subset_450k):
    """Planted damage: truncation, missing columns, bad addresses, duplicate ids, build conflicts, junk."""
    trunc = write_illumina_csv(tmp_path / "trunc.csv", subset_450k.iloc[:500], None, loci_count=485_577)
    with pytest.raises(ManifestError, match=r"trunc\.csv' is truncated: .* 485,577 loci .* 500 rows"):
        read_illumina_csv(trunc)
    nocol = write_illumina_csv(tmp_path / "nocol.csv", subset_450k.iloc[:5], None,
                               columns=[c for c in ASSAY_COLUMNS_450K if c != "AddressA_ID"])
    with pytest.raises(ManifestError, match="nocol.csv' lacks the column.*AddressA_ID"):
        read_illumina_csv(nocol)
    bad = subset_450k.iloc[:5].copy()
    bad["address_u"] = bad["address_u"].astype(object)
    bad.loc[2, "address_u"] = "12x4"
    with pytest.raises(ManifestError, match="bad.csv': 1 AddressA_ID values are not bead addresses"):
        read_illumina_csv(write_illumina_csv(tmp_path / "bad.csv", bad, None))
    dup = pd.concat([subset_450k.iloc[:3], subset_450k.iloc[:1]], ignore_index=True)
    with pytest.raises(ManifestError, match="appears more than once"):
        read_illumina_csv(write_illumina_csv(tmp_path / "dup.csv", dup, None))
    ok = write_illumina_csv(tmp_path / "ok.csv", subset_450k.iloc[:50], None)
    with pytest.raises(ManifestError, match="coordinates for hg19 only; hg38 was requested"):
        read_illumina_csv(ok, genome_build="hg38")
    junk = tmp_path / "junk.csv"
    junk.write_text("hello,world\n1,2\n")
    with pytest.raises(ManifestError, match="junk.csv' is neither an Illumina manifest CSV"):
        load_manifest(path=junk)
    with pytest.raises(ManifestError, match="no \\[Assay\\] section"):
        read_illumina_csv(junk)
    gz = tmp_path / "broken.csv.gz"
    gz.write_bytes(gzip.compress(ok.read_bytes())[:300])
    with pytest.raises(ManifestError, match="broken.csv.gz' cannot be read"):
        read_illumina_csv(gz)


@pytest.fixture(scope="module")
def epicv2_probes(data_dir) -> pd.DataFrame:
    """A manifest-contract table of real EPICv2 probe ids (all members of 400 replicate groups + 1,600
    single probes) with planted addresses, designs from the suffix digit (1 = Type I) and real chromosomes."""
    ref = pd.read_parquet(data_dir / "manifests/epicv2/epicv2_probes_peters2024.parquet", columns=["IlmnID", "CHR"])
    cpg = ref["IlmnID"].str.replace(r"_[TB][CO]\d+$", "", regex=True).to_numpy(dtype=object)
    codes, _uniq = pd.factorize(cpg)
    counts = np.bincount(codes)
    size = counts[codes]
    rng = np.random.default_rng(3)
    groups = rng.choice(np.flatnonzero(counts > 1), 400, replace=False)   # group codes
    singles = rng.choice(np.flatnonzero(size == 1), 1600, replace=False)
    rows = np.union1d(np.flatnonzero(np.isin(codes, groups)), singles)
    sub = ref.iloc[rows].reset_index(drop=True)
    n = len(sub)
    design = np.where(sub["IlmnID"].str.rsplit("_", n=1).str[1].str[2] == "1", "I", "II")
    addr = 1_000_000 + rng.choice(98_000_000, 2 * n, replace=False)
    t1 = design == "I"
    chrom = sub["CHR"].fillna("").replace("chr0", "")   # the list marks unmapped probes as chr0
    return pd.DataFrame({
        "probe_id": sub["IlmnID"].to_numpy(dtype=object), "cpg_id": cpg[rows],
        "address_u": addr[:n].astype(np.int64), "address_m": np.where(t1, addr[n:], -1).astype(np.int64),
        "design": design.astype(object),
        "channel": np.where(t1, np.where(rng.random(n) < 0.5, "Red", "Grn"), "").astype(object),
        "chrom": chrom.to_numpy(dtype=object),
        "pos": np.where(chrom != "", rng.integers(10_000, 100_000_000, n), -1).astype(np.int64),
    })


def test_epicv2_illumina_csv(tmp_path, data_dir, epicv2_probes):
    """Reference: the planted table (ids from the real EPICv2 list); cpg_id must be the IlmnID without its
    _TC21-style suffix; GRCh38 and 'chr1'-style CHR must be understood; without a [Controls] section the
    shipped EPICv2 control table (635 probes) is used."""
    ctrl = pd.read_csv(data_dir / "manifests/epicv2/epicv2_controls.csv.gz")
    ctrl = pd.DataFrame({"address": ctrl["Address_ID"], "type": ctrl["Control_Type"], "channel":
                         ctrl["Color"].astype(str), "name": ctrl["Extended_Type"]})
    path = write_illumina_csv(tmp_path / "EPIC-8v2-0_A1.csv", epicv2_probes, ctrl,
                              descriptor="EPIC-8v2-0_A1.bpm", build="GRCh38", chr_prefix=True,
                              columns=ASSAY_COLUMNS_EPICV2)
    man = load_manifest("EPICv2", path=path)
    assert man.array == "EPICv2" and man.genome_build == "hg38"
    pd.testing.assert_frame_equal(man.probes, epicv2_probes)
    assert (man.probes["cpg_id"] != man.probes["probe_id"]).all()
    assert len(man.controls) == 635 and read_illumina_csv(path).array == "EPICv2"
    bare = write_illumina_csv(tmp_path / "bare.csv", epicv2_probes, None, descriptor="EPIC-8v2-0_A1.bpm",
                              build="GRCh38", chr_prefix=True, columns=ASSAY_COLUMNS_EPICV2)
    man2 = load_manifest("EPICv2", path=bare)
    assert len(man2.controls) == 635 and set(man2.controls["address"]) == set(ctrl["address"])


def test_epicv2_end_to_end_with_planted_betas(tmp_path, epicv2_probes):
    """Planted truth through the whole path: EPICv2 manifest CSV → synthetic IDAT pair of EPICv2 size
    (1,105,209 addresses, detected as EPICv2 by count) with intensities placed by the Infinium channel rules
    → RawSet betas → collapse_replicates. Reference: each CpG's planted replicate betas averaged by a plain
    per-group loop."""
    path = write_illumina_csv(tmp_path / "v2.csv", epicv2_probes, None, descriptor="EPIC-8v2-0_A1.bpm",
                              build="GRCh38", chr_prefix=True, columns=ASSAY_COLUMNS_EPICV2)
    man = load_manifest("EPICv2", path=path)
    p = man.probes
    rng = np.random.default_rng(11)
    total = 10_000
    meth = rng.integers(0, total + 1, len(p))          # planted: beta = meth / total (offset 0)
    unmeth = total - meth
    probe_addr = np.concatenate([p["address_u"], p["address_m"][p["address_m"] >= 0]])
    used = np.concatenate([probe_addr, man.controls["address"]])
    assert used.max() < 100_000_000
    filler = np.arange(100_000_000, 100_000_000 + 1_105_209 - len(used))   # addresses no probe uses
    ids = np.sort(np.concatenate([used, filler]))
    assert len(ids) == 1_105_209 and (np.diff(ids) > 0).all()
    grn = np.full(len(ids), 77.0)
    red = np.full(len(ids), 88.0)
    def at(address: int) -> int:
        return int(np.searchsorted(ids, address))

    for r, m_, u_ in zip(p.itertuples(index=False), meth, unmeth):   # the channel rules, written out
        if r.design == "II":
            grn[at(r.address_u)], red[at(r.address_u)] = m_, u_
        elif r.channel == "Red":
            red[at(r.address_m)], red[at(r.address_u)] = m_, u_
        else:
            grn[at(r.address_m)], grn[at(r.address_u)] = m_, u_
    g_idat, r_idat = Idat.from_arrays(ids, grn), Idat.from_arrays(ids, red)
    assert detect_array(g_idat) == "EPICv2"
    rs = rawset_from_idats([("S1", g_idat, r_idat)], man)
    betas = rs.betas(offset=0)
    assert np.array_equal(betas.loc["S1"].to_numpy(), (meth / total).astype(np.float32))
    collapsed = collapse_replicates(betas.T, man)  # replicate probes are rows here
    expected: dict[str, list[float]] = {}
    for cpg, b in zip(p["cpg_id"], (meth / total).astype(np.float32)):
        expected.setdefault(cpg, []).append(float(b))
    assert collapsed.index.tolist() == list(expected)
    assert np.allclose(collapsed["S1"].to_numpy(), [np.mean(v) for v in expected.values()], atol=1e-6)
    assert sum(len(v) > 1 for v in expected.values()) == 400


def test_manifest_error_lists_files(tmp_path):
    """A path that does not exist, or a folder, is named in the error."""
    with pytest.raises(ManifestError, match="nothere.csv' does not exist"):
        load_manifest(path=tmp_path / "nothere.csv")
    with pytest.raises(ManifestError, match="is a folder, not a manifest file"):
        load_manifest("EPICv2", path=tmp_path)
    assert isinstance(load_manifest("HM27"), Manifest)
