#!/usr/bin/env bash
# Kafka worker benchmark: one `escudo run --kafka` worker reading from librdkafka's mock cluster
# against `escudo hunt` over the same events from a file, in the same run (issue 18: at least
# 70% of hunt's events per second). bench/bench_kafka.py does the work; this prints its markdown
# section on stdout (progress on stderr). About 40 s on 2 cores.
#
# Environment:
#   ESCUDO           the CLI to measure (default build/escudo)
#   ESC_BUILD_DIR    where esc_kafka_mock is (default: ESCUDO's directory)
#   BENCH_KAFKA_N    messages (default 80000: 94 MB)
#   BENCH_RUNS       timed runs per command, best kept (default 3)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
ESCUDO="${ESCUDO:-$root/build/escudo}"
export ESCUDO
export ESC_BUILD_DIR="${ESC_BUILD_DIR:-$(dirname "$ESCUDO")}"
[ -x "$ESCUDO" ] || { echo "bench_kafka: ESCUDO=$ESCUDO is not executable (run make first)" >&2; exit 1; }
[ -x "$ESC_BUILD_DIR/esc_kafka_mock" ] ||
    { echo "bench_kafka: $ESC_BUILD_DIR/esc_kafka_mock not found (run make first)" >&2; exit 1; }
exec python3 "$here/bench_kafka.py" "${BENCH_KAFKA_N:-80000}"
