"""The bad-input review of ``preprocess`` / ``info`` (issue "robustness"): each finding reproduced on a small
cohort of real HM27 pairs (copied from the shared data) and checked to end in one ``error:`` line naming the
path with exit status 2, or in a per-sample failure with its reason, never in a traceback or in a store
marked complete after a failed write.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from methylclass.cli import main
from methylclass.io.idat import Idat, write_idat
from methylclass.io.store import SUCCESS_FILE, Store


@pytest.fixture
def pairs(hm27_dir: Path, tmp_path: Path) -> Path:
    """A folder with the two real HM27 pairs (4207113116_A, 4207113116_B)."""
    folder = tmp_path / "idats"
    folder.mkdir()
    for f in sorted(hm27_dir.glob("4207113116_*.idat")):
        shutil.copyfile(f, folder / f.name)
    return folder


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the command line in this process; return (status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_error_line(status: int, err: str, path: str | Path) -> str:
    """Exit 2, no traceback, exactly one ``error:`` line and it names ``path``; return that line."""
    assert "Traceback" not in err, err
    assert status == 2, err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    assert f"'{path}" in lines[0], lines[0]
    return lines[0]


# -- 1. --out that cannot be a folder ----------------------------------------------------------------------
def test_out_under_a_regular_file(pairs, tmp_path, capsys):
    """`preprocess --out FILE/store` (a parent is a regular file): one line naming the path, exit 2."""
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    status, _, err = run_cli(capsys, "preprocess", pairs, "--out", blocker / "store", "--local")
    line = assert_one_error_line(status, err, blocker / "store")
    assert "is a file" in line


@pytest.fixture
def read_only_dir(tmp_path: Path):
    """A folder nobody can write into: a read-only tmpfs mount (root ignores permission bits but not a
    read-only file system); without the right to mount, a chmod 0555 folder for a non-root user."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
                          check=False, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"running as root and cannot mount a read-only tmpfs ({done.stderr.strip()}): root "
                    "writes through permission bits, so no unwritable folder can be made here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_out_in_an_unwritable_folder(pairs, read_only_dir, capsys):
    """`preprocess --out RO/store` in a folder that cannot be written: one line naming the path, exit 2."""
    status, _, err = run_cli(capsys, "preprocess", pairs, "--out", read_only_dir / "store", "--local")
    assert_one_error_line(status, err, read_only_dir / "store")


def test_writable_check_refuses_a_read_only_folder(read_only_dir):
    """The check function itself: an existing read-only folder is refused (not just a missing one)."""
    from methylclass._atomic import ensure_writable_dir
    from methylclass.errors import ConfigError

    with pytest.raises(ConfigError, match="not writable|cannot be created"):
        ensure_writable_dir(read_only_dir)


# -- 2. disk full while writing the store --------------------------------------------------------------------
def _enospc(path) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def test_disk_full_leaves_a_resumable_store_not_marked_complete(pairs, tmp_path, capsys, monkeypatch):
    """The second sample's file and then the sample table hit ENOSPC (as on a full disk): one error line
    naming the store, exit 2, no _SUCCESS, no _LOCK left, the first sample's file kept; once space is back
    the same command resumes (1 already stored) and completes the store."""
    from methylclass.io import store_writer
    from methylclass.pp import kernel

    real_write, real_table = kernel.write_sample_file, store_writer.atomic_write_table

    def full_after_first(store, sample, arrays, record):
        if sample.endswith("_B"):
            raise _enospc(Path(store) / "betas" / f".{sample}.tmp")
        return real_write(store, sample, arrays, record)

    def full_table(path, table, **kw):
        if Path(path).name == "samples.parquet":
            raise _enospc(path)
        return real_table(path, table, **kw)

    monkeypatch.setattr(kernel, "write_sample_file", full_after_first)
    monkeypatch.setattr(store_writer, "atomic_write_table", full_table)
    out = tmp_path / "store"
    status, _, err = run_cli(capsys, "preprocess", pairs, "--out", out, "--local")
    line = assert_one_error_line(status, err, out)
    assert "No space left on device" in line and "re-run" in line
    assert not (out / SUCCESS_FILE).exists() and not (out / "_LOCK").exists()
    assert len(list((out / "betas").glob("*.parquet"))) == 1

    monkeypatch.undo()  # space is back
    status, stdout, err = run_cli(capsys, "preprocess", pairs, "--out", out, "--local")
    assert status == 0, err
    assert "1 already stored" in stdout
    assert set(Store.open(out).samples.query("status == 'ok'")["sample"]) == {"4207113116_A", "4207113116_B"}


