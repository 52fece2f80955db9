"""Sample-sheet parsing: every real sheet in data/samplesheets (+ minfiData's), aliases, GEO layouts, basename
resolution (minfi read.metharray.sheet rules) and the errors users meet."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pandas as pd
import pytest

from methylclass.errors import SampleSheetError
from methylclass.io.samplesheet import read_sample_sheet, scan_idats

# What each real sheet holds, read off the files by eye: (sample names, Sentrix IDs, Sentrix positions)
REAL_SHEETS = {
    "ChAMPdata_lung_test_set.csv": (
        ["C1", "C2", "C3", "C4", "T1", "T2", "T3", "T4"],
        ["7990895118", "7990895118", "9247377086", "9247377086", "7766130112", "7766130112", "7990895118",
         "7990895118"],
        ["R03C02", "R05C02", "R01C01", "R02C01", "R06C01", "R01C02", "R01C01", "R01C02"]),
    "methylprep_GSE100850_samplesheet.csv": (
        ["NormalBreastTissueOld", "BreastCancerOld"], ["200526210010"] * 2, ["R01C01", "R02C01"]),
    "methylprep_GSE69852_samplesheet.csv": (
        ["AdultLiver1", "FetalLiver1"], ["9247377093", "9247377085"], ["R02C01", "R04C02"]),
    "methylprep_epic_plus_samplesheet.csv": (["Sample_1"], ["202651080072"], ["R01C01"]),
    "methylprep_minfi_samplesheet.csv": (["FetalLiver1"], ["9247377085"], ["R04C02"]),
    "minfiDataEPIC_SampleSheet.csv": (
        ["NA12878.1", "NA12878.2", "NA12878.3"], ["200144450018", "200144450019", "200144450021"],
        ["R04C01", "R07C01", "R05C01"]),
}


def _reference_table(path: Path) -> pd.DataFrame:
    """Independent reference: pandas' own CSV reader on the lines after ``[Data]`` (minfi's rule), blank
    rows and all-empty trailing columns dropped."""
    text = path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    start = next((i + 1 for i, ln in enumerate(lines) if ln.lower().startswith("[data]")), 0)
    df = pd.read_csv(io.StringIO("\n".join(lines[start:])), dtype=str, keep_default_na=False)
    df = df[(df != "").any(axis=1)].reset_index(drop=True)
    return df.loc[:, [not (c.startswith("Unnamed") and (df[c] == "").all()) for c in df.columns]]


def test_every_real_sheet_is_covered(data_dir: Path) -> None:
    """Reference: the folder listing — a sheet added to data/samplesheets must get expectations here."""
    assert {p.name for p in (data_dir / "samplesheets").iterdir()} == set(REAL_SHEETS)


@pytest.mark.parametrize("name", sorted(REAL_SHEETS))
def test_real_sheets(data_dir: Path, name: str) -> None:
    """Reference: the sheet's content (hand-read names/Sentrix) and pandas' parse of its [Data] table for
    every original column."""
    path = data_dir / "samplesheets" / name
    df = read_sample_sheet(path)
    names, ids, positions = REAL_SHEETS[name]
    assert list(df.columns[:4]) == ["sample", "basename", "sentrix_id", "sentrix_position"]
    assert df["sample"].tolist() == names
    assert df["sentrix_id"].tolist() == ids
    assert df["sentrix_position"].tolist() == positions
    ref = _reference_table(path)
    assert list(df.columns[4:]) == list(ref.columns)
    pd.testing.assert_frame_equal(df[list(ref.columns)].reset_index(drop=True), ref, check_dtype=False)
    # no IDATs live beside these sheets: every row is reported, none silently dropped
    assert df["basename"].isna().all()
    assert [p[0] for p in df.attrs["problems"]] == names
    assert df.attrs["source"] == str(path)


def test_champ_sheet_has_cr_only_line_endings_and_header(data_dir: Path) -> None:
    """Reference: the raw bytes (old-Mac CR line endings) and its [Header] block."""
    path = data_dir / "samplesheets" / "ChAMPdata_lung_test_set.csv"
    raw = path.read_bytes()
    assert b"\r" in raw and b"\n" not in raw
    df = read_sample_sheet(path)
    assert df.attrs["header"]["Date"] == "3/18/2012"
    assert df["Sample_Group"].tolist() == list("CCCCTTTT")
    assert df["Sample_Well"].tolist() == ["E09", "G09", "E02", "F02", "B09", "C09", "E08", "C09"]


def test_minfidata_sheet_and_pheno(data_dir: Path) -> None:
    """Reference: minfiData's SampleSheet.csv (6 samples, labels kept) and its pData export (Slide/Array
    aliases, Basename column relative to the sheet that does not exist here → reported)."""
    folder = data_dir / "oracle" / "minfi_hm450_subset"
    sheet = read_sample_sheet(folder / "SampleSheet.csv")
    assert sheet["sample"].tolist() == ["GroupA_3", "GroupA_2", "GroupB_3", "GroupB_1", "GroupA_1", "GroupB_2"]
    assert sheet["status"].tolist() == ["normal", "normal", "cancer", "cancer", "normal", "cancer"]
    assert sheet["sex"].tolist() == ["M", "F", "M", "F", "F", "F"]
    pheno = read_sample_sheet(folder / "pheno.csv")
    assert pheno["sample"].tolist() == sheet["sample"].tolist()
    assert pheno["sentrix_id"].tolist() == sheet["sentrix_id"].tolist()
    assert pheno["sentrix_position"].tolist() == sheet["sentrix_position"].tolist()
    expected = (folder.parent / "extdata" / "5723646052" / "5723646052_R02C02").resolve()
    assert Path(pheno["basename"][0]) == expected
    assert "no IDAT files at" in pheno.attrs["problems"][0][2]


# -- basename resolution -----------------------------------------------------------------------------------
def _touch_pair(folder: Path, stem: str, gz: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for ch in ("Grn", "Red"):
        (folder / f"{stem}_{ch}.idat{'.gz' if gz else ''}").write_bytes(b"IDAT")


def test_sentrix_columns_are_found_recursively(tmp_path: Path) -> None:
    """Reference: minfi read.metharray.sheet — '<Slide>_<Array>_Grn.idat' searched recursively under the
    sheet's folder (here the Illumina <barcode>/<barcode>_<position> layout and a GEO-prefixed name)."""
    _touch_pair(tmp_path / "200144450018", "200144450018_R04C01")
    _touch_pair(tmp_path / "geo", "GSM1234567_200144450019_R07C01", gz=True)
    sheet = tmp_path / "SampleSheet.csv"
    sheet.write_text("[Header]\nInvestigator Name,X\n[Data]\nSample_Name,Sentrix_ID,Sentrix_Position\n"
                     "a,200144450018,R04C01\nb,200144450019,r07c01\nc,200144450021,R05C01\n")
    df = read_sample_sheet(sheet)
    assert df["basename"][0] == str(tmp_path / "200144450018" / "200144450018_R04C01")
    assert df["basename"][1] == str(tmp_path / "geo" / "GSM1234567_200144450019_R07C01")
    assert df["sentrix_position"][1] == "R07C01"
    assert df["basename"][2] is None
    assert df.attrs["problems"] == [
        ("c", None, f"sample 'c': no IDAT files for Sentrix 200144450021_R05C01 found under '{tmp_path}'")]


