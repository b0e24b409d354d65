#!/bin/bash
# escudo lint over ESCU's endpoint detections (issue 8 acceptance):
#   - the loader survives all 529 detections: exit 0, one verdict per detection, no content
#     warning;
#   - 413 detections are "Windows Processes-only" (read Sysmon EventID 1, Security 4688 or
#     CrowdStrike ProcessRollup2, and use no data model but Endpoint.Processes) and at least
#     90% of them are supported; the text summary says so in one line;
#   - pinned verdicts: the seed detection is supported; a `transaction` search is unsupported
#     with the span of the word `transaction` and a caret line under it; a Sysmon for Linux
#     detection is "unmapped source"; a detection joining Endpoint.Registry is supported and
#     Windows-sourced; a bad --format and a missing folder are exit 2.
set -u
ESCUDO=${ESCUDO:-build/escudo}
SRC=${ESC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DATA=${ESC_SHARED_DATA:-$SRC/../shared/data}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
check() { # message, then a command that must succeed
    local m=$1
    shift
    if "$@"; then echo "ok: $m"; else echo "FAIL: $m"; fail=1; fi
}

"$ESCUDO" lint --content "$DATA/escu" --format json >"$T/lint.json" 2>"$T/err.json"
check "lint --format json exits 0" test $? -eq 0
"$ESCUDO" lint --content "$DATA/escu" --verbose >"$T/lint.txt" 2>"$T/err.txt"
check "lint (text) exits 0" test $? -eq 0
check "no content warning" test ! -s "$T/err.txt"

python3 - "$T/lint.json" "$T/lint.txt" <<'PY' || fail=1
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
text = open(sys.argv[2]).read()
bad = []
def want(cond, msg):
    print(("ok: " if cond else "FAIL: ") + msg)
    if not cond:
        bad.append(msg)
summary = rows[-1]["summary"]
dets = rows[:-1]
want(len(dets) == 529 and summary["total"] == 529, "529 verdicts, one per detection")
want(len({d["id"] for d in dets}) == 529, "each detection once")
want(summary["supported"] == sum(d["supported"] for d in dets), "summary counts supported")
want(summary["windows_processes_only"] == 413, "413 Windows Processes-only detections")
wpo = [d for d in dets if d["windows_processes_only"]]
want(len(wpo) == 413, "413 rows flagged windows_processes_only")
ok = sum(d["supported"] for d in wpo)
pct = 100.0 * ok / 413
want(ok == summary["windows_processes_only_supported"], "summary agrees with the rows")
want(pct >= 90.0, "at least 90%% of them supported (%d, %.1f%%)" % (ok, pct))
want(all(d["windows"] or not d["data_sources"] for d in dets if d["supported"]),
     "every supported detection reads Windows sources (or names none)")
want(all(d["reason"] and d["category"] for d in dets if not d["supported"]),
     "every unsupported detection has a reason")
want(sum(summary["by_reason"].values()) == 529 - summary["supported"], "by_reason adds up")
line = "413 Windows Processes-only detections, %d supported (%.1f%%)" % (ok, pct)
want(line in text, "text summary line: " + line)

by_id = {d["id"]: d for d in dets}
seed = by_id["743a322c-9a68-4a0f-9c17-85d9cce2a27c"]
want(seed["supported"] and seed["reason"] is None and seed["span"] is None, "seed supported")
tr = by_id["a51bfe1a-94f0-48cc-b1e4-16ae10145893"]
want(tr["supported"] and tr["reason"] is None, "transaction detection supported")
sub = by_id["dcfd6b40-42f9-469d-a433-2e53f7486664"]
want(sub["supported"] and sub["reason"] is None,
     "subsearch detection (search [| inputlookup ...]) supported")
es = by_id["ffd5e001-2e34-48f4-97a2-26dc4bb08178"]
want(not es["supported"] and es["reason"] == "unknown lookup 'asset_lookup_by_str'"
     and es["span"] == [747, 766] and es["windows_processes_only"],
     "Enterprise Security lookup: unsupported with its span")
i = text.index("Detect Remote Access Software Usage Process:")
block = text[i:].split("\n")[:3]
want(block[0].endswith("unknown lookup 'asset_lookup_by_str' [bytes 747-766]"), "text reason")
caret = block[2]
want(caret.strip() == "^" * 19 and block[1][caret.index("^"):].startswith("asset_lookup_by_str"),
     "caret under the lookup name")
lx = by_id["51fbcaf2-6259-11ec-b0f3-acde48001122"]
want(not lx["supported"] and not lx["windows_processes_only"]
     and lx["reason"] == "unmapped source: Sysmon for Linux EventID 1", "Linux: unmapped source")
ws = by_id["8b5901bc-da63-11eb-be43-acde48001122"]
want(ws["supported"] and not ws["windows_processes_only"] and ws["windows"],
     "WSReset (joins Endpoint.Registry): supported, Windows-sourced")
sys.exit(1 if bad else 0)
PY

"$ESCUDO" lint --content "$DATA/escu" --format xml >/dev/null 2>&1
check "bad --format is exit 2" test $? -eq 2
"$ESCUDO" lint --content "$T/none" >/dev/null 2>&1
check "missing content folder is exit 2" test $? -eq 2
exit $fail
