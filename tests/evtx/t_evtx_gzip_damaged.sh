#!/bin/bash
# A gzip'd EVTX file whose compressed stream is cut off or corrupt: escudo says so once and ends
# (an earlier reader repeated "malformed record" for ever), after printing the records of the
# bytes that did decompress: the first records of the whole file's dump, in order, and at least
# those of dumping what zcat recovers from the same stream as a plain (truncated) EVTX file.
set -eu
escudo="${ESCUDO:-build/escudo}"
shared="${ESC_SHARED_DATA:?ESC_SHARED_DATA not set}"
src="$shared/evtx/AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gzip -c "$src" > "$work/full.gz"
"$escudo" dump --format json "$src" > "$work/all" 2>/dev/null
size=$(stat -c %s "$work/full.gz")
head -c $((size * 6 / 10)) "$work/full.gz" > "$work/cut.gz"
cp "$work/full.gz" "$work/bad.gz"
printf '\377\377\377\377\377\377\377\377' |
    dd of="$work/bad.gz" bs=1 seek=$((size / 2)) conv=notrunc status=none

fail() { echo "t_evtx_gzip_damaged: $*"; exit 1; }

for name in cut bad; do
    for threads in 1 2; do
        timeout 60 "$escudo" dump --format json --threads $threads "$work/$name.gz" \
            > "$work/out" 2> "$work/err" || fail "$name.gz: dump did not end cleanly ($?)"
        want="gzip stream truncated"
        [ $name = bad ] && want="gzip data corrupt"
        [ "$(grep -c "$want" "$work/err")" = 1 ] || fail "$name.gz: not one '$want':
$(head -5 "$work/err")"
        [ "$(wc -l < "$work/err")" -lt 10 ] || fail "$name.gz: $(wc -l < "$work/err") warnings"
        zcat "$work/$name.gz" > "$work/plain.evtx" 2>/dev/null || true
        "$escudo" dump --format json --threads $threads "$work/plain.evtx" > "$work/want" \
            2>/dev/null
        [ -s "$work/want" ] || fail "$name.gz: zcat recovered no record"
        got=$(wc -l < "$work/out")
        [ "$got" -ge "$(wc -l < "$work/want")" ] ||
            fail "$name.gz: $got records, zcat's bytes hold $(wc -l < "$work/want")"
        head -n "$got" "$work/all" | cmp -s - "$work/out" ||
            fail "$name.gz: its $got records are not the file's first $got"
    done
    timeout 60 "$escudo" hunt --quiet "$work/$name.gz" > /dev/null 2>&1 ||
        fail "$name.gz: hunt did not end cleanly ($?)"
done
echo "t_evtx_gzip_damaged: ok"
