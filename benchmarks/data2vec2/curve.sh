#!/usr/bin/env bash
# curve.sh RUN TRACE [EVAL FLAGS...]: probe every checkpoint of RUN and
# print "step cpu_seconds top1" per checkpoint (cpu_seconds from
# ckptcpu.sh with cputrace.sh's TRACE). Each checkpoint is probed from a
# run folder of its own under RUN/at/ (RUN's config.yaml and a hard link
# to the checkpoint), with `sslpipe eval --run ... EVAL FLAGS --json
# --no-random --no-baseline`; top1 is the first result's.
#
# Environment: SSLPIPE (default bin/sslpipe-torch), STEPS (a space list:
# probe only these checkpoints).
set -euo pipefail
SSLPIPE=${SSLPIPE:-bin/sslpipe-torch}
run=$1 trace=$2
shift 2
here=$(dirname "$0")
"$here/ckptcpu.sh" "$run" "$trace" | while read -r step cpu; do
  if [ -n "${STEPS:-}" ] && ! [[ " $STEPS " == *" $step "* ]]; then
    continue
  fi
  at="$run/at/step-$step"
  mkdir -p "$at/checkpoints"
  cp "$run/config.yaml" "$at/config.yaml"
  ck=$(printf 'step-%08d.ckpt' "$step")
  ln -f "$run/checkpoints/$ck" "$at/checkpoints/$ck"
  top1=$("$SSLPIPE" eval --run "$at" "$@" --json --no-random --no-baseline --quiet |
    grep -m 1 '"top1"' | sed 's/.*: *//; s/,$//')
  printf '%d %s %.4f\n' "$step" "$cpu" "$top1"
done
