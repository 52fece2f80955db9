"""Raw signals of many samples (methylclass.io.raw): minfi parity, real HM27 IDATs, wrong manifests."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import IdatError, ManifestError
from methylclass.io.idat import Idat, read_idat, write_idat
from methylclass.io.manifest import load_manifest
from methylclass.io.raw import RawSet, address_coverage, rawset_from_idats, read_raw
from methylclass.io.raw_types import raw_signals_from_idats

HM27_SAMPLES = ["4207113116_A", "4207113116_B"]


@pytest.fixture(scope="module")
def minfi(data_dir) -> dict[str, pd.DataFrame]:
    """minfi's RGChannelSet subset (1,938 addresses × 6 samples) and preprocessRaw output (600 probes)."""
    d = data_dir / "oracle/minfi_hm450_subset"
    return {name: pd.read_csv(d / f"{name}.csv", index_col=0)
            for name in ("RGset_Green", "RGset_Red", "preprocessRaw_Meth", "preprocessRaw_Unmeth")}


@pytest.fixture()
def hm27_copy(tmp_path, hm27_dir) -> Path:
    """A writable copy of the folder with the two real HM27 pairs."""
    dest = tmp_path / "idats"
    shutil.copytree(hm27_dir, dest)
    return dest


def test_minfi_preprocess_raw_exactly(minfi):
    """Reference: minfi preprocessRaw (Meth/Unmeth) on the minfiData 450k samples — all 600 probes × 6
    samples must match exactly when minfi's RGset intensities are mapped through the 450k manifest."""
    man = load_manifest("HM450")
    g, r = minfi["RGset_Green"], minfi["RGset_Red"]
    meth_ref, unmeth_ref = minfi["preprocessRaw_Meth"], minfi["preprocessRaw_Unmeth"]
    assert g.shape == (1938, 6) and meth_ref.shape == (600, 6)
    pairs = []
    for sample in g.columns:
        grn = Idat.from_arrays(g.index.to_numpy(), g[sample].to_numpy())
        red = Idat.from_arrays(r.index.to_numpy(), r[sample].to_numpy())
        raw = raw_signals_from_idats(grn, red, man, sample)
        got = pd.DataFrame({"meth": raw.meth, "unmeth": raw.unmeth}, index=raw.probe_ids).loc[meth_ref.index]
        assert np.array_equal(got["meth"].to_numpy(), meth_ref[sample].to_numpy())
        assert np.array_equal(got["unmeth"].to_numpy(), unmeth_ref[sample].to_numpy())
        pairs.append((sample, grn, red))
    rs = rawset_from_idats(pairs, man, min_address_coverage=0)   # subset IDATs: coverage is tiny by design
    assert rs.names == list(g.columns)
    pd.testing.assert_frame_equal(rs.meth.T.loc[meth_ref.index], meth_ref.astype(np.float32),
                                  check_names=False)
    pd.testing.assert_frame_equal(rs.unmeth.T.loc[unmeth_ref.index], unmeth_ref.astype(np.float32),
                                  check_names=False)
    designs = man.probes.set_index("probe_id").loc[meth_ref.index, ["design", "channel"]]
    assert designs.value_counts().to_dict() == {("I", "Grn"): 200, ("I", "Red"): 200, ("II", ""): 200}


