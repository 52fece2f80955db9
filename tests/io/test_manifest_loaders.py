"""Sesame-style manifest loaders, coordinates and column normalisation (methylclass.io.manifest)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ManifestError
from methylclass.io.manifest import load_manifest, load_sesame_tsv
from methylclass.io.manifest.tables import (
    build_control_table,
    normalize_build,
    normalize_chrom,
    strip_replicate_suffix,
)
from methylclass.io.manifest.types import CONTROL_COLUMNS, PROBE_COLUMNS


@pytest.fixture(scope="module")
def hm450_source(data_dir) -> pd.DataFrame:
    """The 450k TSV read directly with pandas (the reference for the loader's column mapping)."""
    return pd.read_csv(data_dir / "manifests/hm450/hm450_manifest.tsv.gz", sep="\t", low_memory=False)


def test_hm450_matches_its_source_table(hm450_source):
    """Reference: the raw columns of hm450_manifest.tsv.gz (485,577 probes; DESIGN/col; minfi hg19 pos)."""
    man = load_manifest("HM450")
    p, src = man.probes, hm450_source
    assert list(p.columns) == list(PROBE_COLUMNS) and man.n_probes == 485_577 == len(src)
    assert man.array == "HM450" and man.genome_build == "hg19" and man.has_coordinates
    assert (p["probe_id"].to_numpy() == src["Probe_ID"].to_numpy()).all()
    assert (p["cpg_id"] == p["probe_id"]).all()
    assert (p["address_u"].to_numpy() == src["address_U"].to_numpy()).all()
    assert (p["address_m"].to_numpy() == src["address_M"].fillna(-1).astype(np.int64).to_numpy()).all()
    assert (p["design"].to_numpy() == src["DESIGN"].to_numpy()).all()
    expected_channel = src["col"].map({"R": "Red", "G": "Grn"}).fillna("")
    assert (p["channel"].to_numpy() == expected_channel.to_numpy()).all()
    assert p["design"].value_counts().to_dict() == {"II": 350_076, "I": 135_501}
    assert p["channel"].value_counts().to_dict() == {"": 350_076, "Red": 89_203, "Grn": 46_298}
    assert (p["chrom"].to_numpy() == src["chr_hg19"].fillna("").to_numpy()).all()
    assert (p["pos"].to_numpy() == src["pos_hg19"].fillna(-1).astype(np.int64).to_numpy()).all()
    for col in ("address_u", "address_m", "pos"):
        assert p[col].dtype == np.int64
    c = man.controls
    assert list(c.columns) == list(CONTROL_COLUMNS) and len(c) == 850 and c["address"].dtype == np.int64
    assert c["type"].value_counts().to_dict()["NEGATIVE"] == 614
    assert {"NORM_A", "NORM_C", "NORM_G", "NORM_T", "BISULFITE CONVERSION I", "BISULFITE CONVERSION II",
            "EXTENSION", "HYBRIDIZATION", "STAINING", "SPECIFICITY I", "SPECIFICITY II", "TARGET REMOVAL",
            "NON-POLYMORPHIC"} <= set(c["type"])


def test_hm450_hg38(hm450_source):
    """Reference: the TSV's sesame hg38 columns (start_hg38 is 1-based: InfiniumAnnotation CpG_beg + 1)."""
    man = load_manifest("HM450", genome_build="GRCh38")
    assert man.genome_build == "hg38"
    assert (man.probes["chrom"].to_numpy() == hm450_source["chr_hg38"].fillna("").to_numpy()).all()
    assert (man.probes["pos"].to_numpy()
            == hm450_source["start_hg38"].fillna(-1).astype(np.int64).to_numpy()).all()
    assert man.sha256 != load_manifest("HM450").sha256  # other coordinates → other identity
    with pytest.raises(ManifestError, match="hg19, hg38 only; hg18 was requested"):
        load_manifest("HM450", genome_build="hg18")


def test_msa_coordinates_are_row_aligned(data_dir, hm450_source):
    """Reference: for the CpGs shared by MSA and 450k, the MSA position (row-aligned msa_hg38_coord, 0-based
    CpG_beg + 1) must equal the 450k hg38 position. Measured: 119,586 of 119,594 agree (99.993 %); the 8
    others are probes whose two designs map differently."""
    man = load_manifest("MSA")
    assert man.genome_build == "hg38" and man.array == "MSA"
    # 284,309 rows − 2,511 ctl_ rows − 1 self-contradictory row (col '2' with an M address)
    assert man.n_probes == 281_797 and man.extra["n_ctl_rows"] == 2_511
    assert man.extra["dropped_probes"] == ["cg12810120_TC11"]
    p = man.probes.set_index("cpg_id")
    ref = hm450_source.dropna(subset=["start_hg38"]).set_index("Probe_ID")
    shared = p.join(ref[["chr_hg38", "start_hg38"]], how="inner")
    shared = shared[shared["pos"] > 0]
    agree = (shared["pos"] == shared["start_hg38"].astype(np.int64)) & (shared["chrom"] == shared["chr_hg38"])
    assert len(shared) > 119_000 and agree.mean() > 0.9999
    # coordinates taken from other rows do not agree: the alignment is real, not luck
    rolled = np.roll(shared["pos"].to_numpy(), 1000) == shared["start_hg38"].astype(np.int64).to_numpy()
    assert rolled.mean() < 0.01
    # the ctl_ rows of the ordering are exactly the shipped control addresses
    order = pd.read_csv(data_dir / "manifests/msa/msa_ordering.tsv.gz", sep="\t")
    ctl = order[order["Probe_ID"].str.startswith("ctl_")]
    assert set(ctl["U"]) <= set(man.controls["address"]) and len(man.controls) == 2_511


def test_hm27_coordinates_follow_sorted_probe_ids(hm450_source):
    """Reference: the 450k hg38 positions of the 25,590 CpGs HM27 shares with 450k. hm27_hg38_coord has no
    ids and 27,722 rows (27,578 probes + 144 controls); rows follow the sorted probe ids. All must agree."""
    man = load_manifest("HM27")
    assert man.n_probes == 27_578 and len(man.controls) == 144 and man.genome_build == "hg38"
    assert set(man.probes["design"]) == {"I"} and set(man.probes["channel"]) == {"Red", "Grn"}
    ref = hm450_source.dropna(subset=["start_hg38"]).set_index("Probe_ID")
    shared = man.probes.set_index("probe_id").join(ref[["chr_hg38", "start_hg38"]], how="inner")
    assert len(shared) == 25_590
    assert (shared["pos"] == shared["start_hg38"].astype(np.int64)).all()
    assert (shared["chrom"] == shared["chr_hg38"]).all()
    assert (man.probes["chrom"] != "").sum() == 27_575
    with pytest.raises(ManifestError, match="HM27 manifest has coordinates for hg38 only"):
        load_manifest("HM27", genome_build="hg19")


def test_misaligned_coordinates_are_refused(data_dir, tmp_path):
    """Planted: coordinate tables one row short, or with the control rows carrying coordinates."""
    d = data_dir / "manifests"
    coords = pd.read_csv(d / "msa/msa_hg38_coord.tsv.gz", sep="\t")
    short = tmp_path / "short.tsv"
    coords.iloc[:-1].to_csv(short, sep="\t", index=False)
    with pytest.raises(ManifestError, match="284,308 rows but the probe table has 284,309"):
        load_sesame_tsv(d / "msa/msa_ordering.tsv.gz", array="MSA", coords=short, genome_build="hg38")
    hm27c = pd.read_csv(d / "hm27/hm27_hg38_coord.tsv.gz", sep="\t")
    rolled = tmp_path / "rolled.tsv"
    hm27c.iloc[np.roll(np.arange(len(hm27c)), 5)].to_csv(rolled, sep="\t", index=False)
    with pytest.raises(ManifestError, match="does not have the expected layout"):
        load_sesame_tsv(d / "hm27/hm27_ordering.tsv.gz", array="HM27", coords=rolled,
                        coords_alignment="sorted_probe_id", genome_build="hg38")


def test_ctl_rows_become_controls_without_a_controls_file(data_dir):
    """Reference: the 2,511 ctl_<address>_<TYPE> rows of the MSA ordering (their names carry the type)."""
    man = load_sesame_tsv(data_dir / "manifests/msa/msa_ordering.tsv.gz", array="MSA", genome_build="hg38")
    assert len(man.controls) == 2_511 and not man.has_coordinates
    assert man.controls["type"].value_counts().to_dict()["NEGATIVE"] == 2_294
    shipped = load_manifest("MSA").controls
    merged = man.controls.merge(shipped, on="address", suffixes=("", "_csv"))
    assert len(merged) == 2_511 and (merged["type"] == merged["type_csv"]).all()


def test_infinium_annotation_layout(tmp_path):
    """Reference: the HM27 manifest rewritten in InfiniumAnnotation's full-manifest layout (address_A/B,
    designType, channel G/R, 0-based CpG_beg) must load back to the same probes and positions."""
    ref = load_manifest("HM27").probes.iloc[:2000]
    path = tmp_path / "HM27.hg38.manifest.tsv.gz"
    pd.DataFrame({
        "CpG_chrm": ref["chrom"].replace("", np.nan), "CpG_beg": (ref["pos"] - 1).where(ref["pos"] > 0),
        "CpG_end": (ref["pos"] + 1).where(ref["pos"] > 0), "address_A": ref["address_u"],
        "address_B": ref["address_m"], "designType": ref["design"],
        "channel": ref["channel"].map({"Red": "R", "Grn": "G"}), "Probe_ID": ref["probe_id"],
    }).to_csv(path, sep="\t", index=False)
    man = load_manifest(path=path, genome_build="hg38")
    assert man.array == "CUSTOM" and man.genome_build == "hg38"
    pd.testing.assert_frame_equal(man.probes, ref.reset_index(drop=True))
    labelled = load_manifest("MyChip", path=path, genome_build="hg38")   # unregistered name: a label
    assert labelled.array == "MyChip" and labelled.sha256 != man.sha256
    with pytest.raises(ManifestError, match="unknown array type 'MyChip'"):
        load_manifest("MyChip")


def test_contradictory_rows_are_dropped_and_reported(tmp_path):
    """Planted: a Type I probe without colour, a Type I probe without M address, a Type II with an M address."""
    path = tmp_path / "m.tsv"
    pd.DataFrame({
        "Probe_ID": ["cg1", "cg2", "cg3", "cg4", "cg5"],
        "address_M": [11, np.nan, 13, np.nan, 15],
        "address_U": [21, 22, 23, 24, 25],
        "DESIGN": ["I", "II", "I", "I", "II"],
        "col": ["R", np.nan, np.nan, "G", np.nan],
    }).to_csv(path, sep="\t", index=False)
    man = load_sesame_tsv(path, array="T")
    assert man.probes["probe_id"].tolist() == ["cg1", "cg2"]
    assert man.extra["dropped_probes"] == ["cg3", "cg4", "cg5"]
    assert man.probes["address_m"].tolist() == [11, -1] and man.probes["channel"].tolist() == ["Red", ""]


def test_bad_tables_raise_manifest_errors(tmp_path):
    """Planted: duplicate ids, missing addresses, non-numeric addresses, missing columns."""
    def write(df):
        path = tmp_path / "bad.tsv"
        df.to_csv(path, sep="\t", index=False)
        return path

    with pytest.raises(ManifestError, match="probe id 'cg1' appears more than once"):
        load_sesame_tsv(write(pd.DataFrame({"Probe_ID": ["cg1", "cg1"], "U": [1, 2]})), array="T")
    with pytest.raises(ManifestError, match="1 probes have no address"):
        load_sesame_tsv(write(pd.DataFrame({"Probe_ID": ["cg1", "cg2"], "U": [1, np.nan]})), array="T")
    with pytest.raises(ManifestError, match="not bead addresses \\(first: 'abc'\\)"):
        load_sesame_tsv(write(pd.DataFrame({"Probe_ID": ["cg1", "cg2"], "U": ["1", "abc"]})), array="T")
    with pytest.raises(ManifestError, match="lacks Probe_ID / U"):
        load_sesame_tsv(write(pd.DataFrame({"Name": ["cg1"], "X": [1]})), array="T")
    with pytest.raises(ManifestError, match="does not exist"):
        load_sesame_tsv(tmp_path / "nope.tsv", array="T")


def test_normalisers():
    """Reference: the naming conventions of Illumina (CHR '1', 'X', 'MT'), UCSC ('chr1') and GRC builds."""
    got = normalize_chrom(pd.Series(["1", "chr1", "1.0", "X", "chrx", "MT", "chrM", "chrUn_gl000220",
                                     "chr16_KI270728v1_random", "", None, "0", "Y"]))
    assert got.tolist() == ["chr1", "chr1", "chr1", "chrX", "chrX", "chrM", "chrM", "", "", "", "", "",
                            "chrY"]
    assert [normalize_build(b) for b in ("37", "GRCh37", "hg19", "38", "GRCh38", "hg38", "36")] == \
        ["hg19"] * 3 + ["hg38"] * 3 + ["hg18"]
    with pytest.raises(ManifestError, match="unknown genome build 'mm10'"):
        normalize_build("mm10")
    ids = pd.Series(["cg00000029_TC21", "cg00000029_BC11", "rs1000113_TO21", "ch.1.123F_BO12", "cg1",
                     "nv_123_x"])
    assert strip_replicate_suffix(ids).tolist() == ["cg00000029", "cg00000029", "rs1000113", "ch.1.123F",
                                                    "cg1", "nv_123_x"]
    ctrl = build_control_table(address=pd.Series(["0021630339", "27630314", "", "123"]),
                               type_=pd.Series(["Bisulfite Conversion  I", " norm_a", "STAINING",
                                                "SPECIFICITY_II"]),
                               channel=pd.Series(["Red", None, "-99", "Blue"]),
                               name=pd.Series(["a ", "b", "c", "d"]))
    assert ctrl["address"].tolist() == [21630339, 27630314, 123]
    assert ctrl["type"].tolist() == ["BISULFITE CONVERSION I", "NORM_A", "SPECIFICITY II"]
    assert ctrl["channel"].tolist() == ["Red", "", "Blue"] and ctrl["name"].tolist() == ["a", "b", "d"]
