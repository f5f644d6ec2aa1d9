#!/usr/bin/env bash
# ckptcpu.sh RUN TRACE: print "step cpu_seconds" for each checkpoint of
# RUN (RUN/checkpoints/step-N.ckpt), the process CPU time of the training
# command when the checkpoint was written: its file time looked up in
# TRACE (cputrace.sh's samples, linearly interpolated; after the last
# sample, the total).
set -euo pipefail
run=$1 trace=$2
for f in "$run"/checkpoints/step-*.ckpt; do
  [ -e "$f" ] || continue
  step=$(basename "$f" .ckpt)
  step=$((10#${step#step-}))
  echo "$step $(stat -c %.9Y "$f")"
done | sort -n | awk -v trace="$trace" '
BEGIN {
  while ((getline line < trace) > 0) {
    split(line, a, " ")
    if (a[1] == "end") { total = a[2]; continue }
    n++; T[n] = a[1]; C[n] = a[2]
  }
}
{
  t = $2; c = ""
  if (n == 0 || t <= T[1]) c = (n ? C[1] : 0)
  for (i = 1; i < n && c == ""; i++)
    if (t >= T[i] && t <= T[i+1]) c = C[i] + (C[i+1] - C[i]) * (t - T[i]) / (T[i+1] - T[i] > 0 ? T[i+1] - T[i] : 1)
  if (c == "") c = (total != "" ? total : C[n])
  printf "%d %.1f\n", $1, c
}'
