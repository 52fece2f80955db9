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
[[ -n "$PYTHON" && -x "$PYTHON" ]] || { echo "error: Python 3.12 not found (mepylome $VERSION needs Python >= 3.12; set PYTHON312)" >&2; exit 1; }
source "$ROOT/pipelines/pinned_venv.sh"
build_pinned_venv "$VENV" "$PYTHON" mepylome "$PIN"