def test_ambiguous_match_is_a_problem(tmp_path: Path) -> None:
    """Reference: planted copies of one GEO-named pair in two folders."""
    _touch_pair(tmp_path / "a", "GSM1_200144450018_R04C01")
    _touch_pair(tmp_path / "b", "GSM2_200144450018_R04C01")
    sheet = tmp_path / "s.csv"
    sheet.write_text("Sample_Name,Sentrix_ID,Sentrix_Position\nx,200144450018,R04C01\n")
    df = read_sample_sheet(sheet)
    assert df["basename"][0] is None and "several IDAT basenames" in df.attrs["problems"][0][2]


def test_basename_column_relative_to_sheet(tmp_path: Path) -> None:
    """Reference: minfi targets semantics — Basename relative to the sheet's folder, suffixes tolerated."""
    _touch_pair(tmp_path / "raw", "s1")
    _touch_pair(tmp_path / "raw", "s2")
    sub = tmp_path / "meta"
    sub.mkdir()
    (sub / "targets.csv").write_text("Basename,label\n../raw/s1,A\n../raw/s2_Grn.idat,B\n")
    df = read_sample_sheet(sub / "targets.csv", idat_dir=tmp_path)
    assert df["basename"].tolist() == [str(tmp_path / "raw" / "s1"), str(tmp_path / "raw" / "s2")]
    assert df["sample"].tolist() == ["s1", "s2"] and df["label"].tolist() == ["A", "B"]
    assert df.attrs["problems"] == []


