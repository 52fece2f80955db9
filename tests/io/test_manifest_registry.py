"""Array registry and array detection (methylclass.io.manifest.registry, manifest.detect_array)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from methylclass.errors import ManifestError
from methylclass.io.discover import ARRAY_ADDRESS_COUNTS
from methylclass.io.idat import Idat, read_idat
from methylclass.io.manifest import address_overlap, detect_array, load_manifest
from methylclass.io.manifest.registry import (
    ArraySpec,
    arrays_for_count,
    get_array,
    list_arrays,
    register_array,
    unregister_array,
)


def _write_tsv(path: Path, probes: pd.DataFrame) -> Path:
    """A sesame-style TSV (Probe_ID, address_M, address_U, DESIGN, col) of ``probes`` (manifest rows)."""
    t1 = probes["design"] == "I"
    pd.DataFrame({
        "Probe_ID": probes["probe_id"],
        "address_M": probes["address_m"].where(t1, pd.NA).astype("Int64"),
        "address_U": probes["address_u"],
        "DESIGN": probes["design"],
        "col": probes["channel"].map({"Red": "R", "Grn": "G", "": ""}),
    }).to_csv(path, sep="\t", index=False)
    return path


@pytest.fixture()
def custom_array():
    """Registers user arrays for one test and removes them afterwards."""
    added: list[str] = []

    def add(spec: ArraySpec) -> ArraySpec:
        register_array(spec)
        added.append(spec.name)
        return spec

    yield add
    for name in added:
        unregister_array(name)


def test_builtin_arrays_and_aliases():
    """Reference: Illumina's array names and the aliases used by minfi/methylprep/mepylome."""
    assert [s.name for s in list_arrays()][:5] == ["HM27", "HM450", "EPIC", "EPICv2", "MSA"]
    for alias, name in [("450k", "HM450"), ("hm450", "HM450"), ("IlluminaHumanMethylation450k", "HM450"),
                        ("27k", "HM27"), ("EPIC+", "EPIC"), ("epic_v2", "EPICv2"), ("EPICv2", "EPICv2"),
                        ("msa48", "MSA")]:
        assert get_array(alias).name == name
    with pytest.raises(ManifestError, match="unknown array type 'HM999'.*HM27, HM450"):
        get_array("HM999")
    assert get_array("HM450").builds == ("hg19", "hg38")
    assert get_array("MSA").genome_build == "hg38"


def test_registry_counts_come_from_the_discover_table():
    """Reference: discover.ARRAY_ADDRESS_COUNTS (the one table of IDAT address counts) and the real files."""
    for name, typical, lo, hi in ARRAY_ADDRESS_COUNTS:
        if name == "MM285":
            continue
        assert (lo, hi) in get_array(name).idat_addresses
        assert [s.name for s in arrays_for_count(typical)] == [name]
    assert [s.name for s in arrays_for_count(55_300)] == ["HM27"]      # the real HM27 IDATs
    assert [s.name for s in arrays_for_count(622_399)] == ["HM450"]    # the real 450k Green IDAT
    assert arrays_for_count(10) == []


@pytest.mark.parametrize("array", ["EPIC", "EPICv2"])
def test_epic_without_addresses_says_how_to_supply_a_manifest(array):
    """Reference: the shared data folder holds no EPIC/EPICv2 address manifest (data README)."""
    with pytest.raises(ManifestError) as err:
        load_manifest(array)
    msg = str(err.value)
    assert f"array '{array}'" in msg and "--manifest PATH" in msg and f"load_manifest('{array}', path=" in msg
    assert "control probes" in msg


def test_detect_real_idats(hm27_dir, hm450_idat):
    """Reference: the real HM27 IDAT (55,300 addresses) and the real 450k Green IDAT (622,399)."""
    grn = read_idat(hm27_dir / "4207113116_A_Grn.idat")
    assert detect_array(grn) == "HM27"
    assert detect_array(hm27_dir / "4207113116_B_Red.idat") == "HM27"
    assert detect_array(hm450_idat) == "HM450"
    assert detect_array(np.asarray(hm450_idat.illumina_ids)) == "HM450"
    # confirmed by overlap when manifests are handed in: the wrong one loses to the array's own manifest
    assert detect_array(hm450_idat, manifests=[load_manifest("HM27")]) == "HM450"
    assert detect_array(grn, manifests=load_manifest("HM27")) == "HM27"


