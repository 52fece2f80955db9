"""Seed determinism (byte for byte, independent of worker count) and clear errors for bad parameters."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from methylclass.cli import main
from methylclass.errors import ConfigError
from methylclass.simulate import simulate_cohort

SMALL = {"n_probes": 2000, "classes": 2, "n_per_class": 3, "n_normals": 2, "cnv": ["F1_A=+7,CDKN2A:homdel"]}


def _digests(root: Path) -> dict[str, str]:
    out = {}
    for f in sorted(root.rglob("*")):
        if f.is_file() and f.name != "simulation.json":
            out[str(f.relative_to(root))] = hashlib.sha256(f.read_bytes()).hexdigest()
    meta = json.loads((root / "simulation.json").read_text())
    meta["config"].pop("n_jobs")
    out["simulation.json"] = json.dumps(meta, sort_keys=True)
    return out


def test_same_seed_gives_identical_bytes_whatever_the_worker_count(tmp_path):
    """Reference: a second run. Same seed → every file byte-identical (IDATs gzip-compressed too), whether
    run in-process or on 2 loky workers; another seed → different IDAT bytes and truth."""
    a = simulate_cohort(tmp_path / "a", seed=7, n_jobs=1, compress=True, **SMALL)
    b = simulate_cohort(tmp_path / "b", seed=7, n_jobs=2, compress=True, **SMALL)
    c = simulate_cohort(tmp_path / "c", seed=8, n_jobs=1, compress=True, **SMALL)
    da, db, dc = _digests(a.out_dir), _digests(b.out_dir), _digests(c.out_dir)
    assert len([k for k in da if k.endswith(".idat.gz")]) == 2 * 8
    assert da == db
    assert set(da) != set(dc) or all(da[k] != dc[k] for k in da if k.endswith(".idat.gz"))
    assert da["truth/samples.tsv"] != dc["truth/samples.tsv"]
    assert not list(tmp_path.glob(".*partial*"))  # no temporary folders left behind


@pytest.mark.parametrize("kwargs, message", [
    ({"classes": 0}, "classes must be at least 1"),
    ({"classes": []}, "at least one tumour class"),
    ({"n_per_class": 0}, "needs at least 1 sample"),
    ({"n_per_class": [3, 3, 3]}, "lists 3 sizes for 2 classes"),
    ({"purity": (0.0, 0.9)}, r"purity must lie in \(0, 1\]"),
    ({"purity": (0.5, 1.2)}, r"purity must lie in \(0, 1\]"),
    ({"purity": (0.9, 0.5)}, "reversed"),
    ({"cnv": ["F1_A=FOO1:amp"]}, "unknown gene 'FOO1'"),
    ({"cnv": ["F9_Z=+7"]}, "unknown class 'F9_Z'"),
    ({"cnv": ["F1_A=+7q:x"]}, "cannot parse copy-number event"),
    ({"cnv": ["+7"]}, "CLASS=EVENT"),
    ({"dmps_per_class": 5000}, "lower dmps_per_class"),
    ({"classes": 40, "n_per_class": 1}, "lower dmps_per_class"),
    ({"n_probes": 100}, "at least 1,000 probes"),
    ({"male_fraction": 1.5}, "male_fraction"),
    ({"n_jobs": 0}, "n_jobs"),
    ({"seed": -1}, "seed"),
    ({"manifest": "NOPE27"}, "NOPE27"),
    ({"bogus": 1}, "unknown simulation parameter"),
])
def test_bad_parameters_raise_config_error_and_write_nothing(tmp_path, kwargs, message):
    """Reference: the documented parameter domains. Each bad value raises a MethylclassError (ConfigError,
    or ManifestError for an unknown array) naming the problem, before anything is written."""
    from methylclass.errors import MethylclassError

    params = {"n_probes": 2000, "classes": 2, "n_per_class": 2, "n_normals": 1, "dmps_per_class": 50}
    params.update(kwargs)
    with pytest.raises(MethylclassError, match=message):
        simulate_cohort(tmp_path / "out", **params)
    assert list(tmp_path.iterdir()) == []


def test_existing_output_needs_force(tmp_path):
    """Reference: the documented --force contract. A non-empty folder is refused (ConfigError) and left
    untouched; with force=True it is replaced atomically by the new cohort."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(ConfigError, match="not empty"):
        simulate_cohort(out, **SMALL)
    assert (out / "keep.txt").read_text() == "x"
    res = simulate_cohort(out, force=True, **SMALL)
    assert not (out / "keep.txt").exists() and res.samplesheet.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    with pytest.raises(ConfigError, match="parent folder"):
        simulate_cohort(tmp_path / "missing" / "out", **SMALL)


def test_cli_writes_a_cohort_and_reports_errors_in_one_line(tmp_path, capsys):
    """Reference: the CLI contract of methylclass.cli (exit 0 on success; MethylclassError → one line
    'error: …' and exit 2)."""
    out = tmp_path / "cli"
    rc = main(["simulate", "--out", str(out), "--probes", "2000", "--classes", "3", "--per-class", "4,3,2",
               "--normals", "2", "--cnv", "F1_A=+7,EGFR:amp", "--cnv", "F2_A=-10", "--seed", "3", "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "11 samples" in printed and "3 classes" in printed
    assert len(list((out / "idat").glob("*_Grn.idat"))) == 11
    meta = json.loads((out / "simulation.json").read_text())
    assert meta["class_sizes"] == [4, 3, 2] and meta["config"]["seed"] == 3
    rc = main(["simulate", "--out", str(tmp_path / "bad"), "--classes", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1
    rc = main(["simulate", "--out", str(tmp_path / "bad"), "--purity", "0.5,1.5"])
    assert rc == 2 and "purity" in capsys.readouterr().err
