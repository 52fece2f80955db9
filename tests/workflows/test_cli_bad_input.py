"""Every command of the command line against a matrix of bad inputs: no traceback, one ``error:`` line naming
the path, exit status 2 (or 0 where the input is fine, e.g. a path with spaces and accents).

The commands are found the way ``methylclass.cli`` finds them (every module of :mod:`methylclass.commands`),
and their path arguments are read from their parsers (:func:`path_arguments`): a new command, or a new path
option of an existing one, fails :func:`test_every_command_and_path_argument_is_covered` until it has a row in
:data:`SPECS`. Runs are in this process through :func:`methylclass.cli.main` (fast); only the broken-pipe
checks start ``python -m methylclass`` (a real pipe is needed).

Bad inputs (:data:`BAD`): a missing path, a folder where a file is expected, a file where a folder is
expected, an empty file, a file of the wrong type (PNG bytes, plain text), a missing path with spaces and
non-ASCII letters; for outputs a path under a regular file and a path of the wrong kind.
"""

from __future__ import annotations

import argparse
import errno
import io
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from methylclass import commands
from methylclass.cli import build_parser, main
from methylclass.io.idat import Idat

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
ODD = "odd dir ü/naïve name é"

#: words in an argument's help/metavar that make it a path (the coverage test reads the parsers with this)
PATH_WORDS = re.compile(r"\b(file|folder|dir|table|sheet|manifest|bundle|store|idats?|path|panel|yaml|"
                        r"normals|basenames?|@file|csv|output)\b", re.IGNORECASE)

# role of each path argument: what kind of path it takes
IN_FILE, IN_DIR, IN_ANY, OUT_DIR = "in_file", "in_dir", "in_any", "out_dir"
OUT_FILE, AT_FILE = "out_file", "@file"

# shared pieces of the argument lists below
LAB = "--betas {betas_ok} --label-column subgroup"
FAST = "--outer 2 --inner 2 --n-jobs 1 --no-progress"
CNV = "cnv {idats} --reference {idats} --genome hg38"
SIM = "--classes 2 --per-class 1 --normals 1 --quiet"
PANEL = "--rankings variance --models logreg --sizes 5 --outer 2 --n-jobs 1 --no-progress"


def _model_cmd(cmd: str, model: str) -> dict[str, tuple[str, str]]:
    """The rows shared by evaluate and benchmark (same data/config/output options)."""
    return {
        "betas": (IN_FILE, f"{cmd} --betas {{betas}} --label-column subgroup {model} --out-dir {{out_new}}"),
        "labels": (IN_FILE, f"{cmd} --betas {{betas_ok}} --labels {{labels}} {model} --out-dir {{out_new}}"),
        "config": (IN_FILE, f"{cmd} {LAB} {model} --config {{config}} --out-dir {{out_new}}"),
        "conf_dir": (IN_DIR, f"{cmd} {LAB} {model} --conf-dir {{conf_dir}} --out-dir {{out_new}}"),
        "out_dir": (OUT_DIR, f"{cmd} {LAB} {model} --out-dir {{out_dir}} {FAST}"),
    }