def test_scan_index_groups_channels(tmp_path: Path) -> None:
    """Reference: planted files (mixed-case channel names, gz, non-IDAT files)."""
    _touch_pair(tmp_path, "200144450018_R04C01")
    (tmp_path / "200144450018_R04C01_Grn.idat.gz").write_bytes(b"x")
    (tmp_path / "x_grn.IDAT").write_bytes(b"x")
    (tmp_path / "x_Grn.txt").write_bytes(b"x")
    index = scan_idats(tmp_path)
    assert index.n_files == 4
    assert len(index.files[tmp_path / "200144450018_R04C01"]["Grn"]) == 2
    assert index.files[tmp_path / "x"]["Grn"] == [tmp_path / "x_grn.IDAT"]
    assert index.by_key[("200144450018", "R04C01")] == [tmp_path / "200144450018_R04C01"]


# -- layouts and aliases -----------------------------------------------------------------------------------
@pytest.mark.parametrize("content", [
    "Sample,Slide,Array\na,111111111111,R01C01\nb,111111111111,R02C01\n",
    "Sample_ID;Chip;Position\na;111111111111;R01C01\nb;111111111111;R02C01\n",
    "Name\tSentrixBarcode_A\tSentrixPosition_A\na\t111111111111\tR01C01\nb\t111111111111\tR02C01\n",
    ("Sample_Name,Sentrix_Barcode,Sentrix_Position,,,\na,111111111111,R01C01,,,\n\n,,,,,\n"
     "b,111111111111.0,R02C01,,,\n"),
    "Sentrix_ID,Sentrix_Position\n111111111111,R01C01\n111111111111,R02C01\n",
])
def test_alias_layouts(tmp_path: Path, content: str) -> None:
    """Reference: the planted table (aliases Slide/Array, Chip/Position, SentrixBarcode_A/SentrixPosition_A,
    ';' and tab delimiters, trailing commas, blank rows, Excel's '.0' on numbers, Sentrix-only sheets)."""
    path = tmp_path / "sheet.csv"
    path.write_text(content)
    df = read_sample_sheet(path)
    assert df["sentrix_id"].tolist() == ["111111111111"] * 2
    assert df["sentrix_position"].tolist() == ["R01C01", "R02C01"]
    if content.startswith("Sentrix_ID"):
        assert df["sample"].tolist() == ["111111111111_R01C01", "111111111111_R02C01"]
    else:
        assert df["sample"].tolist() == ["a", "b"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "cp1252"])
def test_encodings(tmp_path: Path, encoding: str) -> None:
    """Reference: the planted text in each encoding spreadsheets write (BOM UTF-8, UTF-16, Windows-1252)."""
    path = tmp_path / "s.csv"
    path.write_bytes("Sample_Name,Sentrix_ID,Sentrix_Position,site\r\nJosé,1234567890,R01C01,Zürich\r\n"
                     .encode(encoding))
    df = read_sample_sheet(path)
    assert df["sample"].tolist() == ["José"] and df["site"].tolist() == ["Zürich"]


