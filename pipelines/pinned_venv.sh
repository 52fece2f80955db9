#!/usr/bin/env bash
# Shared by the peer-tool venv builders (methylprep_reference/build_venv.sh, bench_preprocess/build_mepylome_venv.sh):
#   source pinned_venv.sh; build_pinned_venv VENV PYTHON MODULE PIN...
# Builds VENV with PYTHON and `pip install PIN...` (in that order) under a temporary name, checks that MODULE
# imports, records the pins in VENV/.methylclass-pins and moves it into place. Idempotent: an existing VENV with
# the same pins whose MODULE imports is reused.

build_pinned_venv() {
  local venv="$1" python="$2" module="$3"
  shift 3
  local pins="$*" stamp="$venv/.methylclass-pins"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$pins" ]] \
     && "$venv/bin/python" -W ignore -c "import $module" >/dev/null 2>&1; then
    echo "$module venv ready: $venv"
    return 0
  fi
  mkdir -p "$(dirname "$venv")"
  rm -rf "$venv.tmp"
  "$python" -m venv "$venv.tmp"
  "$venv.tmp/bin/python" -m pip install -q --upgrade pip
  "$venv.tmp/bin/python" -m pip install -q "$@"
  "$venv.tmp/bin/python" -W ignore -c "import importlib.metadata as md, numpy, pandas, $module; print('$module', md.version('$module'), 'numpy', numpy.__version__, 'pandas', pandas.__version__)"
  echo "$pins" > "$venv.tmp/.methylclass-pins"
  rm -rf "$venv"
  mv "$venv.tmp" "$venv"
  # venv scripts and pyvenv.cfg carry the absolute temporary path: rewrite them for the final location
  sed -i "s#$venv.tmp#$venv#g" "$venv"/bin/* "$venv"/pyvenv.cfg 2>/dev/null || true
  echo "$module venv ready: $venv"
}
