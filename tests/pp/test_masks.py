"""Probe masks and filters, including the Heidelberg-style 450k probe set."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ConfigError, DataError
from methylclass.pp import masks

#: probes kept by the MNP classifier (Capper et al. 2018, Nature 555:469, Methods)
CAPPER_KEPT = 428_799


def test_mask_files_load(data_dir):
    """Reference: the shared files themselves — methylprep's 450k quality mask lists 64,144 probes under an
    ``x`` header, sesame's hm450 mask 89,512 Probe_IDs."""
    mp = masks.load_methylprep_mask("HM450")
    ses = masks.load_sesame_mask("HM450")
    assert len(mp) == 64_144 and "x" not in mp and all(p[:2] in ("cg", "ch") for p in list(mp)[:1000])
    assert len(ses) == 89_512
    assert len(masks.load_methylprep_mask("EPIC")) > 0


def test_simple_filters_count_the_manifest(pp_hm450):
    """Reference: counts straight from the HM450 manifest — 11,232 chrX + 416 chrY probes, 3,091 ch. + 65 rs
    probes; reasons name every filter that hit a probe."""
    f = masks.probe_filter(pp_hm450, drop=("xy", "non_cg"))
    assert f.counts() == {"xy": 11_648, "non_cg": 3_156}
    p = pp_hm450.probes
    overlap = (p["chrom"].isin(["chrX", "chrY"]) & ~p["probe_id"].str.startswith("cg")).sum()
    assert f.n_dropped == 11_648 + 3_156 - overlap
    reason = dict(zip(f.dropped()["probe_id"], f.dropped()["reason"]))
    x_cg = p.loc[(p["chrom"] == "chrX") & p["probe_id"].str.startswith("cg"), "probe_id"].iloc[0]
    rs = p.loc[p["probe_id"].str.startswith("rs"), "probe_id"].iloc[0]
    assert reason[x_cg] == "xy" and "non_cg" in reason[rs]
    assert len(f.kept_ids()) == f.n_kept == pp_hm450.n_probes - f.n_dropped


def test_heidelberg_450k_probe_count(pp_hm450, capsys):
    """Reference: Capper et al. keep 428,799 of 485,577 probes. With the masks available here (xy + non_cg +
    methylprep quality mask standing in for the SNP / non-unique lists; no EPIC v1 names) we keep 408,966 —
    within 5 % of the published set. The count is printed for the report."""
    f = masks.heidelberg_filter(pp_hm450)
    print(f"\nHeidelberg-style 450k set: {f.n_kept:,} probes kept (Capper et al. 2018: {CAPPER_KEPT:,}); "
          f"dropped by filter: {f.counts()}")
    assert f.n_kept == 408_966
    assert abs(f.n_kept - CAPPER_KEPT) / CAPPER_KEPT < 0.05
    assert f.filters == masks.HEIDELBERG_450K


def test_not_on_epic_and_extra_masks(pp_tiny):
    """``not_on_epic`` drops what the given EPIC list lacks; a user list becomes its own named reason; EPICv2
    replicate ids (cg…_TC21) match plain cg ids through ``cpg_id``."""
    man = pp_tiny.manifest(["II"] * 4, [""] * 4, probe_ids=["cg01_TC21", "cg02", "cg03", "ch.1.2"])
    man.probes["cpg_id"] = ["cg01", "cg02", "cg03", "ch.1.2"]
    f = masks.probe_filter(man, drop=("non_cg", "not_on_epic"), epic_probes={"cg01", "cg02", "ch.1.2"},
                           extra_masks={"my_list": ["cg02"]})
    np.testing.assert_array_equal(f.keep, [True, False, False, False])
    assert list(f.reasons) == ["", "my_list", "not_on_epic", "non_cg"]
    with pytest.raises(ConfigError, match="epic_probes"):
        masks.probe_filter(man, drop=("not_on_epic",))


def test_unknown_filter_and_missing_mask(pp_tiny, tmp_path):
    """A misspelt filter is a ConfigError listing the valid ones; an unreadable mask file a DataError naming it;
    an array without a shipped mask a DataError."""
    man = pp_tiny.manifest(["II"], [""])
    with pytest.raises(ConfigError, match="xy, non_cg"):
        masks.probe_filter(man, drop=("snp",))
    with pytest.raises(DataError, match="nope.txt"):
        masks.load_methylprep_mask(path=tmp_path / "nope.txt")
    with pytest.raises(DataError, match="MSA"):
        masks.load_sesame_mask("MSA")
    custom = tmp_path / "mask.txt.gz"
    with gzip.open(custom, "wt") as fh:
        fh.write('"x"\n"cg0001"\n"cg0002"\n')
    assert masks.load_methylprep_mask(path=custom) == frozenset({"cg0001", "cg0002"})


def test_sesame_mask_filter_on_hm450(pp_hm450):
    """Every sesame-mask probe is in the HM450 manifest, so the filter drops exactly 89,512."""
    f = masks.probe_filter(pp_hm450, drop=("sesame_mask",))
    assert f.n_dropped == 89_512
    assert isinstance(f.dropped(), pd.DataFrame) and set(f.dropped()["reason"]) == {"sesame_mask"}
