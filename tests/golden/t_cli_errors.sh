#!/bin/bash
# Exit codes and messages of SPEC section 5: usage and content errors exit 2 with a clear
# message (a search error shows the line with ^ under the culprit), unreadable inputs exit 3
# after the other inputs were processed, --version prints the version.
set -u
ESCUDO=${ESCUDO:-build/escudo}
DATA=${ESC_SHARED_DATA:-../shared/data}/crafted
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
expect() { # name want_rc got_rc
    if [ "$2" -eq "$3" ]; then echo "ok: $1"; else echo "FAIL: $1 (exit $3, wanted $2)"; fail=1; fi
}

"$ESCUDO" --version | grep -Eq '^escudo [0-9]+\.[0-9]+\.[0-9]+$'; expect "--version" 0 $?
"$ESCUDO" hunt --bogus x 2>"$T/err"; expect "unknown flag" 2 $?
grep -q "unknown option --bogus" "$T/err" || { echo "FAIL: unknown flag message"; fail=1; }
"$ESCUDO" hunt --format xml "$DATA/worked_example.xml" 2>/dev/null; expect "bad --format" 2 $?
"$ESCUDO" hunt --tz Mars/Olympus "$DATA/worked_example.xml" 2>/dev/null; expect "bad --tz" 2 $?
"$ESCUDO" hunt --earliest yesterday "$DATA/worked_example.xml" 2>/dev/null; expect "bad --earliest" 2 $?
"$ESCUDO" hunt --detection "no such detection" "$DATA/worked_example.xml" 2>/dev/null
expect "unknown detection" 2 $?
"$ESCUDO" frobnicate 2>/dev/null; expect "unknown command" 2 $?

# one detection selection for every command: an unknown name is the same usage error in hunt,
# explain, run (--enable) and test; a positional DETECTION (explain, test) adds how a file loads
nosuch() { # name want_message command args...
    local name=$1 want=$2
    shift 2
    "$ESCUDO" "$@" >/dev/null 2>"$T/err"
    expect "$name" 2 $?
    [ "$(cat "$T/err")" = "$want" ] || { echo "FAIL: $name message: $(cat "$T/err")"; fail=1; }
}
MSG="no detection named no such detection in the content"
HINT=" (a YAML file elsewhere loads with --detection FILE)"
nosuch "hunt --detection" "escudo hunt: $MSG" \
    hunt --detection "no such detection" "$DATA/worked_example.xml"
nosuch "explain --detection" "escudo explain: $MSG" explain --detection "no such detection"
nosuch "explain DETECTION" "escudo explain: $MSG$HINT" explain "no such detection"
nosuch "run --enable" "escudo run: $MSG" \
    run --state "$T/state" --enable "no such detection" "$DATA/worked_example.xml"
nosuch "test --detection" "escudo test: $MSG" test --static-only --detection "no such detection"
nosuch "test DETECTION" "escudo test: $MSG$HINT" test --static-only "no such detection"
# the first unknown one is named, after known ones (by id and by name)
nosuch "hunt, known then unknown" "escudo hunt: $MSG" hunt \
    --detection 743a322c-9a68-4a0f-9c17-85d9cce2a27c \
    --detection "Create or delete windows shares using net exe" --detection "no such detection" \
    --detection "also unknown" "$DATA/worked_example.xml"

# a broken macro in a local override: exit 2, the message, and the caret under the culprit
mkdir -p "$T/local/macros"
cat >"$T/local/macros/process_net.yml" <<'YML'
definition: (Processes.process_name="net.exe" OR (Processes.original_file_name="net.exe")
description: an unbalanced parenthesis
name: process_net
YML
"$ESCUDO" hunt --local "$T/local" --detection 743a322c-9a68-4a0f-9c17-85d9cce2a27c \
    "$DATA/worked_example.xml" 2>"$T/err" >/dev/null
expect "search error" 2 $?
grep -q "unbalanced parenthesis" "$T/err" || { echo "FAIL: search error message"; fail=1; }
# the caret line's ^ stands under the '(' that is not closed
python3 - "$T/err" <<'PY' || { echo "FAIL: caret position"; fail=1; }
import sys
lines = open(sys.argv[1]).read().split("\n")
i = next(k for k, l in enumerate(lines) if l.startswith("| tstats"))
col = lines[i + 1].index("^")
assert lines[i][col:].startswith('(Processes.process_name="net.exe" OR (Proc'), lines[i][col:col+40]
PY

# an unknown macro
cat >"$T/local/macros/process_net.yml" <<'YML'
definition: '`no_such_macro`'
description: calls a macro nobody defines
name: process_net
YML
"$ESCUDO" hunt --local "$T/local" "$DATA/worked_example.xml" >/dev/null 2>"$T/err"
grep -q "no_such_macro" "$T/err" || { echo "FAIL: unknown macro named"; fail=1; }

# a missing input among good ones: the good one is processed, then exit 3
"$ESCUDO" hunt --format json "$T/missing.xml" "$DATA/worked_example.xml" >"$T/out" 2>"$T/err"
expect "missing input" 3 $?
[ "$(wc -l <"$T/out")" -eq 2 ] || { echo "FAIL: rows of the good input"; fail=1; }
grep -q "missing.xml" "$T/err" || { echo "FAIL: missing input named"; fail=1; }

[ $fail -eq 0 ] && echo "cli errors: all passed"
exit $fail
