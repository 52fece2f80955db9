"""The machine-readable context every benchmark record carries (``"record"`` in each ``results/*.json``).

    from bench_record import machine_record
    result["record"] = machine_record()

Commit (and whether ``methylclass/`` had uncommitted changes), host, CPU count, memory, load average at the
time of the call, Python and the versions of the packages that decide speed. Wall times on a shared machine
are only comparable with the load average beside them.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("methylclass", "numpy", "pandas", "scipy", "scikit-learn", "xgboost-cpu", "xgboost", "pyspark",
            "pyarrow", "joblib", "threadpoolctl")


def _git(*cmd: str) -> str:
    try:
        return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _version(pkg: str) -> str | None:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return None


def machine_record(packages: tuple[str, ...] = PACKAGES) -> dict:
    """Commit, machine, load average and versions, as one JSON-ready dict."""
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        mem_gb = None
    return {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "commit": _git("rev-parse", "HEAD"), "branch": _git("rev-parse", "--abbrev-ref", "HEAD"),
            "uncommitted_changes_in_methylclass": bool(_git("status", "--porcelain", "--", "methylclass")),
            "host": platform.node(), "platform": platform.platform(), "nproc": os.cpu_count(),
            "memory_gb": mem_gb, "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "versions": {p: v for p in packages if (v := _version(p)) is not None}}
