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
STAMP="$VENV/.methylclass-pins"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "${PINS[*]}" ]] \
   && "$VENV/bin/python" -W ignore -c "import methylprep" >/dev/null 2>&1; then
  echo "methylprep venv ready: $VENV"
  exit 0
fi
command -v "$PYTHON" >/dev/null || { echo "error: $PYTHON not found (methylprep 1.7.1 needs Python 3.11)" >&2; exit 1; }
mkdir -p "$(dirname "$VENV")"
rm -rf "$VENV.tmp"
"$PYTHON" -m venv "$VENV.tmp"
"$VENV.tmp/bin/python" -m pip install -q --upgrade pip
# numpy/pandas first so methylprep's loose requirements resolve against the pinned versions
"$VENV.tmp/bin/python" -m pip install -q "${PINS[@]}"
"$VENV.tmp/bin/python" -W ignore -c "import methylprep, numpy, pandas; print('methylprep', methylprep.__version__, 'numpy', numpy.__version__, 'pandas', pandas.__version__)"
echo "${PINS[*]}" > "$VENV.tmp/.methylclass-pins"
rm -rf "$VENV"
mv "$VENV.tmp" "$VENV"
# venv scripts carry absolute shebangs: rewrite them for the final location
sed -i "s#$VENV.tmp#$VENV#g" "$VENV"/bin/* 2>/dev/null || true
echo "methylprep venv ready: $VENV"
