#!/usr/bin/env bash
# run-on-gpu.sh CMD...: run `sslpipe CMD...` on a machine with a CUDA
# PyTorch (or LIBTORCH=/path/to/libtorch) and a C++ compiler, without Go.
# The first call builds libsslpipe_tch.so against that libtorch (a minute or
# two on 16 cores) and caches it in ${SSLPIPE_CACHE:-~/.cache/sslpipe/shim}.
#
#   ./run-on-gpu.sh doctor --smoke
#   ./run-on-gpu.sh train --method byol --device cuda ...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python3}
if [[ -z "${LIBTORCH:-}" ]]; then
  LIBTORCH=$("$py" -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null) || {
    echo "run-on-gpu: no LIBTORCH set and $py has no torch package" >&2; exit 3; }
fi
export LIBTORCH
cache=${SSLPIPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sslpipe/shim}
shimdir=$("$here/shimbuild" -gotch-src "$here/gotch-libtch" -cache "$cache" -jobs "$(nproc)" -python "")
export LD_LIBRARY_PATH="$shimdir:$LIBTORCH/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export SSLPIPE_TORCH="$here/sslpipe-torch"
exec "$here/sslpipe" "$@"
