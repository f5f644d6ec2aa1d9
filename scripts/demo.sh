#!/usr/bin/env bash
# make demo: the main job end to end on data that ships with Debian.
set -euo pipefail
cd "$(dirname "$0")/.."
bin/sslpipe doctor --smoke
