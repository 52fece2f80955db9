"""EPICv2 replicate probes → one value per CpG (methylclass.io.manifest.collapse_replicates)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from methylclass.io.manifest import collapse_replicates
from methylclass.io.manifest.tables import build_probe_table, empty_controls, strip_replicate_suffix
from methylclass.io.manifest.types import Manifest


@pytest.fixture(scope="module")
def epicv2_ids(data_dir) -> pd.Series:
    """The 936,166 real EPICv2 probe ids of Peters et al. 2024 (with _TC21-style suffixes)."""
    ref = pd.read_parquet(data_dir / "manifests/epicv2/epicv2_probes_peters2024.parquet", columns=["IlmnID"])
    return ref["IlmnID"]


def test_epicv2_probe_list_replicates(epicv2_ids):
    """Reference: an independent split of every id at its last underscore (every EPICv2 id has exactly one
    suffix); measured facts of the list: 936,166 probes, 929,772 CpGs, 5,222 CpGs with replicates
    (4,185 ×2, 962 ×3, 23 ×4, 48 ×5, 3 ×6, 1 ×10)."""
    cpg = strip_replicate_suffix(epicv2_ids)
    independent = epicv2_ids.str.rsplit("_", n=1).str[0]
    assert (cpg.to_numpy() == independent.to_numpy()).all()
    assert len(epicv2_ids) == 936_166 and epicv2_ids.is_unique
    sizes = cpg.value_counts()
    assert len(sizes) == 929_772
    assert (sizes > 1).sum() == 5_222
    assert sizes.value_counts().sort_index().to_dict() == {1: 924_550, 2: 4_185, 3: 962, 4: 23, 5: 48, 6: 3,
                                                           10: 1}


def test_collapse_mean_on_the_real_probe_list(epicv2_ids):
    """Planted truth on all 936,166 real ids × 3 samples: every CpG has a value v, its replicates carry
    v + offsets that sum to zero, so the mean rule must return v exactly; NaN replicates (failed probes) must
    drop out. Reference for the NaN groups: a plain per-group Python average."""
    rng = np.random.default_rng(5)
    cpg = strip_replicate_suffix(epicv2_ids).to_numpy(dtype=object)
    codes, uniq = pd.factorize(cpg)
    n_groups = len(uniq)
    truth = rng.uniform(0.2, 0.8, (n_groups, 3))
    size = np.bincount(codes)[codes]
    rank = pd.Series(codes).groupby(codes).cumcount().to_numpy()
    offset = np.where(size > 1, (rank - (size - 1) / 2) * 0.01, 0.0)      # symmetric: sums to 0 per group
    values = truth[codes] + offset[:, None]
    df = pd.DataFrame(values, index=epicv2_ids.to_numpy(), columns=["s1", "s2", "s3"])
    out = collapse_replicates(df)
    assert out.index.name == "cpg_id" and len(out) == 929_772
    assert (out.index.to_numpy() == np.asarray(uniq, dtype=object)).all()   # first-occurrence order
    assert np.allclose(out.to_numpy(), truth, atol=1e-12)

    # knock out replicates: one NaN in 300 groups, all members NaN in 20 groups
    multi = np.flatnonzero(np.bincount(codes) > 1)
    hit = rng.choice(multi, 320, replace=False)
    df2 = df.copy()
    first_rows = {g: np.flatnonzero(codes == g) for g in hit}
    for g in hit[:300]:
        df2.iloc[first_rows[g][0], 0] = np.nan
    for g in hit[300:]:
        df2.iloc[first_rows[g], :] = np.nan
    out2 = collapse_replicates(df2)
    for g in hit:
        rows = first_rows[g]
        expected = [np.mean([df2.iat[r, j] for r in rows if not np.isnan(df2.iat[r, j])])
                    if not all(np.isnan(df2.iat[r, j]) for r in rows) else np.nan for j in range(3)]
        assert np.allclose(out2.loc[uniq[g]].to_numpy(), expected, equal_nan=True)
    assert out2.loc[uniq[hit[300:]]].isna().all().all()


def test_collapse_first_manifest_mapping_and_dtypes():
    """Planted: manifest cpg_id mapping wins over suffix stripping; 'first' takes the first non-NaN
    replicate in row order; float32 stays float32; arrays without replicates are only re-indexed."""
    ids = pd.Series(["cg1_TC21", "cg1_BC11", "cg2_TC21", "rs9_BO11", "weird_probe"])
    probes, dropped = build_probe_table(
        probe_id=ids, address_u=np.arange(1, 6), address_m=np.full(5, -1), design=np.full(5, "II", object),
        channel=np.full(5, "", object), chrom=np.full(5, "", object), pos=np.full(5, -1),
        cpg_id=pd.Series(["cg1", "cg1", "cg2", "rs9", "cg2"]))
    assert not dropped
    man = Manifest(array="T", probes=probes, controls=empty_controls())
    df = pd.DataFrame({"a": np.array([np.nan, 0.4, 0.6, 0.1, 0.8], np.float32),
                       "b": np.array([0.2, 0.4, 0.6, 0.1, np.nan], np.float32)}, index=ids.to_numpy())
    mean = collapse_replicates(df, man)
    assert mean.index.tolist() == ["cg1", "cg2", "rs9"] and (mean.dtypes == np.float32).all()
    assert np.allclose(mean.to_numpy(), [[0.4, 0.3], [0.7, 0.6], [0.1, 0.1]])
    first = collapse_replicates(df, man, method="first")
    assert np.allclose(first.to_numpy(), [[0.4, 0.2], [0.6, 0.6], [0.1, 0.1]])
    no_manifest = collapse_replicates(df)          # suffix stripping only: 'weird_probe' stays itself
    assert no_manifest.index.tolist() == ["cg1", "cg2", "rs9", "weird_probe"]
    series = collapse_replicates(df["b"], man)
    assert isinstance(series, pd.Series) and np.allclose(series.to_numpy(), [0.3, 0.6, 0.1])
    plain = pd.DataFrame({"a": [0.1, 0.2]}, index=["cg7", "cg8"])
    same = collapse_replicates(plain)
    assert same.index.tolist() == ["cg7", "cg8"] and same.index.name == "cpg_id"
    with pytest.raises(ValueError, match="unknown collapse method 'median'"):
        collapse_replicates(df, method="median")
