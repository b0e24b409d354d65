#!/usr/bin/env bash
# XmlWinEventLog benchmark: escudo hunting a generated >= 1 GiB XmlWinEventLog file against
# ripgrep counting the candidate lines of the same file, plus escudo's peak memory on 1 GiB
# and on 100 MiB of the same mix. Prints a markdown section on stdout; progress on stderr.
#
# Environment:
#   ESCUDO            the CLI to measure (default build/escudo)
#   BENCH_DATA        cache of generated inputs (default bench/data, git-ignored)
#   BENCH_SEED        generator seed (default 1)
#   BENCH_XML_SIZE    size of the large file (default 1G = 1 GiB)
#   BENCH_XML_SMALL   size of the file for the memory comparison (default 100M)
#   BENCH_RUNS        timed runs per command, median reported (default 3)
#   BENCH_VERIFY      1: also compare escudo's rows on the small file with the independent
#                     reference tests/ref/escudo_ref.py (about a minute)
# Inputs are generated once by tools/gen/escudo-gen and reused while the generator and its
# arguments are unchanged. Times are wall-clock medians with the page cache warm (each
# file is read once before timing and hyperfine does one warm-up run).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
ESCUDO="${ESCUDO:-$root/build/escudo}"
BENCH_DATA="${BENCH_DATA:-$here/data}"
SEED="${BENCH_SEED:-1}"
BIG="${BENCH_XML_SIZE:-1G}"
SMALL="${BENCH_XML_SMALL:-100M}"
RUNS="${BENCH_RUNS:-3}"
RATE=0.001
GEN="$root/tools/gen/escudo-gen"
PATTERN='net1?\.exe'

die() { echo "bench_xml: $*" >&2; exit 1; }
[ -x "$ESCUDO" ] || die "ESCUDO=$ESCUDO is not executable (run make first)"
for tool in hyperfine rg python3; do
    command -v "$tool" >/dev/null || die "$tool not found (tools/setup.sh installs it)"
done
[ -x /usr/bin/time ] || die "/usr/bin/time not found (Debian package time)"
mkdir -p "$BENCH_DATA"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# gen SIZE -> path of the cached file (generated if missing or stale)
gen() {
    local size="$1" f meta key
    f="$BENCH_DATA/xml-$size-seed$SEED.xml"
    meta="$f.meta"
    key="escudo-gen $(sha256sum "$GEN" | cut -c1-16) --size $size --seed $SEED --match-rate $RATE"
    if [ -f "$f" ] && [ -f "$meta" ] && [ "$(head -n1 "$meta")" = "$key" ]; then
        echo "$f"
        return
    fi
    echo "bench_xml: generating $f ($size)" >&2
    python3 "$GEN" --size "$size" --seed "$SEED" --match-rate "$RATE" -o "$f" \
        --render-cache "$BENCH_DATA/evtx-renders" 2>"$tmp/gen.log" \
        || { cat "$tmp/gen.log" >&2; die "generator failed"; }
    { echo "$key"; cat "$tmp/gen.log"; } >"$meta"
    echo "$f"
}

