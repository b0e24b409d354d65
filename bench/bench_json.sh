#!/usr/bin/env bash
# JSON lines benchmark: escudo hunting a generated >= 2 GB file of Windows JSON lines (half
# flat NXLog style, half winlogbeat 7 / ECS, one after the other in the same file) against
# ripgrep counting the candidate lines of the same file, plus escudo's peak memory on the big
# file and on a 200 MB file of the same mix. Prints a markdown section on stdout; progress on
# stderr.
#
# Environment:
#   ESCUDO            the CLI to measure (default build/escudo)
#   BENCH_DATA        cache of generated inputs (default bench/data, git-ignored)
#   BENCH_SEED        generator seed (default 1)
#   BENCH_JSON_HALF   size of each half of the large file (default 1G = 1 GiB, so >= 2 GB)
#   BENCH_JSON_SMALL  size of each half of the small file (default 100M)
#   BENCH_RUNS        timed runs per command, median reported (default 3)
# The events replay the OTRF JSON and crafted data (tools/gen/escudo-gen --sources
# otrf,crafted) with shifted times, varied hosts and users, and 0.1% injected net share
# commands. Inputs are generated once and reused while the generator and its arguments are
# unchanged. Times are wall-clock medians with the page cache warm (each file is read once
# before timing and hyperfine does one warm-up run).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
ESCUDO="${ESCUDO:-$root/build/escudo}"
BENCH_DATA="${BENCH_DATA:-$here/data}"
SEED="${BENCH_SEED:-1}"
HALF="${BENCH_JSON_HALF:-1G}"
SMALL="${BENCH_JSON_SMALL:-100M}"
RUNS="${BENCH_RUNS:-3}"
RATE=0.001
SOURCES=otrf,crafted
GEN="$root/tools/gen/escudo-gen"
PATTERN='net1?\.exe'

die() { echo "bench_json: $*" >&2; exit 1; }
[ -x "$ESCUDO" ] || die "ESCUDO=$ESCUDO is not executable (run make first)"
for tool in hyperfine rg python3; do
    command -v "$tool" >/dev/null || die "$tool not found (tools/setup.sh installs it)"
done
[ -x /usr/bin/time ] || die "/usr/bin/time not found (Debian package time)"
mkdir -p "$BENCH_DATA"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# gen HALFSIZE -> path of the cached file: an NXLog half (seed S) then a winlogbeat half
# (seed S+1), generated if missing or stale
gen() {
    local size="$1" f meta key
    f="$BENCH_DATA/json-2x$size-seed$SEED.json"
    meta="$f.meta"
    key="escudo-gen $(sha256sum "$GEN" | cut -c1-16) --size $size --seed $SEED --match-rate $RATE --sources $SOURCES --format nxlog+winlogbeat"
    if [ -f "$f" ] && [ -f "$meta" ] && [ "$(head -n1 "$meta")" = "$key" ]; then
        echo "$f"
        return
    fi
    echo "bench_json: generating $f (2 x $size)" >&2
    python3 "$GEN" --format nxlog --size "$size" --seed "$SEED" --match-rate "$RATE" \
        --sources "$SOURCES" -o "$tmp/a.json" 2>"$tmp/gen.log" \
        || { cat "$tmp/gen.log" >&2; die "generator failed"; }
    python3 "$GEN" --format winlogbeat --size "$size" --seed "$((SEED + 1))" \
        --match-rate "$RATE" --sources "$SOURCES" -o "$tmp/b.json" 2>>"$tmp/gen.log" \
        || { cat "$tmp/gen.log" >&2; die "generator failed"; }
    cat "$tmp/a.json" "$tmp/b.json" >"$f"
    rm -f "$tmp/a.json" "$tmp/b.json"
    { echo "$key"; cat "$tmp/gen.log"; } >"$meta"
    echo "$f"
}

# median SECONDS from a hyperfine JSON export
median() { python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$1"; }
# mean CPU SECONDS (user + system) from a hyperfine JSON export
cpu() { python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))["results"][0]; print("%.3f" % (r["user"] + r["system"]))' "$1"; }

# peak RSS in KiB of one escudo hunt
peak_rss() {
    /usr/bin/time -v "$ESCUDO" hunt --format json --quiet "$1" >/dev/null 2>"$tmp/time.txt" \
        || { cat "$tmp/time.txt" >&2; die "escudo hunt failed on $1"; }
    awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time.txt"
}

