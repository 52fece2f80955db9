"""Simulated 450k cohorts for the preprocessing benchmark, cached under ``<repo>/.cache/bench``.

* :func:`timing_cohort` — N realistic IDAT pairs (``methylclass.simulate``) on which every tool is timed;
* :func:`ingest_pool` / :func:`link_cohort` — a pool of *distinct* simulated pairs grown chunk by chunk
  (so the 100-sample cohort needs 100 pairs on disk, the 2,000 one 2,000), and a folder of symbolic links to
  its first N pairs under fresh names, handed to the Spark ingestion.

Simulation is delegated to :func:`methylclass.simulate.simulate_cohort` (written under a temporary name and
renamed when complete, so an interrupted run leaves no half cohort behind).
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: classes simulated in every cohort (sizes split evenly between them)
N_CLASSES = 4


def _split(n: int, k: int = N_CLASSES) -> list[int]:
    base, extra = divmod(n, k)
    return [base + (1 if i < extra else 0) for i in range(k)]


def simulate(out: Path, n: int, seed: int, n_jobs: int, array: str = "HM450") -> Path:
    """Simulate ``n`` tumour samples of ``array`` into ``out`` unless already there; return its idat folder."""
    idat = out / "idat"
    if idat.is_dir() and len(list(idat.glob("*_Grn.idat*"))) == n:
        return idat
    from methylclass.simulate import SimulationConfig, simulate_cohort

    out.parent.mkdir(parents=True, exist_ok=True)

    sizes = [s for s in _split(n) if s > 0]
    simulate_cohort(out, SimulationConfig(manifest=array, classes=len(sizes), n_per_class=sizes, n_normals=0,
                                          seed=seed, n_jobs=n_jobs, force=True))
    return idat


def timing_cohort(work: Path, n: int, seed: int, n_jobs: int, array: str = "HM450") -> Path:
    """The cached cohort on which the per-sample timings run; returns its folder of IDAT pairs."""
    return simulate(work / f"timing_{array}_{n}_s{seed}", n, seed, n_jobs, array)


def pool_chunks(sizes: list[int]) -> list[int]:
    """Chunk sizes that make the pool reach each cohort size in turn: [100, 500, 1000] → [100, 400, 500]."""
    out, have = [], 0
    for s in sorted(set(sizes)):
        if s > have:
            out.append(s - have)
            have = s
    return out


def pool_pairs(pool: Path, sizes: list[int], upto: int, seed: int, n_jobs: int, array: str = "HM450",
               log=print) -> list[tuple[Path, Path]]:
    """(Grn, Red) paths of the first ``upto`` distinct pairs of the pool under ``pool``, simulating the chunks
    still missing (chunk i uses seed ``seed + i``)."""
    pairs: list[tuple[Path, Path]] = []
    for i, size in enumerate(pool_chunks(sizes)):
        if len(pairs) >= upto:
            break
        out = pool / f"chunk{i:02d}_{size}"
        if not (out / "idat").is_dir():
            log(f"simulating pool chunk {i} ({size} {array} samples, {n_jobs} jobs) …")
        idat = simulate(out, size, seed + i, n_jobs, array)
        grns = sorted(idat.glob("*_Grn.idat*"))
        pairs += [(g, g.with_name(g.name.replace("_Grn.", "_Red."))) for g in grns]
    if len(pairs) < upto:
        raise SystemExit(f"the pool holds {len(pairs)} pairs, {upto} asked for (sizes {sizes})")
    return pairs[:upto]


def link_cohort(folder: Path, pairs: list[tuple[Path, Path]]) -> Path:
    """A folder of symbolic links named ``99<10 digits>_RxxC01_{Grn,Red}.idat`` to ``pairs`` (one per sample)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for i, (grn, red) in enumerate(pairs):
        stem = f"99{i // 12:010d}_R{i % 12 + 1:02d}C01"
        gz = ".gz" if grn.name.endswith(".gz") else ""
        (folder / f"{stem}_Grn.idat{gz}").symlink_to(grn.resolve())
        (folder / f"{stem}_Red.idat{gz}").symlink_to(red.resolve())
    return folder


def disk_mb(path: Path) -> float:
    """Size in MB of the regular files below ``path`` (symbolic links not followed)."""
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20, 1)
