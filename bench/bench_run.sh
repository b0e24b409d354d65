#!/usr/bin/env bash
# `escudo run` with every detection of escu-full enabled (docs/run.md, "Memory") against
# `escudo hunt` with the same content over the same file, the 100 MiB XmlWinEventLog file of
# bench_xml.sh: run reads it with a replay clock, keeps each matching record in the windows it
# falls in (stored as compressed segments at each commit), fires the 2,284 windows of its two
# hours and writes notables and risk events; hunt does the detection work once over the file.
# The ratio is what the run loop's windows, state store and firing cost on top of the work
# itself. Each round runs the commands interleaved (odd rounds in order, even ones reversed);
# the table gives median wall and CPU time, largest peak RSS (/usr/bin/time) and state.db's size
# at the end of the first part of a run stopped at 00:10 (every window still open, all records
# stored).
#
# Environment: ESCUDO (default build/escudo), ESCUDO_OLD (another build: its run in the same
# rounds, row "old"), BENCH_DATA (default bench/data), ESC_SHARED_DATA (default ../shared/data),
# BENCH_RUNS (default 2).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
escudo="${ESCUDO:-$root/build/escudo}"
old="${ESCUDO_OLD:-}"
data="${BENCH_DATA:-$here/data}"
shared="${ESC_SHARED_DATA:-$root/../shared/data}"
content="$shared/escu-full"
runs="${BENCH_RUNS:-2}"
xml="$data/xml-100M-seed1.xml"
die() { echo "bench_run: $*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
[ -x "$escudo" ] || die "ESCUDO=$escudo is not executable (run make first)"
[ -d "$content" ] || die "no content at $content"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (Debian package time)"
if [ ! -f "$xml" ]; then
    echo "bench_run: making $xml with bench_xml.sh" >&2
    BENCH_RUNS=1 bash "$here/bench_xml.sh" >/dev/null
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
clock=(--clock-start 2024-03-01T00:00:00Z --clock-speed max)

# key|label|escudo binary|mode
cases=("run|escudo run --enable '*' escu-full, 100 MiB XML|$escudo|run"
    "hunt|escudo hunt --content escu-full, 100 MiB XML|$escudo|hunt")
if [ -n "$old" ]; then
    [ -x "$old" ] || die "ESCUDO_OLD=$old is not executable"
    cases+=("old|old escudo run --enable '*' escu-full, 100 MiB XML|$old|run")
fi
argv=()
command_of() { # BINARY MODE STATE-DIR UNTIL -> argv
    if [ "$2" = hunt ]; then
        argv=("$1" hunt --quiet --content "$content" "$xml")
    else
        argv=("$1" run --quiet --content "$content" --enable '*' --state "$3" "${clock[@]}"
            --once-until "$4" "$xml")
    fi
}
start="$(date -u '+%Y-%m-%d %H:%M UTC')"
cat "$xml" >/dev/null
n=${#cases[@]}
for ((r = 1; r <= runs; r++)); do
    for ((k = 0; k < n; k++)); do
        IFS='|' read -r key label bin mode <<<"${cases[$(bench_pick "$r" "$n" "$k")]}"
        echo "bench_run: round $r of $runs: $label" >&2
        rm -rf "$tmp/st"
        command_of "$bin" "$mode" "$tmp/st" 2024-03-01T02:00:00Z
        bench_time "$tmp" "$key" "${argv[@]}" || die "$label failed: $(tail -3 "$tmp/err")"
    done
done
for c in "${cases[@]}"; do # the store with every window open
    IFS='|' read -r key label bin mode <<<"$c"
    [ "$mode" = run ] || continue
    rm -rf "$tmp/st"
    command_of "$bin" run "$tmp/st" 2024-03-01T00:10:00Z
    "${argv[@]}" >/dev/null 2>&1 || die "$label to 00:10 failed"
    echo "$key $(stat -c %s "$tmp/st/state.db")" >>"$tmp/db"
done
printf '%s\n' "${cases[@]}" >"$tmp/cases"
python3 - "$here" "$tmp/all" "$tmp/db" "$tmp/cases" "$runs" "$start" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import medians
allf, dbf, casef, runs, start = sys.argv[2:]
db = dict(l.split() for l in open(dbf))
res, wall, cpu = medians.load(allf)
print("## `run` with all of escu-full against `hunt`\n")
print("%s; medians of %s round(s), commands interleaved, page cache warm\n" % (start, runs))
print("| command | wall s | cpu s | peak RSS MiB | state.db at 00:10 MiB | wall / hunt |")
print("|---|---|---|---|---|---|")
for c in open(casef):
    key, label = c.split("|")[:2]
    size = "%.1f" % (int(db[key]) / 2**20) if key in db else ""
    print("| `%s` | %.2f | %.2f | %.1f | %s | %.1fx |" % (
        label, wall[key], cpu[key], max(x[2] for x in res[key]) / 1024, size,
        wall[key] / wall["hunt"]))
PY
