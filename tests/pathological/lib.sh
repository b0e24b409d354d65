# Shared by the pathological tests (sourced, not a test itself).
# Every run of the CLI goes through `run`: a hard timeout, peak RSS from /usr/bin/time, stdout,
# stderr and exit code kept in $T; a sanitizer report in stderr fails the check that follows.
set -u
ESCUDO=${ESCUDO:-build/escudo}
SRC=${ESC_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DATA=${ESC_SHARED_DATA:-$SRC/../shared/data}
CRAFTED=$DATA/crafted
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
RC=0
RSS=0

check() { # name command...
    local name=$1
    shift
    if "$@"; then echo "ok: $name"; else
        echo "FAIL: $name"
        fail=1
    fi
}

# run SECONDS args... : escudo with a hard timeout; sets RC, RSS (KB), $T/out, $T/err
run() {
    local secs=$1
    shift
    /usr/bin/time -f "%U %S
%M" -o "$T/rss" timeout -k 5 "$secs" "$ESCUDO" "$@" >"$T/out" 2>"$T/err"
    RC=$?
    RSS=$(tail -1 "$T/rss" 2>/dev/null | grep -E '^[0-9]+$' || echo 0)
    echo "  escudo $(printf '%.60s' "$*"): exit $RC, ${RSS} KB, $(wc -l <"$T/out") lines out"
}

# like run, with standard input from a command: run_stdin SECONDS 'producer' args...
run_stdin() {
    local secs=$1 producer=$2
    shift 2
    bash -c "$producer" | /usr/bin/time -f "%M" -o "$T/rss" timeout -k 5 "$secs" "$ESCUDO" "$@" \
        >"$T/out" 2>"$T/err"
    RC=${PIPESTATUS[1]}
    RSS=$(tail -1 "$T/rss" 2>/dev/null | grep -E '^[0-9]+$' || echo 0)
    echo "  escudo $(printf '%.60s' "$*") < ($producer): exit $RC, ${RSS} KB"
}

no_sanitizer() { ! grep -qE "Sanitizer|runtime error:" "$T/err"; }
rc_is() { [ "$RC" -eq "$1" ]; }
rss_below_mb() { [ "$RSS" -lt $(($1 * 1024)) ]; }
# CPU seconds (user + system) of the last run() below $1: a cost check that load does not move
cpu_below_s() { awk -v cap="$1" 'NR == 1 { exit !($1 + $2 < cap) }' "$T/rss"; }
err_has() { grep -qF -- "$1" "$T/err"; }
out_lines() { [ "$(wc -l <"$T/out")" -eq "$1" ]; }

# A copy of the shipped seed detection with another name, id and search (for --detection).
# detection FILE NAME SEARCH   (SEARCH may be @FILE)
detection() {
    python3 - "$SRC/content/detections/endpoint/create_or_delete_windows_shares_using_net_exe.yml" \
        "$@" <<'PY'
import re, sys, hashlib
src, out, name, search = sys.argv[1:5]
if search.startswith("@"):  # @FILE: the search is in FILE (too long for an argument)
    search = open(search[1:], encoding="utf-8").read().strip()
d = open(src, encoding="utf-8").read()
d = re.sub(r"^search: .*$", lambda m: "search: " + '"' + search.replace("\\", "\\\\").replace('"', '\\"') + '"', d, flags=re.M)
d = d.replace("name: Create or delete windows shares using net exe", "name: " + name, 1)
h = hashlib.sha1(name.encode()).hexdigest()
d = d.replace("743a322c-9a68-4a0f-9c17-85d9cce2a27c", "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:32]))
open(out, "w", encoding="utf-8").write(d)
PY
}

# sysmon_json FILE HOST[:N[:BYTES]]...: the seed detection's Sysmon EventID 1 (`net share`) as
# JSON lines, N events per host (default 1); with BYTES, event i's parent command line is BYTES
# copies of the letter 'a' + i (distinct values, so values() keeps them all)
sysmon_json() {
    python3 - "$@" <<'PY'
import json, sys
base = {"SourceName": "Microsoft-Windows-Sysmon", "EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational",
        "TimeCreated": "2024-03-06T09:30:00.000Z", "@timestamp": "2024-03-06T09:30:00.000Z",
        "Image": "C:\\Windows\\System32\\net.exe", "OriginalFileName": "net.exe",
        "CommandLine": "net share x=c:\\", "User": "CORP\\svc",
        "ParentImage": "C:\\Windows\\System32\\cmd.exe", "ParentCommandLine": "cmd.exe"}
with open(sys.argv[1], "w") as f:
    for spec in sys.argv[2:]:
        host, n, size = (spec.split(":") + ["1", "0"])[:3]
        for i in range(int(n)):
            o = dict(base, Hostname=host)
            if int(size):
                o["ParentCommandLine"] = chr(ord("a") + i) * int(size)
            f.write(json.dumps(o) + "\n")
PY
}

# sysmon_xml FILE N [PROBE_FROM]: N Sysmon EventID 1 events as XmlWinEventLog, event i of its
# own ProcessGuid {g<i>} (five digits) and host h<i>, image probe.exe from event PROBE_FROM on
# (default: none) and other.exe before
sysmon_xml() {
    python3 - "$@" <<'PY'
import sys
out, n = sys.argv[1], int(sys.argv[2])
probe = int(sys.argv[3]) if len(sys.argv) > 3 else n
ev = ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
      "<Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID>"
      "<TimeCreated SystemTime='2026-01-01T00:00:00.000000Z'/><EventRecordID>{i}</EventRecordID>"
      "<Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>h{i:05d}</Computer>"
      "</System><EventData><Data Name='UtcTime'>2026-01-01 00:00:00.000</Data>"
      "<Data Name='ProcessGuid'>{{g{i:05d}}}</Data><Data Name='ProcessId'>1</Data>"
      "<Data Name='Image'>C:\\x\\{img}</Data><Data Name='CommandLine'>{img}</Data>"
      "<Data Name='User'>D\\u</Data><Data Name='ParentImage'>C:\\x\\p.exe</Data></EventData>"
      "</Event>\n")
with open(out, "w") as f:
    for i in range(n):
        f.write(ev.format(i=i, img="probe.exe" if i >= probe else "other.exe"))
PY
}

finish() {
    if [ "$fail" -ne 0 ]; then echo "FAILED"; exit 1; fi
    echo "all passed"
}
