#!/bin/bash
# dump benchmark: EVTX to JSON lines and to XML, to /dev/null, against the floor (escudo's full
# decode without output: `dump --format none`) and against the peers, in one run.
#
# Input: bench/data/evtx-bench.evtx (>= 500 MB of real chunks; bench_evtx.sh makes it).
# Each command runs BENCH_RUNS times (default 5), the commands interleaved round by round (odd
# rounds in order, even ones reversed) so that load from other work on the machine and its
# drift over minutes fall on all of them alike; the table gives the
# median wall time, MB/s, median CPU time and the largest peak RSS (/usr/bin/time -v), and
# each command's ratio to its baseline measured in the same run.
# Peers, each optional (a row is left out when its binary is not there):
#   ESCUDO_OLD  another escudo build (e.g. the one before a change): the baseline row
#   EVTX_DUMP   the Rust evtx crate's evtx_dump (`-t N -o jsonl|xml`; it does not verify
#               checksums, escudo does)
#   EVTXEXPORT  libevtx's evtxexport (`-f xml`, one thread, slow: BENCH_LIBEVTX=1 to include)
# Environment: ESCUDO (default build/escudo), BENCH_DATA, BENCH_RUNS, BENCH_THREADS (the
# thread counts, default "1 2").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
escudo="${ESCUDO:-$root/build/escudo}"
old="${ESCUDO_OLD:-}"
rs="${EVTX_DUMP:-}"
lib="${EVTXEXPORT:-$(command -v evtxexport || true)}"
data="${BENCH_DATA:-$root/bench/data}"
runs="${BENCH_RUNS:-5}"
threads="${BENCH_THREADS:-1 2}"
file="$data/evtx-bench.evtx"
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
[ -x "$escudo" ] || { echo "bench_dump: $escudo is not built (make build)" >&2; exit 2; }
if [ ! -f "$file" ]; then
    echo "bench_dump: making $file with bench_evtx.sh" >&2
    BENCH_SKIP_LIBEVTX=1 bash "$here/bench_evtx.sh" >/dev/null
fi
size=$(stat -c %s "$file")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# key|label|baseline key (empty: none)|command
cases=()
for t in $threads; do
    cases+=("floor$t|escudo dump --format none --threads $t (decode, no output)||$escudo dump --format none --threads $t $file")
    for f in json xml; do
        base=""
        [ -x "$old" ] && base="old-$f$t"
        [ -x "$rs" ] && base="rs-$f$t"
        cases+=("esc-$f$t|escudo dump --format $f --threads $t|$base|$escudo dump --format $f --threads $t $file")
        [ -x "$old" ] && cases+=("old-$f$t|old escudo dump --format $f --threads $t||$old dump --format $f --threads $t $file")
        rf=$([ $f = json ] && echo jsonl || echo xml)
        [ -x "$rs" ] && cases+=("rs-$f$t|evtx_dump -t $t -o $rf||$rs -t $t -o $rf $file")
    done
done
# The machine's own two-core scaling for this work: two single-thread dumps side by side
# (nothing shared but the file), JSON and XML; two threads cannot scale better than two
# processes do.
case " $threads " in *" 1 "*)
    for f in json xml; do
        one="$escudo dump --format $f --threads 1 $file"
        printf '%s >/dev/null &\n%s\nwait\n' "$one" "$one" >"$tmp/pair-$f.sh"
        cases+=("pair-$f|two escudo dump --format $f --threads 1 side by side||bash $tmp/pair-$f.sh")
    done
esac
if [ "${BENCH_LIBEVTX:-0}" = 1 ] && [ -x "$lib" ]; then
    cases+=("lib-xml|evtxexport -f xml (1 thread)||$lib -f xml $file")
fi

cat "$file" >/dev/null # page cache warm
n=${#cases[@]}
for ((r = 1; r <= runs; r++)); do
    echo "bench_dump: round $r of $runs" >&2
    for ((k = 0; k < n; k++)); do
        IFS='|' read -r key label base cmd <<<"${cases[$(bench_pick "$r" "$n" "$k")]}"
        # shellcheck disable=SC2086
        bench_time "$tmp" "$key" $cmd ||
            { echo "bench_dump: $label failed: $(head -3 "$tmp/err")" >&2; exit 1; }
    done
done

printf '%s\n' "${cases[@]}" >"$tmp/cases"
python3 - "$here" "$tmp/all" "$tmp/cases" "$size" "$runs" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import medians
allf, casef, size, runs = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
res, wall, cpu = medians.load(allf)
print("## dump: EVTX to JSON and XML\n")
print("%d MB EVTX (%s), to /dev/null; medians of %s runs, commands interleaved; "
      "ratio = this row's median wall time / its baseline's (above 1: slower)\n"
      % (size // 1000000, "evtx-bench.evtx", runs))
print("| command | wall s | MB/s | cpu s | peak RSS MB | baseline ratio |")
print("|---|---|---|---|---|---|")
for c in open(casef):
    key, label, base, _ = c.rstrip("\n").split("|", 3)
    rss = max(x[2] for x in res[key]) / 1024
    ratio = "%.2f" % (wall[key] / wall[base]) if base else ""
    print("| `%s` | %.2f | %.0f | %.2f | %.1f | %s |"
          % (label, wall[key], size / 1e6 / wall[key], cpu[key], rss, ratio))
print()
for t in ("1", "2"):
    if "esc-json" + t in wall and "old-json" + t in wall:
        print("escudo vs old escudo, %s thread(s): JSON %.2fx faster, XML %.2fx faster"
              % (t, wall["old-json" + t] / wall["esc-json" + t],
                 wall["old-xml" + t] / wall["esc-xml" + t]))
for t in ("1", "2"):
    if "floor" + t in wall and "esc-json" + t in wall:
        print("%s thread(s): the floor (decode, no output) %.0f MB/s; JSON %.0f%% of it, XML %.0f%%"
              % (t, size / 1e6 / wall["floor" + t], 100 * wall["floor" + t] / wall["esc-json" + t],
                 100 * wall["floor" + t] / wall["esc-xml" + t]))
if "esc-json1" in wall and "esc-json2" in wall:
    print("escudo 2 threads vs 1: JSON %.2fx, XML %.2fx"
          % (wall["esc-json1"] / wall["esc-json2"], wall["esc-xml1"] / wall["esc-xml2"]))
    print("CPU time (user + system) of 2 threads over 1: JSON %+.0f%%, XML %+.0f%%"
          % (100 * (cpu["esc-json2"] / cpu["esc-json1"] - 1),
             100 * (cpu["esc-xml2"] / cpu["esc-xml1"] - 1)))
for f, name in (("json", "JSON"), ("xml", "XML")):
    if "esc-%s1" % f in wall and "pair-" + f in wall:
        print("the machine's two-core scaling in this run (two single-thread %s dumps side by "
              "side, twice the work): %.2fx" % (name, 2 * wall["esc-%s1" % f] / wall["pair-" + f]))
PY
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
