#!/bin/bash
# Allocation-failure run: ESCUDO_FAIL_ALLOC=N makes escudo's own allocator (src/core/alloc.c)
# fail its Nth call. For every N from 1 to ESC_ALLOC_MAX (default 1200, beyond the run's
# allocation count) over a small fixed run, `escudo hunt --format json` on the worked example, the CrowdStrike sample and one EVTX file must end cleanly:
#   - exit 0 with exactly the normal output, or exit 2/3 with an error message;
#   - no sanitizer report (under the ASan build LeakSanitizer is on: no leak either);
#   - no crash, no hang (each run has a hard timeout).
# With N beyond the allocation count the output equals the normal output.
# Under a build without ASan the same checks run, without leak detection.
# Environment: ESC_ALLOC_MAX (largest N, default 1200), ESC_ALLOC_JOBS (parallel runs, 2),
# ESC_ALLOC_SET: "hunt" (default, above) or "sinks": the same inputs plus a gzip file, with
# notables and risk events written to JSON lines and a SQLite store (t_alloc_fail_sinks.sh).
# SQLite, Hyperscan, zlib and PCRE2 allocate through escudo's allocator, so they fail too.
# ctest-label: heavy (`make heavy` runs it on the plain build; tools/hardening.sh on the ASan build)
set -u
ESCUDO=${ESCUDO:-build/escudo}
SRC=${ESC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DATA=${ESC_SHARED_DATA:-$SRC/../shared/data}
MAXN=${ESC_ALLOC_MAX:-1200}
JOBS=${ESC_ALLOC_JOBS:-2}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export ASAN_OPTIONS=detect_leaks=1:exitcode=99:abort_on_error=0:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=98
export LSAN_OPTIONS=exitcode=99
EVTX=$(ls "$DATA"/evtx/*.evtx 2>/dev/null | head -1)
INPUTS=("$DATA/crafted/worked_example.xml" "$DATA/crafted/crowdstrike.json")
[ -n "$EVTX" ] && INPUTS+=("$EVTX")
ARGS=(hunt --format json --threads 1 "${INPUTS[@]}")
if [ "${ESC_ALLOC_SET:-hunt}" = sinks ]; then
    # @N is replaced by the run's N: each run writes its own store
    ARGS+=("$SRC/tests/data/sample/mixed.xml.gz" --db "$T/db.@N" --notables "$T/notables.@N")
fi

if nm -C "$ESCUDO" 2>/dev/null | grep -q __asan_init; then
    echo "ASan build: leaks are checked"
else
    echo "not an ASan build: crashes and exit codes only"
fi

timeout 120 "$ESCUDO" "${ARGS[@]//@N/0}" >"$T/normal" 2>"$T/normal.err"
rc=$?
if [ $rc -ne 0 ]; then
    echo "FAIL: the normal run exits $rc"
    cat "$T/normal.err"
    exit 1
fi
echo "normal run: $(wc -l <"$T/normal") rows"

# N = 1..MAXN one by one (the run makes about 660 allocation calls today, measured with gdb
# breakpoints on esc_malloc/calloc/realloc; MAXN leaves room), then far beyond the count.
# Failures are not monotonic in N (some allocations are optional: a failed content file becomes a
# content warning), so there is no bisection: every N is run.
seq 1 "$MAXN" >"$T/ns"
echo 1000000000 >>"$T/ns"

run_one() { # n
    local n=$1 out=$T/o.$1 err=$T/e.$1
    ESCUDO_FAIL_ALLOC=$n timeout -k 5 60 "$ESCUDO" "${ARGS[@]//@N/$n}" >"$out" 2>"$err"
    local rc=$? v=ok
    rm -f "$T/db.$n" "$T/notables.$n"
    if grep -qE "Sanitizer|runtime error:" "$err"; then
        v="sanitizer"
    elif [ $rc -eq 0 ]; then
        cmp -s "$out" "$T/normal" || v="exit-0-with-different-output"
    elif [ $rc -eq 2 ] || [ $rc -eq 3 ]; then
        [ -s "$err" ] || v="exit-$rc-without-message"
    else
        v="exit-$rc"
    fi
    [ "$v" = ok ] && rm -f "$out" "$err"
    echo "$n $v $rc"
}
export -f run_one
export T ESCUDO
# ARGS is an array: pass it through a file for the parallel workers
printf '%s\0' "${ARGS[@]}" >"$T/args"
worker() {
    local n=$1
    mapfile -d '' ARGS <"$T/args"
    run_one "$n"
}
export -f worker
xargs -P "$JOBS" -n 1 bash -c 'worker "$0"' <"$T/ns" >"$T/results"

total=$(wc -l <"$T/results")
bad=$(grep -vc " ok " "$T/results")
last=$(awk '$3 != 0 && $1 < 1000000000 {print $1}' "$T/results" | sort -n | tail -1)
echo "runs: $total (N = 1..$MAXN and 10^9); the largest N that ended the run early: ${last:-none}"
awk '{print $3}' "$T/results" | sort -n | uniq -c | awk '{printf "  exit %s: %s runs\n", $2, $1}'
if [ -n "$last" ] && [ "$last" -gt $((MAXN * 9 / 10)) ]; then
    echo "FAIL: allocations fail up to N=$last, near ESC_ALLOC_MAX=$MAXN: raise it"
    bad=$((bad + 1))
fi
if [ "$bad" -ne 0 ]; then
    sort -n "$T/results" | grep -v " ok " | head -50 | while read -r n v rc; do
        echo "FAIL: ESCUDO_FAIL_ALLOC=$n: $v"
        [ -f "$T/e.$n" ] && grep -E -A12 "ERROR: |runtime error|SUMMARY" "$T/e.$n" | head -30 | sed 's/^/    /'
    done
    echo "$bad of $total runs failed"
    exit 1
fi
echo "all $total runs ended cleanly"
