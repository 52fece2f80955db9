"""Beta-table reader (methylclass.io.betas_table): every layout gives the same (X, y) as a direct pandas read
of the real GSE85212 table, and every bad input a DataError naming the file and the problem."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import DataError
from methylclass.io.betas_table import is_cpg_id, read_beta_table


@pytest.fixture(scope="module")
def ref(data_dir):
    """Reference: pandas.read_csv of the real table, first 30 samples × first 40 CpGs (+ subgroup)."""
    df = pd.read_csv(data_dir / "labelled" / "mb_gse85212" / "mb_gse85212_341x399.csv.gz")
    cpgs = [c for c in df.columns if c.startswith("cg")][:40]
    df = df.iloc[:30][["GSM", *cpgs, "subgroup"]].reset_index(drop=True)
    X = df.set_index("GSM")[cpgs].astype(np.float32)
    X.index.name = "sample"
    return df, X, df.set_index("GSM")["subgroup"]


def _same(X, y, ref_X, ref_y):
    pd.testing.assert_frame_equal(X, ref_X, check_names=False, check_column_type=False, check_index_type=False)
    assert X.dtypes.unique().tolist() == [np.float32]
    if ref_y is not None:
        assert y.tolist() == ref_y.tolist() and list(y.index) == list(X.index)


def test_real_table_as_given(data_dir):
    """The shipped file (341 × 399 + subgroup) reads with the documented counts and class sizes."""
    X, y = read_beta_table(data_dir / "labelled" / "mb_gse85212" / "mb_gse85212_341x399.csv.gz",
                           label_column="subgroup")
    assert X.shape == (341, 399) and X.index[0] == "GSM2261566"
    assert y.value_counts().to_dict() == {"Group4": 135, "SHH": 94, "Group3": 66, "WNT": 46}
    X2, y2 = read_beta_table(data_dir / "labelled" / "mb_gse85212" / "mb_gse85212_341x399.csv.gz")
    assert y2 is None and X2.shape == (341, 399)


@pytest.mark.parametrize("name,writer", [
    ("t.csv", lambda df, p: df.to_csv(p, index=False)),
    ("t.tsv.gz", lambda df, p: df.to_csv(p, sep="\t", index=False)),
    ("t.txt", lambda df, p: df.to_csv(p, sep=";", index=False)),
    ("t.parquet", lambda df, p: df.to_parquet(p, index=False)),
    ("i.parquet", lambda df, p: df.set_index("GSM").to_parquet(p)),
])
def test_samples_by_cpgs_formats(ref, tmp_path, name, writer):
    """CSV / gzip TSV / ';'-separated / Parquet (id as column or as index) give the reference (X, y)."""
    df, ref_X, ref_y = ref
    path = tmp_path / name
    writer(df, path)
    X, y = read_beta_table(path, label_column="subgroup")
    _same(X, y, ref_X, ref_y)


def test_cpgs_by_samples_with_label_file(ref, tmp_path):
    """CpGs × samples (auto-detected from cg ids in the first column) with a separate label file (given
    in another order, with an extra unrelated sample) gives the reference (X, y)."""
    _, ref_X, ref_y = ref
    ref_X.T.rename_axis("ID_REF").to_csv(tmp_path / "t.csv.gz")
    labels = pd.DataFrame({"GSM": list(ref_y.index[::-1]) + ["GSM_other"],
                           "subgroup": list(ref_y.to_numpy()[::-1]) + ["X"]})
    labels.to_csv(tmp_path / "labels.tsv", sep="\t", index=False)
    X, y = read_beta_table(tmp_path / "t.csv.gz", labels=tmp_path / "labels.tsv", label_column="subgroup")
    _same(X, y, ref_X, ref_y)
    X, y = read_beta_table(tmp_path / "t.csv.gz", labels=tmp_path / "labels.tsv", orientation="cpgs_x_samples",
                           sample_column="GSM", label_column="subgroup")
    _same(X, y, ref_X, ref_y)


def test_genomestudio_detection_columns_are_dropped(ref, tmp_path):
    """CpGs × samples with interleaved '<sample>.Detection Pval' columns: only betas are kept."""
    _, ref_X, _ = ref
    t = ref_X.T.rename_axis("TargetID")
    out = pd.DataFrame(index=t.index)
    for s in t.columns:
        out[s] = t[s]
        out[f"{s}.Detection Pval"] = 0.01
    out.to_csv(tmp_path / "gs.tsv", sep="\t")
    X, _ = read_beta_table(tmp_path / "gs.tsv")
    _same(X, None, ref_X, None)
    assert len(X.attrs["dropped_columns"]) == 30


def _series_matrix(X: pd.DataFrame, y: pd.Series) -> str:
    """A GEO series matrix in NCBI's layout (quoted header cells, characteristics as 'key: value')."""
    q = lambda vals: "\t".join(f'"{v}"' for v in vals)
    lines = ['!Series_title\t"Medulloblastoma test"', '!Series_geo_accession\t"GSE85212"',
             f"!Sample_title\t{q(['MB_' + s[-4:] for s in X.index])}",
             f"!Sample_geo_accession\t{q(X.index)}",
             f"!Sample_source_name_ch1\t{q(['tumour'] * len(X))}",
             f"!Sample_characteristics_ch1\t{q(['subgroup: ' + v for v in y])}",
             f"!Sample_characteristics_ch1\t{q(['age: ' + str(i) for i in range(len(X))])}",
             "!series_matrix_table_begin", q(["ID_REF", *X.index])]
    for cpg in X.columns:
        lines.append(f'"{cpg}"\t' + "\t".join(f"{v:.3f}" for v in X[cpg]))
    lines.append("!series_matrix_table_end")
    return "\n".join(lines) + "\n"