#: per command: {argument dest: (role, argv with {dest} placeholders)}; other placeholders take valid values
SPECS: dict[str, dict[str, tuple[str, str]]] = {
    "info": {
        "path": (IN_ANY, "info {path}"),
        "sheet": (IN_FILE, "info {idats} --sheet {sheet}"),
        "manifest": (IN_FILE, "info {idats} --manifest {manifest}"),
        "controls": (IN_FILE, "info {idats} --manifest {manifest_nc} --controls {controls}"),
    },
    "preprocess": {
        "input": (IN_ANY, "preprocess {input} --out {out_new} --local"),
        "out": (OUT_DIR, "preprocess {idats} --out {out} --local"),
        "sheet": (IN_FILE, "preprocess {idats} --out {out_new} --sheet {sheet} --local"),
        "manifest": (IN_FILE, "preprocess {idats} --out {out_new} --manifest {manifest} --local"),
        "controls": (IN_FILE, ("preprocess {idats} --out {out_new} --manifest {manifest_nc} "
                              "--controls {controls} --local")),
    },
    "export": {
        "store": (IN_DIR, "export {store} --out {out_csv}"),
        "out": (OUT_FILE, "export {store_ok} --out {out}"),
        "samples": (AT_FILE, "export {store_ok} --out {out_csv} --samples {samples}"),
        "probes": (AT_FILE, "export {store_ok} --out {out_csv} --probes {probes}"),
    },
    "train": {
        "betas": (IN_FILE, "train --betas {betas} --label-column subgroup --model logreg --out {out_new}"),
        "labels": (IN_FILE, "train --betas {betas_ok} --labels {labels} --model logreg --out {out_new}"),
        "config": (IN_FILE, f"train {LAB} --config {{config}} --model logreg --out {{out_new}}"),
        "conf_dir": (IN_DIR, f"train {LAB} --conf-dir {{conf_dir}} --model logreg --out {{out_new}}"),
        "out": (OUT_DIR, f"train {LAB} --model logreg --out {{out}} --inner 2 --conformal none --n-jobs 1"),
        "key": (IN_FILE, f"train {LAB} --model logreg --out {{out_new}} --key {{key}} --inner 2 --conformal none"),
    },
    "predict": {
        "model": (IN_DIR, "predict --model {model} --betas {betas_ok} --out {out_csv}"),
        "betas": (IN_FILE, "predict --model {bundle} --betas {betas} --out {out_csv}"),
        "labels": (IN_FILE, "predict --model {bundle} --betas {betas_ok} --labels {labels} --out {out_csv}"),
        "out": (OUT_FILE, "predict --model {bundle} --betas {betas_ok} --out {out}"),
        "inputs": (IN_ANY, "predict --model {bundle} {inputs} --out {out_new}"),
        "manifest": (IN_FILE, "predict --model {bundle} {idats} --out {out_new} --manifest {manifest}"),
        "controls": (IN_FILE, ("predict --model {bundle} {idats} --out {out_new} --manifest {manifest_nc} "
                               "--controls {controls}")),
    },
    "evaluate": _model_cmd("evaluate", "--model logreg"),
    "benchmark": _model_cmd("benchmark", "--models logreg"),
    "cnv": {
        "queries": (IN_ANY, "cnv {queries} --reference {idats} --out {out_new} --genome hg38"),
        "reference": (IN_ANY, "cnv {idats} --reference {reference} --out {out_new} --genome hg38"),
        "out": (OUT_DIR, f"{CNV} --out {{out}}"),
        "manifest": (IN_FILE, f"{CNV} --out {{out_new}} --manifest {{manifest}}"),
        "store": (IN_DIR, f"{CNV} --out {{out_new}} --store {{store}}"),
        "from_store": (IN_DIR, "cnv --from-store {from_store} --normals A,B --local"),
        "normals": (AT_FILE, "cnv --from-store {store_ok} --normals {normals} --local"),
        "samples": (AT_FILE, ("cnv --from-store {store_ok} --normals 4207113116_A --samples {samples} "
                             "--local")),
    },
    "simulate": {
        "out": (OUT_DIR, f"simulate --out {{out}} --probes 1000 --cnv none {SIM}"),
        "manifest": (IN_FILE, f"simulate --out {{out_new}} --manifest {{manifest}} {SIM}"),
    },
    "demo": {
        "out": (OUT_DIR, "demo --out {out} --local --probes 1000"),
    },
    "explain": {
        "model": (IN_DIR, "explain --model {model} --betas {betas_ok} --out {out_new}"),
        "betas": (IN_FILE, "explain --model {bundle} --betas {betas} --out {out_new}"),
        "out": (OUT_DIR, "explain --model {bundle} --betas {betas_ok} --out {out}"),
        "manifest": (IN_FILE, "explain --model {bundle} --betas {betas_ok} --out {out_new} --manifest {manifest}"),
    },
    "panel": {
        "betas": (IN_FILE, f"panel --betas {{betas}} --label-column subgroup --out {{out_new}} {PANEL}"),
        "labels": (IN_FILE, f"panel --betas {{betas_ok}} --labels {{labels}} --out {{out_new}} {PANEL}"),
        "out": (OUT_DIR, f"panel {LAB} --out {{out}} {PANEL}"),
        "manifest": (IN_FILE, f"panel {LAB} --out {{out_new}} --manifest {{manifest}} {PANEL}"),
    },
    "embed": {
        "betas": (IN_FILE, "embed --betas {betas} --label-column subgroup --out {out_new} --methods pca"),
        "labels": (IN_FILE, "embed --betas {betas_ok} --labels {labels} --out {out_new} --methods pca"),
        "out": (OUT_DIR, f"embed {LAB} --out {{out}} --methods pca"),
        "predictions": (IN_FILE, f"embed {LAB} --out {{out_new}} --methods pca --predictions {{predictions}}"),
    },
}

