#!/usr/bin/env bash
# Build a separate virtual environment holding mepylome (the strongest Python peer for noob) for the
# preprocessing benchmark. mepylome >= 0.11 needs Python >= 3.12, which these machines have only as a pyenv
# version that is not on PATH; so it cannot share methylclass's .venv (Python 3.11). Everything comes from PyPI.
#
# Usage: build_mepylome_venv.sh [VENV_DIR]   (default: <repo>/.cache/mepylome-venv, git-ignored)
# Env:   PYTHON312 (default /root/.pyenv/versions/3.12.1/bin/python3.12, else python3.12 on PATH),
#        MEPYLOME_VERSION (default 0.13.2).
# Idempotent: an existing venv whose mepylome imports is reused (a stamp file records the pin).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${1:-${MEPYLOME_VENV:-$ROOT/.cache/mepylome-venv}}"
VERSION="${MEPYLOME_VERSION:-0.13.2}"
PYTHON="${PYTHON312:-/root/.pyenv/versions/3.12.1/bin/python3.12}"
[[ -x "$PYTHON" ]] || PYTHON="$(command -v python3.12 || true)"
PIN="mepylome==$VERSION"
STAMP="$VENV/.methylclass-pins"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$PIN" ]] \
   && "$VENV/bin/python" -W ignore -c "import mepylome" >/dev/null 2>&1; then
  echo "mepylome venv ready: $VENV"
  exit 0
fi
[[ -n "$PYTHON" && -x "$PYTHON" ]] || { echo "error: Python 3.12 not found (mepylome $VERSION needs Python >= 3.12; set PYTHON312)" >&2; exit 1; }
mkdir -p "$(dirname "$VENV")"
rm -rf "$VENV.tmp"
"$PYTHON" -m venv "$VENV.tmp"
"$VENV.tmp/bin/python" -m pip install -q --upgrade pip
"$VENV.tmp/bin/python" -m pip install -q "$PIN"
"$VENV.tmp/bin/python" -W ignore -c "import importlib.metadata as md, mepylome, numpy, pandas; print('mepylome', md.version('mepylome'), 'numpy', numpy.__version__, 'pandas', pandas.__version__)"
echo "$PIN" > "$VENV.tmp/.methylclass-pins"
rm -rf "$VENV"
mv "$VENV.tmp" "$VENV"
# venv scripts carry absolute shebangs: rewrite them for the final location
sed -i "s#$VENV.tmp#$VENV#g" "$VENV"/bin/* 2>/dev/null || true
# pyvenv.cfg / activate scripts name the temp dir too
sed -i "s#$VENV.tmp#$VENV#g" "$VENV"/pyvenv.cfg 2>/dev/null || true
echo "mepylome venv ready: $VENV"
