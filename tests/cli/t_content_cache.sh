#!/bin/bash
# The content cache (docs/decisions.md, "Content cache"): the parsed tree of each content YAML
# file is kept, one cache file per content set, in the cache folder beside the Hyperscan
# databases, and read back by later runs. It never changes a result: lint and hunt over
# escu-full give the same bytes with no cache, with the cache being filled and with it read
# back; an edited file is parsed again (a tree's key is its file's bytes); a damaged cache file,
# or another set's under this set's name, is parsed again silently and written anew; a file
# that does not parse is never kept, so its warning comes every run; the folder keeps the newest
# 16 sets' files.
. "$(dirname "$0")/lib.sh"
SRC=${ESC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
C=$T/cache
trees() { find "$C" -name '*.ytree' 2>/dev/null | wc -l; }
run() { # cache folder ("" for none), output file, escudo arguments...
    local dir=$1 out=$2
    shift 2
    ESCUDO_CACHE_DIR=$dir "$ESCUDO" "$@" >"$out" 2>&1
}

L=(lint --content "$DATA/escu-full" --format json)
H=(hunt --quiet --format json --evidence --content "$DATA/escu-full" "$DATA/evtx")
run "" "$T/lint0" "${L[@]}"
run "" "$T/hunt0" "${H[@]}"
run "$C" "$T/lint1" "${L[@]}"
F=$(find "$C" -name '*.ytree')
[ "$(echo "$F" | wc -l)" -eq 1 ] && [ "$(stat -c %s "$F")" -gt 1000000 ] &&
    cmp -s "$T/lint0" "$T/lint1" && ok "first lint: same verdicts, one cache file for the set" ||
    bad "first lint ($F)"
[ "$(stat -c %a "$F")" = 600 ] && ok "the cache file is mode 600" || bad "mode"
sum1=$(sha256sum <"$F")
run "$C" "$T/lint2" "${L[@]}"
run "$C" "$T/hunt2" "${H[@]}"
[ "$(find "$C" -name '*.ytree' | wc -l)" -eq 1 ] && [ "$(sha256sum <"$F")" = "$sum1" ] &&
    cmp -s "$T/lint0" "$T/lint2" && cmp -s "$T/hunt0" "$T/hunt2" &&
    ok "read back: same verdicts and rows, the file not written again" || bad "read back"

# damaged: cut in half (its CRC-32 fails), then another set's file under this set's name
truncate -s $(($(stat -c %s "$F") / 2)) "$F"
run "$C" "$T/lint3" "${L[@]}"
rc=$?
[ $rc -eq 0 ] && cmp -s "$T/lint0" "$T/lint3" && [ "$(sha256sum <"$F")" = "$sum1" ] &&
    ok "a cut cache file: same verdicts, exit 0, written anew" || bad "cut file (exit $rc)"
ESCUDO_CACHE_DIR=$T/other "$ESCUDO" lint --content "$SRC/content" >/dev/null 2>&1
cp "$(find "$T/other" -name '*.ytree')" "$F"
run "$C" "$T/lint4" "${L[@]}"
rc=$?
[ $rc -eq 0 ] && cmp -s "$T/lint0" "$T/lint4" && [ "$(sha256sum <"$F")" = "$sum1" ] &&
    ok "another set's cache file: same verdicts, exit 0, written anew" || bad "other set (exit $rc)"

# an edited file is parsed again; a file that does not parse warns every time
mkdir -p "$T/own"
cp -r "$SRC/content/." "$T/own/"
D=$T/own/detections/endpoint/create_or_delete_windows_shares_using_net_exe.yml
printf 'name: [unclosed\n' >"$T/own/detections/endpoint/broken.yml"
run "$C" "$T/own1" lint --verbose --content "$T/own"
sed -i 's/^name: Create or delete windows shares using net exe$/name: Renamed For The Test/' "$D"
run "$C" "$T/own2" lint --verbose --content "$T/own"
grep -q "Create or delete windows shares using net exe" "$T/own1" &&
    grep -q "Renamed For The Test" "$T/own2" && ! grep -q "Create or delete windows" "$T/own2" &&
    ok "an edited detection is read anew" || bad "edited detection"
[ "$(grep -c 'broken.yml' "$T/own1")" -ge 1 ] && [ "$(grep -c 'broken.yml' "$T/own2")" -ge 1 ] &&
    ok "a file that does not parse warns every run" || bad "broken file warnings"
# content copied to a new folder each run is a new set each time: the folder keeps the newest 16
for i in $(seq 1 20); do
    mkdir -p "$T/set$i"
    cp -r "$SRC/content/." "$T/set$i/"
    ESCUDO_CACHE_DIR=$T/many "$ESCUDO" lint --content "$T/set$i" >/dev/null 2>&1
    sleep 0.01
done
n=$(find "$T/many" -name '*.ytree' | wc -l)
ESCUDO_CACHE_DIR=$T/many "$ESCUDO" lint --content "$T/set20" >/dev/null 2>&1
ESCUDO_CACHE_DIR=$T/probe "$ESCUDO" lint --content "$T/set20" >/dev/null 2>&1
newest=$(basename "$(find "$T/probe" -name '*.ytree')")
[ "$n" -eq 16 ] && [ -f "$T/many/$newest" ] &&
    ok "twenty sets: the newest 16 files kept, the last set's among them" || bad "pruning ($n files)"
exit $fail