def test_real_hm27_pairs(hm27_dir):
    """Reference: an independent pandas implementation (merge the IDAT tables on the manifest's addresses
    channel by channel) and the expected bimodal beta distribution of real tissue."""
    rs = read_raw(hm27_dir)
    assert isinstance(rs, RawSet) and rs.names == HM27_SAMPLES and rs.manifest.array == "HM27"
    assert rs.problems == [] and rs.warnings == []
    betas = rs.betas()
    assert betas.shape == (2, 27_578) and betas.columns.name == "probe_id" and betas.index.name == "sample"
    assert (betas.dtypes == np.float32).all()
    assert not betas.isna().any().any() and ((betas >= 0) & (betas <= 1)).all().all()
    extreme = ((betas < 0.2) | (betas > 0.8)).mean(axis=1)
    assert (extreme > 0.6).all()                      # measured: 74.5 % and 68.5 %
    assert ((betas > 0.3) & (betas < 0.7)).mean(axis=1).max() < 0.2
    for name in HM27_SAMPLES:
        p = rs.manifest.probes
        tables = {}
        for channel in ("Grn", "Red"):
            idat = read_idat(hm27_dir / f"{name}_{channel}.idat")
            tables[channel] = pd.Series(idat.mean.astype(np.float64), index=idat.illumina_ids.astype(np.int64))
        chan = p["channel"].to_numpy()
        m = np.where(chan == "Red", tables["Red"].reindex(p["address_m"]).to_numpy(),
                     tables["Grn"].reindex(p["address_m"]).to_numpy())
        u = np.where(chan == "Red", tables["Red"].reindex(p["address_u"]).to_numpy(),
                     tables["Grn"].reindex(p["address_u"]).to_numpy())
        assert np.array_equal(rs.meth.loc[name].to_numpy(), m.astype(np.float32))
        assert np.array_equal(rs.unmeth.loc[name].to_numpy(), u.astype(np.float32))
        assert np.allclose(betas.loc[name].to_numpy(), m / (m + u + 100), atol=1e-6)
        assert rs[name].sample == name and address_coverage(rs[name]) == 1.0
    table = rs.sample_table
    assert table.index.tolist() == HM27_SAMPLES and (table["address_coverage"] == 1.0).all()
    assert table["position"].tolist() == ["A", "B"] and (table["barcode"] == "4207113116").all()
    assert (table["n_addresses"] == 55_300).all()
    b0 = rs.betas(offset=0)
    assert np.allclose(b0.to_numpy(), (rs.meth / (rs.meth + rs.unmeth)).to_numpy())


def test_wrong_manifest_is_a_clear_error(hm27_dir):
    """Reference: HM27 IDATs share no address with the 450k manifest (0 % coverage): ManifestError naming
    the IDAT and the array its address count points to, not all-NaN output."""
    with pytest.raises(ManifestError) as err:
        read_raw(hm27_dir, manifest="HM450")
    msg = str(err.value)
    assert "only 0.0% of the HM450 manifest's probe addresses are in" in msg
    assert "4207113116_A_Grn.idat'" in msg and "look like HM27" in msg and "--manifest PATH" in msg
    with pytest.raises(ManifestError, match="HM450 manifest's probe addresses"):
        read_raw([hm27_dir / "4207113116_B"], manifest=load_manifest("HM450"))


def test_sources_and_manifest_forms(hm27_dir, data_dir):
    """The same two samples from basenames, either channel's file, with the manifest given by name, object
    or file path: identical signals (reference: the folder read with auto-detection)."""
    ref = read_raw(hm27_dir)
    by_list = read_raw([hm27_dir / "4207113116_A", hm27_dir / "4207113116_B_Red.idat"], manifest="27k")
    pd.testing.assert_frame_equal(by_list.meth, ref.meth)
    one = read_raw(hm27_dir / "4207113116_B", manifest=load_manifest("HM27"))
    assert one.names == ["4207113116_B"]
    pd.testing.assert_frame_equal(one.unmeth, ref.unmeth.loc[["4207113116_B"]])
    by_path = read_raw(hm27_dir, manifest=data_dir / "manifests/hm27/hm27_ordering.tsv.gz")
    pd.testing.assert_frame_equal(by_path.meth, ref.meth)


def test_bad_samples_are_skipped_with_problems(hm27_copy):
    """Planted: a Grn file without its Red partner, a truncated IDAT pair and a pair from another array
    (1,000 foreign addresses) next to the two good HM27 pairs — the good ones are read, the others listed."""
    shutil.copy(hm27_copy / "4207113116_A_Grn.idat", hm27_copy / "9999_R01C01_Grn.idat")
    data = (hm27_copy / "4207113116_A_Grn.idat").read_bytes()
    (hm27_copy / "8888_R01C01_Grn.idat").write_bytes(data[:100_000])
    (hm27_copy / "8888_R01C01_Red.idat").write_bytes(data[:100_000])
    ids = np.arange(70_000_000, 70_001_000)
    write_idat(hm27_copy / "7777_R01C01_Grn.idat", Idat.from_arrays(ids, ids % 1000))
    write_idat(hm27_copy / "7777_R01C01_Red.idat", Idat.from_arrays(ids, ids % 777))
    rs = read_raw(hm27_copy, manifest="HM27")
    assert rs.names == HM27_SAMPLES
    text = "\n".join(str(p) for p in rs.problems)
    assert "9999_R01C01_Grn.idat' has no Red partner" in text
    assert "8888_R01C01" in text and "truncated" in text
    assert "sample '7777_R01C01': only 0.0% of the HM27 manifest's probe addresses" in text
    assert {p.sample for p in rs.problems} == {"9999_R01C01", "8888_R01C01", "7777_R01C01"}
    assert not rs.betas().isna().any().any()