def test_disk_full_on_the_sample_table_only(pairs, tmp_path, capsys, monkeypatch):
    """Every sample file written, then the sample table hits ENOSPC: one line naming samples.parquet, exit 2,
    and the store is not marked complete."""
    from methylclass.io import store_writer

    real_table = store_writer.atomic_write_table

    def full_table(path, table, **kw):
        if Path(path).name == "samples.parquet":
            raise _enospc(path)
        return real_table(path, table, **kw)

    monkeypatch.setattr(store_writer, "atomic_write_table", full_table)
    out = tmp_path / "store"
    status, _, err = run_cli(capsys, "preprocess", pairs, "--out", out, "--local")
    assert_one_error_line(status, err, out / "samples.parquet")
    assert not (out / SUCCESS_FILE).exists()


# -- 4. broken pipe ----------------------------------------------------------------------------------------
def test_info_json_into_a_closed_pipe(tmp_path):
    """`methylclass info DIR --json | head -1` with output far beyond the pipe buffer (300 samples): the
    reader closes the pipe early; the command ends quietly (no traceback, nothing on stderr)."""
    rng = np.random.default_rng(0)
    ids = np.arange(10_000, 10_040)
    for i in range(300):
        barcode, pos = f"{9100000000 + i}", "R01C01"
        for ch in ("Grn", "Red"):
            write_idat(tmp_path / f"{barcode}_{pos}_{ch}.idat",
                       Idat.from_arrays(ids, rng.uniform(100, 5000, ids.size), barcode=barcode, position=pos))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "methylclass", "info", str(tmp_path), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = proc.stdout.readline()
    proc.stdout.close()  # what `head -1` does
    err = proc.stderr.read().decode()
    status = proc.wait(timeout=60)
    assert first.strip() == b"{"
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert err.strip() == ""
    assert status in (0, 141)


# -- 3. an unreadable sub-folder -----------------------------------------------------------------------------
@pytest.fixture
def unreadable_sub(pairs: Path, monkeypatch):
    """Move sample B into ``pairs/locked/``, which cannot be listed: chmod 000 for a normal user; as root
    (who reads through permission bits) the folder listing raises PermissionError as it would for a user."""
    locked = pairs / "locked"
    locked.mkdir()
    for f in pairs.glob("4207113116_B_*.idat"):
        f.rename(locked / f.name)
    if os.geteuid() != 0:
        locked.chmod(0)
        yield locked
        locked.chmod(0o755)
        return
    from methylclass.io import samplesheet

    real = os.scandir

    def scandir(path="."):
        if Path(path) == locked:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path)

    monkeypatch.setattr(samplesheet.os, "scandir", scandir)
    yield locked


def test_unreadable_sub_folder_is_reported(pairs, unreadable_sub, tmp_path, capsys):
    """`preprocess` stores sample A and lists the unreadable folder as failed with the reason (it used to
    vanish without a word); `info` lists it among the problems."""
    out = tmp_path / "store"
    status, stdout, err = run_cli(capsys, "preprocess", pairs, "--out", out, "--local")
    assert status == 0, err
    table = Store.open(out).samples.set_index("sample")
    assert table.loc["4207113116_A", "status"] == "ok"
    bad = table[table["status"] != "ok"]
    assert len(bad) == 1 and str(unreadable_sub) in bad["reason"].iloc[0]
    assert "cannot be read" in bad["reason"].iloc[0]
    assert str(unreadable_sub) in stdout
    status, stdout, err = run_cli(capsys, "info", pairs)
    assert status == 0 and f"'{unreadable_sub}' folder cannot be read" in stdout


