#!/bin/bash
# ctest-label: slow (about 20 s, mostly making and testing 100,001 files)
# Limits of `run` and of `escudo test`'s content scan (docs/limits.md):
# - `run` reading a text input: one record with no end within 16 MiB (CHUNK_MAX, sched/run.c)
#   is skipped with a message naming the file and offset and counted malformed; the whole record
#   is skipped up to its end, so the records after it are read and their windows fire;
# - `run`: the windows one record falls in (MAX_COVER, 64): a detection run every minute over
#   the last 60 minutes puts each record in 60 windows and runs; over the last 2 hours (120)
#   the detection is refused when the run starts, by name (exit 2);
# - `escudo test` over a content folder (CTEST_YAML_MAX, SCAN_MAX_*, detect/ctest_discover.c): a
#   detection file over 4 MiB, a folder 17 levels below detections/ (both static failures naming
#   the file or folder, exit 1), more than 100,000 detection files (error, exit 3).
. "$(dirname "$0")/lib.sh"
SEED=743a322c-9a68-4a0f-9c17-85d9cce2a27c
NAME="Create or delete windows shares using net exe"

# ---- run: a record longer than 16 MiB ----------------------------------------------------------
# A-HOST, then one 17 MiB line (BIG), then Z-HOST: the seed's rows are by dest
sysmon_json "$T/big.json" A-HOST BIG:1:17825792 Z-HOST
OFF=$(head -1 "$T/big.json" | wc -c)
RUNBIG=(run --enable $SEED --clock-speed max --clock-start 2024-03-06T09:00:00Z
    --once-until 2024-03-06T12:00:00Z --state "$T/stbig" --notables "$T/rn.jsonl")
run 120 "${RUNBIG[@]}" "$T/big.json"
check "record over 16 MiB: exit 0, skipped with file and offset" \
    eval 'rc_is 0 && err_has "escudo: $T/big.json: offset $OFF: no record end within 16777216 bytes: skipped"'
check "record over 16 MiB: one message, counted malformed, the two others read" \
    eval '[ "$(grep -c "no record end" "$T/err")" -eq 1 ] && err_has "escudo: 2 records, 3 windows fired, 2 notables, 4 risk events, 1 malformed,"'
check "record over 16 MiB: the notables of the lines before and after it" \
    eval '[ "$(wc -l <"$T/rn.jsonl")" -eq 2 ] && grep -q "\"dest\":\"A-HOST\"" "$T/rn.jsonl" && grep -q "\"dest\":\"Z-HOST\"" "$T/rn.jsonl" && ! grep -q BIG "$T/rn.jsonl"'
check "record over 16 MiB: RSS < 512 MB, no sanitizer report" eval 'rss_below_mb 512 && no_sanitizer'
# a line appended later is read (the input's offset is past the skipped record)
python3 -c 'import sys; l = open(sys.argv[1]).readline(); open(sys.argv[1], "a").write(l.replace("A-HOST", "N-HOST").replace("09:30:00", "12:30:00"))' "$T/big.json"
RUNBIG[8]=2024-03-06T14:00:00Z
run 120 "${RUNBIG[@]}" "$T/big.json"
check "record over 16 MiB: a line appended later is read, the big one not again" \
    eval 'rc_is 0 && ! err_has "no record end" && err_has "escudo: 1 records," && [ "$(wc -l <"$T/rn.jsonl")" -eq 3 ] && grep -q "\"dest\":\"N-HOST\"" "$T/rn.jsonl"'
rm -f "$T/big.json"

# ---- run: windows one record falls in ----------------------------------------------------------
sysmon_json "$T/big.json" A-HOST
# a local deployment of the seed's type (TTP) that runs every minute over the last W minutes
for w in 60 120; do
    mkdir -p "$T/cover$w/deployments"
    printf 'name: Local TTP\ntype: TTP\nscheduling:\n  cron_schedule: "* * * * *"\n  earliest_time: -%dm@m\n  latest_time: -0m@m\nalert_action:\n  notable:\n    rule_title: "%%name%%"\n    rule_description: "%%description%%"\n    nes_fields: [user, dest]\n' \
        $w >"$T/cover$w/deployments/ttp.yml"
