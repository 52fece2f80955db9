"""Training data from a store mixing arrays: shared CpGs by default, --common-probes, arrays in the summary."""

from __future__ import annotations

import pytest

from methylclass.errors import MethylclassError
from methylclass.simulate.mixed import simulate_mixed_cohort
from methylclass.workflows.data import cli_data_block, load_dataset
from methylclass.workflows.ingest import ingest


@pytest.fixture(scope="module")
def mixed_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixtrain")
    sim = simulate_mixed_cohort(root / "sim", {"450k": 2, "EPICv2": 2, "MSA": 1}, n_normals=1, n_probes=3000,
                                classes=2, seed=4, low_quality_fraction=0.0)
    ingest(sim.samplesheet, root / "store", backend="local")
    return sim, root / "store"


def test_mixed_store_trains_on_the_shared_cpgs(mixed_store):
    """Reference: the layouts' CpG sets (inner join = CpGs on every array present)."""
    sim, store = mixed_store
    cpg = {k: set(m.probes["cpg_id"]) for k, m in sim.manifests.items()}
    sex = {c for m in sim.manifests.values() for c in m.probes.loc[m.probes["chrom"].isin(["chrX", "chrY"]),
                                                                   "cpg_id"]}
    assert sex & cpg["450k"] & cpg["EPICv2"] & cpg["MSA"]
    data = {"store": str(store), "label_column": "Sample_Group", "exclude_classes": ["normal"]}
    ds = load_dataset(data)
    # the array is the in-fold adjusted covariate of a mixed store (conf store.array_covariate), not a CpG
    assert ds.covariates == ["cov_array"]
    # sex-chromosome CpGs are left out by default (conf store.sex_chromosomes: drop), kept on request
    assert set(ds.X.columns) - {"cov_array"} == (cpg["450k"] & cpg["EPICv2"] & cpg["MSA"]) - sex
    kept = load_dataset({**data, "sex_chromosomes": "keep", "array_covariate": False})
    assert set(kept.X.columns) == cpg["450k"] & cpg["EPICv2"] & cpg["MSA"]
    assert ds.summary["arrays"] == {"SIM450K": 4, "SIMEPICV2": 4, "SIMMSA": 2}
    assert ds.summary["join"] == "inner"
    # the CpGs two arrays share (a model meant for 450k and EPICv2 cases), over the union of the store
    block = cli_data_block(betas=str(store), label_column="Sample_Group", common_probes="SIM450K,SIMEPICV2")
    ds2 = load_dataset({**block, "join": "outer", "exclude_classes": ["normal"], "array_covariate": False})
    assert set(ds2.X.columns) == (cpg["450k"] & cpg["EPICv2"]) - sex
    assert ds2.X.loc[ds2.X.index.str.startswith("MSA")].isna().any(axis=None)  # MSA lacks some of them
    assert ds2.summary["common_probes"] == ["SIM450K", "SIMEPICV2"]


def test_unknown_common_array_is_a_clear_error(mixed_store):
    _, store = mixed_store
    with pytest.raises(MethylclassError, match="unknown array type 'NOPE'"):
        load_dataset({"store": str(store), "label_column": "Sample_Group", "common_probes": ["NOPE"]})