def test_partial_coverage_is_kept_with_a_warning(hm27_copy):
    """Planted: 2 % of the addresses removed from one real HM27 pair → the sample is kept, a warning names
    the share missing, and exactly the probes using a removed address are NaN."""
    rng = np.random.default_rng(2)
    grn = read_idat(hm27_copy / "4207113116_B_Grn.idat")
    red = read_idat(hm27_copy / "4207113116_B_Red.idat")
    assert np.array_equal(grn.illumina_ids, red.illumina_ids)
    keep = np.ones(grn.n_probes, bool)
    keep[rng.choice(grn.n_probes, 1106, replace=False)] = False          # 2 % of 55,300
    gone = grn.illumina_ids[~keep].astype(np.int64)
    for channel, idat in (("Grn", grn), ("Red", red)):
        write_idat(hm27_copy / f"4207113116_B_{channel}.idat",
                   Idat.from_arrays(idat.illumina_ids[keep], idat.mean[keep], sd=idat.sd[keep],
                                    n_beads=idat.n_beads[keep], barcode="4207113116", position="B"))
    rs = read_raw(hm27_copy)
    assert rs.names == HM27_SAMPLES and rs.problems == []
    assert len(rs.warnings) == 1 and "4207113116_B" in rs.warnings[0] and "missing" in rs.warnings[0]
    p = rs.manifest.probes
    expected_nan = (p["address_u"].isin(gone) | p["address_m"].isin(gone)).to_numpy()
    b = rs.betas()
    assert (b.loc["4207113116_B"].isna().to_numpy() == expected_nan).all() and 0 < expected_nan.sum() < 2000
    assert not b.loc["4207113116_A"].isna().any()
    cov = rs.sample_table.loc["4207113116_B", "address_coverage"]
    assert 0.97 < cov < 0.99


def test_sample_sheet_metadata(hm27_copy):
    """A sample sheet names the samples and its columns reach RawSet.sample_table."""
    sheet = hm27_copy / "SampleSheet.csv"
    sheet.write_text("[Header],,,\nInvestigator Name,x,,\n[Data],,,\n"
                     "Sample_Name,Sentrix_ID,Sentrix_Position,Sample_Group\n"
                     "tumour_1,4207113116,A,GBM\nnormal_1,4207113116,B,control\n")
    rs = read_raw(sheet)
    assert rs.names == ["tumour_1", "normal_1"]
    assert rs.sample_table["Sample_Group"].tolist() == ["GBM", "control"]
    ref = read_raw(hm27_copy)
    assert np.array_equal(rs.meth.to_numpy(), ref.meth.to_numpy())
    rs2 = read_raw(hm27_copy, sheet=sheet)
    assert rs2.names == ["tumour_1", "normal_1"]


def test_nothing_usable_raises(tmp_path, hm27_copy):
    """No IDAT at all, or only broken pairs: an error naming the source or file."""
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(Exception, match="no IDAT files"):
        read_raw(empty)
    for f in hm27_copy.glob("*_Red.idat"):
        f.unlink()
    with pytest.raises(IdatError, match="no usable IDAT pair.*has no Red partner"):
        read_raw(hm27_copy)

def test_unknown_manifest_argument(hm27_dir):
    """A manifest argument that is neither a registered array nor a file is named in the error."""
    with pytest.raises(ManifestError, match="'HM9000' is neither a known array .*HM27.* nor a manifest file"):
        read_raw(hm27_dir / "4207113116_A", manifest="HM9000")
