#!/bin/bash
# What CI runs beyond the test suite (called by `make check` after the plain and ASan builds):
#  (a) valgrind memcheck (--error-exitcode=1 --leak-check=full) over every unit test of the plain
#      build and over `escudo hunt` on each golden input (shared data crafted/*);
#  (b) every fuzz target in tests/fuzz/ for a fixed number of executions over its seed corpus,
#      when clang with libFuzzer is there (the targets are built in $FUZZ_BUILD);
#  (c) the allocation-failure run (tests/alloc/t_alloc_fail.sh) on the ASan build (leaks on).
# Each item is one check; the last line is "N passed, N failed" and the exit status is 1 when
# anything failed. A missing tool (valgrind, clang) is reported as skipped, not failed.
#
# Environment: BUILD (plain build, default build), ASAN_BUILD (default build-asan), FUZZ_BUILD
# (default build-fuzz), JOBS (default 2), FUZZ_RUNS (default 20000), FUZZ_SECONDS (time cap per
# target, default 20), VALGRIND_TIMEOUT (per program, default 240), VALGRIND_SKIP (unit tests
# left out of valgrind, default: test_evtx_damage, which asserts peak RSS and so cannot pass under
# valgrind, test_run_property, a long property test, test_spl_alloc and test_content_alloc,
# allocation-failure sweeps over every SPL golden case and over the shipped content that the ASan
# build runs in full), ESC_ALLOC_MAX (see the allocation
# test, default here 1000), HARDENING_ONLY (any of "valgrind fuzz alloc", default all).
# Budget: about 5 minutes on 2 cores (a fresh fuzz build is about 2 of them).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
JOBS=${JOBS:-2}
FUZZ_RUNS=${FUZZ_RUNS:-20000}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
VG_TIMEOUT=${VALGRIND_TIMEOUT:-240}
VG_SKIP=${VALGRIND_SKIP:-test_evtx_damage test_run_property test_spl_alloc test_content_alloc}
ONLY=${HARDENING_ONLY:-valgrind fuzz alloc}
DATA=${ESC_SHARED_DATA:-$ROOT/../shared/data}
LOG=$(mktemp -d)
trap 'rm -rf "$LOG"' EXIT
passed=0
failed=0
skipped=0
start=$(date +%s)

pass() { passed=$((passed + 1)); echo "ok: $1"; }
fail() {
    failed=$((failed + 1))
    echo "FAIL: $1"
    [ -n "${2:-}" ] && [ -f "$2" ] && tail -40 "$2" | sed 's/^/    /'
}
skip() { skipped=$((skipped + 1)); echo "skipped: $1"; }
want() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }
elapsed() { echo "$(($(date +%s) - start)) s"; }

