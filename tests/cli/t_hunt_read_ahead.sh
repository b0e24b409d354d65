#!/bin/bash
# hunt reads a file ahead on a second thread (--threads 2, the default; detect/feed.c "Reading
# ahead"): the rows, their evidence, every warning (in order, with its file and offset) and the
# summary's counts are those of --threads 1, which reads each event when it is handled. Inputs:
# EVTX attack samples and damaged EVTX files, OTRF JSON, the crafted samples of every format
# of ../shared/data, a gzip file, crafted XML whose broken, truncated and repaired events
# fall on both sides of the reading thread's batches (256 events), a file whose first event
# is 1 MB (the batches' arenas keep a first block that large), and one of 12 events of 1 MB
# among small ones (each closes its batch: when the calling thread falls behind, the bytes of
# the full batches, AHEAD_HELD, stop the reading thread before their count does; whether it
# falls that far behind depends on timing, so only the output is checked here). The reading
# thread leaves events to the calling thread to prepare when that one waits (AHEAD_LEAVE_BELOW);
# which ones also depends on timing, so --threads 2 runs three times: as it comes, with every
# event left (ESCUDO_TEST_AHEAD_LEAVE=all) and with none.
. "$(dirname "$0")/lib.sh"
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }

python3 - "$T/mixed.xml" "$T/big-first.xml" "$T/big-many.xml" <<'PY'
import sys
out = open(sys.argv[1], "w", encoding="latin-1")  # "\xff" is one byte: invalid UTF-8
def ev(i, body=None):
    cmd = body or f"net share s{i}=C:\\\\ /grant:everyone,full"
    out.write("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
              "<Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID>"
              f"<TimeCreated SystemTime='2024-03-06T10:{i // 60 % 60:02d}:{i % 60:02d}.000Z'/>"
              f"<EventRecordID>{i}</EventRecordID>"
              "<Channel>Microsoft-Windows-Sysmon/Operational</Channel>"
              f"<Computer>host{i % 7}</Computer></System><EventData>"
              "<Data Name='Image'>C:\\Windows\\System32\\net.exe</Data>"
              f"<Data Name='CommandLine'>{cmd}</Data>"
              "<Data Name='ParentImage'>C:\\Windows\\explorer.exe</Data>"
              f"<Data Name='User'>CORP\\u{i % 3}</Data></EventData></Event>\n")
for i in range(1, 1100):
    if i % 97 == 0:
        out.write("<Event><System><EventID>1</EventID></System><Bad attr='x></Event>\n")
    elif i % 61 == 0:
        ev(i, "net share bad\xff")
    else:
        ev(i)
out.write("<Event><System><EventID>1</EventID>")  # truncated at the end of input
out.close()
# a first event of 1 MB: the batches' arenas keep their first block, which is that large
out = open(sys.argv[2], "w", encoding="latin-1")
ev(1, "net share big=C:\\ " + "A" * 1000000)
for i in range(2, 300):
    ev(i)
out = open(sys.argv[3], "w", encoding="latin-1")
for i in range(1, 200):
    ev(i, f"net share big{i}=C:\\ " + "A" * 1000000 if i % 16 == 0 else None)
PY
gzip -c "$T/mixed.xml" >"$T/mixed.xml.gz"

run() { # name threads leave paths... (leave: ESCUDO_TEST_AHEAD_LEAVE, "" for unset)
    local n=$1.$2$3 t=$2 l=$3
    shift 3
    ESCUDO_TEST_AHEAD_LEAVE=$l "$ESCUDO" hunt --content "$DATA/escu-full" --format json --evidence --threads "$t" \
        --max-warnings 1000000 --summary-json "$T/$n.sum" "$@" >"$T/$n.out" 2>"$T/$n.err"
    echo $? >"$T/$n.rc"
    sed -i 's/"elapsed_s": [0-9.]*, "mb_per_s": [0-9.]*, //' "$T/$n.sum"
    grep -v '^escudo: [0-9,]* events\|elapsed\|MB/s' "$T/$n.err" >"$T/$n.warn"
}
check() { # name paths...
    local n=$1 l
    shift
    run "$n" 1 "" "$@"
    local rows warns
    rows=$(wc -l <"$T/$n.1.out")
    warns=$(grep -c warning "$T/$n.1.warn")
    for l in "" all none; do
        run "$n" 2 "$l" "$@"
        if cmp -s "$T/$n.1.out" "$T/$n.2$l.out" && cmp -s "$T/$n.1.warn" "$T/$n.2$l.warn" &&
            cmp -s "$T/$n.1.sum" "$T/$n.2$l.sum" && cmp -s "$T/$n.1.rc" "$T/$n.2$l.rc"; then
            ok "$n: $rows rows, $warns warnings, the same with and without reading ahead${l:+ (left: $l)}"
        else
            bad "$n: reading ahead${l:+ (left: $l)} changed the output"
            diff "$T/$n.1.warn" "$T/$n.2$l.warn" | head -5
            diff "$T/$n.1.sum" "$T/$n.2$l.sum" | head -5
        fi
    done
}

R=$DATA/evtx-rs
check evtx "$DATA/evtx/Lateral_Movement" "$DATA/evtx/Credential_Access" \
    "$R/sample_with_a_bad_chunk_magic.evtx" "$R/Application_no_crc32.evtx" \
    "$R/security_bad_string_cache.evtx" "$R/sample-with-zero-data-size-event.evtx" \
    "$R/issue_201.evtx"
check json "$DATA/json/otrf/aptsimulator_cobaltstrike_2021-06-11T21081492.json" "$DATA/crafted"
check crafted "$T/mixed.xml" "$T/mixed.xml.gz"
check big-first "$T/big-first.xml"
check big-many "$T/big-many.xml"
n=$(grep -c 'offset [0-9]*: ' "$T/crafted.2.warn")
[ "$n" -ge 10 ] && ok "crafted: $n warnings with their offsets" || bad "crafted: $n warnings"
# the events with invalid UTF-8 (every 61st of 1,099, in each of the two files) are repaired
n=$(grep -o '"repaired": [0-9]*' "$T/crafted.2.sum")
[ "$n" = '"repaired": 36' ] && ok "crafted: $n" || bad "crafted: $n, not 36"
rows=$(wc -l <"$T/crafted.2.out")
[ "$rows" -ge 1 ] && ok "crafted: $rows rows" || bad "crafted: no rows"
exit $fail
