#!/bin/bash
# Symbolic-link loops in a --content folder (issue 19, item 10): three links to `.` in
# detections/ and one to `..` below it made lint and hunt --content walk 3^16 paths (over 100 s,
# 1.1 GB). The content loader's folder walk enters each folder once (device + inode, the input
# walk's esc_dirs_seen), so the one detection is loaded once and both end at once.
# Not covered here: `escudo test`'s own scan of the content (detect/ctest.c) still follows the
# links up to its depth cap and stops at its file-count limit.
. "$(dirname "$0")/lib.sh"
C=$T/content
mkdir -p "$C/detections/endpoint"
cp -r "$DATA/escu/macros" "$DATA/escu/deployments" "$C/"
cp "$SRC/content/detections/endpoint/create_or_delete_windows_shares_using_net_exe.yml" \
    "$C/detections/endpoint/"
ln -s . "$C/detections/a"
ln -s . "$C/detections/b"
ln -s . "$C/detections/c"
ln -s .. "$C/detections/endpoint/up"
ESCUDO=$(realpath "$ESCUDO")
CRAFTED=$(realpath "$CRAFTED")
cd "$T" # a short relative path: the walk is not cut short by PATH_MAX
C=content

run 20 lint --content "$C"
check "lint over link loops: ends, exit 0" rc_is 0
check "lint: the detection counted once" grep -q "^1 detections" "$T/out"
check "lint: RSS < 64 MB" rss_below_mb 64

run 20 hunt --content "$C" --format json "$CRAFTED/sysmon.xml"
check "hunt --content over link loops: ends, exit 0" rc_is 0
check "hunt: rows from the one detection" eval '[ "$(wc -l <"$T/out")" -ge 1 ]'
check "hunt: no duplicate-id warning" eval '! grep -qi duplicate "$T/err"'
check "no sanitizer report" no_sanitizer
exit $fail