# median SECONDS from a hyperfine JSON export
median() { python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$1"; }
# mean CPU SECONDS (user + system) from a hyperfine JSON export
cpu() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.2f" % (r["user"] + r["system"]))' "$1"; }

# peak RSS in KiB of one escudo hunt
peak_rss() {
    /usr/bin/time -v "$ESCUDO" hunt --format json --quiet "$1" >/dev/null 2>"$tmp/time.txt" \
        || { cat "$tmp/time.txt" >&2; die "escudo hunt failed on $1"; }
    awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time.txt"
}

big="$(gen "$BIG")"
small="$(gen "$SMALL")"
big_bytes=$(stat -c %s "$big")
small_bytes=$(stat -c %s "$small")
gen_line="$(sed -n 's/^escudo-gen: wrote \([0-9]*\) events (\([0-9]*\) injected matching).*/\1 events, \2 of them injected matching events/p' "$big.meta")"

echo "bench_xml: warming the page cache" >&2
cat "$big" "$small" >/dev/null

echo "bench_xml: timing escudo and rg ($RUNS runs each)" >&2
hyperfine -N --style none --warmup 1 --runs "$RUNS" --export-json "$tmp/escudo.json" \
    "$ESCUDO hunt --format json --quiet $big" >&2
hyperfine -N --style none --warmup 1 --runs "$RUNS" --export-json "$tmp/rg.json" \
    "rg -c -i $PATTERN $big" >&2
t_escudo=$(median "$tmp/escudo.json")
t_rg=$(median "$tmp/rg.json")
c_escudo=$(cpu "$tmp/escudo.json")
c_rg=$(cpu "$tmp/rg.json")

echo "bench_xml: peak memory" >&2
rss_big=$(peak_rss "$big")
rss_small=$(peak_rss "$small")
rows=$("$ESCUDO" hunt --format json --quiet "$big" | wc -l)
rg_lines=$(rg -c -i "$PATTERN" "$big")

verify=""
if [ "${BENCH_VERIFY:-0}" = 1 ]; then
    echo "bench_xml: comparing with the reference on $(basename "$small")" >&2
    "$ESCUDO" hunt --format json --quiet "$small" >"$tmp/escudo.jsonl"
    python3 "$root/tests/ref/escudo_ref.py" "$small" >"$tmp/ref.jsonl"
    if cmp -s "$tmp/escudo.jsonl" "$tmp/ref.jsonl"; then
        verify="- Check: on the small file escudo's output is byte-identical to the reference's ($(wc -l <"$tmp/ref.jsonl") rows)"
    else
        verify="- Check: on the small file escudo's output DIFFERS from the reference's (\`diff\` them)"
    fi
fi

read -r time_ratio mem_ratio mbps rss_big_mb rss_small_mb time_ok mem_ok cap_ok < <(python3 - \
    "$t_escudo" "$t_rg" "$rss_big" "$rss_small" "$big_bytes" <<'EOF'
import sys
te, tr, rb, rs, nb = (float(x) for x in sys.argv[1:])
time_ratio, mem_ratio = te / tr, rb / rs
print("%.2f %.2f %.0f %.1f %.1f %s %s %s" % (
    time_ratio, mem_ratio, nb / te / 1e6, rb / 1024, rs / 1024,
    "yes" if time_ratio <= 3 else "NO", "yes" if mem_ratio <= 1.5 else "NO",
    "yes" if rb / 1024 < 64 else "NO"))
EOF
)

cpu="$(lscpu | awk -F': *' '/Model name/ {print $2; exit}')"
ncpu="$(nproc)"
mem="$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
os="$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME" || uname -s)"
rev="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
ver="$("$ESCUDO" --version 2>/dev/null | sed -n 1p)"
rgver="$(rg --version | sed -n 1p)"
human() { python3 -c 'import sys; n=int(sys.argv[1]); print("%.2f GB" % (n/1e9) if n >= 1e9 else "%.0f MB" % (n/1e6))' "$1"; }
big_h="$(human "$big_bytes")"
small_h="$(human "$small_bytes")"

cat <<EOF
## XmlWinEventLog

- Machine: $cpu, $ncpu CPUs, $mem RAM, $os, Linux $(uname -r)
- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); $ver (git $rev); $rgver; hyperfine $(hyperfine --version | awk '{print $2}')
- Input: \`$(basename "$big")\`, $big_bytes bytes: $gen_line
  (\`tools/gen/escudo-gen --size $BIG --seed $SEED --match-rate $RATE\`); the $small_h file is
  \`--size $SMALL\` with the same seed ($small_bytes bytes)
- escudo found $rows result rows; rg counted $rg_lines lines matching \`$PATTERN\`
${verify}

| measure | escudo \`hunt --format json\` | \`rg -c -i '$PATTERN'\` | ratio | goal | met |
|---|---|---|---|---|---|
| time, $big_h, median of $RUNS, warm cache | $t_escudo s ($mbps MB/s) | $t_rg s | escudo/rg $time_ratio | <= 3 | $time_ok |
| CPU time (user+sys, mean) | $c_escudo s | $c_rg s | | | |
| peak RSS, $big_h | $rss_big_mb MiB | | | < 64 MiB | $cap_ok |
| peak RSS, $small_h | $rss_small_mb MiB | | $big_h / $small_h: $mem_ratio | <= 1.5 | $mem_ok |

Reproduce: \`make bench\` (every benchmark) or \`ESCUDO=build/escudo bash bench/bench_xml.sh\`
(generates the inputs under bench/data/ on first use: about 1.1 GB of disk).
EOF
