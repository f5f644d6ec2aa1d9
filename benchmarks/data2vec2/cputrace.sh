#!/usr/bin/env bash
# cputrace.sh TRACE -- COMMAND...: run COMMAND and sample its process CPU
# time (user + system of all its threads, from /proc/PID/stat) once a
# second into TRACE, one "unix_seconds cpu_seconds" line per sample, and a
# last line "end cpu_seconds" with the total from wait4 (getrusage of the
# finished child, as /usr/bin/time reports it). The exit status is
# COMMAND's.
#
# On a loaded machine the process CPU time of a single-threaded run
# (--threads 1 --workers 1) is the idle-equivalent budget: wall time
# depends on the load, CPU time hardly. ckptcpu.sh maps a run's
# checkpoints to CPU seconds with the trace.
set -uo pipefail
trace=$1
shift
[ "${1:-}" = "--" ] && shift
tick=$(getconf CLK_TCK)
: > "$trace"
# /usr/bin/time writes "user sys" to its own file so COMMAND's stderr is
# untouched.
tf=$(mktemp)
/usr/bin/time -o "$tf" -f '%U %S' "$@" &
tpid=$!
# The child of /usr/bin/time is the command.
cpid=""
for _ in $(seq 50); do
  cpid=$(pgrep -P "$tpid" | head -n 1) && [ -n "$cpid" ] && break
  sleep 0.1
done
while kill -0 "$tpid" 2>/dev/null; do
  # Fields 14 and 15 (utime, stime), counted after the ")" that ends
  # the comm field (which may hold spaces): fields 12 and 13 after it.
  if [ -n "$cpid" ] && st=$(sed 's/^.*) //' "/proc/$cpid/stat" 2>/dev/null) && [ -n "$st" ]; then
    echo "$(date +%s.%N) $(echo "$st" | awk -v t="$tick" '{printf "%.2f", ($12+$13)/t}')" >> "$trace"
  fi
  sleep 1
done
wait "$tpid"
rc=$?
# The last line: a failing command's status line comes first.
read -r u s < <(tail -n 1 "$tf") || true
rm -f "$tf"
echo "end $(awk -v u="${u:-0}" -v s="${s:-0}" 'BEGIN{printf "%.2f", u+s}')" >> "$trace"
exit $rc
