#!/bin/bash
# `escudo test` tells the truth (issue 16, problem 7): a run in which nothing was replayed says
# so and exits 1 unless --allow-skips; the summary counts the tests replayed, passed, failed and
# skipped, the skipped ones by reason. From the issue's command: `escudo test --content ESCU`
# (no attack data: every unit and integration test is skipped).
. "$(dirname "$0")/lib.sh"
SRC=${ESC_SOURCE_DIR:-.}

"$ESCUDO" test --content "$DATA/escu" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 1 ] && ok "nothing replayed: exit 1" || bad "nothing replayed: exit $rc, wanted 1"
grep -q "nothing was replayed" "$T/err" && ok "nothing replayed: said on stderr" ||
    bad "nothing replayed: not said ($(tail -3 "$T/err"))"
grep -q -- "--allow-skips" "$T/err" && ok "names --allow-skips" || bad "no hint at --allow-skips"
cat "$T/out" "$T/err" >"$T/all"
grep -Eq "replayed +0 of [0-9]+ tests \(0 passed, 0 failed\)" "$T/all" &&
    ok "summary counts replayed, passed, failed" || bad "summary: $(tail -5 "$T/all")"
grep -Eq "[0-9]+ attack data not available" "$T/all" && ok "skips by reason: no attack data" ||
    bad "no reason count for missing attack data"
grep -Eq "[0-9]+ data source not mapped" "$T/all" && ok "skips by reason: unmapped source" ||
    bad "no reason count for unmapped sources"
grep -Eq "[0-9]+ search not supported" "$T/all" && ok "skips by reason: unsupported search" ||
    bad "no reason count for unsupported searches"
# the reason counts add up to the skipped tests
python3 - "$T/all" <<'PY' && ok "reasons add up" || { bad "reasons do not add up"; }
import re, sys
s = open(sys.argv[1]).read()
m = re.search(r"replayed +\d+ of (\d+) tests \(\d+ passed, \d+ failed\); (\d+) skipped: (.*)", s)
assert m, s[-500:]
total, skipped = int(m.group(1)), int(m.group(2))
parts = [int(p.split()[0]) for p in m.group(3).split(", ")]
assert sum(parts) == skipped == total, (parts, skipped, total)
PY

"$ESCUDO" test --content "$DATA/escu" --allow-skips >/dev/null 2>"$T/err"
rc=$?
[ $rc -eq 0 ] && ok "--allow-skips: exit 0" || bad "--allow-skips: exit $rc"
grep -q "nothing was replayed" "$T/err" && ok "--allow-skips still says so" ||
    bad "--allow-skips hides that nothing was replayed"
# JSON report: the summary goes to stderr, the lines on stdout are unchanged
"$ESCUDO" test --content "$DATA/escu" --format json >"$T/json" 2>"$T/err"
rc=$?
[ $rc -eq 1 ] && ok "json: exit 1" || bad "json: exit $rc"
grep -q "nothing was replayed" "$T/err" && ! grep -qv '^{' "$T/json" && ok "json: stdout only JSON" ||
    bad "json: summary mixed into stdout"
# --static-only asks for no replay: not an error
"$ESCUDO" test --content "$DATA/escu" --static-only >/dev/null 2>&1
rc=$?
[ $rc -eq 0 ] && ok "--static-only: exit 0" || bad "--static-only: exit $rc"
# a replay that ran: exit 0, counted
mkdir -p "$T/ad/datasets/attack_techniques/T1070.005/atomic_red_team"
cp "$SRC/tests/data/attack/T1070.005/windows-sysmon.log" \
    "$T/ad/datasets/attack_techniques/T1070.005/atomic_red_team/"
"$ESCUDO" test --content "$DATA/escu" --data-root "$T/ad" \
    "Create or delete windows shares using net exe" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 0 ] && grep -Eq "replayed +1 of 1 tests \(1 passed, 0 failed\)" "$T/out" &&
    ok "a replayed test: exit 0 and counted" || bad "replayed: exit $rc $(tail -4 "$T/out")"
[ $fail -eq 0 ] && echo "test truth: all passed"
exit $fail