#: path arguments that are not files (checked by name so the coverage test stays honest)
NOT_PATHS: dict[str, set[str]] = {
    "train": {"experiment", "groups_column", "model", "common_probes"},
    "evaluate": {"experiment", "groups_column", "model", "common_probes"},
    "benchmark": {"experiment", "groups_column", "common_probes"},
    "cnv": {"normals_group", "genome"}, "predict": {"label_column"},
    "preprocess": {"array", "master", "samples_per_task"},
    "simulate": {"array", "arrays"}, "explain": {"array"}, "panel": {"array"}, "embed": {"color_by"},
}

#: bad values per role: (case name, how to make it); outputs that are legitimately fine are in GOOD_ODD
BAD: dict[str, tuple[str, ...]] = {
    IN_FILE: ("missing", "folder", "empty", "png", "text", "odd_missing"),
    IN_DIR: ("missing", "file", "png", "empty_dir", "odd_missing"),
    IN_ANY: ("missing", "empty", "png", "empty_dir", "odd_missing"),
    OUT_DIR: ("under_file", "file"),
    OUT_FILE: ("under_file", "folder"),
    AT_FILE: ("missing", "folder", "png"),
}
#: (command, dest, kind) left out, with the reason: an empty YAML file is a documented empty delta
#: (config.read_yaml), so `--config EMPTY` is a legitimate run (a whole training), not a bad input
LEGIT = {("train", "config", "empty"), ("evaluate", "config", "empty"), ("benchmark", "config", "empty"),
         # any non-empty file is a valid HMAC secret for `train --key` (bytes, not a format)
         ("train", "key", "png"), ("train", "key", "text")}
#: (command, dest) runs that succeed with a valid input at a path with spaces and accents
GOOD_ODD = (("info", "path"), ("preprocess", "out"), ("export", "out"), ("predict", "out"))


def command_names() -> list[str]:
    """The command modules, found as :func:`methylclass.cli.build_parser` finds them."""
    return sorted(i.name for i in pkgutil.iter_modules(commands.__path__) if not i.name.startswith("_"))


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def path_arguments(parser: argparse.ArgumentParser) -> set[str]:
    """Dests of the arguments that take a path (by type str, no choices, and path words in help/metavar)."""
    out = set()
    for a in parser._actions:
        if a.nargs == 0 or a.choices or a.type not in (None, str) or a.dest in ("help",):
            continue
        text = f"{a.help or ''} {a.metavar or ''} {a.dest}"
        if PATH_WORDS.search(text):
            out.add(a.dest)
    return out


def test_every_command_and_path_argument_is_covered():
    """Every command module has a row in SPECS, and every argument of its parser that takes a path is in it
    (or named in NOT_PATHS): new commands and options cannot skip the bad-input matrix."""
    parsers = _subparsers()
    assert set(command_names()) == set(parsers)
    missing = {}
    for name, parser in parsers.items():
        found = path_arguments(parser) - NOT_PATHS.get(name, set())
        lacking = found - set(SPECS.get(name, {}))
        if lacking:
            missing[name] = sorted(lacking)
    assert not missing, f"add bad-input cases to SPECS for {missing}"


