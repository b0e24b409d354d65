#!/bin/bash
# File-system oddities as inputs: a directory with symbolic-link loops (followed once, each file
# read once), a FIFO fed by another process, /dev/zero (one "unknown format" warning after the
# 64 KiB sniff, not an endless read), /dev/null, an empty directory, and a directory tree 300
# levels deep (docs/limits.md: directory depth 256).
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/loop/sub"
cp "$CRAFTED/worked_example.xml" "$T/loop/sub/"
ln -s .. "$T/loop/sub/up"
ln -s . "$T/loop/self"
ln -s "$T/loop" "$T/loop/sub/abs"
run 30 hunt --format json --summary-json "$T/sum.json" "$T/loop"
check "symlink loops: exit 0, the file read once (2 rows)" eval 'rc_is 0 && out_lines 2'
check "symlink loops: one input" python3 -c "import json,sys; sys.exit(json.load(open('$T/sum.json'))['inputs'] != 1)"
check "symlink loops: no sanitizer report" no_sanitizer

mkfifo "$T/fifo"
(cat "$CRAFTED/worked_example.xml" >"$T/fifo") &
run 30 hunt --format json "$T/fifo"
wait
check "FIFO: exit 0, 2 rows" eval 'rc_is 0 && out_lines 2'

run 30 hunt --format json --summary-json "$T/sum.json" /dev/zero
check "/dev/zero: exit 0 with an unknown-format warning" eval 'rc_is 0 && err_has "/dev/zero: offset 0: not in a known format"'
check "/dev/zero: counted" python3 -c "import json,sys; sys.exit(json.load(open('$T/sum.json'))['inputs_unknown'] != 1)"
check "/dev/zero: RSS < 64 MB" rss_below_mb 64

run 30 hunt --format json /dev/null
check "/dev/null: exit 0, no rows" eval 'rc_is 0 && out_lines 0'

mkdir "$T/empty"
run 30 hunt --format json "$T/empty"
check "empty directory: exit 0, no rows (no qsort of an empty list under UBSan)" eval 'rc_is 0 && out_lines 0 && no_sanitizer'

# 300 levels of directories: the shallow file is read; the deep one is beyond the walk's depth
# (256 levels): reported as not read, and the run exits 3 as for any input it could not read
p=$T/deep
for _ in $(seq 300); do p=$p/d; done
mkdir -p "$p"
cp "$CRAFTED/worked_example.xml" "$T/deep/"
sed 's/test=C:/deep=C:/g' "$CRAFTED/worked_example.xml" >"$p/deep.xml"
run 30 hunt --format json "$T/deep"
check "300-deep tree: ends, the shallow file's rows" eval 'rc_is 3 && out_lines 2 && no_sanitizer'
check "300-deep tree: the skipped folder is reported and counted" eval 'grep -q "nested deeper than 256 levels" "$T/err" && grep -q ", 1 warnings," "$T/err"'
finish
