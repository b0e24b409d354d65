#!/bin/bash
# ctest-label: heavy
# Content memory: every string a content folder loads lives in one arena capped at 1 GiB
# (ESC_CONTENT_ARENA_CAP, docs/limits.md). 300 detections of 3.9 MB each (a long description;
# each file is under the 4 MiB file cap) need about 1.1 GiB: the load stops with a content error
# (exit 2) instead of growing further; 150 of them (0.6 GiB) load. About 1.2 GB of files in
# $TMPDIR and 1 GiB of memory, hence heavy (`make heavy`).
. "$(dirname "$0")/lib.sh"
mkdir -p "$T/c/detections" "$T/c/macros"
cp "$SRC"/content/macros/*.yml "$T/c/macros/"
python3 - "$SRC/content/detections/endpoint/create_or_delete_windows_shares_using_net_exe.yml" \
    "$T/c/detections" 300 <<'PY'
import re, sys, uuid
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = open(src, encoding="utf-8").read()
body = "x" * (3900 * 1000)
for i in range(n):
    e = d.replace("name: Create or delete windows shares using net exe", "name: big %03d" % i, 1)
    e = re.sub(r"^id: .*$", "id: %s" % uuid.UUID(int=i + 1), e, count=1, flags=re.M)
    e = re.sub(r"^description: .*$", "description: " + body, e, count=1, flags=re.M)
    open("%s/big_%03d.yml" % (out, i), "w", encoding="utf-8").write(e)
PY
run 300 hunt --format json --content "$T/c" "$CRAFTED/worked_example.xml"
check "300 x 3.9 MB detections: exit 2 with the content memory error" \
    eval 'rc_is 2 && err_has "content needs more than 1024 MiB of memory; stopped in $T/c"'
check "300 x 3.9 MB detections: RSS < 1.5 GB, no sanitizer report" eval 'rss_below_mb 1536 && no_sanitizer'
rm -f "$T"/c/detections/big_2??.yml "$T"/c/detections/big_1[5-9]?.yml
run 300 hunt --format json --content "$T/c" "$CRAFTED/worked_example.xml"
check "150 x 3.9 MB detections: they load and run (150 x 2 rows)" eval 'rc_is 0 && out_lines 300'
finish
