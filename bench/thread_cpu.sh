#!/usr/bin/env bash
# CPU time of each thread of a command while it runs (docs/benchmarks.md, "The start-up cached,
# fewer page faults, the Processes record made while reading"): which of a hunt's two threads
# holds the other up while a file is read. Samples /proc/PID/task/*/stat (utime + stime) every
# 0.2 s and prints, for the last sample taken while more than one thread ran (the reading
# phase of a hunt) and for the last sample of all, the seconds since start and each thread's
# CPU seconds, the main thread first.
#
# Usage: bash bench/thread_cpu.sh COMMAND [ARGS...]
# e.g.   bash bench/thread_cpu.sh build/escudo hunt --quiet --content ../shared/data/escu-full \
#            bench/data/xml-1G-seed1.xml
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
hz=$(getconf CLK_TCK)
"$@" >/dev/null &
pid=$!
start=$(date +%s.%N)
sample() { # seconds since start, then each thread's CPU seconds (main thread first)
    local line now t vals=""
    now=$(date +%s.%N)
    line=$(awk -v s="$start" -v n="$now" 'BEGIN { printf "%.1f s:", n - s }')
    for t in "$pid" $(ls "/proc/$pid/task" 2>/dev/null | grep -vx "$pid"); do
        vals="$vals $(awk -v hz="$hz" '{ printf "%.2f", ($14 + $15) / hz }' \
            "/proc/$pid/task/$t/stat" 2>/dev/null)"
    done
    [ -n "${vals// /}" ] && echo "$line$vals"
    return 0
}
both="" last=""
while kill -0 "$pid" 2>/dev/null; do
    s=$(sample)
    [ -n "$s" ] && last=$s
    [ "$(ls "/proc/$pid/task" 2>/dev/null | wc -l)" -gt 1 ] && both=$s
    sleep 0.2
done
wait "$pid" || true
echo "while more than one thread ran (last sample): $both"
echo "last sample: $last"