def test_overlap_of_real_idats_with_manifests(hm27_dir, hm450_idat):
    """Reference: the real IDATs against their own and a foreign manifest (100 % vs 0 % coverage)."""
    grn = read_idat(hm27_dir / "4207113116_A_Grn.idat")
    hm27, hm450 = load_manifest("HM27"), load_manifest("HM450")
    cov, expl = address_overlap(hm27, grn.illumina_ids)
    assert cov == 1.0 and expl > 0.99
    assert address_overlap(hm450, grn.illumina_ids)[0] == 0.0
    cov450, _ = address_overlap(hm450, hm450_idat.illumina_ids)
    assert cov450 == 1.0
    assert address_overlap(hm27, hm450_idat.illumina_ids)[0] == 0.0


def test_ambiguous_count_is_resolved_by_overlap(hm27_dir, tmp_path, custom_array):
    """Planted ambiguity: a user array with the HM27 address-count range; the real HM27 IDAT must still be
    called HM27 (its manifest covers the IDAT, the decoy's does not), and an IDAT made of the decoy's
    addresses must be called the decoy."""
    rng = np.random.default_rng(1)
    decoy = load_manifest("HM27").probes.iloc[:500].copy()
    decoy["address_u"] = 90_000_000 + rng.choice(9_000_000, 500, replace=False)
    decoy["address_m"] = np.where(decoy["design"] == "I", decoy["address_u"] + 1, -1)
    path = _write_tsv(tmp_path / "decoy.tsv", decoy)
    custom_array(ArraySpec("DECOY27", ((54_000, 56_000),), probes=str(path)))
    assert {s.name for s in arrays_for_count(55_300)} == {"HM27", "DECOY27"}
    assert detect_array(hm27_dir / "4207113116_A_Grn.idat") == "HM27"
    decoy_ids = np.concatenate([decoy["address_u"], decoy["address_m"][decoy["address_m"] > 0],
                                np.arange(1, 55_300 - 1000)])
    assert detect_array(decoy_ids) == "DECOY27"


def test_unknown_count_falls_back_to_overlap(hm27_dir):
    """Reference: the real HM27 address set with 2,000 addresses removed (53,300: no count range matches);
    the HM27 manifest still covers ≥ 90 % of it. A random address set matches nothing and the error names
    the coverage of each manifest tried."""
    ids = np.asarray(read_idat(hm27_dir / "4207113116_A_Grn.idat").illumina_ids)
    assert arrays_for_count(len(ids) - 2000) == []
    assert detect_array(ids[2000:]) == "HM27"
    with pytest.raises(ManifestError, match=r"cannot tell which array address set with 1,000 addresses.*"
                                            r"HM27 0\.0%.*--manifest PATH"):
        detect_array(np.arange(5, 1005))


def test_register_and_unregister(tmp_path, custom_array):
    """A registered array is found by name, alias and count, and loads its own manifest file."""
    hm27 = load_manifest("HM27")
    path = _write_tsv(tmp_path / "mini.tsv", hm27.probes.iloc[:300])
    custom_array(ArraySpec("MINI", ((10_000, 10_100),), probes=str(path), aliases=("mini-chip",)))
    assert get_array("MINI-CHIP").name == "MINI"
    assert [s.name for s in arrays_for_count(10_050)] == ["MINI"]
    man = load_manifest("mini")
    assert man.array == "MINI" and man.n_probes == 300
    pd.testing.assert_frame_equal(man.probes[["probe_id", "address_u", "address_m", "design", "channel"]],
                                  hm27.probes.iloc[:300][["probe_id", "address_u", "address_m", "design",
                                                          "channel"]])
    with pytest.raises(ManifestError, match="already registered"):
        register_array(ArraySpec("MINI", ((1, 2),)))
    with pytest.raises(ManifestError, match="already registered as 'HM450'"):
        register_array(ArraySpec("X", ((1, 2),), aliases=("450k",)))
    with pytest.raises(ManifestError, match="built in"):
        unregister_array("HM450")
    with pytest.raises(ManifestError, match="non-empty"):
        register_array(ArraySpec("BAD", ()))


def test_detect_synthetic_epicv2_by_count():
    """Planted: an address set of EPICv2 size (1,105,209, Illumina EPIC v2 A1) is EPICv2 by count alone,
    without any manifest (none ships)."""
    assert detect_array(np.arange(1_000_000, 2_105_209)) == "EPICv2"
    assert detect_array(Idat.from_arrays(np.arange(10, 1_052_651), np.zeros(1_052_641))) == "EPIC"
