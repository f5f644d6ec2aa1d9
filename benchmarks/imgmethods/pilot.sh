#!/usr/bin/env bash
# pilot.sh NAME CONFIG [FLAGS...]: one recipe experiment of the
# Fashion-MNIST comparison on the shared 2-core VM: `sslpipe train` with
# CONFIG (a file of configs/) into runs/imgmethods/NAME at nice 10 with
# one libtorch thread and one data worker (two pilots run side by side),
# the online kNN monitor (10k/2k subset, k=200, T=0.1) every 300 steps,
# the CPU time per step sampled by cpustep.sh, /usr/bin/time's figures in
# RUN/time.txt. Stop a pilot early with `kill -INT PID` (it writes a
# checkpoint; `sslpipe train --resume RUN` continues it exactly).
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1 cfg=$2
shift 2
run=runs/imgmethods/$name
mkdir -p runs/imgmethods
SSLPIPE=${SSLPIPE:-bin/sslpipe-torch}
nice -n 10 /usr/bin/time -v -o "$run.time.txt" "$SSLPIPE" train --config "$cfg" --data data/fmnist-train --out "$run" \
  --threads 1 --workers 1 --log-every 2 --monitor-every "${MONITOR_EVERY:-300}" "$@" > "$run.log" 2>&1 &
pid=$!
sleep 5
# The training process is time's child: a SIGINT must go to it (time
# ignores it while it waits).
child=$(pgrep -P "$pid" | head -n 1)
benchmarks/imgmethods/cpustep.sh "$child" "$run" 120 > "$run.cpustep.txt" 2>&1 &
echo "$name: pid $child (stop with kill -INT $child), log $run.log"
