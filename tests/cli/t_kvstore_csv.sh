#!/bin/bash
# A KV-store lookup given as a CSV by a later --content folder (docs/content.md): ESCU defines
# zoom_first_time_child_process as a collection, so First Time Seen Child Process of Zoom is
# refused with a message that says how to give it a table; a folder holding lookups/NAME.yml
# and its CSV shadows the collection, lint calls the detection supported, and the hunt keeps
# the child that the table has not seen (b.exe: no row, firstTimeSeen null) and drops the one
# it has, seen long ago (a.exe, firstTimeSeen 2017, before relative_time(now(), ...)) and the
# child of another parent (c.exe).
. "$(dirname "$0")/lib.sh"
DET="First Time Seen Child Process of Zoom"

mkdir -p "$T/local/lookups"
printf 'name: zoom_first_time_child_process\nfilename: zoom_first_time_child_process.csv\n' \
    >"$T/local/lookups/zoom_first_time_child_process.yml"
printf '_key,dest,process_name,firstTimeSeen,lastTimeSeen\nk1,host1,a.exe,1500000000,1600000000\n' \
    >"$T/local/lookups/zoom_first_time_child_process.csv"

ev() { # record, image, parent image
    printf "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
    printf "<Provider Name='Microsoft-Windows-Sysmon' Guid='{5770385F-C22A-43E0-BF4C-06F5698FFBD9}'/>"
    printf "<EventID>1</EventID><TimeCreated SystemTime='2024-05-01T10:00:0%s.000Z'/>" "$1"
    printf "<EventRecordID>%s</EventRecordID><Channel>Microsoft-Windows-Sysmon/Operational</Channel>" "$1"
    printf "<Computer>host1</Computer></System><EventData><Data Name='ProcessId'>500%s</Data>" "$1"
    printf "<Data Name='Image'>%s</Data><Data Name='CommandLine'>x</Data>" "$2"
    printf "<Data Name='ParentProcessId'>4000</Data><Data Name='ParentImage'>%s</Data>" "$3"
    printf "</EventData></Event>\n"
}
{
    ev 1 'C:\Tools\a.exe' 'C:\Program Files\Zoom\bin\Zoom.exe'
    ev 2 'C:\Tools\b.exe' 'C:\Program Files\Zoom\bin\Zoom.exe'
    ev 3 'C:\Tools\c.exe' 'C:\Windows\System32\cmd.exe'
} >"$T/zoom.xml"

"$ESCUDO" lint --content "$DATA/escu-full" >"$T/lint0" 2>&1
grep -q "^unsupported .*$DET: lookup 'zoom_first_time_child_process' has no CSV (KV-store collections are not read; a later --content folder can give it one)" "$T/lint0" &&
    ok "the collection alone: refused, saying how to give it a table" || bad "lint without the CSV"
"$ESCUDO" lint --content "$DATA/escu-full" --content "$T/local" >"$T/lint1" 2>&1
grep -q "^supported .*$DET\$" "$T/lint1" && ok "shadowed by a CSV lookup: supported" ||
    bad "lint with the CSV"

"$ESCUDO" hunt --quiet --format json --content "$DATA/escu-full" --content "$T/local" \
    --detection "$DET" --now 2024-05-02T00:00:00Z "$T/zoom.xml" >"$T/rows"
rc=$?
want='{"firstTime": "2024-05-01T10:00:02", "dest": "host1", "process_id": "5002", "process_name": ["b.exe"], "parent_process_id": ["4000"], "parent_process_name": ["Zoom.exe"]}'
[ $rc -eq 0 ] && [ "$(cat "$T/rows")" = "$want" ] && ok "one row: the child the table has not seen" ||
    { bad "hunt rows (exit $rc)"; cat "$T/rows"; }
exit $fail
