#!/usr/bin/env bash
# Build a separate virtual environment holding the UNMODIFIED methylprep 1.7.1 (the reference noob implementation).
#
# methylprep 1.7.1 (last release, 2022) only runs with numpy 1.26 + pandas 1.5 + pyarrow <= 25 (see
# shared/STACK.md): pandas >= 2 crashes on DataFrame.append, pandas 3 silently drops Type II probes, numpy >= 2.4
# crashes in its dye-bias step. So it cannot share methylclass's .venv. Everything comes from PyPI.
#
# Usage: build_venv.sh [VENV_DIR]     (default: <repo>/.cache/methylprep-venv, git-ignored)
# Idempotent: an existing venv whose methylprep imports is reused (a stamp file records the pins).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${1:-${METHYLPREP_VENV:-$ROOT/.cache/methylprep-venv}}"
PYTHON="${PYTHON311:-python3.11}"
PINS=(numpy==1.26.4 pandas==1.5.3 "pyarrow<=25" methylprep==1.7.1)
command -v "$PYTHON" >/dev/null || { echo "error: $PYTHON not found (methylprep 1.7.1 needs Python 3.11)" >&2; exit 1; }
source "$ROOT/pipelines/pinned_venv.sh"
# numpy/pandas first in the list so methylprep's loose requirements resolve against the pinned versions
build_pinned_venv "$VENV" "$PYTHON" methylprep "${PINS[@]}"