def test_dangling_idat_link_is_reported(pairs, capsys):
    """An IDAT-named entry that is not a readable file (a link to a removed file) is a problem naming it,
    not silently skipped; the readable pairs are listed as usual."""
    (pairs / "4207113116_C_Grn.idat").symlink_to(pairs / "gone_Grn.idat")
    status, stdout, _ = run_cli(capsys, "info", pairs)
    assert status == 0 and "2 samples (pairs), 1 problem" in stdout
    assert f"'{pairs / '4207113116_C_Grn.idat'}' not a readable file" in stdout


# -- 7. duplicate names in a sample sheet --------------------------------------------------------------------
def test_duplicate_sheet_names_fail_per_sample(pairs, tmp_path, capsys):
    """A sheet naming 'tumour' twice (rows 2 and 4) and 'normal' once: the run is not refused; 'normal' is
    stored, 'tumour' is one failed sample whose reason names the duplicate and its lines."""
    sheet = pairs / "sheet.csv"
    sheet.write_text("Sample_Name,Basename\ntumour,4207113116_A\nnormal,4207113116_B\ntumour,4207113116_B\n")
    out = tmp_path / "store"
    status, _stdout, err = run_cli(capsys, "preprocess", sheet, "--out", out, "--local")
    assert status == 0, err
    table = Store.open(out).samples.set_index("sample")
    assert table.loc["normal", "status"] == "ok"
    assert table.loc["tumour", "status"] == "failed"
    assert "duplicate sample name 'tumour'" in table.loc["tumour", "reason"]
    assert "lines 2, 4" in table.loc["tumour", "reason"]
    assert len(table) == 2


# -- 5. a manifest without control probes --------------------------------------------------------------------
def test_manifest_without_controls_is_refused_up_front(pairs, data_dir, tmp_path, capsys):
    """`preprocess --manifest hm27_ordering.tsv.gz` (a probe table with no control probes) without
    --controls: one refusal naming the manifest and --controls, exit 2, and no store (it used to fail every
    sample one by one and leave an empty store marked complete). With --controls the same run stores both."""
    man = data_dir / "manifests" / "hm27" / "hm27_ordering.tsv.gz"
    out = tmp_path / "store"
    status, _, err = run_cli(capsys, "preprocess", pairs, "--out", out, "--local", "--manifest", man)
    line = assert_one_error_line(status, err, man)
    assert "--controls" in line and "no control probes" in line
    assert not (out / SUCCESS_FILE).exists()
    status, _, err = run_cli(capsys, "preprocess", pairs, "--out", out, "--local", "--manifest", man,
                             "--controls", man.parent / "hm27_controls.tsv")
    assert status == 0, err
    assert (Store.open(out).samples["status"] == "ok").all()


def test_info_takes_a_manifest(pairs, data_dir, tmp_path, capsys):
    """`info --manifest FILE [--controls T] --check`: the manifest's probe and control counts, a note when it
    has no controls, each sample's share of the manifest's probes (1.0 for the real HM27 pairs), and a
    manifest of another array makes every sample a problem."""
    man = data_dir / "manifests" / "hm27" / "hm27_ordering.tsv.gz"
    status, out, err = run_cli(capsys, "info", pairs, "--manifest", man, "--check", "--json")
    assert status == 0, err
    info = json.loads(out)
    assert info["manifest"]["n_probes"] == 27_578 and info["manifest"]["n_controls"] == 0
    assert any("--controls" in n for n in info["notes"])
    assert [s["manifest_probe_fraction"] for s in info["samples"]] == [1.0, 1.0]
    status, out, _ = run_cli(capsys, "info", pairs, "--manifest", man, "--controls",
                             man.parent / "hm27_controls.tsv", "--json")
    info = json.loads(out)
    assert info["manifest"]["n_controls"] > 0 and not info["notes"]
    other = tmp_path / "sim"
    assert main(["simulate", "--out", str(other), "--probes", "2000", "--classes", "2", "--per-class", "1",
                 "--normals", "1", "--cnv", "none", "--quiet"]) == 0
    status, out, _ = run_cli(capsys, "info", pairs, "--manifest", other / "manifest" / "probes.tsv.gz",
                             "--check")
    assert status == 0 and "0 samples (pairs), 2 problems" in out and "2,000 probes" in out
    assert "holds the bead addresses of only 0.0% of the manifest's 2,000 probes" in out