# -- valid inputs --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good(data_dir, tmp_path_factory, mb_frame) -> dict[str, Path]:
    """Valid values for every placeholder: 2 real HM27 pairs, a store of them, a small beta table, a model
    bundle trained on it, the HM27 manifest (with and without controls), a sample sheet, a label file."""
    root = tmp_path_factory.mktemp("good")
    idats = root / "idats"
    idats.mkdir()
    for f in sorted((data_dir / "idat" / "hm27").glob("4207113116_*.idat")):
        shutil.copyfile(f, idats / f.name)
    sheet = root / "sheet.csv"
    sheet.write_text("Sample_Name,Basename\nA,4207113116_A\nB,4207113116_B\n")
    cpgs = [c for c in mb_frame.columns if c.startswith("cg")][:30]
    small = mb_frame[["GSM", *cpgs, "subgroup"]].groupby("subgroup", group_keys=False).head(10)
    betas = root / "betas.csv"
    small.to_csv(betas, index=False)
    labels = root / "labels.csv"
    small[["GSM", "subgroup"]].to_csv(labels, index=False)
    store = root / "store"
    assert main(["preprocess", str(idats), "--out", str(store), "--local"]) == 0
    bundle = root / "bundle"
    assert main(["train", "--betas", str(betas), "--label-column", "subgroup", "--model", "logreg", "--out",
                 str(bundle), "--inner", "2", "--conformal", "none", "--n-jobs", "1", "--no-progress"]) == 0
    from methylclass.io.idat import read_idat, write_idat

    for i, pos in enumerate(("R01C01", "R02C01")):  # two more pairs: a CNV reference needs ≥ 3 normals
        for ch in ("Grn", "Red"):
            idat = read_idat(idats / f"4207113116_A_{ch}.idat")
            mean = idat.mean.astype(np.float64) * np.random.default_rng(i).lognormal(0, 0.05, idat.n_probes)
            write_idat(idats / f"9000000001_{pos}_{ch}.idat",
                       Idat.from_arrays(idat.illumina_ids, mean, n_beads=idat.n_beads, barcode="9000000001",
                                        position=pos))
    man = data_dir / "manifests" / "hm27"
    return {"idats": idats, "sheet": sheet, "betas_ok": betas, "labels": labels, "store_ok": store,
            "bundle": bundle, "manifest": man / "hm27_ordering.tsv.gz",
            "manifest_nc": man / "hm27_ordering.tsv.gz", "controls": man / "hm27_controls.tsv"}


def make_bad(kind: str, where: Path, suffix: str) -> Path:
    """Create (or not) the bad path of ``kind`` under ``where``."""
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"bad{suffix}"
    if kind == "missing":
        return where / f"does-not-exist{suffix}"
    if kind == "odd_missing":
        return where / f"{ODD}{suffix}"
    if kind in ("folder", "empty_dir"):
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "png":
        path.write_bytes(PNG)
    elif kind in ("text", "file"):
        path.write_text("this is not what you think it is\n")
    elif kind == "under_file":
        (where / "plain_file").write_text("x")
        return where / "plain_file" / f"out{suffix}"
    else:
        raise AssertionError(kind)
    return path


SUFFIX = {"betas": ".csv", "labels": ".csv", "sheet": ".csv", "config": ".yaml", "manifest": ".tsv",
          "controls": ".tsv", "out": "", "path": "", "input": "", "queries": "", "reference": ""}


def cases():
    for cmd, spec in SPECS.items():
        for dest, (role, _argv) in spec.items():
            for kind in BAD[role]:
                if (cmd, dest, kind) in LEGIT:
                    continue
                yield pytest.param(cmd, dest, kind, id=f"{cmd}-{dest}-{kind}")


def run_main(capsys, argv: list[str]) -> tuple[int, str, str]:
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse usage errors
        status = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    return status, out, err