def test_geo_series_matrix(ref, tmp_path):
    """GEO series matrix (gzip): labels from the !Sample_characteristics_ch1 key the user names; ids from
    !Sample_geo_accession or another !Sample_ field; unknown keys listed in the error."""
    _, ref_X, ref_y = ref
    path = tmp_path / "GSE85212_series_matrix.txt.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(_series_matrix(ref_X, ref_y))
    X, y = read_beta_table(path, label_column="subgroup")
    _same(X, y, ref_X, ref_y)
    X, y = read_beta_table(path, label_column="Sample_source_name_ch1", sample_column="title")
    assert set(y) == {"tumour"} and X.index[0] == "MB_" + ref_X.index[0][-4:]
    with pytest.raises(DataError, match=r"'histology'.*found: age, subgroup"):
        read_beta_table(path, label_column="histology")


def test_geo_series_matrix_without_table(tmp_path):
    """A series matrix whose betas live in supplementary files is named as such."""
    path = tmp_path / "x_series_matrix.txt"
    path.write_text('!Sample_geo_accession\t"GSM1"\n!series_matrix_table_begin\n"ID_REF"\t"GSM1"\n'
                    "!series_matrix_table_end\n")
    with pytest.raises(DataError, match="supplementary"):
        read_beta_table(path)


def test_methylprep_outputs(ref, tmp_path):
    """methylprep's beta_values.pkl / .parquet (probes × samples, IlmnID index) and a folder of per-sample
    *_processed.csv exports (IlmnID, …, beta_value) give the reference X."""
    _, ref_X, _ = ref
    probes_x_samples = ref_X.T.rename_axis("IlmnID")
    probes_x_samples.to_pickle(tmp_path / "beta_values.pkl")
    X, _ = read_beta_table(tmp_path / "beta_values.pkl")
    _same(X, None, ref_X, None)
    d = tmp_path / "mp"
    d.mkdir()
    probes_x_samples.to_parquet(d / "beta_values.parquet")
    _same(read_beta_table(d)[0], None, ref_X, None)
    d2 = tmp_path / "mp2"
    d2.mkdir()
    for s in ref_X.index:
        pd.DataFrame({"IlmnID": ref_X.columns, "noob_meth": 1000, "noob_unmeth": 500,
                      "beta_value": ref_X.loc[s].to_numpy(), "m_value": 0.0}).to_csv(
            d2 / f"{s}_processed.csv", index=False)
    X, _ = read_beta_table(d2)
    _same(X.loc[ref_X.index], None, ref_X, None)