def test_geo_pdata_table(tmp_path: Path) -> None:
    """Reference: GEOquery pData layout (title, geo_accession, characteristics_ch1*, supplementary_file)
    with GEO's IDAT names GSM…_<barcode>_<position>_Grn.idat.gz planted in a sub-folder."""
    _touch_pair(tmp_path / "GSE85212_RAW", "GSM2261625_9406922117_R03C01", gz=True)
    _touch_pair(tmp_path / "GSE85212_RAW", "GSM2261626_9406922117_R04C01", gz=True)
    url = "ftp://ftp.ncbi.nlm.nih.gov/geo/samples/GSM2261nnn/{0}/suppl/{0}_9406922117_{1}_Grn.idat.gz"
    df_in = pd.DataFrame({
        "title": ["MB_001", "MB_002"], "geo_accession": ["GSM2261625", "GSM2261626"],
        "source_name_ch1": ["medulloblastoma"] * 2,
        "characteristics_ch1": ["subgroup: SHH", "subgroup: Group4"],
        "characteristics_ch1.1": ["age: 5", "gender: F"],
        "supplementary_file": [url.format("GSM2261625", "R03C01"), url.format("GSM2261626", "R04C01")]})
    df_in.to_csv(tmp_path / "pdata.csv", index=False)
    df = read_sample_sheet(tmp_path / "pdata.csv")
    assert df["sample"].tolist() == ["GSM2261625", "GSM2261626"]
    assert df["title"].tolist() == ["MB_001", "MB_002"]
    assert df["subgroup"].tolist() == ["SHH", "Group4"]
    assert df["age"].tolist() == ["5", ""] and df["gender"].tolist() == ["", "F"]
    assert df["basename"][0] == str(tmp_path / "GSE85212_RAW" / "GSM2261625_9406922117_R03C01")
    assert df["sentrix_id"].tolist() == ["9406922117"] * 2
    assert df["sentrix_position"].tolist() == ["R03C01", "R04C01"]


def test_geo_series_matrix(tmp_path: Path) -> None:
    """Reference: NCBI's series-matrix layout (tab-separated, quoted '!Sample_' rows, repeated
    characteristics rows), IDATs found by GSM prefix."""
    _touch_pair(tmp_path, "GSM100_5723646052_R02C02")
    _touch_pair(tmp_path, "GSM101_5723646052_R04C01")
    text = ('!Series_title\t"A methylation study"\n'
            '!Sample_title\t"tumour A"\t"tumour B"\n'
            '!Sample_geo_accession\t"GSM100"\t"GSM101"\n'
            '!Sample_characteristics_ch1\t"tissue: brain"\t"tissue: brain"\n'
            '!Sample_characteristics_ch1\t"diagnosis: GBM"\t"diagnosis: MB"\n'
            '!series_matrix_table_begin\n'
            '"ID_REF"\t"GSM100"\t"GSM101"\n'
            '"cg00000029"\t0.5\t0.6\n'
            '!series_matrix_table_end\n')
    path = tmp_path / "GSE1_series_matrix.txt"
    path.write_text(text)
    df = read_sample_sheet(path)
    assert df["sample"].tolist() == ["GSM100", "GSM101"]
    assert df["title"].tolist() == ["tumour A", "tumour B"]
    assert df["diagnosis"].tolist() == ["GBM", "MB"] and df["tissue"].tolist() == ["brain", "brain"]
    assert "characteristics_ch1.1" in df.columns
    assert df["basename"].tolist() == [str(tmp_path / "GSM100_5723646052_R02C02"),
                                       str(tmp_path / "GSM101_5723646052_R04C01")]
    assert df["sentrix_id"].tolist() == ["5723646052"] * 2
    packed = tmp_path / "GSE1_series_matrix.txt.gz"  # as downloaded from GEO
    packed.write_bytes(gzip.compress(text.encode()))
    pd.testing.assert_frame_equal(read_sample_sheet(packed), df)


