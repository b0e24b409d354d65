#!/bin/bash
# Groups past the memory budget are spilled to a temporary file and merged back when their
# search finishes (docs/limits.md "group memory"): with --group-memory 0 every table is spilled
# at every step, and the rows and their evidence are byte-identical to a hunt that spills
# nothing; the files live in $TMPDIR and nothing is left there; a TMPDIR that cannot be
# written is one warning, and the groups stay in memory (same rows); the option is checked.
set -u
ESCUDO=${ESCUDO:-build/escudo}
DATA=${ESC_SHARED_DATA:-../shared/data}
IN=$DATA/json/otrf/aptsimulator_cobaltstrike_2021-06-11T21081492.json
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }
H=(hunt --quiet --content "$DATA/escu-full" --format json --evidence)

"$ESCUDO" "${H[@]}" --group-memory 1024 "$IN" >"$T/kept.json" 2>"$T/err0"
mkdir "$T/tmp"
TMPDIR="$T/tmp" "$ESCUDO" "${H[@]}" --group-memory 0 "$IN" >"$T/spilled.json" 2>"$T/err1"
rows=$(wc -l <"$T/kept.json")
[ "$rows" -gt 10 ] && cmp -s "$T/kept.json" "$T/spilled.json" &&
    ok "every table spilled: the same $rows rows and evidence" || bad "rows differ ($rows rows)"
[ -z "$(ls -A "$T/tmp")" ] && ok "nothing left in TMPDIR" || bad "left in TMPDIR: $(ls "$T/tmp")"

TMPDIR="$T/none" "$ESCUDO" hunt --content "$DATA/escu-full" --format json --evidence \
    --group-memory 0 "$IN" >"$T/nodir.json" 2>"$T/err2"
n=$(grep -c "warning: spill file in $T/none: No such file or directory" "$T/err2")
[ "$n" = 1 ] && cmp -s "$T/kept.json" "$T/nodir.json" &&
    ok "unwritable TMPDIR: one warning, the same rows" || bad "unwritable TMPDIR: $n warnings"

"$ESCUDO" hunt --group-memory -1 "$IN" >/dev/null 2>"$T/err3"
rc=$?
[ "$rc" = 2 ] && grep -q -- "--group-memory" "$T/err3" && ok "--group-memory -1: usage error" ||
    bad "--group-memory -1: exit $rc"
exit $fail
