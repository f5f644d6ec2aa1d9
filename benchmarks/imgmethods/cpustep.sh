#!/usr/bin/env bash
# cpustep.sh PID RUN [SECONDS]: the CPU time a training process spends per
# step, independent of how loaded the machine is. Every SECONDS (default
# 60) it appends "unix-time cpu-seconds(user+sys) step" of process PID and
# the newest step of RUN/metrics.jsonl to RUN/cpustep.log, until PID exits;
# then it prints the median over the sampling windows of
# delta-cpu / delta-step (windows with an online kNN probe or a
# checkpoint are outliers the median ignores).
#
# Used for the Fashion-MNIST comparison's budget: on the loaded 2-core VM,
# wall time measures the queue, CPU time the work (see EXPERIMENTS.md).
set -euo pipefail
pid=$1 run=$2 every=${3:-60}
# PID may be a wrapper (nice, /usr/bin/time): follow it to the training
# process.
for _ in 1 2 3; do
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == sslpipe* ]] && break
  child=$(pgrep -P "$pid" | head -n 1) || break
  pid=$child
done
tck=$(getconf CLK_TCK)
log="$run/cpustep.log"
mkdir -p "$run"
while kill -0 "$pid" 2>/dev/null; do
  if rest=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null); then
    # fields 14 and 15 (utime, stime): 12th and 13th after the ") " of the name
    read -r -a f <<<"$rest"
    cpu=$(awk -v u="${f[11]}" -v s="${f[12]}" -v t="$tck" 'BEGIN{printf "%.2f", (u+s)/t}')
    step=$(tail -n 1 "$run/metrics.jsonl" 2>/dev/null | sed -n 's/.*"step":\([0-9]*\).*/\1/p')
    echo "$(date +%s) $cpu ${step:-0}" >> "$log"
  fi
  sleep "$every"
done
awk 'NR>1 && $3>p3 && p3>0 {print ($2-p2)/($3-p3)} {p2=$2; p3=$3}' "$log" | sort -g |
  awk '{r[NR]=$1} END {if (NR==0) {print "cpustep: no windows"; exit}
       m=(NR%2)?r[(NR+1)/2]:(r[NR/2]+r[NR/2+1])/2; printf "cpustep: median %.3f CPU-s/step over %d windows\n", m, NR}'
