#!/bin/bash
# Symbolic-link loops in a --content folder (issue 19, item 10): three links to `.` in
# detections/ and one to `..` below it made lint and hunt --content walk 3^16 paths (over 100 s,
# 1.1 GB). The content loader's folder walk enters each folder once (device + inode, the input
# walk's esc_dirs_seen), so the one detection is loaded once and both end at once. `escudo
# test`'s own scan of detections/ (detect/ctest_discover.c, for unloadable files and duplicate
# ids) does the same: before, it followed the links to its depth cap and stopped at its
# 100,000-file limit with an error.
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
run 20 test --static-only --content "$C"
check "test --content over link loops: ends, exit 0" rc_is 0
check "test: one static result, no duplicate id" eval 'grep -c "^PASS  static" "$T/out" | grep -qx 1 && ! grep -q "also the id of" "$T/out"'
check "test: RSS < 64 MB" rss_below_mb 64

check "no sanitizer report" no_sanitizer
exit $fail