def test_metadata_columns_set_aside(ref, tmp_path):
    """Extra non-CpG columns (age, batch) in a samples × CpGs table are left out and recorded."""
    df, ref_X, ref_y = ref
    df = df.assign(age=np.arange(30), batch="b1")
    df.to_csv(tmp_path / "t.csv", index=False)
    X, y = read_beta_table(tmp_path / "t.csv", label_column="subgroup")
    _same(X, y, ref_X, ref_y)
    assert X.attrs["dropped_columns"] == ["age", "batch"]


def test_missing_values_kept_and_cpg_id_patterns(ref, tmp_path):
    """Empty / NA cells become NaN (not an error); EPICv2, ch. and rs probe ids count as CpG-like."""
    df, _, _ = ref
    df = df.copy()
    df.iloc[0, 1] = np.nan
    df.to_csv(tmp_path / "t.csv", index=False, na_rep="NA")
    X, _ = read_beta_table(tmp_path / "t.csv", label_column="subgroup")
    assert np.isnan(X.iloc[0, 0]) and np.isfinite(X.iloc[1:, :]).all().all()
    assert is_cpg_id(["cg00000029_TC21", "ch.1.1234R", "rs1019916", "GSM1", "age", "cg12"]).tolist() == \
        [True, True, True, False, False, False]


def test_errors_name_file_and_problem(ref, tmp_path):
    """DataErrors: missing label column (lists the columns present), non-numeric beta (names sample and
    column), M-values and percentages recognised, duplicate samples, empty table, missing file, missing
    labels, undecidable orientation."""
    df, ref_X, _ = ref
    p = tmp_path / "t.csv"
    df.to_csv(p, index=False)
    with pytest.raises(DataError, match=r"t\.csv' has no label column 'diagnosis'.*subgroup"):
        read_beta_table(p, label_column="diagnosis")
    bad = df.copy()
    bad[bad.columns[2]] = bad[bad.columns[2]].astype(object)
    bad.iloc[4, 2] = "0.5x"
    bad.to_csv(p, index=False)
    with pytest.raises(DataError, match=rf"non-numeric beta.*'0\.5x'.*{df.GSM[4]}.*{df.columns[2]}"):
        read_beta_table(p, label_column="subgroup")
    m = df.copy()
    m[ref_X.columns] = np.log2(m[ref_X.columns] / (1 - m[ref_X.columns]))
    m.to_csv(p, index=False)
    with pytest.raises(DataError, match="M-values"):
        read_beta_table(p, label_column="subgroup")
    pct = df.copy()
    pct[ref_X.columns] = pct[ref_X.columns] * 100
    pct.to_csv(p, index=False)
    with pytest.raises(DataError, match="percentages"):
        read_beta_table(p, label_column="subgroup")
    dup = pd.concat([df, df.iloc[[3]]])
    dup.to_csv(p, index=False)
    with pytest.raises(DataError, match=rf"1 duplicate sample id.*{df.GSM[3]}"):
        read_beta_table(p, label_column="subgroup")
    p.write_text("")
    with pytest.raises(DataError, match="empty"):
        read_beta_table(p)
    df.iloc[:0].to_csv(p, index=False)
    with pytest.raises(DataError, match="empty"):
        read_beta_table(p, label_column="subgroup")
    with pytest.raises(DataError, match="does not exist"):
        read_beta_table(tmp_path / "nope.csv")
    nolab = df.copy()
    nolab.loc[2, "subgroup"] = None
    nolab.to_csv(p, index=False)
    with pytest.raises(DataError, match=rf"1 of 30 samples have no label.*{df.GSM[2]}"):
        read_beta_table(p, label_column="subgroup")
    anon = pd.DataFrame({"id": ["s1", "s2"], "f1": [0.1, 0.2], "f2": [0.3, 0.4]})
    anon.to_csv(p, index=False)
    with pytest.raises(DataError, match="orientation"):
        read_beta_table(p)
    X, _ = read_beta_table(p, orientation="samples_x_cpgs")
    assert X.shape == (2, 2)
