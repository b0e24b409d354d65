#!/bin/bash
# Settings are checked before any work (issue 16, problem 5): every option and combination that
# can be checked without reading input (HEC URL and token, thread counts, paths of --content,
# --local, --data-root and --aidmaster, time ranges, numbers) fails at once with exit 2 and a
# message, before a single input is read: nothing on stdout, no summary line on stderr.
. "$(dirname "$0")/lib.sh"
X=$DATA/crafted/worked_example.xml
unset ESCUDO_HEC_TOKEN
ESCUDO=$(realpath "$ESCUDO")
X=$(realpath "$X")
cd "$T" || exit 1 # a check that comes too late leaves no spool or state in the tree
R=(--clock-start 2024-03-06T00:00:00Z --clock-speed max --once-until 2024-03-06T01:00:00Z)
# name, message substring, command...: exit 2, the message, no output, no input read
early() {
    local name=$1 want=$2
    shift 2
    "$ESCUDO" "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ $rc -ne 2 ]; then
        echo "FAIL: $name: exit $rc, wanted 2 ($(head -c 300 "$T/err"))"
        fail=1
    elif ! grep -qF -- "$want" "$T/err"; then
        echo "FAIL: $name: message $(cat "$T/err") lacks '$want'"
        fail=1
    elif [ -s "$T/out" ] || grep -q 'inputs (' "$T/err"; then
        echo "FAIL: $name: work was done before the check ($(head -c 200 "$T/out"))"
        fail=1
    else
        echo "ok: $name"
    fi
}
# hunt
early "hunt --hec without a token" "needs a token" hunt --hec https://splunk:8088 "$X"
early "hunt --hec with a missing token file" "token file" \
    hunt --hec https://splunk:8088 --hec-token-file "$T/none" "$X"
echo tok >"$T/token"
early "hunt --hec not a URL" "--hec" hunt --hec splunk:8088 --hec-token-file "$T/token" "$X"
early "hunt --hec ftp URL" "--hec" hunt --hec ftp://splunk:8088 --hec-token-file "$T/token" "$X"
early "hunt --hec bad port" "--hec" hunt --hec https://splunk:99999 --hec-token-file "$T/token" "$X"
early "hunt --hec-ca without --hec" "--hec" hunt --hec-ca "$T/token" "$X"
early "hunt --hec-max-wait not a number" "--hec-max-wait" \
    hunt --hec https://splunk:8088 --hec-token-file "$T/token" --hec-max-wait soon "$X"
early "hunt --threads 0" "--threads" hunt --threads 0 "$X"
early "hunt --threads many" "--threads" hunt --threads many "$X"
early "hunt --max-warnings -1" "--max-warnings" hunt --max-warnings -1 "$X"
early "hunt --content missing" "/nonexistent" hunt --content /nonexistent "$X"
early "hunt --local missing" "/nonexistent" hunt --local /nonexistent "$X"
early "hunt --aidmaster missing" "/nonexistent" hunt --aidmaster /nonexistent "$X"
early "hunt earliest after latest" "--earliest" \
    hunt --earliest 2024-03-02 --latest 2024-03-01 "$X"
early "hunt earliest = latest" "--earliest" \
    hunt --earliest 2024-03-01T00:00:00Z --latest 2024-03-01T00:00:00Z "$X"
# test
early "test --data-root missing" "/nonexistent" test --data-root /nonexistent
early "test --data-root a file" "folder" test --data-root "$T/token"
# run
early "run --hec without a token" "needs a token" \
    run --state "$T/s1" --enable 743a322c-9a68-4a0f-9c17-85d9cce2a27c "${R[@]}" \
    --hec https://splunk:8088 "$X"
early "run --hec not a URL" "--hec" run --state "$T/s2" --enable 743a322c-9a68-4a0f-9c17-85d9cce2a27c "${R[@]}" \
    --hec splunk --hec-token-file "$T/token" "$X"
early "run --late-retention not a number" "--late-retention" \
    run --state "$T/s3" --enable 743a322c-9a68-4a0f-9c17-85d9cce2a27c "${R[@]}" --late-retention day "$X"
early "run --max-warnings x" "--max-warnings" \
    run --state "$T/s4" --enable 743a322c-9a68-4a0f-9c17-85d9cce2a27c "${R[@]}" --max-warnings x "$X"
early "run --content missing" "/nonexistent" \
    run --state "$T/s5" --enable 743a322c-9a68-4a0f-9c17-85d9cce2a27c "${R[@]}" --content /nonexistent "$X"
early "run --once-until before --clock-start" "--once-until" \
    run --state "$T/s6" --enable 743a322c-9a68-4a0f-9c17-85d9cce2a27c \
    --clock-start 2024-03-06T00:00:00Z --clock-speed max --once-until 2024-03-05T00:00:00Z "$X"
[ ! -e "$T/s1" ] && [ ! -e "$T/s6" ] || { echo "FAIL: run created its state before the checks"; fail=1; }
# dump
early "dump --threads 65" "--threads" dump --threads 65 "$X"
# what is valid still runs
"$ESCUDO" hunt --threads 1 --max-warnings 0 --earliest 0 --latest 2100-01-01 "$X" >/dev/null 2>&1
[ $? -eq 0 ] && echo "ok: valid settings run" || { echo "FAIL: valid settings"; fail=1; }
[ $fail -eq 0 ] && echo "validate first: all passed"
exit $fail
