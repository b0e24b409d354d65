#!/bin/bash
# EVTX benchmark: escudo hunt against libevtx's evtxexport -f xml on one large EVTX file.
#
# Builds bench/data/evtx-bench.evtx (git-ignored) of at least BENCH_MB (default 500) MB from
# real chunks of the shared EVTX samples, all of which evtxexport reads in full: chunks are
# self-contained, so they are concatenated (cycling through the samples) behind one file
# header whose chunk count, last chunk number and checksum are fixed. Then times, in the same
# run, `escudo hunt` (all shipped detections) and `evtxexport -f xml` on that file with
# /usr/bin/time -v, checks both saw the same number of records, and prints a markdown table
# with wall time, CPU time, throughput, peak RSS and the ratio.
# Environment: ESCUDO (default build/escudo), BENCH_DATA (default bench/data),
# ESC_SHARED_DATA (default ../shared/data),
# BENCH_MB, BENCH_THREADS (default 2), BENCH_SKIP_LIBEVTX=1 to time escudo only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
escudo="${ESCUDO:-$root/build/escudo}"
shared="${ESC_SHARED_DATA:-$root/../shared/data}"
mb="${BENCH_MB:-500}"
threads="${BENCH_THREADS:-2}"
data="${BENCH_DATA:-$root/bench/data}"
file="$data/evtx-bench.evtx"
mkdir -p "$data"
[ -x "$escudo" ] || { echo "bench_evtx: $escudo is not built (make build)" >&2; exit 2; }

if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" -lt $((mb * 1000 * 1000)) ]; then
    echo "bench_evtx: building $file (>= $mb MB) from $shared/evtx" >&2
    python3 - "$shared/evtx" "$file" "$mb" <<'PY'
import os, struct, sys, zlib
src, out, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
chunks = []
for dp, dn, fn in os.walk(src):
    dn.sort()
    for f in sorted(fn):
        if not f.endswith(".evtx"):
            continue
        b = open(os.path.join(dp, f), "rb").read()
        n = struct.unpack_from("<H", b, 42)[0]
        for i in range(n):
            c = b[4096 + i * 65536:4096 + (i + 1) * 65536]
            if len(c) == 65536 and c[:8] == b"ElfChnk\0":
                chunks.append(c)
need = (mb * 1000 * 1000 - 4096 + 65535) // 65536
if need > 65535:
    sys.exit("bench_evtx: more chunks than an EVTX header can count")
hdr = bytearray(4096)
hdr[0:8] = b"ElfFile\0"
struct.pack_into("<QQQIHHHH", hdr, 8, 0, need - 1, 1, 128, 1, 3, 4096, need)
struct.pack_into("<I", hdr, 120, 0)  # flags: clean
struct.pack_into("<I", hdr, 124, zlib.crc32(bytes(hdr[:120])))
with open(out + ".tmp", "wb") as f:
    f.write(hdr)
    for i in range(need):
        f.write(chunks[i % len(chunks)])
os.rename(out + ".tmp", out)
print("bench_evtx: %d chunks (%d distinct)" % (need, len(chunks)), file=sys.stderr)
PY
fi
size=$(stat -c %s "$file")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

measure() { # key, then the command; its stdout is counted (lines starting with "<Event ")
    local key=$1
    shift
    /usr/bin/time -v -o "$tmp/$key.time" "$@" 2> "$tmp/$key.err" |
        grep -c '^<Event ' > "$tmp/$key.count" || true
}
field() { grep -F "$2" "$tmp/$1.time" | sed 's/.*: //'; }
secs() { # elapsed "h:mm:ss" or "m:ss.cc" -> seconds
    echo "$1" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }'
}

measure escudo "$escudo" hunt --quiet --threads "$threads" --format json \
    --summary-json "$tmp/summary.json" "$file"
esc_records=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events"])' \
    "$tmp/summary.json" 2>/dev/null || echo "?")
measure dump "$escudo" dump --threads "$threads" --format xml "$file"
dump_records=$(cat "$tmp/dump.count")
if [ "${BENCH_SKIP_LIBEVTX:-0}" != 1 ]; then
    measure libevtx evtxexport -f xml "$file"
    lib_records=$(cat "$tmp/libevtx.count")
fi

row() { # key, label, records
    local key=$1 w u s rss
    w=$(secs "$(field "$key" "Elapsed (wall clock)")")
    u=$(field "$key" "User time")
    s=$(field "$key" "System time")
    rss=$(field "$key" "Maximum resident set size")
    printf '| %s | %s | %.2f | %.2f | %.1f | %.1f |\n' "$2" "$3" "$w" \
        "$(echo "$u + $s" | bc -l)" "$(echo "$size / 1000000 / $w" | bc -l)" \
        "$(echo "$rss / 1024" | bc -l)"
}
echo "## EVTX"
echo
echo "EVTX file: $(basename "$file"), $((size / 1000000)) MB, $(( (size - 4096) / 65536 )) chunks;" \
    "$(nproc) cores; escudo --threads $threads"
echo
echo "| tool | records | wall s | cpu s | MB/s | peak RSS MB |"
echo "|---|---|---|---|---|---|"
row escudo "escudo hunt (shipped content)" "$esc_records"
row dump "escudo dump --format xml" "$dump_records"
if [ "${BENCH_SKIP_LIBEVTX:-0}" != 1 ]; then
    row libevtx "evtxexport -f xml" "$lib_records"
    ew=$(secs "$(field escudo "Elapsed (wall clock)")")
    lw=$(secs "$(field libevtx "Elapsed (wall clock)")")
    echo
    dw=$(secs "$(field dump "Elapsed (wall clock)")")
    cpu() { echo "$(field "$1" "User time") + $(field "$1" "System time")" | bc -l; }
    printf 'hunt is %.1fx faster than evtxexport -f xml, dump --format xml %.1fx (wall clock)\n' \
        "$(echo "$lw / $ew" | bc -l)" "$(echo "$lw / $dw" | bc -l)"
    printf 'CPU time: hunt %.1fx less than evtxexport, dump --format xml %.1fx less\n' \
        "$(echo "$(cpu libevtx) / $(cpu escudo)" | bc -l)" \
        "$(echo "$(cpu libevtx) / $(cpu dump)" | bc -l)"
    if [ "$esc_records" != "$lib_records" ] || [ "$dump_records" != "$lib_records" ]; then
        echo "bench_evtx: record counts differ (hunt $esc_records, dump $dump_records," \
            "libevtx $lib_records)" >&2
        exit 1
    fi
fi
