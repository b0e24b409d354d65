#!/usr/bin/env bash
# Run every bench/bench_*.sh in name order and print their markdown on stdout (progress goes
# to stderr). `make bench` calls this after building build/escudo.
#
# Environment passed to each script:
#   ESCUDO      the CLI to measure (default: build/escudo of this tree)
#   BENCH_DATA  where generated inputs are cached (default: bench/data, git-ignored)
# A benchmark that fails is reported and the others still run; the exit status is 1 if any
# failed. Benchmarks never run as part of the tests.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
export ESCUDO="${ESCUDO:-$root/build/escudo}"
export BENCH_DATA="${BENCH_DATA:-$here/data}"
mkdir -p "$BENCH_DATA"

status=0
found=0
for script in "$here"/bench_*.sh; do
    [ -e "$script" ] || continue
    found=1
    echo "bench: running $(basename "$script")" >&2
    if ! bash "$script"; then
        echo "bench: $(basename "$script") FAILED" >&2
        printf '\n**%s failed** (see stderr)\n\n' "$(basename "$script")"
        status=1
    fi
    echo
done
[ "$found" = 1 ] || { echo "bench: no bench/bench_*.sh found" >&2; exit 1; }
exit $status