# ---- (a) valgrind -------------------------------------------------------------------------
if want valgrind; then
    echo "== valgrind memcheck ($(elapsed))"
    if ! command -v valgrind >/dev/null; then
        skip "valgrind not installed"
    elif [ ! -x "$BUILD/escudo" ]; then
        fail "valgrind: no plain build in $BUILD (run make build first)"
    else
        VG="valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --track-origins=no"
        : >"$LOG/vg.list"
        for t in "$BUILD"/test_*; do
            [ -x "$t" ] && [ -f "$t" ] || continue
            case " $VG_SKIP " in
            *" $(basename "$t") "*) skip "valgrind unit $(basename "$t") (VALGRIND_SKIP)" ;;
            *) echo "unit $t" >>"$LOG/vg.list" ;;
            esac
        done
        # the longest first (test_spl: 100 s of the 300 the items take together), so that the
        # $JOBS lanes end together instead of one running it alone at the end
        { grep -E '/test_(spl|sched_window)$' "$LOG/vg.list"
          grep -vE '/test_(spl|sched_window)$' "$LOG/vg.list"; } >"$LOG/vg.sorted"
        mv "$LOG/vg.sorted" "$LOG/vg.list"
        for f in "$DATA"/crafted/*; do
            [ -f "$f" ] && echo "hunt $f" >>"$LOG/vg.list"
        done
        export VG VG_TIMEOUT LOG BUILD ROOT DATA
        vg_one() { # kind path
            local kind=$1 p=$2 name log t0 rc
            t0=$(date +%s)
            name=$(basename "$p")
            log=$LOG/vg.$kind.$name
            if [ "$kind" = unit ]; then
                # unit tests find their data relative to the source tree
                (cd "$BUILD" && timeout -k 5 "$VG_TIMEOUT" $VG "./$name") >"$log" 2>&1
            else
                timeout -k 5 "$VG_TIMEOUT" $VG "$BUILD/escudo" hunt --format json --threads 1 \
                    "$p" >"$log.out" 2>"$log"
            fi
            rc=$?
            echo "$rc $kind $name $(($(date +%s) - t0))"
        }
        export -f vg_one
        xargs -P "$JOBS" -L 1 bash -c 'vg_one "$0" "$1"' <"$LOG/vg.list" >"$LOG/vg.results"
        while read -r rc kind name secs; do
            if [ "$rc" -eq 0 ]; then
                pass "valgrind $kind $name (${secs} s)"
            elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
                fail "valgrind $kind $name: timed out after $VG_TIMEOUT s" "$LOG/vg.$kind.$name"
            else
                fail "valgrind $kind $name: exit $rc" "$LOG/vg.$kind.$name"
            fi
        done < <(sort -k2,3 "$LOG/vg.results")
    fi
fi

# ---- (b) fuzz targets over their seeds ------------------------------------------------------
# Seeds: tests/fuzz/corpus_<name> when it exists, else shared data of the target's format.
seeds_for() { # target name -> directory
    local name=$1 dir=$LOG/seeds.$1
    if [ -d "tests/fuzz/corpus_${name#fuzz_}" ]; then
        echo "tests/fuzz/corpus_${name#fuzz_}"
        return
    fi
    mkdir -p "$dir"
    case $name in
    fuzz_json) cp "$DATA"/crafted/*.json "$dir/" 2>/dev/null ;;
    fuzz_evtx) ls "$DATA"/evtx/*.evtx 2>/dev/null | head -3 | xargs -r cp -t "$dir/" ;;
    fuzz_cron) printf '\0\0\0\0\0\0\0\0\0%s' '0 * * * *' >"$dir/hourly" ;;
    fuzz_reltime) printf '\0\0\0\0\0\0\0\0\0%s' '-70m@m' >"$dir/window" ;;
    esac
    echo "$dir"
}

if want fuzz; then
    echo "== fuzz targets, $FUZZ_RUNS runs or $FUZZ_SECONDS s each ($(elapsed))"
    if ! command -v clang >/dev/null; then
        skip "clang not installed: fuzz targets"
    elif ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n){(void)d;(void)n;return 0;}' |
        clang -fsanitize=fuzzer -x c - -o "$LOG/probe" 2>/dev/null; then
        skip "clang has no libFuzzer: fuzz targets"
    elif ! { CC=clang cmake -S . -B "$FUZZ_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DESC_FUZZ=ON \
        >"$LOG/fuzz-build" 2>&1 && cmake --build "$FUZZ_BUILD" -j "$JOBS" >>"$LOG/fuzz-build" 2>&1; }; then
        fail "fuzz build in $FUZZ_BUILD" "$LOG/fuzz-build"
    else
        for src in tests/fuzz/fuzz_*.c; do
            name=$(basename "$src" .c)
            bin=$FUZZ_BUILD/$name
            if [ ! -x "$bin" ]; then
                fail "$name: not built"
                continue
            fi
            seeds=$(seeds_for "$name")
            work=$LOG/work.$name
            mkdir -p "$work"
            dict=
            case $name in
            fuzz_xml) dict=tests/fuzz/dict/xml.dict ;;
            fuzz_content) dict=tests/fuzz/dict/yaml.dict ;;
            fuzz_spl) dict=tests/fuzz/dict/spl.dict ;;
            esac
            [ -n "$dict" ] && [ -f "$dict" ] && dict="-dict=$dict" || dict=
            UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 TMPDIR=$LOG \
                timeout -k 10 $((FUZZ_SECONDS + 120)) "$bin" -runs="$FUZZ_RUNS" \
                -max_total_time="$FUZZ_SECONDS" -max_len=65536 -rss_limit_mb=2048 \
                -artifact_prefix="$LOG/$name-" $dict "$work" "$seeds" >"$LOG/$name.log" 2>&1
            rc=$?
            stats=$(grep -E "^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)" "$LOG/$name.log" | tail -1 |
                grep -oE "^#[0-9]+|cov: [0-9]+|corp: [0-9]+" | tr '\n' ' ')
            if [ $rc -eq 0 ]; then
                pass "$name ($stats)"
            else
                fail "$name: exit $rc ($stats)" "$LOG/$name.log"
                ls "$LOG/$name-"* 2>/dev/null | sed 's/^/    artifact: /'
            fi
        done
    fi
fi

# ---- (c) allocation failures ----------------------------------------------------------------
if want alloc; then
    echo "== allocation-failure run on $ASAN_BUILD ($(elapsed))"
    if [ ! -x "$ASAN_BUILD/escudo" ]; then
        fail "allocation-failure run: no ASan build in $ASAN_BUILD (run make asan first)"
    elif ESCUDO=$ASAN_BUILD/escudo ESC_SOURCE_DIR=$ROOT ESC_SHARED_DATA=$DATA ESC_ALLOC_JOBS=$JOBS \
        ESC_ALLOC_MAX=${ESC_ALLOC_MAX:-1000} \
        bash tests/alloc/t_alloc_fail.sh >"$LOG/alloc" 2>&1; then
        pass "allocation-failure run ($(grep -m1 '^runs:' "$LOG/alloc"))"
    else
        fail "allocation-failure run" "$LOG/alloc"
    fi
fi

echo "hardening: $(elapsed), $skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