big="$(gen "$HALF")"
small="$(gen "$SMALL")"
big_bytes=$(stat -c %s "$big")
small_bytes=$(stat -c %s "$small")
big_lines=$(wc -l <"$big")

echo "bench_json: warming the page cache" >&2
cat "$big" "$small" >/dev/null

echo "bench_json: timing escudo and rg ($RUNS runs each)" >&2
hyperfine -N --style none --warmup 1 --runs "$RUNS" --export-json "$tmp/escudo.json" \
    "$ESCUDO hunt --format json --quiet $big" >&2
hyperfine -N --style none --warmup 1 --runs "$RUNS" --export-json "$tmp/rg.json" \
    "rg -c -i $PATTERN $big" >&2
t_escudo=$(median "$tmp/escudo.json")
t_rg=$(median "$tmp/rg.json")
c_escudo=$(cpu "$tmp/escudo.json")
c_rg=$(cpu "$tmp/rg.json")
c_ratio=$(python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$c_escudo" "$c_rg")
load="$(cut -d' ' -f1-3 /proc/loadavg)"

echo "bench_json: peak memory" >&2
rss_big=$(peak_rss "$big")
rss_small=$(peak_rss "$small")
rows=$("$ESCUDO" hunt --format json --quiet "$big" | wc -l)
"$ESCUDO" hunt --format json --summary-json "$tmp/summary.json" "$big" >/dev/null 2>&1 || true
summary=$(python3 -c 'import json,sys
try:
    s = json.load(open(sys.argv[1]))
except Exception:
    print("n/a"); sys.exit(0)
keys = ("events", "prefiltered", "process_events", "malformed", "warnings")
print(", ".join("%s %s" % (k, s[k]) for k in keys if k in s) or "n/a")' "$tmp/summary.json")
rg_lines=$(rg -c -i "$PATTERN" "$big")

read -r time_ratio mem_ratio mbps rss_big_mb rss_small_mb time_ok mem_ok < <(python3 - \
    "$t_escudo" "$t_rg" "$rss_big" "$rss_small" "$big_bytes" <<'PY'
import sys
te, tr, rb, rs, nb = (float(x) for x in sys.argv[1:])
time_ratio, mem_ratio = te / tr, rb / rs
print("%.2f %.2f %.0f %.1f %.1f %s %s" % (
    time_ratio, mem_ratio, nb / te / 1e6, rb / 1024, rs / 1024,
    "yes" if time_ratio <= 3 else "NO", "yes" if mem_ratio <= 1.5 else "NO"))
PY
)

cpu="$(lscpu | awk -F': *' '/Model name/ {print $2; exit}')"
ncpu="$(nproc)"
mem="$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
os="$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME" || uname -s)"
rev="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
ver="$("$ESCUDO" --version 2>/dev/null | head -n1)"

cat <<MD
## JSON

- Machine: $cpu, $ncpu CPUs, $mem RAM, $os, Linux $(uname -r)
- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); $ver (git $rev); $(rg --version | head -n1); hyperfine $(hyperfine --version | awk '{print $2}')
- Input: \`$(basename "$big")\`, $big_bytes bytes, $big_lines lines: NXLog-style flat JSON
  lines then winlogbeat 7 JSON lines (\`tools/gen/escudo-gen --format nxlog|winlogbeat --size
  $HALF --sources $SOURCES --match-rate $RATE\`, seeds $SEED and $((SEED + 1))); the small file
  is the same with \`--size $SMALL\` ($small_bytes bytes)
- Load average (1, 5, 15 min) after the timed runs: $load on $ncpu CPUs
- escudo found $rows result rows ($summary); rg counted $rg_lines lines matching \`$PATTERN\`

| measure | escudo \`hunt --format json\` | \`rg -c -i '$PATTERN'\` | ratio | goal | met |
|---|---|---|---|---|---|
| time, $big_bytes bytes, median of $RUNS, warm cache | $t_escudo s ($mbps MB/s) | $t_rg s | escudo/rg $time_ratio | <= 3 | $time_ok |
| CPU time (user + system), mean of $RUNS | $c_escudo s | $c_rg s | escudo/rg $c_ratio | | |
| peak RSS, big file | $rss_big_mb MiB | | | | |
| peak RSS, small file | $rss_small_mb MiB | | big/small $mem_ratio | <= 1.5 (flat) | $mem_ok |

Reproduce: \`make bench\` (every benchmark) or \`ESCUDO=build/escudo bash bench/bench_json.sh\`
(generates the inputs under bench/data/ on first use: about 2.4 GB of disk).
MD