done
COVER=(run --enable $SEED --clock-speed max --clock-start 2024-03-06T09:00:00Z
    --once-until 2024-03-06T12:00:00Z --notables "$T/cn.jsonl")
run 120 "${COVER[@]}" --local "$T/cover60" --state "$T/stc60" "$T/big.json"
check "60 windows per record: exit 0, each of the 60 fires a notable" \
    eval 'rc_is 0 && [ "$(wc -l <"$T/cn.jsonl")" -eq 60 ] && no_sanitizer'
rm -f "$T/cn.jsonl"
run 120 "${COVER[@]}" --local "$T/cover120" --state "$T/stc120" "$T/big.json"
check "120 windows per record: refused at start, naming the detection (exit 2)" \
    eval 'rc_is 2 && err_has "Create or delete windows shares using net exe: a record would fall in more than 64 windows"'
check "120 windows per record: no notable, no sanitizer report" \
    eval '[ ! -s "$T/cn.jsonl" ] && no_sanitizer'

# ---- escudo test: the content scan ------------------------------------------------------------
# One folder with a detection file of 4 MiB + 1 byte, a detection 16 folders below detections/
# (read) and one 17 below (not read), tested statically as a whole (the scan runs when no
# detection is named)
C=$T/ct/detections
D16=$C$(printf '/l%d' $(seq 16))
mkdir -p "$D16/l17"
BYNAME="| tstats count from datamodel=Endpoint.Processes by Processes.process_name"
detection "$D16/depth_16.yml" "depth 16" "$BYNAME"
detection "$D16/l17/depth_17.yml" "depth 17" "$BYNAME"
python3 -c 'import sys; open(sys.argv[1], "w").write("name: big\n" + "#" * ((4 << 20) + 1 - 10))' "$C/big.yml"
run 60 test --local "$T/ct" --static-only
check "scan: detection file of 4 MiB + 1: a static failure naming it" \
    eval 'grep -Eq "^FAIL +static +$C/big.yml\$" "$T/out" && grep -qx "      - larger than 4194304 bytes; not loaded" "$T/out"'
check "scan: folder 17 deep: a static failure naming it" \
    eval 'grep -Eq "^FAIL +static +$D16/l17\$" "$T/out" && grep -qx "      - folders nested deeper than 16; not read" "$T/out"'
check "scan: the detection 16 deep is tested, the one 17 deep is not" \
    eval 'grep -Eq "^(PASS|FAIL) +static +depth 16\$" "$T/out" && ! grep -q "depth 17" "$T/out"'
check "scan: exit 1 (failures), the other detections pass, no sanitizer report" \
    eval 'rc_is 1 && grep -Eq "^PASS +static +$NAME\$" "$T/out" && no_sanitizer'
rm -rf "$T/ct"

# 100,001 detection files: one real detection, then 100,000 empty ones. Loading reads the first
# 100,000 (with a content warning); the scan of `escudo test` refuses the folder (exit 3). With
# 100,000 the scan reports each empty file as a static failure.
mkdir -p "$T/many/detections"
detection "$T/many/detections/a_seed.yml" "$NAME" "$(sed -n 's/^search: //p' "$SRC/content/detections/endpoint/create_or_delete_windows_shares_using_net_exe.yml" | sed 's/^"\(.*\)"$/\1/')"
python3 - "$T/many/detections" <<'PY'
import os, sys
d = sys.argv[1]
for i in range(100000):
    open(os.path.join(d, "f%06d.yml" % i), "w").close()
PY
run 60 test --local "$T/many" --static-only
check "100,001 detection files: exit 3 with the limit's message" \
    eval 'rc_is 3 && err_has "escudo: error: $T/many: more than 100000 detection files"'
check "100,001 detection files: nothing printed, no sanitizer report" eval 'out_lines 0 && no_sanitizer'
rm "$T/many/detections/f099999.yml"
# (2 s in the plain build; more than 5 minutes under ASan, which pays for the 4 MiB read buffer
# the scan allocates for every file: one reason this test is labelled slow)
run 60 test --local "$T/many" --static-only
check "100,000 detection files: each empty one a static failure (exit 1)" \
    eval 'rc_is 1 && [ "$(grep -c "^FAIL  static       $T/many/detections/f0" "$T/out")" -eq 99999 ] && no_sanitizer'
rm -rf "$T/many"
finish