# -- 6. Grn/Red files swapped --------------------------------------------------------------------------------
def _swap(grn: Path, red: Path) -> None:
    tmp = grn.with_name("swap.tmp")
    grn.rename(tmp)
    red.rename(grn)
    tmp.rename(red)


def test_swapped_channels_named_in_a_simulated_cohort(tmp_path, capsys):
    """Planted: a simulated cohort (7 samples, 3,000 probes, FFPE and low-quality samples included) whose
    first sample has its _Grn and _Red files swapped. That sample fails with "Grn/Red swapped?" naming its
    files; every other sample is stored, with a positive channel separation (the rule's planted truth)."""
    sim = tmp_path / "sim"
    assert main(["simulate", "--out", str(sim), "--probes", "3000", "--classes", "2", "--per-class", "3",
                 "--normals", "1", "--cnv", "none", "--low-quality", "0.3", "--quiet"]) == 0
    capsys.readouterr()
    swapped = min((sim / "idat").glob("*_Grn.idat"))
    grn, red = swapped, swapped.with_name(swapped.name.replace("_Grn", "_Red"))
    _swap(grn, red)
    out = tmp_path / "store"
    status, _, err = run_cli(capsys, "preprocess", sim / "samplesheet.csv", "--out", out, "--local",
                             "--manifest", sim / "manifest" / "probes.tsv.gz",
                             "--controls", sim / "manifest" / "controls.tsv")
    assert status == 0, err
    table = Store.open(out).samples
    bad = table[table["status"] != "ok"]
    assert len(bad) == 1 and len(table) == 7, table[["sample", "status", "reason"]]
    reason = bad["reason"].iloc[0]
    assert "Grn/Red swapped?" in reason and str(red) in reason and str(grn) in reason
    assert (table.loc[table["status"] == "ok", "channel_separation"] > 1.0).all()


def test_swapped_channels_named_on_real_hm27(pairs, tmp_path, capsys):
    """Real HM27 pairs: sample B's files swapped → B fails with "Grn/Red swapped?", A is stored; `info
    --manifest HM27 --check` names the swap before any run."""
    _swap(pairs / "4207113116_B_Grn.idat", pairs / "4207113116_B_Red.idat")
    out = tmp_path / "store"
    status, stdout, err = run_cli(capsys, "preprocess", pairs, "--out", out, "--local")
    assert status == 0, err
    table = Store.open(out).samples.set_index("sample")
    assert table.loc["4207113116_A", "status"] == "ok" and table.loc["4207113116_A", "channel_separation"] > 3
    assert table.loc["4207113116_B", "status"] == "failed"
    assert "Grn/Red swapped?" in table.loc["4207113116_B", "reason"]
    assert "Grn/Red swapped?" in stdout
    status, stdout, err = run_cli(capsys, "info", pairs, "--manifest", "HM27", "--check")
    assert status == 0 and "1 problem" in stdout and "Grn/Red swapped?" in stdout, stdout + err


def test_channel_separation_is_negated_by_a_swap(hm27_dir, hm27_manifest):
    """The statistic on the real pairs (3.55 and 4.11 log2) changes sign exactly when the files swap, and a
    uniform gain on one channel (dye bias) leaves it unchanged."""
    from methylclass.io.channels import channel_separation
    from methylclass.io.idat import read_idat

    for pos, want in (("A", 3.55), ("B", 4.11)):
        g = read_idat(hm27_dir / f"4207113116_{pos}_Grn.idat")
        r = read_idat(hm27_dir / f"4207113116_{pos}_Red.idat")
        sep = channel_separation(g, r, hm27_manifest)
        assert sep == pytest.approx(want, abs=0.01)
        assert channel_separation(r, g, hm27_manifest) == pytest.approx(-sep)
        brighter = Idat.from_arrays(r.illumina_ids, r.mean.astype(np.float64) * 2.0)
        assert channel_separation(g, brighter, hm27_manifest) == pytest.approx(sep, abs=0.05)