def test_preamble_without_sections(tmp_path: Path) -> None:
    """Reference: the planted sheet (free-text lines above the table, no [Data] marker)."""
    path = tmp_path / "s.csv"
    path.write_text("Lab sheet exported 2024-01-01\nproject X\n\nSample_Name,Sentrix_ID,Sentrix_Position\n"
                    "a,1234567890,R01C01\n")
    assert read_sample_sheet(path)["sample"].tolist() == ["a"]


# -- errors ---------------------------------------------------------------------------------------------
def _error(path: Path, *fragments: str) -> str:
    with pytest.raises(SampleSheetError) as info:
        read_sample_sheet(path)
    msg = str(info.value)
    assert type(info.value) is SampleSheetError
    assert str(path) in msg, msg
    for frag in fragments:
        assert frag in msg, msg
    return msg


def test_errors_name_the_file(tmp_path: Path) -> None:
    """Reference: planted bad sheets — missing, Excel workbook, binary, no sample columns, no rows,
    scientific-notation barcodes, a [Header] without [Data], a ragged row, a blank name."""
    _error(tmp_path / "missing.csv", "does not exist")
    (tmp_path / "folder.csv").mkdir()
    _error(tmp_path / "folder.csv", "cannot be read")
    gz = tmp_path / "broken.csv.gz"
    gz.write_bytes(b"\x1f\x8b\x08\x00" + bytes(50))
    _error(gz, "corrupt gzip")
    cases = {
        "book.csv": (b"PK\x03\x04" + bytes(100), ("Excel",)),
        "bin.csv": (b"abc\x00\x01\x02", ("binary",)),
        "cols.csv": (b"foo,bar\n1,2\n", ("no sample columns", "foo, bar")),
        "empty.csv": (b"", ("no samples",)),
        "headonly.csv": (b"Sample_Name,Sentrix_ID\n", ("no samples",)),
        "sci.csv": (b"Sample_Name,Sentrix_ID,Sentrix_Position\nA,2.00526E+11,R01C01\n",
                    ("line 2", "'A'", "2.00526E+11", "scientific notation")),
        "nodata.csv": (b"[Header]\nInvestigator Name,X\n[Manifests]\nA,x.bpm\n", ("no [Data] section",)),
        "ragged.csv": (b"Sample_Name,Sentrix_ID\nA,1,extra\n", ("line 2 has 3 values",)),
        "noname.csv": (b"Sample_Name,group\nA,x\n,y\n", ("line 3 has no sample name",)),
        "quote.csv": (b"Sample_Name,note\nA,\"unclosed\nB,x\n", ("near line 3", "unbalanced quotes")),
    }
    for name, (content, fragments) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        _error(path, *fragments)


def test_duplicate_names_are_per_sample_problems(tmp_path: Path) -> None:
    """Planted: names A and B twice each, C once. The sheet is read (not refused): each duplicated name is one
    problem naming the sheet and its lines, its rows are left unresolved, and C is resolved as usual."""
    for stem in ("200000000001_R01C01", "200000000001_R02C01", "200000000001_R03C01"):
        for ch in ("Grn", "Red"):
            (tmp_path / f"{stem}_{ch}.idat").write_bytes(b"x")
    sheet = tmp_path / "dups.csv"
    sheet.write_text("Sample_Name,Sentrix_ID,Sentrix_Position\nA,200000000001,R01C01\nB,200000000001,R02C01\n"
                     "A,200000000001,R02C01\nB,200000000001,R01C01\nC,200000000001,R03C01\n")
    df = read_sample_sheet(sheet)
    problems = {name: msg for name, _, msg in df.attrs["problems"]}
    assert set(problems) == {"A", "B"}
    assert "duplicate sample name 'A'" in problems["A"] and "(lines 2, 4)" in problems["A"]
    assert str(sheet) in problems["B"] and "(lines 3, 5)" in problems["B"]
    assert df.set_index("sample").loc["C", "basename"].endswith("200000000001_R03C01")
    assert df.loc[df["sample"] != "C", "basename"].isna().all()
