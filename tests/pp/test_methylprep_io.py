"""methylprep interop: its manifest layout (written) and its output tables (read)."""

from __future__ import annotations

import gzip
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import DataError, ManifestError
from methylclass.io.methylprep import read_methylprep, write_methylprep_manifest

# methylprep 1.7.1 files/manifests.py, transcribed: the columns it reads and the control columns it names
MP_COLUMNS = ("IlmnID", "AddressA_ID", "AddressB_ID", "Infinium_Design_Type", "Color_Channel", "Genome_Build",
              "CHR", "MAPINFO", "Strand", "OLD_Genome_Build", "OLD_CHR", "OLD_MAPINFO", "OLD_Strand")
MP_CONTROL_COLUMNS = ("Address_ID", "Control_Type", "Color", "Extended_Type")


def _read_like_methylprep(path, num_probes: int, num_controls: int):
    """methylprep's Manifest.read_probes / read_control_probes calls, verbatim in their pandas arguments."""
    dtypes = {k: str for k in MP_COLUMNS}
    dtypes["AddressA_ID"] = dtypes["AddressB_ID"] = "Int64"
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as fh:
        assert fh.readline().startswith(b"IlmnID")
        fh.seek(0)
        probes = pd.read_csv(fh, comment="[", dtype=dtypes, usecols=MP_COLUMNS, nrows=num_probes,
                             index_col="IlmnID")
        fh.seek(0)
        controls = pd.read_csv(fh, comment="[", header=None, index_col=0, names=MP_CONTROL_COLUMNS,
                               nrows=num_controls, skiprows=num_probes + 1, usecols=range(len(MP_CONTROL_COLUMNS)))
    return probes, controls


def test_hm450_manifest_reads_back_as_methylprep_does(pp_hm450, tmp_path):
    """Reference: methylprep 1.7.1's own read_csv calls (nrows = 485,577 probes, then 850 controls after the
    ``[Controls]`` line). Every address, design and colour must round-trip; the first control row must not
    swallow the last probe (methylprep's off-by-one trap)."""
    path = write_methylprep_manifest(pp_hm450, tmp_path / "hm450.csv")
    probes, controls = _read_like_methylprep(path, 485_577, 850)
    p = pp_hm450.probes
    assert len(probes) == 485_577 and list(probes.index[:3]) == list(p["probe_id"][:3])
    np.testing.assert_array_equal(probes["AddressA_ID"].to_numpy(np.int64), p["address_u"].to_numpy())
    addr_b = probes["AddressB_ID"].fillna(-1).to_numpy(np.int64)
    np.testing.assert_array_equal(addr_b, p["address_m"].to_numpy())
    assert (probes["Infinium_Design_Type"].to_numpy() == p["design"].to_numpy()).all()
    color = probes["Color_Channel"].fillna("").to_numpy()
    assert (color == p["channel"].to_numpy()).all()
    assert probes.loc["cg01686861", "CHR"] == "16" and probes.loc["cg01686861", "MAPINFO"] == "60748"
    assert len(controls) == 850
    np.testing.assert_array_equal(controls.index.to_numpy(np.int64), pp_hm450.controls["address"].to_numpy())
    assert (controls["Control_Type"].to_numpy() == pp_hm450.controls["type"].to_numpy()).all()
    lines = path.read_text().splitlines()
    assert lines[485_578].startswith("[Controls]") and len(lines) == 1 + 485_577 + 1 + 850


def test_manifest_with_wrong_probe_count_is_refused(pp_hm450, tmp_path):
    """methylprep reads exactly 485,577 rows for 450k: a shorter manifest would be misread silently, so the
    writer refuses it and leaves no file behind."""
    short = replace(pp_hm450, probes=pp_hm450.probes.iloc[:-1])
    with pytest.raises(ManifestError, match="485,576 probes.*485,577"):
        write_methylprep_manifest(short, tmp_path / "short.csv")
    assert not any(tmp_path.iterdir())


