"""The Grn/Red channel-separation statistic keeps its value when its Type I bead positions come from the
layout cache, and the cache never serves positions of another address order or another probe table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from methylclass.io import channels
from methylclass.io.channels import channel_separation
from methylclass.io.discover import check_pair
from methylclass.io.idat import Idat, read_idat
from methylclass.io.manifest import load_manifest


def _reference(grn: Idat, red: Idat, manifest) -> float:
    """The statistic written out without any cache (the module docstring's definition)."""
    probes = manifest.probes
    pos = {int(a): i for i, a in enumerate(np.asarray(grn.illumina_ids))}
    total = 0.0
    for colour in ("Red", "Grn"):
        sel = (probes["design"] == "I") & (probes["channel"] == colour)
        addresses = np.concatenate([probes.loc[sel, "address_u"], probes.loc[sel, "address_m"]])
        at = np.array([pos[int(a)] for a in addresses if int(a) in pos])
        g = np.log2(np.maximum(np.asarray(grn.mean, dtype=np.float64)[at], 1.0))
        r = np.log2(np.maximum(np.asarray(red.mean, dtype=np.float64)[at], 1.0))
        total += float(np.median(r - g) if colour == "Red" else np.median(g - r))
    return total


@pytest.fixture(scope="module")
def hm27(hm27_dir: Path):
    man = load_manifest("HM27")
    pairs = {}
    for pos in "AB":
        grn = read_idat(hm27_dir / f"4207113116_{pos}_Grn.idat")
        pairs[pos] = (grn, check_pair(grn, read_idat(hm27_dir / f"4207113116_{pos}_Red.idat")))
    return man, pairs


def test_cached_positions_give_the_definition_value(hm27):
    """Two samples of one layout (the second served from the cache), a shuffled address order, and the
    swapped pair (exactly the negated value) all equal the statistic computed from its definition."""
    man, pairs = hm27
    channels._LAYOUTS.clear()
    for pos in "AB":
        grn, red = pairs[pos]
        assert channel_separation(grn, red, man) == pytest.approx(_reference(grn, red, man), abs=1e-12)
    assert len(channels._LAYOUTS) == 1  # B reused A's layout
    grn, red = pairs["A"]
    perm = np.random.default_rng(1).permutation(grn.n_probes)
    sg = Idat.from_arrays(grn.illumina_ids[perm], grn.mean[perm], n_beads=grn.n_beads[perm])
    sr = Idat.from_arrays(red.illumina_ids[perm], red.mean[perm], n_beads=red.n_beads[perm])
    value = channel_separation(sg, sr, man)
    assert len(channels._LAYOUTS) == 2  # a new address order is a new layout, not a stale hit
    assert value == pytest.approx(_reference(grn, red, man), abs=1e-12)
    assert channel_separation(red, grn, man) == pytest.approx(-_reference(grn, red, man), abs=1e-12)


def test_another_probe_table_is_not_served_from_the_cache(hm27):
    """A manifest whose Type I colours differ (Red and Grn exchanged) gets its own positions: the value is
    negated, not the first manifest's answer."""
    import dataclasses

    man, pairs = hm27
    grn, red = pairs["A"]
    channels._LAYOUTS.clear()
    first = channel_separation(grn, red, man)
    probes = man.probes.copy()
    probes["channel"] = probes["channel"].map({"Red": "Grn", "Grn": "Red"}).fillna(probes["channel"])
    other = dataclasses.replace(man, probes=probes)
    assert channel_separation(grn, red, other) == pytest.approx(-first, abs=1e-12)
    assert channel_separation(grn, red, man) == first
