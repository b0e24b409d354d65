#!/bin/bash
# escudo lint verdict rules on a small crafted content folder (docs/lint.md), one detection per
# rule, each with its exact reason and span:
#   ok          plans, Sysmon EventID 1                           -> supported
#   dm_linux    Web.Web (no such dataset) AND a Linux source      -> data model first (rule 2 before 3)
#   linux       plannable, Sysmon for Linux only                  -> unmapped source
#   compound    "Sysmon EventID 1 AND Sysmon EventID 11"          -> a Windows source: supported
#   func        eval with a function the planner lacks            -> span of the function name
#   macro       unknown macro                                     -> span into the unexpanded search
#   nosrc       no data_source at all                             -> left to the planner: supported
# and a --local folder that replaces `linux` (same id) with a Windows source makes it supported.
set -u
ESCUDO=${ESCUDO:-build/escudo}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/c/detections" "$T/local/detections"
det() { # file name id data_sources(;-separated, may be empty) search
    {
        echo "name: $2"
        echo "id: $2"
        echo "type: TTP"
        if [ -n "$3" ]; then
            echo "data_source:"
            IFS=';' read -ra ds <<<"$3"
            for s in "${ds[@]}"; do echo "- $s"; done
        fi
        echo "search: '$4'"
    } >"$1"
}
TS='| tstats count from datamodel=Endpoint.Processes where Processes.process_name=net.exe by Processes.dest | rename "Processes.*" as *'
det "$T/c/detections/ok.yml" ok "Sysmon EventID 1" "$TS"
det "$T/c/detections/dm_linux.yml" dm_linux "Sysmon for Linux EventID 1" \
    '| tstats count from datamodel=Web.Web by Web.dest'
det "$T/c/detections/linux.yml" linux "Sysmon for Linux EventID 1" "$TS"
det "$T/c/detections/compound.yml" compound "Sysmon EventID 1 AND Sysmon EventID 11" "$TS"
det "$T/c/detections/func.yml" func "CrowdStrike ProcessRollup2" \
    "$TS | eval x=nosuchfn(dest)"
det "$T/c/detections/macro.yml" macro "Windows Event Log Security 4688" "$TS | \`no_such_macro\`"
det "$T/c/detections/nosrc.yml" nosrc "" "$TS"
det "$T/local/detections/linux.yml" linux "Windows Event Log Security 4688" "$TS"

fail=0
"$ESCUDO" lint --content "$T/c" --format json >"$T/out.json" 2>"$T/err"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: lint exit $rc"; cat "$T/err"; fail=1; }
"$ESCUDO" lint --content "$T/c" --local "$T/local" --format json >"$T/local.json" 2>>"$T/err" ||
    { echo "FAIL: lint --local"; fail=1; }
"$ESCUDO" lint --content "$T/c" >"$T/out.txt" 2>>"$T/err" || { echo "FAIL: lint text"; fail=1; }

python3 - "$T/out.json" "$T/local.json" "$T/out.txt" "$TS" <<'PY' || fail=1
import json, sys
rows = {}
for l in open(sys.argv[1]):
    o = json.loads(l)
    rows[o.get("id", "summary")] = o
local = {json.loads(l).get("id", "summary"): json.loads(l) for l in open(sys.argv[2])}
text = open(sys.argv[3]).read()
ts = sys.argv[4]
bad = []
def want(cond, msg, got=None):
    print(("ok: " if cond else "FAIL: ") + msg + ("" if cond or got is None else " (got %r)" % (got,)))
    if not cond:
        bad.append(msg)
def v(id):
    r = rows[id]
    return r["supported"], r["windows_processes_only"], r["reason"], r["span"]
want(v("ok") == (True, True, None, None), "ok: supported", v("ok"))
r = v("dm_linux")
want(r[:3] == (False, False, "unsupported data model 'Web.Web'"), "dm_linux: data model first", r)
s = "| tstats count from datamodel=Web.Web by Web.dest"
want(r[3] == [s.index("Web.Web"), s.index("Web.Web") + 7], "dm_linux: span", r[3])
want(v("linux") == (False, False, "unmapped source: Sysmon for Linux EventID 1", None), "linux: unmapped", v("linux"))
want(v("compound") == (True, False, None, None), "compound Windows source: supported", v("compound"))
r = v("func")
f = ts + " | eval x=nosuchfn(dest)"
want(not r[0] and r[1] and "nosuchfn" in (r[2] or ""), "func: unsupported function named", r)
want(r[3] is not None and f[r[3][0]:r[3][1]] == "nosuchfn", "func: span is the function name",
     r[3] and f[r[3][0]:r[3][1]])
r = v("macro")
m = ts + " | `no_such_macro`"
want(not r[0] and r[1] and "no_such_macro" in (r[2] or ""), "macro: unknown macro named", r)
want(r[3] is not None and m[r[3][0]:].startswith("`no_such_macro`"), "macro: span into the search as written",
     r[3] and m[r[3][0]:r[3][1]])
want(v("nosrc") == (True, False, None, None), "nosrc: left to the planner", v("nosrc"))
s = rows["summary"]["summary"]
want((s["total"], s["supported"], s["windows_processes_only"], s["windows_processes_only_supported"])
     == (7, 3, 3, 1), "summary counts", s)
want(s["by_reason"] == {"unmapped source": 1, "unknown macro 'no_such_macro'": 1, "unsupported data model 'Web.Web'": 1, "unsupported function 'nosuchfn'": 1}, "by_reason", s["by_reason"])
want("3 Windows Processes-only detections, 1 supported (33.3%)" in text, "text summary line")
want("    " + ts + " | eval x=nosuchfn(dest)" in text, "text: the expanded line under func")
caret = [l for l in text.split("\n") if l.strip().startswith("^")]
want(any(l == " " * (4 + len(ts) + len(" | eval x=")) + "^" * 8 for l in caret), "text: carets under nosuchfn")
want(local["linux"]["supported"] and local["summary"]["summary"]["total"] == 7, "--local replaces linux")
sys.exit(1 if bad else 0)
PY
exit $fail