def build_argv(template: str, dest: str, value: str, good: dict[str, Path], tmp: Path) -> list[str]:
    values = {k: str(v) for k, v in good.items()}
    values.update(out_new=str(tmp / "out_new"), out_csv=str(tmp / "out.csv"))
    argv = []
    for token in template.split():
        if token == "{" + dest + "}":
            argv.append(value)
        elif token.startswith("{"):
            argv.append(values[token[1:-1]])
        else:
            argv.append(token)
    return argv


@pytest.mark.parametrize(("cmd", "dest", "kind"), list(cases()))
def test_bad_input(cmd, dest, kind, good, tmp_path, capsys, monkeypatch):
    """One bad path → exit 2, no traceback, exactly one ``error:`` line, and it names the path."""
    monkeypatch.chdir(tmp_path)
    role, template = SPECS[cmd][dest]
    bad = make_bad(kind, tmp_path / "in", SUFFIX.get(dest, ""))
    value = f"@{bad}" if role == AT_FILE else str(bad)
    argv = build_argv(template, dest, value, good, tmp_path)
    status, _, err = run_main(capsys, argv)
    assert "Traceback" not in err, err
    assert status == 2, (argv, err)
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    assert f"'{bad}" in lines[0], lines[0]


@pytest.mark.parametrize(("cmd", "dest"), GOOD_ODD)
def test_odd_paths_are_fine(cmd, dest, good, tmp_path, capsys, monkeypatch):
    """A valid input (or output) at a path with spaces and non-ASCII letters works (exit 0)."""
    monkeypatch.chdir(tmp_path)
    role, template = SPECS[cmd][dest]
    odd = tmp_path / ODD
    if role == IN_ANY:
        shutil.copytree(good["idats"], odd)
    elif role == OUT_FILE:
        odd.parent.mkdir(parents=True)
        odd = odd.with_suffix(".csv")
    argv = build_argv(template, dest, str(odd), good, tmp_path)
    status, _, err = run_main(capsys, argv)
    assert status == 0, err
    assert odd.exists()


# -- broken pipes -----------------------------------------------------------------------------------------
class BrokenStdout(io.TextIOBase):
    """A stdout whose reader has gone (`| head -1` after its line): every write raises EPIPE."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    def flush(self) -> None:
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


@pytest.mark.parametrize("cmd", command_names())
def test_help_into_a_broken_pipe(cmd, capsys, monkeypatch):
    """`methylclass CMD --help | head -0` for every command, in this process: the parser side of cli.main
    ends quietly (argparse drops the failed write and exits 0; cli.main's handler would give 141)."""
    monkeypatch.setattr(sys, "stdout", BrokenStdout())
    try:
        status = main([cmd, "--help"])
    except SystemExit as exc:  # help printed completely (no broken pipe seen)
        status = exc.code
    assert status in (0, 141)
    assert capsys.readouterr().err == ""


def _closed_pipe(argv: list[str]) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "methylclass", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=120), err


def test_results_into_a_closed_pipe(good):
    """Commands printing results (info's table, predict's counts) into a real pipe closed by its reader: no
    traceback, quiet end (the --json case with output beyond the pipe buffer is in tests/spark)."""
    for argv in (["info", str(good["idats"])],
                 ["predict", "--model", str(good["bundle"]), "--betas", str(good["betas_ok"]), "--out",
                  str(good["store_ok"].parent / "pred.csv")]):
        status, err = _closed_pipe(argv)
        assert "Traceback" not in err and "BrokenPipe" not in err, (argv, err)
        assert status == 141, (argv, err)


def test_pandas_reads_prediction(good):
    """Sanity of the fixtures: the bundle predicts the table (the bad-input runs differ only in the path)."""
    assert main(["predict", "--model", str(good["bundle"]), "--betas", str(good["betas_ok"]), "--out",
                 str(good["store_ok"].parent / "p.csv")]) == 0
    assert len(pd.read_csv(good["store_ok"].parent / "p.csv")) == 40