def test_gzip_manifest(pp_tiny, tmp_path):
    """A ``.gz`` name writes gzip (methylprep opens .gz with gzip.open); a non-standard array skips the count
    check."""
    man = pp_tiny.manifest(["II", "I"], ["", "Grn"])
    path = write_methylprep_manifest(man, tmp_path / "tiny.csv.gz")
    probes, controls = _read_like_methylprep(path, 2, 0)
    assert list(probes["Infinium_Design_Type"]) == ["II", "I"] and len(controls) == 0


def _frame(samples=("S1", "S2"), n=5, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = pd.Index([f"cg{i:08d}" for i in range(n)], name="IlmnID")
    return pd.DataFrame(rng.random((n, len(samples))).astype(np.float32), index=idx, columns=list(samples))


@pytest.mark.parametrize("fmt", ["pkl", "parquet", "csv"])
def test_read_matrix_outputs(tmp_path, fmt):
    """Reference: the DataFrame methylprep would have pickled / written (probes × samples, IlmnID index);
    the folder form finds ``beta_values.<fmt>`` and ``m_values.<fmt>``."""
    beta, m = _frame(), _frame(seed=1)
    for name, df in (("beta_values", beta), ("m_values", m)):
        path = tmp_path / f"{name}.{fmt}"
        {"pkl": df.to_pickle, "parquet": df.to_parquet, "csv": df.to_csv}[fmt](path)
    got = read_methylprep(tmp_path, "beta")  # samples × probes, whatever the file's orientation
    np.testing.assert_allclose(got.to_numpy(), beta.T.to_numpy(), rtol=1e-6)
    assert got.columns.name == "probe_id" and got.index.name == "sample" and list(got.index) == ["S1", "S2"]
    assert got.dtypes.iloc[0] == np.float32
    np.testing.assert_allclose(read_methylprep(tmp_path, "m").to_numpy(), m.T.to_numpy(), rtol=1e-6)


def test_read_batches_and_transposed(tmp_path):
    """``--batch_size`` output (beta_values_1 … _N, numbered numerically: _10 after _2) is joined by columns;
    a samples × probes table is turned the right way round."""
    parts = [_frame((f"S{i}",), seed=i) for i in range(1, 12)]
    for i, df in enumerate(parts, start=1):
        df.to_pickle(tmp_path / f"beta_values_{i}.pkl")
    got = read_methylprep(tmp_path)
    assert list(got.index) == [f"S{i}" for i in range(1, 12)]
    parts[0].T.to_parquet(tmp_path / "wide.parquet")
    got = read_methylprep(tmp_path / "wide.parquet")
    assert list(got.index) == ["S1"] and got.columns[0] == "cg00000000"


def test_read_processed_csv_exports(tmp_path):
    """``--export`` per-sample CSVs (``<sentrix>_<pos>_processed.csv``) are assembled column by column."""
    for k, name in enumerate(("201_R01C01", "202_R02C01")):
        folder = tmp_path / name.split("_")[0]
        folder.mkdir()
        df = pd.DataFrame({"noob_meth": [100.0 + k, 200], "noob_unmeth": [300.0, 400], "beta_value": [0.2, 0.3 + k],
                           "poobah_pval": [0.01, 0.2]}, index=pd.Index(["cg1", "cg2"], name="IlmnID"))
        df.to_csv(folder / f"{name}_processed.csv")
    got = read_methylprep(tmp_path, "beta")
    assert list(got.index) == ["201_R01C01", "202_R02C01"]
    np.testing.assert_allclose(got.to_numpy(), [[0.2, 0.3], [0.2, 1.3]], rtol=1e-6)
    np.testing.assert_allclose(read_methylprep(tmp_path, "poobah").loc["201_R01C01"], [0.01, 0.2], rtol=1e-6)


def test_read_errors_name_the_problem(tmp_path):
    """Missing folder, empty folder, unknown output and a corrupt file are DataErrors naming the path."""
    with pytest.raises(DataError, match="does not exist"):
        read_methylprep(tmp_path / "missing")
    with pytest.raises(DataError, match="no methylprep 'beta_values'"):
        read_methylprep(tmp_path)
    with pytest.raises(DataError, match="unknown methylprep output 'cnv'"):
        read_methylprep(tmp_path, "cnv")
    bad = tmp_path / "beta_values.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(DataError, match="beta_values.parquet"):
        read_methylprep(tmp_path)
