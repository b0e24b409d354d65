# shellcheck shell=bash
# Shared by the benchmarks that time commands round by round (bench_full.sh, bench_run.sh,
# bench_dump.sh); sourced, not run. Their reports read what bench_time writes with
# bench/medians.py.

# bench_time TMP KEY CMD...: CMD's wall, user and system seconds and peak RSS (KB), by
# /usr/bin/time, appended to TMP/all as "KEY wall user sys rss" whatever its exit status, which
# is returned; its output is dropped, its standard error left in TMP/err.
bench_time() {
    local tmp=$1 key=$2 st=0
    shift 2
    /usr/bin/time -f '%e %U %S %M' -o "$tmp/t" "$@" >/dev/null 2>"$tmp/err" || st=$?
    echo "$key $(tail -1 "$tmp/t")" >>"$tmp/all"
    return $st
}

# bench_pick R N K: which of N cases runs K-th in round R: odd rounds in order, even rounds
# reversed, so that the machine's drift over minutes does not fall on the first or the last.
bench_pick() {
    echo $(($1 % 2 ? $3 : $2 - 1 - $3))
}
