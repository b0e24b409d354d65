#!/usr/bin/env bash
# All supported detections of ESCU's Windows content (issues 14 and 15, "Speed"): escudo hunting
# with --content escu-full over the 1 GiB XmlWinEventLog file against `rg -c -i 'net1?\.exe'` on
# the same file (goal: within 5x), and over the >= 500 MB EVTX file against `escudo dump
# --format json` of the same file (goal: within 3x; decoding is the floor), and over the XML file
# against hunting only the Processes detections of `escu/` (issue 14: within 2x). Each pair runs in
# the same round, BENCH_RUNS rounds (default 1: a 1 GiB hunt takes a minute), commands
# interleaved (odd rounds in order, even rounds reversed) so that load from other work and the
# machine's drift over minutes fall on all of them alike; the table gives median wall time,
# median CPU time (user+sys), largest peak RSS (/usr/bin/time) and both ratios (wall and CPU: on
# a shared machine the CPU ratio is the steadier one), with the load average.
#
# Environment: ESCUDO (default build/escudo), BENCH_DATA (default bench/data),
# ESC_SHARED_DATA (default ../shared/data), BENCH_CONTENT (default $ESC_SHARED_DATA/escu-full),
# BENCH_PROCESSES (default $ESC_SHARED_DATA/escu: the Processes detections),
# BENCH_RUNS, ESCUDO_OLD (another escudo build, e.g. the one before a change: its hunts run in
# the same rounds, rows "old"). Inputs: the files bench_xml.sh and bench_evtx.sh make (this script calls them
# when a file is missing).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
escudo="${ESCUDO:-$root/build/escudo}"
old="${ESCUDO_OLD:-}"
data="${BENCH_DATA:-$here/data}"
shared="${ESC_SHARED_DATA:-$root/../shared/data}"
content="${BENCH_CONTENT:-$shared/escu-full}"
processes="${BENCH_PROCESSES:-$shared/escu}"
runs="${BENCH_RUNS:-1}"
xml="$data/xml-1G-seed1.xml"
evtx="$data/evtx-bench.evtx"
pattern='net1?\.exe'
die() { echo "bench_full: $*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
[ -x "$escudo" ] || die "ESCUDO=$escudo is not executable (run make first)"
[ -d "$content" ] || die "no content at $content (set BENCH_CONTENT)"
[ -d "$processes" ] || die "no content at $processes (set BENCH_PROCESSES)"
command -v rg >/dev/null || die "rg not found (tools/setup.sh installs it)"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (Debian package time)"
if [ ! -f "$xml" ]; then
    echo "bench_full: making $xml with bench_xml.sh" >&2
    BENCH_RUNS=1 bash "$here/bench_xml.sh" >/dev/null
fi
if [ ! -f "$evtx" ]; then
    echo "bench_full: making $evtx with bench_evtx.sh" >&2
    BENCH_SKIP_LIBEVTX=1 bash "$here/bench_evtx.sh" >/dev/null
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# key|label|command
cases=(
    "hx|escudo hunt --content escu-full, 1 GiB XML|$escudo hunt --quiet --content $content $xml"
    "rg|rg -c -i '$pattern', 1 GiB XML|rg -c -i $pattern $xml"
    "hp|escudo hunt --content escu (Processes detections), 1 GiB XML|$escudo hunt --quiet --content $processes $xml"
    "he|escudo hunt --content escu-full, EVTX|$escudo hunt --quiet --content $content $evtx"
    "dj|escudo dump --format json, EVTX|$escudo dump --format json $evtx"
)
if [ -n "$old" ]; then
    [ -x "$old" ] || die "ESCUDO_OLD=$old is not executable"
    cases+=("ox|old escudo hunt --content escu-full, 1 GiB XML|$old hunt --quiet --content $content $xml"
        "oe|old escudo hunt --content escu-full, EVTX|$old hunt --quiet --content $content $evtx")
fi
start="$(date -u '+%Y-%m-%d %H:%M UTC')"
load0="$(cut -d' ' -f1-3 /proc/loadavg)"
cat "$xml" "$evtx" >/dev/null # page cache warm
n=${#cases[@]}
for ((r = 1; r <= runs; r++)); do
    for ((k = 0; k < n; k++)); do
        IFS='|' read -r key label cmd <<<"${cases[$(bench_pick "$r" "$n" "$k")]}"
        echo "bench_full: round $r of $runs: $label" >&2
        # shellcheck disable=SC2086
        bench_time "$tmp" "$key" $cmd || [ "$key" = rg ] || # (rg exits 1 when nothing matches)
            die "$label failed: $(head -3 "$tmp/err")"
    done
done
load1="$(cut -d' ' -f1-3 /proc/loadavg)"

printf '%s\n' "${cases[@]}" >"$tmp/cases"
python3 - "$here" "$tmp/all" "$tmp/cases" "$runs" "$start" "$load0" "$load1" "$(nproc)" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import medians
allf, casef, runs, start, load0, load1, ncpu = sys.argv[2:]
res, wall, cpu = medians.load(allf)
print("## All supported detections of escu-full (issues 14, 15)\n")
print("%s; load average %s at the start, %s at the end, %s CPUs; medians of %s round(s), "
      "commands interleaved, page cache warm\n" % (start, load0, load1, ncpu, runs))
print("| command | wall s | cpu s | peak RSS MiB |")
print("|---|---|---|---|")
for c in open(casef):
    key, label, _ = c.rstrip("\n").split("|", 2)
    print("| `%s` | %.2f | %.2f | %.1f |" % (label, wall[key], cpu[key],
                                          max(x[2] for x in res[key]) / 1024))
print()
print("| ratio | wall | cpu | goal | met (wall) |")
print("|---|---|---|---|---|")
for a, b, label, goal in (("hx", "rg", "hunt XML / rg", 5), ("hx", "hp", "hunt XML / Processes-only hunt", 2),
                          ("he", "dj", "hunt EVTX / dump json", 3),
                          ("ox", "rg", "old hunt XML / rg", 5), ("oe", "dj", "old hunt EVTX / dump json", 3)):
    if a not in wall:
        continue
    rw, rc = wall[a] / wall[b], cpu[a] / max(cpu[b], 0.01)
    print("| %s | %.1fx | %.1fx | <= %dx | %s |" % (label, rw, rc, goal, "yes" if rw <= goal else "NO"))
PY
