#!/usr/bin/env bash
# Builds the Python connectors into WebAssembly components: OUT_DIR/notes.wasm.
# Usage: connectors-py/build.sh OUT_DIR
# Needs componentize-py (python3 -m pip install -r connectors-py/requirements.txt).
set -euo pipefail

die() { echo "connectors-py/build.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 OUT_DIR"
here=$(cd "$(dirname "$0")" && pwd)
wit="$here/../wit"
out_dir=$1

# The package of python3 (what requirements.txt installs), else a componentize-py on PATH.
if python3 -c 'import componentize_py' >/dev/null 2>&1; then
  componentize=(python3 -c 'import componentize_py; componentize_py.script()')
elif command -v componentize-py >/dev/null 2>&1; then
  componentize=(componentize-py)
else
  die "componentize-py is not installed; run: python3 -m pip install -r connectors-py/requirements.txt"
fi

want=$(sed -n 's/^componentize-py==//p' "$here/requirements.txt")
have=$("${componentize[@]}" --version | awk '{print $2}')
[ "$have" = "$want" ] || echo "connectors-py/build.sh: warning: componentize-py $have, requirements.txt pins $want" >&2

mkdir -p "$out_dir"
# --stub-wasi: every WASI import becomes a trapping stub inside the component,
# so it imports only tameflare:connector/log (the host refuses filesystem,
# clocks, sockets and the rest at load).
"${componentize[@]}" --quiet --wit-path "$wit" --world connector \
  componentize --stub-wasi --python-path "$here/notes" --output "$out_dir/notes.wasm" app \
  || die "componentize-py failed to build notes"
echo "built $out_dir/notes.wasm ($(wc -c <"$out_dir/notes.wasm") bytes)"
