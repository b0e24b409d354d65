#!/bin/bash
# The Hyperscan cache from the command line (docs/decisions.md, "Hyperscan cache"): a hunt files
# its databases in $ESCUDO_CACHE_DIR, else $XDG_CACHE_HOME/escudo, else ~/.cache/escudo, in a
# private folder; the next hunt reads them back and prints the same rows; damaged files, an
# empty ESCUDO_CACHE_DIR (no cache) or a folder that cannot be made change no row and no exit
# code. tests/unit/test_hscache.c checks the cache's own cases.
. "$(dirname "$0")/lib.sh"
ARGS=(hunt --quiet --format json --content "$DATA/escu-full" "$DATA/crafted/worked_example.xml")
export HOME=$T/home
mkdir -p "$HOME"
unset XDG_CACHE_HOME

# no cache: the reference rows, nothing written under HOME
ESCUDO_CACHE_DIR= "$ESCUDO" "${ARGS[@]}" >"$T/ref"
rc=$?
[ $rc -eq 0 ] && [ -s "$T/ref" ] && [ -z "$(ls -A "$HOME")" ] &&
    ok "empty ESCUDO_CACHE_DIR: rows, nothing written" || bad "no cache (exit $rc)"

count() { find "$1" -name '*.hsdb' 2>/dev/null | wc -l; }

# the default folder: ~/.cache/escudo, made private
unset ESCUDO_CACHE_DIR
"$ESCUDO" "${ARGS[@]}" >"$T/cold"
n=$(count "$HOME/.cache/escudo")
mode=$(stat -c %a "$HOME/.cache/escudo" 2>/dev/null)
cmp -s "$T/ref" "$T/cold" && [ "$n" -gt 100 ] && [ "$mode" = 700 ] &&
    ok "first hunt: same rows, $n databases filed in ~/.cache/escudo (mode $mode)" ||
    bad "first hunt: $n databases, mode $mode"
bad_modes=$(find "$HOME/.cache/escudo" -name '*.hsdb' ! -perm 600 | wc -l)
[ "$n" -gt 0 ] && [ "$bad_modes" -eq 0 ] && ok "files are mode 600" || bad "$bad_modes files not mode 600"

# read back: the same rows, no new file
before=$(ls "$HOME/.cache/escudo" | sort | md5sum)
"$ESCUDO" "${ARGS[@]}" >"$T/warm"
after=$(ls "$HOME/.cache/escudo" | sort | md5sum)
cmp -s "$T/ref" "$T/warm" && [ "$before" = "$after" ] &&
    ok "second hunt: same rows from the cache, nothing filed again" || bad "second hunt"

# every file damaged (its last byte flipped): the same rows, and the files are filed again
python3 - "$HOME"/.cache/escudo/*.hsdb <<'EOF'
import sys
for p in sys.argv[1:]:
    b = bytearray(open(p, 'rb').read())
    b[-1] ^= 1
    open(p, 'wb').write(bytes(b))
EOF
"$ESCUDO" "${ARGS[@]}" >"$T/damaged"
rc=$?
"$ESCUDO" "${ARGS[@]}" >"$T/mended"
cmp -s "$T/ref" "$T/damaged" && cmp -s "$T/ref" "$T/mended" && [ $rc -eq 0 ] &&
    ok "damaged files: same rows, exit 0" || bad "damaged files (exit $rc)"

# XDG_CACHE_HOME, then ESCUDO_CACHE_DIR, take precedence
XDG_CACHE_HOME=$T/xdg "$ESCUDO" "${ARGS[@]}" >/dev/null
ESCUDO_CACHE_DIR=$T/own XDG_CACHE_HOME=$T/xdg2 "$ESCUDO" "${ARGS[@]}" >/dev/null
[ "$(count "$T/xdg/escudo")" -gt 100 ] && [ "$(count "$T/own")" -gt 100 ] && [ ! -e "$T/xdg2" ] &&
    ok "XDG_CACHE_HOME/escudo, and ESCUDO_CACHE_DIR over it" || bad "folder precedence"

# a folder that cannot be made (under a plain file) or that others may write to: no cache, same rows
touch "$T/file"
ESCUDO_CACHE_DIR=$T/file/cache "$ESCUDO" "${ARGS[@]}" >"$T/nofolder"
rc=$?
mkdir -m 777 "$T/open"
chmod 777 "$T/open"
ESCUDO_CACHE_DIR=$T/open "$ESCUDO" "${ARGS[@]}" >"$T/open.out"
rc2=$?
cmp -s "$T/ref" "$T/nofolder" && cmp -s "$T/ref" "$T/open.out" && [ $rc -eq 0 ] && [ $rc2 -eq 0 ] &&
    [ "$(count "$T/open")" -eq 0 ] &&
    ok "unusable folders: same rows, nothing filed in a folder others may write to" ||
    bad "unusable folders (exit $rc, $rc2)"

exit $fail
